# Copyright (c) mmseam contributors. All rights reserved.
"""One-image inference on real photos: ``mmseam.apis.inference_cams``,
``render_cams``, ``demo/image_demo.py`` and mmseg's ``init_model`` +
``inference_model`` on a SEAM checkpoint trained for two iterations."""
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

import mmseam  # noqa: F401  (before mmseg.apis: mmcv ops, checkpoints)
from mmengine.config import Config
from mmengine.runner import Runner
from mmseg.apis import inference_model, init_model

from mmseam.apis import inference_cams, render_cams
from mmseam.apis.visualize import cam_heatmap, colorize_label
from mmseam.datasets.synthetic import make_synthetic_voc

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs/seam/seam_r18-d8_1xb8-6e_synthvoc-224x224.py')
CROP = (64, 64)
PANEL_PX = 220  # render_cams: cell 2.2 in at 100 dpi


def tiny_cfg(data_root, work_dir):
    """The synthetic ResNet-18 SEAM config at a tiny width, 2 iterations."""
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = str(work_dir)
    cfg.model.backbone.update(stem_channels=8, base_channels=8, init_cfg=None)
    cfg.model.in_channels = 64
    cfg.model.neck.update(
        in_channels=(16, 32), proj_channels=(8, 8), out_channels=16)
    cfg.model.data_preprocessor.size = CROP
    cfg.model.equivariant_transform.scale_factor = 0.5
    cfg.model.test_cfg = dict(
        cam_source='pcm', scales=(1.0, 0.5), flip=True, bg_threshold=0.3)
    ds = cfg.train_dataloader.dataset
    ds.data_root = data_root
    ds.pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='RandomCropPad', crop_size=CROP),
        dict(type='PackSegClsInputs')
    ]
    cfg.train_dataloader.update(
        batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_cfg = dict(
        type='EpochBasedTrainLoop', max_epochs=1, val_interval=2)
    cfg.param_scheduler[0].end = 1
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator',
                'test_dataloader', 'test_cfg', 'test_evaluator'):
        cfg[key] = None
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook')
    cfg.default_hooks.logger.interval = 1
    return cfg


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """(config path, checkpoint path) of a SEAM trained 2 iterations."""
    tmp = tmp_path_factory.mktemp('inference')
    root = str(tmp / 'voc')
    make_synthetic_voc(root, seed=0, num_train=4, num_val=1, image_size=64)
    cfg = tiny_cfg(root, tmp / 'work')
    torch.manual_seed(0)
    Runner.from_cfg(cfg).train()
    ckpt = str(tmp / 'work' / 'epoch_1.pth')
    assert osp.isfile(ckpt)
    cfg_path = str(tmp / 'seam_tiny.py')
    cfg.dump(cfg_path)
    return cfg_path, ckpt


@pytest.fixture(scope='module')
def model(trained):
    return init_model(*trained, device='cpu')


def photo(name, max_side=160):
    """A scikit-image sample photo, shrunk (uint8 RGB)."""
    img = Image.fromarray(getattr(skdata, name)())
    img.thumbnail((max_side, max_side))
    return np.asarray(img.convert('RGB'))


def test_init_model_keeps_the_dataset_meta(model):
    assert model.dataset_meta['classes'][1:] == (
        'plus', 'ring', 'triangle', 'bars', 'hourglass')
    assert not model.training


def test_cams_scores_and_label_of_a_photo(model):
    rgb = photo('chelsea')
    res = inference_cams(model, rgb[..., ::-1])
    h, w = rgb.shape[:2]
    assert res.cams.shape == (5, h, w)
    np.testing.assert_array_equal(res.img, rgb)
    # the CAMs: multi-scale + flip sum of the PCM output, min-max per class
    x = model.data_preprocessor(
        dict(inputs=[torch.from_numpy(rgb[..., ::-1].transpose(2, 0, 1)
                                      .copy())]), False)['inputs']
    with torch.no_grad():
        want = 0
        for s in (1.0, 0.5):
            xs = x if s == 1.0 else torch.nn.functional.interpolate(
                x, scale_factor=s, mode='bilinear', align_corners=False)
            for flip in (False, True):
                o = model._forward(xs.flip(-1) if flip else xs)['cam_pcm']
                o = torch.nn.functional.interpolate(
                    o[:, 1:], (h, w), mode='bilinear', align_corners=False)
                want = want + (o.flip(-1) if flip else o)
        want = torch.relu(want)[0]
        lo = want.flatten(1).min(1)[0][:, None, None]
        hi = want.flatten(1).max(1)[0][:, None, None]
        want = torch.relu(want - lo - 1e-5) / (hi - lo + 1e-5)
    np.testing.assert_allclose(res.cams, want.numpy(), rtol=1e-4, atol=1e-5)
    # image-level scores: sigmoid of the GAP of the CAM branch (training's
    # pooling); the classes: those above 0.5, else the top one
    with torch.no_grad():
        cam = model._forward(x)['cam'][0, 1:]
    scores = torch.sigmoid(cam.mean((1, 2))).numpy()
    np.testing.assert_allclose(res.scores, scores, rtol=1e-5, atol=1e-6)
    want_ids = np.flatnonzero(scores > 0.5) + 1
    if len(want_ids) == 0:
        want_ids = np.array([scores.argmax() + 1])
    np.testing.assert_array_equal(res.class_ids, want_ids)
    assert res.predicted
    # the label: argmax over [0.3, CAMs of those classes], mapped to ids
    stack = np.concatenate(
        [np.full((1, h, w), 0.3, np.float32), res.cams[want_ids - 1]])
    lut = np.concatenate([[0], want_ids])
    np.testing.assert_array_equal(res.label, lut[stack.argmax(0)])


def test_given_classes_are_the_ones_rendered(model):
    rgb = photo('astronaut')
    res = inference_cams(model, rgb[..., ::-1], classes=['bars', '2'])
    np.testing.assert_array_equal(res.class_ids, [4, 2])
    assert not res.predicted
    assert set(np.unique(res.label)) <= {0, 2, 4}
    panels, titles = render_cams(res, palette=model.dataset_meta['palette'])
    assert len(panels) == 4
    assert titles[1].startswith('bars (p=') and titles[2].startswith('ring')
    np.testing.assert_array_equal(panels[1],
                                  cam_heatmap(rgb, res.cams[3:4]))
    np.testing.assert_array_equal(panels[2],
                                  cam_heatmap(rgb, res.cams[1:2]))
    np.testing.assert_array_equal(
        panels[3], colorize_label(res.label, model.dataset_meta['palette']))
    with pytest.raises(ValueError, match='unknown class .*plus'):
        inference_cams(model, rgb[..., ::-1], classes=['cat'])
    with pytest.raises(ValueError, match='background'):
        inference_cams(model, rgb[..., ::-1], classes=[0])


def test_cam_source_changes_the_maps(model):
    bgr = photo('coffee')[..., ::-1]
    pcm = inference_cams(model, bgr, classes=[1, 2, 3, 4, 5])
    cam = inference_cams(model, bgr, classes=[1, 2, 3, 4, 5],
                         cam_source='cam')
    assert pcm.cam_source == 'pcm' and cam.cam_source == 'cam'
    assert np.abs(pcm.cams - cam.cams).max() > 0.1
    np.testing.assert_array_equal(pcm.scores, cam.scores)


def test_inference_model_predicts_with_the_predicted_classes(model):
    """mmseg's API: no image-level labels for a photo, so SEAM keeps the
    predicted classes, the same as inference_cams."""
    bgr = np.ascontiguousarray(photo('coffee')[..., ::-1])
    out = inference_model(model, bgr)
    h, w = bgr.shape[:2]
    assert out.pred_sem_seg.data.shape == (1, h, w)
    res = inference_cams(model, bgr)
    np.testing.assert_allclose(
        out.img_scores.numpy(), res.scores, rtol=1e-5, atol=1e-6)
    kept = np.flatnonzero(out.pred_img_labels.numpy()) + 1
    np.testing.assert_array_equal(kept, res.class_ids)
    logits = out.seg_logits.data.numpy()
    absent = np.setdiff1d(np.arange(1, 6), kept)
    assert np.all(logits[absent] == 0) and np.all(logits[0] == 0.3)
    np.testing.assert_allclose(logits[kept], res.cams[kept - 1], atol=1e-6)
    np.testing.assert_array_equal(out.pred_sem_seg.data[0].numpy(),
                                  res.label)


def test_image_demo_writes_one_row_png(trained, tmp_path):
    cfg_path, ckpt = trained
    img_path = str(tmp_path / 'astronaut.png')
    Image.fromarray(photo('astronaut')).save(img_path)
    out = str(tmp_path / 'out' / 'cams.png')
    proc = subprocess.run(
        [sys.executable,
         osp.join(REPO, 'demo/image_demo.py'), img_path, cfg_path, ckpt,
         '--out-file', out, '--classes', 'plus', 'ring', 'hourglass',
         '--cam-source', 'cam', '--device', 'cpu'],
        capture_output=True, text=True, cwd=str(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'given classes (image-level probability): plus ' in proc.stdout
    with Image.open(out) as png:
        assert png.size == (PANEL_PX * (1 + 3 + 1), PANEL_PX)


def test_image_demo_names_a_missing_file(trained, tmp_path):
    cfg_path, ckpt = trained
    proc = subprocess.run(
        [sys.executable,
         osp.join(REPO, 'demo/image_demo.py'),
         str(tmp_path / 'nope.jpg'), cfg_path, ckpt],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert 'nope.jpg does not exist' in proc.stderr


def test_predicted_labels_threshold_and_top_class_fallback(model):
    scores = torch.tensor([[0.2, 0.7, 0.9], [0.1, 0.4, 0.3],
                           [0.5, 0.5, 0.2]])
    got = model.predicted_labels(scores, 0.5)
    # above 0.5; none above -> the top class; 0.5 itself is not above
    # (first maximum on a tie)
    want = torch.tensor([[0., 1., 1.], [0., 1., 0.], [1., 0., 0.]])
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(
        model.predicted_labels(scores, 0.15),
        torch.tensor([[1., 1., 1.], [0., 1., 1.], [1., 1., 1.]]))
