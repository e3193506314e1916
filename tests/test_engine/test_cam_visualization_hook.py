# Copyright (c) mmseam contributors. All rights reserved.
"""CAMVisualizationHook: values of the logged strip, and a real Runner."""
import glob
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from PIL import Image

import mmseam  # noqa: F401
from mmseam.apis import cam_heatmap
from mmseam.datasets.synthetic import make_synthetic_voc
from mmseam.engine.hooks import CAMVisualizationHook
from mmseam.models.utils.cam_ops import max_norm
from test_engine.test_seam_runner import seam_cfg

init_default_scope('mmseg')

SIZE = 64
MEAN = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1)


@pytest.fixture(scope='module', autouse=True)
def single_thread():
    """Tiny convs: one thread avoids OpenMP stalls on a busy 2-core box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('synth_vis') / 'voc')
    make_synthetic_voc(root, seed=11, num_train=4, num_val=1, image_size=64)
    return root


class Recorder:
    """A visualiser that keeps what it is given."""

    def __init__(self):
        self.images = []

    def add_image(self, name, image, step=0):
        self.images.append((name, image, step))


def tiny_model(data_root, tmp_path):
    from mmseg.registry import MODELS
    cfg = seam_cfg(data_root, str(tmp_path), hook=False)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.train()
    return model


def make_batch(labels, n=2):
    """``n`` random BGR uint8 images with the given img_labels."""
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(3)
    inputs, samples = [], []
    for _ in range(n):
        inputs.append(
            torch.randint(0, 256, (3, SIZE, SIZE), generator=g,
                          dtype=torch.uint8))
        s = SegDataSample()
        s.set_data(dict(img_labels=torch.tensor(labels, dtype=torch.float32)))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def expected_strip(model, batch, alpha=0.5, gap=2):
    """The strip computed by hand from the raw uint8 BGR image."""
    bgr = batch['inputs'][0].float()
    rgb = bgr.flip(0)
    x = ((rgb - MEAN) / STD)[None]
    model.eval()
    with torch.no_grad():
        out = model._forward(x)
    model.train()
    img = rgb.permute(1, 2, 0).byte().numpy()
    present = batch['data_samples'][0].img_labels > 0
    panels = [img]
    for key in ('cam', 'cam_pcm'):
        fg = max_norm(out[key])[0, 1:][present].numpy()
        panels.append(cam_heatmap(img, fg, alpha))
    white = np.full((SIZE, gap, 3), 255, np.uint8)
    return np.concatenate(
        [panels[0], white, panels[1], white, panels[2]], axis=1)


def test_strip_values_interval_and_no_side_effects(data_root, tmp_path):
    model = tiny_model(data_root, tmp_path)
    batch = make_batch([0, 1, 0, 1, 0])
    hook = CAMVisualizationHook(interval=2, name='cams')
    vis = Recorder()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()

    runner = SimpleNamespace(model=model, iter=0, visualizer=vis)
    hook.after_train_iter(runner, 0, batch)  # iteration 1: not due
    assert vis.images == []
    runner.iter = 1
    hook.after_train_iter(runner, 1, batch)  # iteration 2
    assert len(vis.images) == 1
    name, strip, step = vis.images[0]
    assert name == 'cams' and step == 2
    assert strip.dtype == np.uint8 and strip.shape == (SIZE, 3 * SIZE + 4, 3)

    expect = expected_strip(model, batch)
    # the de-normalised image is the original RGB image
    np.testing.assert_array_equal(strip[:, :SIZE], expect[:, :SIZE])
    # heat maps: float paths differ only in rounding
    diff = np.abs(strip.astype(int) - expect.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01
    assert np.all(strip[:, SIZE:SIZE + 2] == 255)
    # the CAM and the PCM panels differ from each other and from the image
    assert not np.array_equal(strip[:, SIZE + 2:2 * SIZE + 2],
                              strip[:, 2 * SIZE + 4:])

    # no side effects: mode, weights, BN statistics, random state
    assert model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k
    assert torch.equal(torch.get_rng_state(), rng)

    # batch untouched (uint8 inputs still there for the next hooks)
    assert batch['inputs'][0].dtype == torch.uint8


def test_absent_classes_wrapped_model_and_errors(data_root, tmp_path):
    model = tiny_model(data_root, tmp_path)
    batch = make_batch([0, 0, 0, 0, 0])
    hook = CAMVisualizationHook(interval=1, alpha=0.3, gap=0)
    vis = Recorder()
    runner = SimpleNamespace(
        model=torch.nn.DataParallel(model), iter=4, visualizer=vis)
    hook.after_train_iter(runner, 0, batch)
    _, strip, step = vis.images[0]
    assert step == 5 and strip.shape == (SIZE, 3 * SIZE, 3)
    img = strip[:, :SIZE]
    zero = cam_heatmap(img, np.zeros((0, SIZE, SIZE)), 0.3)
    np.testing.assert_array_equal(strip[:, SIZE:2 * SIZE], zero)
    np.testing.assert_array_equal(strip[:, 2 * SIZE:], zero)

    # disabled / no batch: nothing logged
    CAMVisualizationHook(interval=0).after_train_iter(runner, 0, batch)
    hook.after_train_iter(runner, 0, None)
    assert len(vis.images) == 1

    from mmseg.structures import SegDataSample
    bad = dict(inputs=batch['inputs'], data_samples=[SegDataSample()])
    with pytest.raises(KeyError, match='PackSegClsInputs'):
        hook.after_train_iter(runner, 0, bad)
    with pytest.raises(ValueError, match='interval'):
        CAMVisualizationHook(interval=-1)
    with pytest.raises(ValueError, match='input_order'):
        CAMVisualizationHook(input_order='hsv')


def test_runner_writes_images_with_local_vis_backend(data_root, tmp_path):
    work_dir = str(tmp_path / 'work')
    cfg = seam_cfg(data_root, work_dir, max_epochs=1, hook=False,
                   deterministic=True)
    cfg.train_dataloader.batch_size = 2  # 4 images -> 2 iterations
    cfg.train_cfg.val_interval = 2  # no validation
    cfg.default_hooks.checkpoint.interval = 2  # no checkpoint either
    cfg.custom_hooks = [
        dict(type='CAMVisualizationHook', interval=1),
        dict(type='CAMVisualizationHook', interval=2, name='every2')
    ]
    # a visualizer of its own: MMEngine hands every Runner whose config
    # names the same visualizer instance (mmseg's runtime: 'visualizer')
    # the first one built in the process, which saves into that Runner's
    # work dir
    cfg.visualizer.name = f'cam_vis_{tmp_path.name}'
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    files = glob.glob(osp.join(work_dir, '*', 'vis_data', 'vis_image', '*'))
    assert sorted(osp.basename(f) for f in files) == [
        'every2_2.png', 'train_cam_1.png', 'train_cam_2.png'
    ]
    crop = cfg.model.data_preprocessor.size
    for f in files:
        with Image.open(f) as img:
            assert img.mode == 'RGB'
            assert img.size == (3 * crop[1] + 4, crop[0])
            arr = np.array(img)
        assert np.all(arr[:, crop[1]:crop[1] + 2] == 255)  # the gap
    # both hooks saw the same batch at iteration 2
    a = np.array(Image.open([f for f in files if 'every2' in f][0]))
    b = np.array(Image.open([f for f in files if 'train_cam_2' in f][0]))
    np.testing.assert_array_equal(a, b)
