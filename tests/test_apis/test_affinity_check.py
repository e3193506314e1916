# Copyright (c) mmseam contributors. All rights reserved.
"""mmseam.apis.affinity_check: cell labels, pair counts against a direct
loop over the pairs, and the check of a model on image files."""
import numpy as np
import pytest
import torch
from PIL import Image

from mmseam.apis.affinity_check import (block_labels, evaluate_affinity,
                                        pair_counts, pair_metrics)
from mmseam.models.segmentors.affinitynet import (get_pair_offsets,
                                                  pair_affinity)


def test_block_labels_purity_and_padding():
    mask = np.array([[1, 1, 1, 2, 0],
                     [1, 1, 1, 1, 0],
                     [2, 1, 255, 255, 0],
                     [1, 2, 255, 0, 0]])
    # 2x2 cells, padded to 4x6 with 255: cell (0,0) all 1; (0,1) 3/4 of 1;
    # (0,2) two 0s + two pads; (1,0) two 1s two 2s; (1,1) 3/4 unlabelled;
    # (1,2) two 0s + two pads
    assert block_labels(mask, 2).tolist() == [[1, 1, 255], [255, 255, 255]]
    strict = [[1, 255, 255], [255, 255, 255]]
    assert block_labels(mask, 2, purity=1.0).tolist() == strict
    with pytest.raises(ValueError, match='purity=0.5'):
        block_labels(mask, 2, purity=0.5)  # a tie would pick a label
    assert block_labels(mask, 1).tolist() == mask.tolist()


def _slow_counts(gt, radius, aff=None, thr=0.5):
    """Pairs of the banded layout by a plain loop: sources y < h - r + 1,
    r - 1 <= x < w - r + 1, targets source + each offset."""
    h, w = gt.shape
    pos = neg = pos_kept = neg_cut = obj = obj_kept = 0
    for p, (dy, dx) in enumerate(get_pair_offsets(radius)):
        for y in range(h - radius + 1):
            for x in range(radius - 1, w - radius + 1):
                a, b = gt[y, x], gt[y + dy, x + dx]
                if a == 255 or b == 255:
                    continue
                cut = aff is not None and aff[p, y, x - radius + 1] < thr
                if a == b:
                    pos += 1
                    pos_kept += not cut
                    obj += a != 0
                    obj_kept += a != 0 and not cut
                else:
                    neg += 1
                    neg_cut += cut
    return pos, neg, pos_kept, neg_cut, obj, obj_kept


def test_pair_counts_match_a_direct_loop():
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 3, size=(9, 11))
    gt[rng.uniform(size=gt.shape) < 0.2] = 255
    radius = 3
    shape = (len(get_pair_offsets(radius)), 9 - radius + 1,
             11 - 2 * radius + 2)
    aff = rng.uniform(size=shape)
    c = pair_counts(gt, radius, aff)
    assert (c['pos'], c['neg'], c['pos_kept'], c['neg_cut'], c['obj'],
            c['obj_kept']) == _slow_counts(gt, radius, aff)
    assert c['cut'] == (c['pos'] - c['pos_kept']) + c['neg_cut']
    with pytest.raises(ValueError, match='does not match'):
        pair_counts(gt, radius, aff[:, 1:])


def test_perfect_and_blind_affinities_and_labels():
    gt = np.zeros((8, 12), np.int64)
    gt[2:6, 3:7] = 1
    gt[2:6, 7:10] = 2  # touches class 1
    radius = 2
    feat = torch.from_numpy(gt[None, None].astype(np.float32)) * 50
    perfect = pair_affinity(feat, radius)[0].numpy()  # exp(-50 |a - b|)
    m = pair_metrics(pair_counts(gt, radius, perfect, label_cells=gt))
    assert m['boundary_recall'] == m['boundary_precision'] == 1.0
    assert m['within_recall'] == m['object_recall'] == 1.0
    assert m['label_boundary_coverage'] == m['label_object_coverage'] == 1.0
    assert m['label_negative_precision'] == m['label_positive_precision'] \
        == 1.0
    # an AffinityNet that never cuts, trained on labels that never say
    # negative (one class spread over both objects and the background)
    blind = np.ones_like(perfect)
    c = pair_counts(gt, radius, blind, label_cells=np.ones_like(gt))
    m = pair_metrics(c)
    assert m['boundary_recall'] == 0.0 and m['boundary_precision'] is None
    assert m['object_recall'] == 1.0
    assert m['label_boundary_coverage'] == 0.0
    assert m['label_object_coverage'] == 1.0
    assert m['label_positive_precision'] == pytest.approx(
        c['pos'] / (c['pos'] + c['neg']), abs=1e-4)
    assert m['boundary_pair_share'] == pytest.approx(
        c['neg'] / (c['pos'] + c['neg']), abs=1e-4)


class _ColourAffinity(torch.nn.Module):
    """A stand-in AffinityNet: 8-pixel cells, embedding = mean colour."""

    radius = 2

    def data_preprocessor(self, data, training):
        return dict(inputs=torch.stack(data['inputs']).float())

    def predict_affinity(self, inputs):
        feat = torch.nn.functional.avg_pool2d(inputs, 8)
        return pair_affinity(feat, self.radius), self.radius


def test_evaluate_affinity_on_files(tmp_path):
    """Images of 60 x 44 (padded to 64 x 48), two colour regions on cell
    borders; the masks name them; one image has no mask and is left out."""
    (tmp_path / 'img').mkdir()
    (tmp_path / 'mask').mkdir()
    images = {}
    for i in range(3):
        mask = np.zeros((60, 44), np.uint8)
        mask[8:40, 16:40] = 1 + i % 2
        img = np.where(mask[..., None] > 0, 200, 30).astype(np.uint8)
        img = np.repeat(img, 3, axis=2)
        images[f'im{i}'] = str(tmp_path / 'img' / f'im{i}.png')
        Image.fromarray(img).save(images[f'im{i}'])
        if i < 2:
            Image.fromarray(mask).save(tmp_path / 'mask' / f'im{i}.png')
    res = evaluate_affinity(_ColourAffinity(), images, str(tmp_path / 'mask'))
    assert res['images'] == 2
    assert res['boundary_recall'] == res['within_recall'] == 1.0
    assert res['boundary_precision'] == 1.0
    assert res['counts']['neg'] > 0
    assert res['label_boundary_coverage'] is None  # no CRF dirs given
    with pytest.raises(FileNotFoundError, match='none of the 1 images'):
        evaluate_affinity(_ColourAffinity(), {'im2': images['im2']},
                          str(tmp_path / 'mask'))
