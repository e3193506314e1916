# Copyright (c) mmseam contributors. All rights reserved.
"""Same answer every time: two stage-1 runs (random augmentation, dropout,
``randomness=dict(seed=0, deterministic=True)``) in two different processes
write byte-identical CAMs and pseudo labels, and CAM inference sharded over
2 gloo processes (torchrun) writes the same files as 1 process."""
import os.path as osp
import socket
import sys

import mmseam  # noqa: F401
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmseg.registry import MODELS

from mmseam.datasets.synthetic import make_synthetic_voc

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from reliability_utils import (REPO, folder_bytes, output,  # noqa: E402
                               seam_cfg, seam_train_cfg, slim, start,
                               state_dicts_equal)

init_default_scope('mmseg')


def stage1_cfg(data_root, work_dir):
    """The tiny SEAM run *with* its random augmentation (flip, random
    crop/pad) and dropout, plus the pseudo-label hook."""
    cfg = seam_cfg(data_root, work_dir, max_epochs=2, hook=True)
    cfg.randomness = dict(seed=0, deterministic=True)
    cfg.train_cfg.val_interval = 3  # no validation needed
    cfg.custom_hooks[0].update(evaluate=False)
    assert cfg.model.dropout_ratio == 0.5
    assert [t['type'] for t in cfg.train_dataloader.dataset.pipeline
            ][1:3] == ['RandomFlip', 'RandomCropPad']
    return slim(cfg)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def background_jobs(tmp_path_factory):
    """Start both subprocesses at once (their start-up overlaps)."""
    tmp = tmp_path_factory.mktemp('determinism')
    root = str(tmp / 'voc')
    make_synthetic_voc(root, seed=6, num_train=8, num_val=1, image_size=64)
    # 1) stage 1 in its own process
    cfg_path = str(tmp / 'stage1.py')
    stage1_cfg(root, str(tmp / 'run_a')).dump(cfg_path)
    train = start([
        sys.executable,
        osp.join(REPO, 'tools/train.py'), cfg_path, '--work-dir',
        str(tmp / 'run_a')
    ])
    # 2) CAM inference on 2 gloo processes
    seam_path = str(tmp / 'seam.py')
    cfg = seam_train_cfg(root, str(tmp / 'unused'))
    cfg.dump(seam_path)
    torch.manual_seed(0)
    ckpt = str(tmp / 'seam.pth')
    torch.save(
        dict(state_dict=MODELS.build(cfg.model).state_dict(), meta={}), ckpt)
    cam_args = [
        seam_path, ckpt, '--split', 'train', '--num-workers', '0',
        '--device', 'cpu', '--scales', '0.5', '1.0', '1.5'
    ]
    dist = start([
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
        f'--master_port={free_port()}',
        osp.join(REPO, 'tools/infer_cams.py')
    ] + cam_args + ['--out-dir', str(tmp / 'cams_2proc'), '--launcher',
                    'pytorch'])
    yield dict(
        tmp=tmp, root=root, train=train, dist=dist, cam_args=cam_args)
    for proc in (train, dist):
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture(autouse=True)
def single_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # as the subprocesses (OMP_NUM_THREADS=1)
    yield
    torch.set_num_threads(old)
    torch.use_deterministic_algorithms(False)


def test_two_stage1_runs_give_identical_pseudo_labels(background_jobs):
    tmp, root = background_jobs['tmp'], background_jobs['root']
    runner = Runner.from_cfg(stage1_cfg(root, str(tmp / 'run_b')))
    runner.train()
    out = output(background_jobs['train'])
    assert background_jobs['train'].returncode == 0, out[-3000:]
    a = folder_bytes(str(tmp / 'run_a' / 'pseudo_labels' / 'final'))
    b = folder_bytes(str(tmp / 'run_b' / 'pseudo_labels' / 'final'))
    pngs = [k for k in a if k.startswith('pseudo_labels/')]
    assert len(pngs) == 8 and len(a) == 8 * 4  # cams, pngs, crf npz + png
    assert sorted(a) == sorted(b)
    assert [k for k in a if a[k] != b[k]] == []
    wa = torch.load(tmp / 'run_a' / 'epoch_2.pth', weights_only=False)
    wb = torch.load(tmp / 'run_b' / 'epoch_2.pth', weights_only=False)
    assert state_dicts_equal(wa['state_dict'], wb['state_dict']) == []


def test_two_gloo_processes_write_the_same_files_as_one(background_jobs):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'infer_cams_tool', osp.join(REPO, 'tools', 'infer_cams.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    tmp = background_jobs['tmp']
    res = tool.main(background_jobs['cam_args'] +
                    ['--out-dir', str(tmp / 'cams_1proc')])
    assert res['written'] == 8
    out = output(background_jobs['dist'])
    assert background_jobs['dist'].returncode == 0, out[-3000:]
    assert 'rank 0 of 2' in out  # really sharded over two ranks
    one = folder_bytes(str(tmp / 'cams_1proc'))
    two = folder_bytes(str(tmp / 'cams_2proc'))
    assert len(one) == 16 and sorted(one) == sorted(two)
    assert [k for k in one if one[k] != two[k]] == []
