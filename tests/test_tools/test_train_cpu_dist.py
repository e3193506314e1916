# Copyright (c) mmseam contributors. All rights reserved.
"""``tools/train.py --launcher pytorch`` on a CPU-only machine: 2 gloo
processes with batch 4 each train the same weights as 1 process with
batch 8 (frozen BatchNorm, no dropout, no random augmentation: the DDP
gradient average equals the single-process batch mean)."""
import os.path as osp
import socket
import sys

import pytest
import torch

import mmseam  # noqa: F401
from mmseam.datasets.synthetic import make_synthetic_voc

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from reliability_utils import REPO, output, seam_train_cfg, start  # noqa

pytestmark = pytest.mark.skipif(
    torch.cuda.is_available(), reason='checks the CPU (gloo) fallback')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_gloo_processes_train_like_one(tmp_path):
    root = str(tmp_path / 'voc')
    make_synthetic_voc(root, seed=3, num_train=8, num_val=1, image_size=64)
    jobs = {}
    for name, per_rank in (('dist', 4), ('single', 8)):
        # 3 one-step epochs: MMEngine's PolyLR reaches 0 at the last step
        cfg = seam_train_cfg(root, str(tmp_path / name), max_epochs=3)
        cfg.default_hooks.checkpoint.max_keep_ckpts = 3
        cfg.train_dataloader.batch_size = per_rank
        cfg.train_dataloader.sampler.shuffle = False
        cfg_path = str(tmp_path / f'{name}.py')
        cfg.dump(cfg_path)
        train = [osp.join(REPO, 'tools/train.py'), cfg_path, '--work-dir',
                 str(tmp_path / name)]
        if name == 'dist':
            cmd = [sys.executable, '-m', 'torch.distributed.run',
                   '--nproc_per_node=2', f'--master_port={free_port()}'
                   ] + train + ['--launcher', 'pytorch']
        else:
            cmd = [sys.executable] + train
        jobs[name] = start(cmd)
    weights = {}
    for name, proc in jobs.items():
        out = output(proc)
        assert proc.returncode == 0, out[-3000:]
        ckpt = torch.load(
            str(tmp_path / name / 'epoch_3.pth'), weights_only=False)
        assert ckpt['meta']['iter'] == 3  # 8 images: one step per epoch
        weights[name] = ckpt['state_dict']
    single, dist = weights['single'], weights['dist']
    assert sorted(single) == sorted(dist)
    moved = 0
    init = torch.load(
        str(tmp_path / 'single' / 'epoch_1.pth'),
        weights_only=False)['state_dict']
    for key, value in single.items():
        torch.testing.assert_close(dist[key], value, rtol=1e-4, atol=1e-5)
        moved += int(not torch.equal(init[key], value))
    assert moved > 10  # the steps after epoch 1 changed the weights
