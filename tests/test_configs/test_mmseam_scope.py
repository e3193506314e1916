# Copyright (c) mmseam contributors. All rights reserved.
"""``mmseam::`` config bases from a config outside the repository.

A user config in a temporary folder inherits mmseam's model, data set and
schedule bases through ``mmseam::`` plus MMSegmentation's runtime through
``mmseg::``, and runs through ``tools/train.py``, ``tools/test.py`` and
``tools/infer_cams.py`` (their ``__main__`` entry points, from a working
directory outside the repository).
"""
import glob
import os
import os.path as osp
import subprocess
import sys
import textwrap

import pytest
import torch
from mmengine.config import Config

import mmseam  # noqa: F401  (registers the mmseam:: scope)
from mmseam.apis import cam_output_paths
from mmseam.datasets.synthetic import make_synthetic_voc

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, 'configs')


def base_config(kind: str, *must_contain: str, pattern='*.py') -> str:
    """Relative name (``_base_/<kind>/<file>.py``) of the first base config
    of that kind named like ``pattern`` whose text contains all of
    ``must_contain`` (read from the repository: renamed files are
    followed)."""
    for path in sorted(glob.glob(osp.join(CONFIGS, '_base_', kind, pattern))):
        with open(path, encoding='utf-8') as f:
            text = f.read()
        if all(s in text for s in must_contain):
            return osp.relpath(path, CONFIGS).replace(os.sep, '/')
    raise AssertionError(f'no configs/_base_/{kind}/{pattern} contains all '
                         f'of {must_contain}')


def user_config(folder: str, data_root: str) -> str:
    """Write a config that only inherits (mmseam:: and mmseg::) and shrinks
    the recipe to 64 px crops, batch 2, one epoch."""
    model = base_config('models', "type='TinyConvNet'")
    data = base_config('datasets', "'VOCClsDataset'", 'synthetic_voc',
                       'train_pipeline')
    schedule = base_config(
        'schedules', 'EpochBasedTrainLoop', pattern='seam_*.py')
    path = osp.join(folder, 'my_seam_cfg.py')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(
            textwrap.dedent(f'''\
            _base_ = [
                'mmseam::{model}',
                'mmseam::{data}',
                'mmseam::{schedule}',
                'mmseg::_base_/default_runtime.py',
            ]
            data_root = {data_root!r}
            crop_size = (64, 64)
            train_pipeline = [
                dict(type='LoadImageFromFile'),
                dict(type='RandomCropPad', crop_size=crop_size,
                     pad_val=0, seg_pad_val=255),
                dict(type='PackSegClsInputs'),
            ]
            loader = dict(num_workers=0, persistent_workers=False)
            train_dataloader = dict(
                batch_size=2, **loader,
                dataset=dict(data_root=data_root, pipeline=train_pipeline))
            val_dataloader = dict(**loader, dataset=dict(data_root=data_root))
            test_dataloader = val_dataloader
            model = dict(
                data_preprocessor=dict(size=crop_size),
                test_cfg=dict(scales=(1.0, ), flip=False))
            train_cfg = dict(max_epochs=1, val_interval=2)
            param_scheduler = []
            default_hooks = dict(
                logger=dict(interval=1),
                visualization=dict(type='SegVisualizationHook', draw=False))
            env_cfg = dict(cudnn_benchmark=False)
            randomness = dict(seed=0)
            '''))
    return path


@pytest.fixture(scope='module')
def user_setup(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('my_project'))
    assert not osp.abspath(folder).startswith(REPO + os.sep)
    data_root = osp.join(folder, 'voc')
    make_synthetic_voc(
        data_root, seed=5, num_train=4, num_val=1, image_size=64)
    return folder, data_root, user_config(folder, data_root)


def test_config_resolves_mmseam_and_mmseg_bases(user_setup):
    _, data_root, cfg_path = user_setup
    cfg = Config.fromfile(cfg_path)
    model_base = Config.fromfile(
        osp.join(CONFIGS, base_config('models', "type='TinyConvNet'")))
    # the mmseam:: base is the repository's file (through mmseam/.mim)
    assert cfg.model.type == model_base.model.type == 'SEAM'
    assert cfg.model.backbone.to_dict() == model_base.model.backbone.to_dict()
    assert cfg.model.data_preprocessor.size == (64, 64)
    assert cfg.train_dataloader.dataset.data_root == data_root
    # MMEngine tags what an external base brings with its package's scope
    assert cfg.model._scope_ == 'mmseam'
    assert cfg.train_dataloader.dataset._scope_ == 'mmseam'
    assert cfg.visualizer._scope_ == 'mmseg'  # from mmseg::default_runtime
    assert cfg.default_scope == 'mmseg'
    # and the mmseam scope's registry nodes find mmseg-registered classes
    from mmseam.registry import MODELS, TRANSFORMS
    assert MODELS.get('SEAM').__name__ == 'SEAM'
    assert TRANSFORMS.get('PackSegClsInputs').__name__ == 'PackSegClsInputs'
    assert TRANSFORMS.get('LoadImageFromFile') is not None  # mmcv's, root


def test_train_test_infer_cams_from_outside_the_repository(user_setup):
    folder, data_root, cfg_path = user_setup
    work_dir = osp.join(folder, 'work')
    cam_dir = osp.join(folder, 'cams')
    # the tools' command-line entry points, in one interpreter (one import)
    driver = textwrap.dedent(f'''\
        import runpy, sys
        def run(tool, *args):
            sys.argv = [tool, *args]
            runpy.run_path({REPO!r} + '/tools/' + tool, run_name='__main__')
        run('train.py', {cfg_path!r}, '--work-dir', {work_dir!r})
        ckpt = {work_dir!r} + '/epoch_1.pth'
        run('test.py', {cfg_path!r}, ckpt, '--work-dir', {work_dir!r})
        run('infer_cams.py', {cfg_path!r}, ckpt, '--out-dir', {cam_dir!r},
            '--num-workers', '0', '--device', 'cpu')
        print('TOOLS DONE')
        ''')
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run([sys.executable, '-c', driver],
                          cwd=folder,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert 'TOOLS DONE' in proc.stdout
    # built through the mmseam scope's nodes, no fallback to another registry
    assert 'Failed to search registry' not in out, out[-4000:]
    assert 'Failed to import' not in out, out[-4000:]
    # 4 training images at batch 2 (drop_last): 2 iterations in epoch 1
    ckpt = torch.load(
        osp.join(work_dir, 'epoch_1.pth'), map_location='cpu',
        weights_only=False)
    assert ckpt['meta']['epoch'] == 1 and ckpt['meta']['iter'] == 2
    assert any(k.startswith('backbone.') for k in ckpt['state_dict'])
    # tools/test.py evaluated the test split (mIoU printed by the metric)
    assert 'mIoU' in out
    # tools/infer_cams.py wrote one CAM file set per test image
    with open(osp.join(data_root, 'ImageSets', 'Segmentation',
                       'train.txt')) as f:
        ids = [line.strip() for line in f if line.strip()]
    assert len(ids) == 4
    for img_id in ids:
        for path in cam_output_paths(cam_dir, img_id).values():
            assert osp.isfile(path), path
