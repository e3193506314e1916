# Copyright (c) mmseam contributors. All rights reserved.
"""Affinity-label transforms: offsets, CRF label maps, pair labels."""
import os.path as osp

import mmseam  # noqa: F401
import numpy as np
import pytest
from mmcv.transforms import Compose
from mmengine.registry import init_default_scope

from mmseam.apis.cam_io import save_crf_scores
from mmseam.datasets.transforms.affinity import (
    AffinityLabelFromCRF, AffinityRandomCrop, ExtractAffinityLabels,
    LoadCRFScores, PackAffinityInputs, block_mean, extract_affinity_labels)
from mmseam.models.segmentors.affinitynet import (get_pair_offsets,
                                                  pair_regions)

init_default_scope('mmseg')


def test_pair_offsets_official_set_and_order():
    offsets = get_pair_offsets(5)
    expected = [(0, 1), (0, 2), (0, 3), (0, 4)]
    expected += [(1, dx) for dx in range(-4, 5)]
    expected += [(2, dx) for dx in range(-4, 5)]
    expected += [(3, dx) for dx in range(-3, 4)]
    expected += [(4, dx) for dx in range(-2, 3)]
    assert offsets == expected
    assert len(offsets) == 34
    # half disc: no duplicates, never both d and -d, all within the radius
    assert len(set(offsets)) == 34
    assert all((-dy, -dx) not in offsets for dy, dx in offsets)
    assert all(dy * dy + dx * dx < 25 for dy, dx in offsets)
    # together with their negations they are the full disc minus the centre
    full = {(dy, dx)
            for dy in range(-4, 5)
            for dx in range(-4, 5) if 0 < dy * dy + dx * dx < 25}
    assert set(offsets) | {(-dy, -dx) for dy, dx in offsets} == full
    assert get_pair_offsets(3) == [(0, 1), (0, 2), (1, -2), (1, -1), (1, 0),
                                   (1, 1), (1, 2), (2, -2), (2, -1), (2, 0),
                                   (2, 1), (2, 2)]
    assert get_pair_offsets(1) == []


def test_pair_regions_shapes():
    src, dsts = pair_regions(56, 56, 5)
    assert (src[0], src[1]) == (slice(0, 52), slice(4, 52))
    assert len(dsts) == 34
    # offset (4, -2): rows 4..56, cols 2..50
    k = get_pair_offsets(5).index((4, -2))
    assert dsts[k] == (slice(4, 56), slice(2, 50))
    with pytest.raises(ValueError, match='too small'):
        pair_regions(4, 20, 5)


def _slow_pair_labels(label, radius=5, ignore=255):
    """Direct loop over every pair of the official pair set."""
    h, w = label.shape
    rf = radius - 1
    offsets = get_pair_offsets(radius)
    out = np.zeros((3, len(offsets), h - rf, w - 2 * rf), np.float32)
    for k, (dy, dx) in enumerate(offsets):
        for y in range(h - rf):
            for x in range(rf, w - rf):
                a, b = label[y, x], label[y + dy, x + dx]
                valid = a != ignore and b != ignore
                out[0, k, y, x - rf] = a == b == 0
                out[1, k, y, x - rf] = a == b and a != 0 and valid
                out[2, k, y, x - rf] = a != b and valid
    return out


def test_extract_affinity_labels_hand_made():
    # 12 x 16 map: left half background, right half class 3, one ignore
    label = np.zeros((12, 16), np.int64)
    label[:, 8:] = 3
    label[5, 10] = 255
    bg, fg, neg = extract_affinity_labels(label, radius=5)
    assert bg.shape == fg.shape == neg.shape == (34, 8, 8)
    offsets = get_pair_offsets(5)

    def at(arr, y, x, d):  # source pixel (y, x) in image coords
        return arr[offsets.index(d), y, x - 4]

    # (0,4)->(0,5): both background
    assert (at(bg, 0, 4, (0, 1)), at(fg, 0, 4,
                                     (0, 1)), at(neg, 0, 4,
                                                 (0, 1))) == (1, 0, 0)
    # (0,7)->(0,8): background vs class 3
    assert (at(bg, 0, 7, (0, 1)), at(fg, 0, 7,
                                     (0, 1)), at(neg, 0, 7,
                                                 (0, 1))) == (0, 0, 1)
    # (0,8)->(0,12): both class 3
    assert (at(bg, 0, 8, (0, 4)), at(fg, 0, 8,
                                     (0, 4)), at(neg, 0, 8,
                                                 (0, 4))) == (0, 1, 0)
    # (2,9)->(4,7): class 3 vs background, diagonal offset (2, -2)
    assert (at(bg, 2, 9, (2, -2)), at(fg, 2, 9,
                                      (2, -2)), at(neg, 2, 9,
                                                   (2, -2))) == (0, 0, 1)
    # (5,9)->(5,10): partner ignored -> no label at all
    assert (at(bg, 5, 9, (0, 1)), at(fg, 5, 9,
                                     (0, 1)), at(neg, 5, 9,
                                                 (0, 1))) == (0, 0, 0)
    # (1,10)->(5,10): source valid, target ignored
    assert at(fg, 1, 10, (4, 0)) == 0 and at(neg, 1, 10, (4, 0)) == 0
    # every pair against a direct loop
    slow = _slow_pair_labels(label)
    np.testing.assert_array_equal(np.stack([bg, fg, neg]), slow)
    # the three maps are disjoint
    assert (bg + fg + neg).max() == 1


def test_extract_affinity_labels_random_matches_loop():
    rng = np.random.default_rng(0)
    label = rng.choice([0, 2, 7, 255], size=(11, 13)).astype(np.uint8)
    out = ExtractAffinityLabels(radius=5).transform(dict(aff_label=label))
    np.testing.assert_array_equal(
        np.stack([out['aff_bg_pos'], out['aff_fg_pos'], out['aff_neg']]),
        _slow_pair_labels(label.astype(np.int64)))


def test_block_mean_pads_like_block_reduce():
    arr = np.arange(5 * 6, dtype=np.float32).reshape(5, 6)
    out = block_mean(arr, 4)
    assert out.shape == (2, 2)
    assert out[0, 0] == pytest.approx(arr[:4, :4].mean())
    # incomplete blocks are zero-padded, then averaged over all 16 cells
    assert out[1, 1] == pytest.approx(arr[4:, 4:].sum() / 16)
    arr3 = np.stack([arr, -arr], -1)
    np.testing.assert_allclose(block_mean(arr3, 4)[..., 1], -out)


def _scores_16x16():
    """la / ha scores on a 16 x 16 image (2 x 2 cells of 8), labels 0,5,12.

    cell (0,0): la bg, ha bg                      -> 0
    cell (0,1): 24 px strongly class 5, 40 px slightly class 12: the cell
                mean favours 5 (a per-pixel majority would give 12); ha
                also favours 5                    -> 5
    cell (1,0): la bg, ha class 12                -> 255 (uncertain)
    cell (1,1): all scores 0 (padding)            -> 255
    """
    la = np.zeros((16, 16, 3), np.float32)
    ha = np.zeros((16, 16, 3), np.float32)
    la[:8, :8] = [0.8, 0.1, 0.1]
    ha[:8, :8] = [0.9, 0.05, 0.05]
    cell = np.zeros((8, 8, 3), np.float32)
    cell.reshape(64, 3)[:24] = [0.1, 0.9, 0.0]
    cell.reshape(64, 3)[24:] = [0.25, 0.35, 0.4]
    la[:8, 8:] = cell
    ha[:8, 8:] = cell * [0.5, 1, 1]
    la[8:, :8] = [0.6, 0.1, 0.3]
    ha[8:, :8] = [0.2, 0.1, 0.7]
    return la, ha, np.array([0, 5, 12], np.int64)


def test_affinity_label_from_crf_block_mean_then_argmax():
    la, ha, labels = _scores_16x16()
    # sanity of the construction: majority vote in cell (0,1) is class 12
    assert (la[:8, 8:].argmax(-1) == 2).sum() == 40
    results = dict(
        crf_la=la,
        crf_ha=ha,
        crf_labels=labels,
        seg_fields=['crf_la', 'crf_ha'])
    out = AffinityLabelFromCRF(stride=8).transform(results)
    np.testing.assert_array_equal(out['aff_label'], [[0, 5], [255, 255]])
    assert 'crf_la' not in out and out['seg_fields'] == []
    # stride 1: per pixel
    la, ha, labels = _scores_16x16()
    out = AffinityLabelFromCRF(
        stride=1, drop_scores=False).transform(
            dict(crf_la=la, crf_ha=ha, crf_labels=labels))
    assert out['aff_label'].shape == (16, 16)
    assert out['aff_label'][0, 8] == 5 and out['aff_label'][7, 15] == 12
    assert out['aff_label'][12, 3] == 255 and out['aff_label'][0, 0] == 0


def _write_scores(folder, img_id, scores_hwc, labels):
    save_crf_scores(
        osp.join(folder, f'{img_id}.npz'), scores_hwc.transpose(2, 0, 1),
        labels)


def test_load_crf_scores(tmp_path):
    la, ha, labels = _scores_16x16()
    # the la file lists its classes in another order
    _write_scores(tmp_path / 'la', 'img1', la[..., [0, 2, 1]],
                  np.array([0, 12, 5]))
    # the ha file lacks class 12: it gets a zero channel
    _write_scores(tmp_path / 'ha', 'img1', ha[..., :2], np.array([0, 5]))
    t = LoadCRFScores(str(tmp_path / 'la'), str(tmp_path / 'ha'))
    res = t.transform(
        dict(img_path='/x/JPEGImages/img1.jpg', img=np.zeros((16, 16, 3))))
    np.testing.assert_array_equal(res['crf_labels'], [0, 5, 12])
    np.testing.assert_allclose(res['crf_la'], la, atol=1e-3)  # float16
    np.testing.assert_allclose(res['crf_ha'][..., :2], ha[..., :2], atol=1e-3)
    np.testing.assert_array_equal(res['crf_ha'][..., 2], 0)
    assert res['seg_fields'] == ['crf_la', 'crf_ha']
    # official .npy dict format {0: bg, class id: map}
    np.save(tmp_path / 'la' / 'img2.npy', {0: la[..., 0], 5: la[..., 1]})
    np.save(tmp_path / 'ha' / 'img2.npy', {5: ha[..., 1], 0: ha[..., 0]})
    res = t.transform(dict(img_id='img2'))
    np.testing.assert_array_equal(res['crf_labels'], [0, 5])
    np.testing.assert_allclose(res['crf_ha'], ha[..., :2])
    with pytest.raises(FileNotFoundError, match='img3'):
        t.transform(dict(img_id='img3'))
    with pytest.raises(ValueError, match='original image size'):
        t.transform(dict(img_id='img1', img=np.zeros((8, 16, 3))))


def test_affinity_random_crop_pads_and_windows():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (20, 30, 3)).astype(np.uint8)
    scores = rng.random((20, 30, 3)).astype(np.float32) + 0.1
    seg = np.ones((20, 30), np.uint8)
    t = AffinityRandomCrop(crop_size=(24, 24))
    for seed in range(5):
        np.random.seed(seed)
        out = t.transform(
            dict(
                img=img,
                crf_la=scores,
                gt_seg_map=seg,
                seg_fields=['crf_la', 'gt_seg_map']))
        x1, y1, x2, y2 = out['crop_bbox']
        assert (y1, y2) == (0, 20) and x2 - x1 == 24  # rows padded
        assert out['img'].shape == (24, 24, 3)
        assert out['img_shape'] == (24, 24)
        rows = np.where(out['crf_la'].max((1, 2)) > 0)[0]
        top = rows[0]
        assert len(rows) == 20
        np.testing.assert_array_equal(out['img'][top:top + 20], img[:, x1:x2])
        np.testing.assert_array_equal(out['crf_la'][top:top + 20],
                                      scores[:, x1:x2])
        # fills: image 0, scores 0, integer maps 255
        pad = np.ones(24, bool)
        pad[top:top + 20] = False
        assert (out['img'][pad] == 0).all()
        assert (out['crf_la'][pad] == 0).all()
        assert (out['gt_seg_map'][pad] == 255).all()
        assert (out['gt_seg_map'][~pad] == 1).all()


def test_pipeline_flip_moves_scores_with_image():
    """Crop + flip + labels equals labels of the flipped score maps."""
    rng = np.random.default_rng(2)
    h, w = 80, 96
    img = rng.integers(0, 255, (h, w, 3)).astype(np.uint8)
    la = rng.random((h, w, 3)).astype(np.float32)
    ha = rng.random((h, w, 3)).astype(np.float32)
    labels = np.array([0, 4, 9])
    pipeline = Compose([
        dict(type='AffinityRandomCrop', crop_size=(h, w)),
        dict(type='RandomFlip', prob=1.0, direction='horizontal'),
        dict(type='AffinityLabelFromCRF', stride=8),
        dict(type='ExtractAffinityLabels', radius=5),
        dict(type='PackAffinityInputs'),
    ])
    packed = pipeline(
        dict(
            img=img.copy(),
            crf_la=la.copy(),
            crf_ha=ha.copy(),
            crf_labels=labels,
            seg_fields=['crf_la', 'crf_ha'],
            img_path='a/b.jpg',
            ori_shape=(h, w)))
    np.testing.assert_array_equal(packed['inputs'].numpy(),
                                  img[:, ::-1].transpose(2, 0, 1))
    ref = AffinityLabelFromCRF(stride=8).transform(
        dict(crf_la=la[:, ::-1], crf_ha=ha[:, ::-1], crf_labels=labels))
    sample = packed['data_samples']
    np.testing.assert_array_equal(sample.aff_label.numpy(), ref['aff_label'])
    bg, fg, neg = extract_affinity_labels(ref['aff_label'])
    assert sample.aff_bg_pos.shape == (34, 6, 4)
    np.testing.assert_array_equal(sample.aff_bg_pos.numpy(), bg)
    np.testing.assert_array_equal(sample.aff_fg_pos.numpy(), fg)
    np.testing.assert_array_equal(sample.aff_neg.numpy(), neg)
    assert sample.metainfo['flip'] is True
    assert sample.metainfo['img_path'] == 'a/b.jpg'


def test_pack_requires_pair_labels():
    with pytest.raises(KeyError, match='ExtractAffinityLabels'):
        PackAffinityInputs().transform(dict(img=np.zeros((8, 8, 3))))
    with pytest.raises(KeyError, match='LoadCRFScores'):
        AffinityLabelFromCRF().transform(dict())
