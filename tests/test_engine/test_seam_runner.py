# Copyright (c) mmseam contributors. All rights reserved.
"""A real MMEngine Runner: train SEAM on synthetic data, test it, resume it,
and let the PseudoLabelHook write and score pseudo labels."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

import mmseam  # noqa: F401
from mmseam.apis import load_cam
from mmseam.datasets.synthetic import make_synthetic_voc

from mmengine.hooks import Hook
from mmseg.registry import HOOKS


class SimulatedCrash(RuntimeError):
    pass


@HOOKS.register_module(force=True)
class CrashAfterEpochHook(Hook):
    """Dies after the checkpoint of ``epoch`` is written (a killed job)."""
    priority = 'LOWEST'

    def __init__(self, epoch=1):
        self.epoch = epoch

    def after_train_epoch(self, runner):
        if runner.epoch + 1 == self.epoch:
            raise SimulatedCrash(f'killed after epoch {self.epoch}')


REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CROP = (64, 64)


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('synth') / 'voc')
    make_synthetic_voc(root, seed=3, num_train=8, num_val=4, image_size=96)
    return root


def seam_cfg(data_root,
             work_dir,
             max_epochs=2,
             hook=True,
             deterministic=False,
             crash_after=None):
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/models/seam_r18-d8.py'))
    ds_base = Config.fromfile(
        osp.join(REPO, 'configs/_base_/datasets/synthetic_voc_cls.py'))
    sched = Config.fromfile(
        osp.join(REPO, 'configs/_base_/schedules/seam_sgd-poly_8e.py'))
    cfg.merge_from_dict(sched.to_dict())
    cfg.model.data_preprocessor.size = CROP
    cfg.model.equivariant_transform.scale_factor = 0.5
    cfg.model.backbone.update(stem_channels=8, base_channels=8)
    cfg.model.in_channels = 64
    cfg.model.neck.update(
        in_channels=(16, 32), proj_channels=(8, 8), out_channels=16)
    train_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='RandomFlip', prob=0.5),
        dict(type='RandomCropPad', crop_size=CROP),
        dict(type='PackSegClsInputs')
    ]
    if deterministic:
        # no random augmentation and no dropout: a resumed run must then
        # reproduce an uninterrupted one bit for bit
        train_pipeline = [
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=CROP, keep_ratio=False),
            dict(type='PackSegClsInputs')
        ]
        cfg.model.dropout_ratio = 0.0
    train_ds = ds_base.train_dataloader.dataset
    train_ds.update(data_root=data_root, pipeline=train_pipeline)
    val_ds = ds_base.val_dataloader.dataset
    val_ds.update(data_root=data_root)
    cfg.train_dataloader = dict(
        batch_size=4,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=True),
        dataset=train_ds)
    cfg.val_dataloader = dict(
        batch_size=1,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=val_ds)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
    cfg.test_evaluator = cfg.val_evaluator
    cfg.train_cfg = dict(
        type='EpochBasedTrainLoop',
        max_epochs=max_epochs,
        val_interval=max_epochs)
    if crash_after is not None or deterministic:
        cfg.train_cfg.val_interval = max_epochs + 1  # no validation needed
    cfg.param_scheduler[0].end = max_epochs
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.max_keep_ckpts = 5
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook')
    cfg.default_scope = 'mmseg'
    cfg.env_cfg = dict(
        cudnn_benchmark=False,
        mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
        dist_cfg=dict(backend='gloo'))
    cfg.vis_backends = [dict(type='LocalVisBackend')]
    cfg.visualizer = dict(
        type='SegLocalVisualizer', vis_backends=cfg.vis_backends,
        name='visualizer')
    cfg.log_processor = dict(by_epoch=True)
    cfg.log_level = 'WARNING'
    cfg.randomness = dict(seed=0)
    cfg.work_dir = work_dir
    cfg.load_from = None
    cfg.resume = False
    cfg.custom_hooks = []
    if crash_after is not None:
        cfg.custom_hooks.append(
            dict(type='CrashAfterEpochHook', epoch=crash_after))
    if hook:
        cfg.custom_hooks += [
            dict(
                type='PseudoLabelHook',
                scales=(1.0, 0.5),
                flip=True,
                crf=dict(alphas=(4, ), workers=1))
        ]
    return cfg


def test_train_test_resume_and_pseudo_labels(data_root, tmp_path):
    work_dir = str(tmp_path / 'work')
    cfg = seam_cfg(data_root, work_dir, max_epochs=1)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.epoch == 1 and runner.iter == 2
    ckpt1 = osp.join(work_dir, 'epoch_1.pth')
    assert osp.isfile(ckpt1)

    # --- the pseudo-label hook ran after training -----------------------
    hook = [h for h in runner.hooks if type(h).__name__ == 'PseudoLabelHook']
    metrics = hook[0].results['final']
    out = osp.join(work_dir, 'pseudo_labels', 'final')
    ids = [
        line.strip() for line in open(
            osp.join(data_root, 'ImageSets/Segmentation/train.txt'))
    ]
    meta = json.load(open(osp.join(data_root, 'metainfo.json')))
    for img_id in ids:
        cams, labels = load_cam(osp.join(out, 'cams', f'{img_id}.npz'))
        png = np.array(
            Image.open(osp.join(out, 'pseudo_labels', f'{img_id}.png')))
        crf = np.array(
            Image.open(osp.join(out, 'crf', 'crf_4_png', f'{img_id}.png')))
        assert cams.shape == (len(labels), 96, 96)
        assert cams.min() >= 0 and cams.max() <= 1
        # only background and the image's own classes appear
        allowed = set([0] + labels.tolist())
        assert set(np.unique(png).tolist()) <= allowed
        assert set(np.unique(crf).tolist()) <= allowed
        assert len(labels) >= 1
    assert len(meta['classes']) == 6
    for key in ('pseudo/cam_mIoU', 'pseudo/png_mIoU', 'pseudo/crf_4_mIoU'):
        assert 0 <= metrics[key] <= 100
    # 0.00-0.59, extended up to 0.99 when the best value is 0.59
    assert 0 <= metrics['pseudo/cam_best_bg_threshold'] <= 0.99

    # --- tools/test.py on the saved (full MMEngine) checkpoint -----------
    cfg_path = str(tmp_path / 'cfg.py')
    seam_cfg(data_root, work_dir, max_epochs=1, hook=False).dump(cfg_path)
    from tools import test as test_tool
    res = test_tool.main(
        [cfg_path, ckpt1, '--work-dir',
         str(tmp_path / 'test_out')])
    assert 0 <= res['mIoU'] <= 100 and 'aAcc' in res


def test_resume_after_crash_matches_uninterrupted_run(data_root, tmp_path):
    """Kill after epoch 1, resume: the final weights equal a clean run."""
    crashed = str(tmp_path / 'crashed')
    cfg = seam_cfg(
        data_root, crashed, max_epochs=2, hook=False, deterministic=True,
        crash_after=1)
    with pytest.raises(SimulatedCrash):
        Runner.from_cfg(cfg).train()
    assert osp.isfile(osp.join(crashed, 'epoch_1.pth'))
    assert not osp.isfile(osp.join(crashed, 'epoch_2.pth'))

    cfg = seam_cfg(
        data_root, crashed, max_epochs=2, hook=False, deterministic=True)
    cfg.resume = True  # latest checkpoint in the work dir
    resumed = Runner.from_cfg(cfg)
    resumed.train()
    assert resumed.epoch == 2 and resumed.iter == 4

    clean = str(tmp_path / 'clean')
    Runner.from_cfg(
        seam_cfg(data_root, clean, max_epochs=2, hook=False,
                 deterministic=True)).train()
    a = torch.load(osp.join(crashed, 'epoch_2.pth'), weights_only=False)
    b = torch.load(osp.join(clean, 'epoch_2.pth'), weights_only=False)
    assert a['meta']['epoch'] == b['meta']['epoch'] == 2
    for key, value in b['state_dict'].items():
        torch.testing.assert_close(
            a['state_dict'][key], value, rtol=0, atol=0, msg=key)
    # and training did move the weights after the resume point
    e1 = torch.load(osp.join(crashed, 'epoch_1.pth'), weights_only=False)
    assert not torch.equal(e1['state_dict']['classifier.weight'],
                           a['state_dict']['classifier.weight'])


def test_compiled_network_in_the_runner(data_root, tmp_path):
    """model.compile_cfg / test_cfg.compile_cfg through a Runner: training,
    the checkpoint (the eager parameter names) and the PseudoLabelHook's
    inference run compiled, with the weights of an eager run."""
    eager_dir, comp_dir = str(tmp_path / 'eager'), str(tmp_path / 'comp')
    Runner.from_cfg(
        seam_cfg(data_root, eager_dir, max_epochs=1, hook=False,
                 deterministic=True)).train()
    cfg = seam_cfg(data_root, comp_dir, max_epochs=1, deterministic=True)
    cfg.model.compile_cfg = dict(backend='aot_eager', dynamic=False)
    cfg.model.test_cfg.compile_cfg = dict(backend='aot_eager')
    from torch._dynamo.utils import counters
    counters.clear()
    runner = Runner.from_cfg(cfg)
    runner.train()
    # graphs were compiled for training and for the hook's inference (eval
    # mode, several sizes)
    assert counters['stats']['unique_graphs'] >= 2
    a = torch.load(osp.join(eager_dir, 'epoch_1.pth'), weights_only=False)
    b = torch.load(osp.join(comp_dir, 'epoch_1.pth'), weights_only=False)
    assert list(b['state_dict']) == list(a['state_dict'])
    for key, value in a['state_dict'].items():
        torch.testing.assert_close(
            b['state_dict'][key], value, rtol=1e-4, atol=1e-6, msg=key)
    hook = [h for h in runner.hooks if type(h).__name__ == 'PseudoLabelHook']
    assert 0 <= hook[0].results['final']['pseudo/cam_mIoU'] <= 100


def test_train_tool_cli(data_root, tmp_path):
    """tools/train.py with --cfg-options and --resume on a dumped config."""
    work_dir = str(tmp_path / 'cli')
    cfg_path = str(tmp_path / 'cfg.py')
    crash_path = str(tmp_path / 'crash_cfg.py')
    seam_cfg(data_root, work_dir, max_epochs=2, hook=False).dump(cfg_path)
    seam_cfg(
        data_root, work_dir, max_epochs=2, hook=False,
        crash_after=1).dump(crash_path)
    from tools import train as train_tool
    with pytest.raises(SimulatedCrash):
        train_tool.main([crash_path, '--work-dir', work_dir])
    runner = train_tool.main([
        cfg_path, '--work-dir', work_dir, '--resume',
        osp.join(work_dir, 'epoch_1.pth')
    ])
    assert runner.epoch == 2 and runner.iter == 4
    with pytest.raises(FileNotFoundError, match='does not exist'):
        train_tool.main([cfg_path, '--resume', str(tmp_path / 'nope.pth')])
