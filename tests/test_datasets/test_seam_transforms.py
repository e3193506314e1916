# Copyright (c) mmseam contributors. All rights reserved.
import os.path as osp

import mmseam  # noqa: F401
import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS, TRANSFORMS
from PIL import Image

from mmseam.datasets.transforms import (ColorJitter, PackSegClsInputs,
                                        RandomCropPad)

init_default_scope('mmseg')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BGR_MEAN = (103.53, 116.28, 123.675)


def ramp_image(h, w, c=3):
    """uint8 image whose every pixel/channel value is unique mod 256."""
    return (np.arange(h * w * c).reshape(h, w, c) % 251).astype(np.uint8)


# ----------------------------------------------------------------------
# PackSegClsInputs
# ----------------------------------------------------------------------
def test_pack_with_labels_and_mask():
    img = ramp_image(4, 5)
    seg = np.arange(20, dtype=np.uint8).reshape(4, 5)
    labels = np.array([0, 1, 0, 1], dtype=np.float32)
    results = dict(
        img=img,
        gt_seg_map=seg,
        img_labels=labels,
        img_id='2007_000001',
        img_path='a.jpg',
        ori_shape=(4, 5),
        img_shape=(4, 5))
    pack = TRANSFORMS.build(dict(type='PackSegClsInputs'))
    assert isinstance(pack, PackSegClsInputs)
    out = pack(results)
    assert torch.equal(out['inputs'],
                       torch.from_numpy(img.transpose(2, 0, 1).copy()))
    sample = out['data_samples']
    assert sample.img_labels.dtype == torch.float32
    assert torch.equal(sample.img_labels, torch.tensor([0., 1., 0., 1.]))
    assert sample.gt_sem_seg.data.shape == (1, 4, 5)
    assert sample.gt_sem_seg.data.dtype == torch.int64
    assert torch.equal(sample.gt_sem_seg.data[0],
                       torch.from_numpy(seg.astype(np.int64)))
    assert sample.img_id == '2007_000001'
    assert sample.img_path == 'a.jpg'
    assert sample.img_shape == (4, 5)
    # The tensor does not share memory with the results dict.
    labels[0] = 5
    assert sample.img_labels[0] == 0


def test_pack_without_labels_or_mask():
    out = PackSegClsInputs()(dict(img=ramp_image(3, 3)))
    sample = out['data_samples']
    assert 'img_labels' not in sample
    assert 'gt_sem_seg' not in sample


def test_pack_rejects_2d_labels():
    with pytest.raises(ValueError, match='img_labels must be a 1-D'):
        PackSegClsInputs()(
            dict(img=ramp_image(2, 2), img_labels=np.zeros((2, 2))))


# ----------------------------------------------------------------------
# RandomCropPad
# ----------------------------------------------------------------------
def find_window(out, img):
    """All (top, left) where ``img`` sits inside ``out``."""
    h, w = img.shape[:2]
    hits = []
    for t in range(out.shape[0] - h + 1):
        for left in range(out.shape[1] - w + 1):
            if np.array_equal(out[t:t + h, left:left + w], img):
                hits.append((t, left))
    return hits


def test_crop_pad_small_image_is_placed_in_container():
    img = ramp_image(3, 5)
    seg = np.arange(15, dtype=np.uint8).reshape(3, 5)
    crop = RandomCropPad(crop_size=(6, 8))
    seen = set()
    np.random.seed(0)
    for _ in range(300):
        out = crop(dict(img=img, gt_seg_map=seg, seg_fields=['gt_seg_map']))
        res = out['img']
        assert res.dtype == np.float32 and res.shape == (6, 8, 3)
        assert out['img_shape'] == (6, 8)
        img_top, img_left, top, left, ch, cw = out['crop_pad_bbox']
        assert (img_top, img_left, ch, cw) == (0, 0, 3, 5)
        assert 0 <= top <= 3 and 0 <= left <= 3
        # Content preserved at the reported offset.
        np.testing.assert_array_equal(res[top:top + 3, left:left + 5], img)
        # Everything else is exactly the fill value.
        fill = np.ones((6, 8), bool)
        fill[top:top + 3, left:left + 5] = False
        np.testing.assert_array_equal(
            res[fill], np.broadcast_to(np.float32(BGR_MEAN), (fill.sum(), 3)))
        seg_out = out['gt_seg_map']
        assert seg_out.dtype == np.uint8 and seg_out.shape == (6, 8)
        np.testing.assert_array_equal(seg_out[top:top + 3, left:left + 5], seg)
        assert (seg_out[fill] == 255).all()
        seen.add((top, left))
    assert seen == {(t, le) for t in range(4) for le in range(4)}


def test_crop_pad_big_image_is_a_sub_window():
    img = ramp_image(10, 12)
    crop = RandomCropPad(crop_size=(4, 5))
    seen = set()
    np.random.seed(1)
    for _ in range(600):
        out = crop(dict(img=img))
        res = out['img']
        assert res.dtype == np.float32 and res.shape == (4, 5, 3)
        img_top, img_left, top, left, ch, cw = out['crop_pad_bbox']
        assert (top, left, ch, cw) == (0, 0, 4, 5)
        np.testing.assert_array_equal(
            res, img[img_top:img_top + 4, img_left:img_left + 5])
        assert find_window(img.astype(np.float32),
                           res) == [(img_top, img_left)]
        seen.add((img_top, img_left))
    assert seen == {(t, le) for t in range(7) for le in range(8)}


def test_crop_pad_mixed_axes():
    img = ramp_image(3, 9)
    out = RandomCropPad(crop_size=5, pad_val=0)(dict(img=img))
    img_top, img_left, top, left, ch, cw = out['crop_pad_bbox']
    assert (img_top, left, ch, cw) == (0, 0, 3, 5)
    np.testing.assert_array_equal(out['img'][top:top + 3],
                                  img[:, img_left:img_left + 5])
    rest = np.delete(out['img'], range(top, top + 3), axis=0)
    assert (rest == 0).all()


def test_crop_pad_fill_is_zero_after_normalisation():
    img = np.full((20, 30, 3), 200, dtype=np.uint8)
    np.random.seed(3)
    results = RandomCropPad(crop_size=(32, 32))(dict(img=img))
    packed = PackSegClsInputs()(results)
    preprocessor = MODELS.build(
        dict(
            type='SegDataPreProcessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True,
            size=(32, 32),
            pad_val=0,
            seg_pad_val=255))
    data = preprocessor(
        dict(inputs=[packed['inputs']], data_samples=[packed['data_samples']]),
        training=True)
    norm = data['inputs'][0]
    _, _, top, left, ch, cw = results['crop_pad_bbox']
    mask = torch.ones(32, 32, dtype=torch.bool)
    mask[top:top + ch, left:left + cw] = False
    assert mask.sum() == 32 * 32 - 20 * 30
    assert (norm[:, mask] == 0).all()
    expected = (200 - torch.tensor([123.675, 116.28, 103.53])) / torch.tensor(
        [58.395, 57.12, 57.375])
    torch.testing.assert_close(norm[:, top, left], expected)


def test_crop_pad_bad_args():
    with pytest.raises(ValueError, match='crop_size'):
        RandomCropPad(crop_size=(0, 4))
    with pytest.raises(ValueError, match='pad_val'):
        RandomCropPad(crop_size=4, pad_val=(1, 2))(dict(img=ramp_image(2, 2)))


# ----------------------------------------------------------------------
# ColorJitter
# ----------------------------------------------------------------------
def test_color_jitter_zero_factors_is_identity():
    img = ramp_image(6, 7)
    jitter = TRANSFORMS.build(
        dict(
            type='ColorJitter', brightness=0, contrast=0, saturation=0, hue=0))
    assert isinstance(jitter, ColorJitter)
    out = jitter(dict(img=img.copy()))['img']
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, img)


def test_color_jitter_ranges():
    jitter = ColorJitter()
    assert jitter.brightness == (0.7, 1.3)
    assert jitter.contrast == (0.7, 1.3)
    assert jitter.saturation == (0.7, 1.3)
    assert jitter.hue == (-0.1, 0.1)
    assert ColorJitter(brightness=1.5).brightness == (0.0, 2.5)
    with pytest.raises(ValueError):
        ColorJitter(hue=0.7)
    with pytest.raises(ValueError):
        ColorJitter(contrast=-0.1)


@pytest.mark.parametrize('name,fn,factor', [
    ('brightness', TF.adjust_brightness, 1.2),
    ('contrast', TF.adjust_contrast, 0.8),
    ('saturation', TF.adjust_saturation, 1.25),
    ('hue', TF.adjust_hue, 0.07),
])
def test_color_jitter_matches_torchvision_on_rgb(name, fn, factor):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(9, 11, 3), dtype=np.uint8)  # BGR
    args = dict(brightness=0, contrast=0, saturation=0, hue=0)
    args[name] = (factor, factor)
    out = ColorJitter(**args)(dict(img=img.copy()))['img']
    rgb = Image.fromarray(np.ascontiguousarray(img[..., ::-1]))
    expected = np.asarray(fn(rgb, factor))[..., ::-1]
    np.testing.assert_array_equal(out, expected)


def test_color_jitter_float_path():
    img = np.linspace(0, 255, 4 * 5 * 3, dtype=np.float32).reshape(4, 5, 3)
    out = ColorJitter(
        brightness=(0.5, 0.5), contrast=0, saturation=0,
        hue=0)(dict(img=img.copy()))['img']
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, img * 0.5, rtol=1e-5, atol=1e-3)


def test_color_jitter_random_changes_image_and_keeps_shape():
    img = np.random.default_rng(1).integers(
        0, 256, size=(16, 16, 3), dtype=np.uint8)
    np.random.seed(0)
    out = ColorJitter()(dict(img=img.copy()))['img']
    assert out.shape == img.shape and out.dtype == np.uint8
    assert not np.array_equal(out, img)


# ----------------------------------------------------------------------
# RandomResize as configured in the VOC base (official RandomResizeLong)
# ----------------------------------------------------------------------
def _voc_resize_cfg():
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/datasets/voc12aug_cls.py'))
    resize = [t for t in cfg.train_pipeline if t['type'] == 'RandomResize']
    assert len(resize) == 1
    return resize[0]


def test_random_resize_long_side_range(monkeypatch):
    resize = TRANSFORMS.build(_voc_resize_cfg())
    img = ramp_image(375, 500)
    for sample, long_side in ((0.0, 448), (1.0 - 1e-12, 768), (0.5, 608)):
        monkeypatch.setattr(np.random, 'random_sample', lambda s=sample: s)
        out = resize(dict(img=img.copy()))['img']
        assert max(out.shape[:2]) == long_side
        assert out.shape[:2] == (int(375 * long_side / 500 + 0.5), long_side)
    # PIL bicubic, as the official RandomResizeLong.
    monkeypatch.setattr(np.random, 'random_sample', lambda: 0.25)
    out = resize(dict(img=img.copy()))['img']
    long_side = int(768 * (0.25 * (321 / 768) + 448 / 768))
    assert long_side == 528 and out.shape[1] == 528
    expected = np.asarray(
        Image.fromarray(img).resize((528, 396), Image.BICUBIC))
    np.testing.assert_array_equal(out, expected)


def test_random_resize_long_side_uniform_integers():
    monkeypatch_free = TRANSFORMS.build(_voc_resize_cfg())
    # Scale sampling alone (cheap): every integer 448..768 is reachable.
    np.random.seed(0)
    sides = set()
    for _ in range(6000):
        scale = monkeypatch_free._random_sample_ratio(
            monkeypatch_free.scale, monkeypatch_free.ratio_range)
        assert scale[0] == scale[1]
        sides.add(scale[0])
    assert sides == set(range(448, 769))
