# Copyright (c) mmseam contributors. All rights reserved.
import json
import os

import numpy as np
import pytest
from PIL import Image

import mmseam  # noqa: F401
from mmseam.apis import (atomic_write, cam_to_score_map, load_cam,
                         load_crf_scores, load_label_png, load_metainfo,
                         save_cam, save_crf_scores, save_label_png,
                         voc_colormap)


def no_tmp_files(folder):
    return not [f for f in os.listdir(folder) if f.endswith('.tmp')]


def test_save_load_cam_roundtrip(tmp_path):
    rng = np.random.RandomState(0)
    cams = rng.rand(2, 5, 7).astype(np.float32)
    cams[0, 0, 0], cams[1, 0, 0] = 0.0, 1.0
    path = tmp_path / 'sub' / '2007_000032.npz'  # folder is created
    save_cam(path, cams, [15, 3])
    with np.load(path) as data:
        assert data['cams'].dtype == np.float16
        assert data['labels'].dtype == np.int64
    loaded, labels = load_cam(path)
    assert loaded.dtype == np.float32 and labels.dtype == np.int64
    np.testing.assert_array_equal(labels, [15, 3])
    np.testing.assert_array_equal(loaded,
                                  cams.astype(np.float16).astype(np.float32))
    np.testing.assert_allclose(loaded, cams, atol=5e-4)
    assert no_tmp_files(tmp_path / 'sub')
    # overwrite in place
    save_cam(path, cams[:1], [7])
    loaded, labels = load_cam(path)
    assert loaded.shape == (1, 5, 7) and labels.tolist() == [7]


def test_save_cam_rejects_bad_input(tmp_path):
    path = tmp_path / 'x.npz'
    with pytest.raises(ValueError, match=r'x\.npz.*\[0, 1\]'):
        save_cam(path, np.full((1, 2, 2), 1.5), [1])
    with pytest.raises(ValueError, match='labels'):
        save_cam(path, np.zeros((2, 2, 2)), [1])
    with pytest.raises(ValueError, match='background'):
        save_cam(path, np.zeros((1, 2, 2)), [0])
    with pytest.raises(ValueError, match='NaN'):
        save_cam(path, np.full((1, 2, 2), np.nan), [1])
    assert not path.exists() and no_tmp_files(tmp_path)


def test_load_cam_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.npz'):
        load_cam(tmp_path / 'missing.npz')
    np.savez(tmp_path / 'bad.npz', scores=np.zeros((1, 2, 2)))
    with pytest.raises(KeyError, match='bad.npz.*cams'):
        load_cam(tmp_path / 'bad.npz')
    (tmp_path / 'junk.npz').write_bytes(b'not a zip')
    with pytest.raises(OSError, match='junk.npz'):
        load_cam(tmp_path / 'junk.npz')


def test_cam_to_score_map_hand_checked():
    cams = np.array([[[0.2, 0.9]], [[0.7, 0.1]]], np.float32)  # (2, 1, 2)
    score = cam_to_score_map(cams, [3, 1], num_classes=5, bg_threshold=0.25)
    assert score.shape == (5, 1, 2) and score.dtype == np.float32
    np.testing.assert_allclose(score[:, 0, 0], [0.25, 0.7, 0, 0.2, 0])
    np.testing.assert_allclose(score[:, 0, 1], [0.25, 0.1, 0, 0.9, 0])
    np.testing.assert_array_equal(score.argmax(0), [[1, 3]])
    with pytest.raises(ValueError, match='labels'):
        cam_to_score_map(cams, [3, 5], num_classes=5, bg_threshold=0.2)


def test_crf_scores_roundtrip(tmp_path):
    scores = np.random.RandomState(1).rand(3, 4, 6).astype(np.float32)
    path = tmp_path / 'a.npz'
    save_crf_scores(path, scores, [0, 4, 9])
    loaded, labels = load_crf_scores(path)
    np.testing.assert_allclose(loaded, scores, atol=5e-4)
    np.testing.assert_array_equal(labels, [0, 4, 9])
    with pytest.raises(ValueError, match='background index 0'):
        save_crf_scores(path, scores, [1, 4, 9])
    with pytest.raises(KeyError, match='scores'):
        save_cam(tmp_path / 'c.npz', scores[:1], [2])
        load_crf_scores(tmp_path / 'c.npz')


def test_voc_colormap():
    cmap = voc_colormap(256)
    assert cmap[0] == [0, 0, 0]
    assert cmap[1] == [128, 0, 0]
    assert cmap[2] == [0, 128, 0]
    assert cmap[15] == [192, 128, 128]  # VOC 'person'
    assert cmap[255] == [224, 224, 192]  # VOC boundary/ignore colour


def test_label_png_roundtrip_and_palette(tmp_path):
    label = np.array([[0, 1, 2], [255, 2, 1]], np.int64)
    palette = [[10, 20, 30], [40, 50, 60], [70, 80, 90]]
    path = tmp_path / 'out' / 'x.png'
    save_label_png(path, label, palette)
    with Image.open(path) as im:
        assert im.mode == 'P'
        pal = im.getpalette()
    assert pal[:9] == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert pal[255 * 3:256 * 3] == [224, 224, 192]
    loaded = load_label_png(path)
    assert loaded.dtype == np.uint8
    np.testing.assert_array_equal(loaded, label)
    assert no_tmp_files(tmp_path / 'out')
    # default palette = VOC colours
    save_label_png(tmp_path / 'voc.png', label, None)
    with Image.open(tmp_path / 'voc.png') as im:
        assert im.getpalette()[3:6] == [128, 0, 0]


def test_label_png_errors(tmp_path):
    with pytest.raises(ValueError, match=r'\[0, 255\]'):
        save_label_png(tmp_path / 'a.png', np.array([[0, 300]]), None)
    with pytest.raises(ValueError, match='at most 256'):
        save_label_png(tmp_path / 'a.png', np.zeros((2, 2)), [[0, 0, 0]] * 300)
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / 'rgb.png')
    with pytest.raises(ValueError, match='rgb.png.*not a label map'):
        load_label_png(tmp_path / 'rgb.png')
    with pytest.raises(FileNotFoundError, match='none.png'):
        load_label_png(tmp_path / 'none.png')
    # grey-scale label maps are fine
    Image.fromarray(np.array([[0, 3]], np.uint8)).save(tmp_path / 'l.png')
    np.testing.assert_array_equal(load_label_png(tmp_path / 'l.png'), [[0, 3]])


def test_atomic_write_failure_keeps_old_file(tmp_path):
    path = tmp_path / 'f.bin'
    atomic_write(path, lambda f: f.write(b'old'))

    def fail(f):
        f.write(b'partial')
        raise RuntimeError('boom')

    with pytest.raises(RuntimeError, match='boom'):
        atomic_write(path, fail)
    assert path.read_bytes() == b'old'
    assert no_tmp_files(tmp_path)


def test_load_metainfo_json(tmp_path):
    path = tmp_path / 'meta.json'
    path.write_text(json.dumps(dict(classes=['background', 'cat', 'dog'])))
    meta = load_metainfo(path)
    assert meta['classes'] == ('background', 'cat', 'dog')
    assert meta['palette'] == voc_colormap(3)
    path.write_text(
        json.dumps(dict(classes=['bg', 'a'], palette=[[1, 2, 3], [4, 5, 6]])))
    assert load_metainfo(path)['palette'] == [[1, 2, 3], [4, 5, 6]]
    path.write_text(json.dumps(dict(classes=['bg', 'a'], palette=[[1, 2, 3]])))
    with pytest.raises(ValueError, match='palette has 1 colours'):
        load_metainfo(path)
    path.write_text(json.dumps(dict(names=['bg'])))
    with pytest.raises(KeyError, match='classes'):
        load_metainfo(path)


def test_load_metainfo_config(tmp_path):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(
        "train_dataloader = dict(dataset=dict(type='RepeatDataset',"
        " times=2, dataset=dict(type='X', metainfo=dict("
        "classes=('bg', 'obj'), palette=[[0, 0, 0], [9, 9, 9]]))))\n")
    meta = load_metainfo(cfg)
    assert meta == dict(classes=('bg', 'obj'), palette=[[0, 0, 0], [9, 9, 9]])
    # a registered dataset type: its METAINFO
    cfg.write_text("default_scope = 'mmseg'\n"
                   "val_dataloader = dict(dataset=dict("
                   "type='PascalVOCDataset'))\n")
    from mmseg.datasets import PascalVOCDataset
    meta = load_metainfo(cfg)
    assert meta['classes'] == tuple(PascalVOCDataset.METAINFO['classes'])
    assert meta['palette'] == [
        list(c) for c in PascalVOCDataset.METAINFO['palette']
    ]
    cfg.write_text('a = 1\n')
    with pytest.raises(KeyError, match='no dataset metainfo'):
        load_metainfo(cfg)
