# Copyright (c) mmseam contributors. All rights reserved.
"""Shared helpers of the reliability tests (docs/reliability.md): tiny
deterministic configs of the three trainable stages, and running a real
process until a condition holds, then killing it with SIGKILL."""
import os
import os.path as osp
import signal
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

import numpy as np
from mmengine.config import Config
from PIL import Image

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'tests', 'test_engine'))

from test_seam_runner import seam_cfg  # noqa: E402

__all__ = [
    'REPO', 'slim', 'seam_train_cfg', 'affinity_train_cfg', 'stage2_train_cfg',
    'write_crf_targets', 'start', 'output', 'kill_all_when', 'folder_bytes',
    'tmp_files', 'state_dicts_equal', 'tiny_affinity_model_cfg'
]

CLASSES = ('background', 'plus', 'ring', 'triangle', 'bars', 'hourglass')
PALETTE = [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128],
           [128, 0, 128]]
TINY_BACKBONE = dict(
    type='ResNetV1c',
    depth=18,
    stem_channels=8,
    base_channels=8,
    num_stages=4,
    out_indices=(0, 1, 2, 3),
    strides=(1, 2, 1, 1),
    dilations=(1, 1, 2, 4),
    contract_dilation=True,
    norm_cfg=dict(type='BN', requires_grad=True),
    norm_eval=True)
PREPROCESSOR = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(64, 64))


# the keys a Runner / the tools read; other top-level variables of the
# base files are dropped
RUN_KEYS = ('model', 'train_dataloader', 'val_dataloader', 'test_dataloader',
            'rw_dataloader', 'train_cfg', 'val_cfg', 'test_cfg',
            'val_evaluator', 'test_evaluator', 'optim_wrapper',
            'param_scheduler', 'default_hooks', 'custom_hooks', 'env_cfg',
            'log_processor', 'log_level', 'visualizer', 'vis_backends',
            'default_scope', 'custom_imports', 'randomness', 'work_dir',
            'load_from', 'resume', 'launcher')


def slim(cfg: Config) -> Config:
    """Only the run keys, and no yapf formatting of the config text (MMEngine
    formats it for the log, the dumped config and every checkpoint)."""
    return Config({k: cfg[k] for k in RUN_KEYS if k in cfg},
                  format_python_code=False)


def _runtime(cfg: Config, work_dir: str) -> Config:
    cfg.default_scope = 'mmseg'
    cfg.custom_imports = dict(imports=['mmseam'], allow_failed_imports=False)
    cfg.env_cfg = dict(
        cudnn_benchmark=False,
        mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
        dist_cfg=dict(backend='gloo'))
    cfg.log_level = 'WARNING'
    cfg.randomness = dict(seed=0, deterministic=True)
    cfg.work_dir = work_dir
    cfg.load_from = None
    cfg.resume = False
    cfg.custom_hooks = []
    return cfg


def seam_train_cfg(data_root: str, work_dir: str,
                   max_epochs: int = 3) -> Config:
    """Tiny SEAM, no random augmentation, no dropout, deterministic mode,
    a checkpoint every epoch."""
    cfg = seam_cfg(
        data_root, work_dir, max_epochs=max_epochs, hook=False,
        deterministic=True)
    cfg = _runtime(cfg, work_dir)
    cfg.default_hooks.checkpoint.update(interval=1, max_keep_ckpts=2)
    cfg.default_hooks.pop('visualization', None)
    return slim(cfg)


def tiny_affinity_model_cfg() -> dict:
    """A small AffinityNet (ResNetV1c-18 with 8 base channels)."""
    return dict(
        type='AffinityNet',
        data_preprocessor=PREPROCESSOR,
        backbone=TINY_BACKBONE,
        in_channels=(16, 32, 64),
        proj_channels=(4, 4, 8),
        out_channels=16,
        in_index=(1, 2, 3),
        radius=3,  # 8 x 8 label cells at 64 px
        loss_aff=dict(
            type='AffinityLoss', bg_weight=0.25, fg_weight=0.25,
            neg_weight=0.5))


def _loop_cfg(cfg: Config, max_epochs: int) -> None:
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
    cfg.param_scheduler = [
        dict(
            type='PolyLR',
            power=0.9,
            eta_min=0.0,
            by_epoch=True,
            begin=0,
            end=max_epochs,
            convert_to_iter_based=True)
    ]


def affinity_train_cfg(data_root: str, crf_root: str, work_dir: str,
                       max_epochs: int = 3) -> Config:
    """Tiny AffinityNet on CRF targets, deterministic pipeline."""
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/affinity/'
                 'affinitynet_r18-d8_1xb8-4e_synthvoc-224x224.py'))
    cfg = _runtime(cfg, work_dir)
    cfg.model = tiny_affinity_model_cfg()
    cfg.train_dataloader = dict(
        batch_size=4,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=True),
        dataset=dict(
            type='VOCClsDataset',
            data_root=data_root,
            metainfo=dict(classes=CLASSES, palette=PALETTE),
            ann_file='ImageSets/Segmentation/train.txt',
            with_seg_map=False,
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(
                    type='LoadCRFScores',
                    la_dir=osp.join(crf_root, 'crf_4'),
                    ha_dir=osp.join(crf_root, 'crf_24')),
                dict(type='AffinityLabelFromCRF', stride=8),
                dict(type='ExtractAffinityLabels', radius=3),
                dict(type='PackAffinityInputs'),
            ]))
    cfg.rw_dataloader = dict(
        dataset=dict(
            type='VOCClsDataset',
            data_root=data_root,
            metainfo=dict(classes=CLASSES, palette=PALETTE),
            ann_file='ImageSets/Segmentation/train.txt',
            with_seg_map=False,
            pipeline=[]))
    _loop_cfg(cfg, max_epochs)
    cfg.default_hooks.checkpoint.update(interval=1, max_keep_ckpts=2)
    cfg.default_hooks.logger.interval = 1
    return slim(cfg)


def stage2_train_cfg(data_root: str, work_dir: str,
                     max_iters: int = 6) -> Config:
    """Tiny stage-2 DeepLab-LargeFOV, iteration based, on the masks of the
    synthetic set standing in for pseudo labels."""
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/deeplab/'
                 'deeplabv1-largefov_r18-d8_1xb8-6e_synthvoc-pseudo-'
                 '224x224.py'))
    cfg = _runtime(cfg, work_dir)
    backbone = dict(TINY_BACKBONE, out_indices=(3, ), norm_eval=False)
    cfg.model.backbone = backbone
    cfg.model.data_preprocessor = PREPROCESSOR
    cfg.model.decode_head.update(
        in_channels=64, channels=16, dropout_ratio=0.0)
    ds = cfg.train_dataloader.dataset
    ds.update(
        data_root=data_root,
        data_prefix=dict(
            img_path='JPEGImages',
            seg_map_path=osp.join(data_root, 'SegmentationClass')),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='PackSegInputs')
        ])
    cfg.train_dataloader = dict(
        batch_size=4,
        num_workers=0,
        sampler=dict(type='InfiniteSampler', shuffle=True),
        dataset=ds)
    for key in ('val_dataloader', 'test_dataloader', 'val_evaluator',
                'test_evaluator', 'val_cfg', 'test_cfg'):
        cfg[key] = None
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
    cfg.param_scheduler = [
        dict(
            type='PolyLR',
            power=0.9,
            eta_min=0.0,
            by_epoch=False,
            begin=0,
            end=max_iters)
    ]
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False, interval=2, max_keep_ckpts=2)
    cfg.default_hooks.logger = dict(
        type='LoggerHook', interval=1, log_metric_by_epoch=False)
    cfg.default_hooks.pop('visualization', None)
    cfg.log_processor = dict(by_epoch=False)
    return slim(cfg)


def write_crf_targets(data_root: str, crf_root: str) -> None:
    """la / ha CRF score files made from the ground-truth masks (confident
    with alpha 4, everything uncertain-ish with alpha 24)."""
    from mmseam.apis import save_crf_scores
    split = osp.join(data_root, 'ImageSets/Segmentation/train.txt')
    ids = [ln.strip() for ln in open(split) if ln.strip()]
    rng = np.random.default_rng(0)
    for img_id in ids:
        mask = np.array(
            Image.open(osp.join(data_root, 'SegmentationClass',
                                f'{img_id}.png')))
        labels = sorted(set(np.unique(mask).tolist()) - {0, 255})
        labels = [0] + labels
        onehot = np.stack([(mask == c) for c in labels]).astype(np.float32)
        for alpha, sharp in ((4, 0.9), (24, 0.6)):
            noise = rng.random(onehot.shape).astype(np.float32)
            scores = sharp * onehot + (1 - sharp) * noise
            scores /= scores.sum(0, keepdims=True)
            save_crf_scores(
                osp.join(crf_root, f'crf_{alpha}', f'{img_id}.npz'), scores,
                np.asarray(labels, np.int64))


ONE_THREAD = dict(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')


def start(cmd: List[str], env: Optional[dict] = None) -> subprocess.Popen:
    """Start a job in its own process group, one intra-op thread (the same
    float summation order as the in-process runs, and no OpenMP
    oversubscription on a busy machine). Its output goes to a temporary
    file (a full pipe would block a chatty job); read it with
    :func:`output`."""
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # lower priority: on a busy machine the polling test process gets
        # the CPU first, so the kill lands right after the condition holds
        preexec_fn=lambda: os.nice(10),
        env=dict(os.environ, **ONE_THREAD, **(env or {})))
    proc.log = log
    return proc


def output(proc: subprocess.Popen, timeout: float = 300) -> str:
    """Wait for a job of :func:`start` and return its output (last 20 kB)."""
    proc.wait(timeout=timeout)
    proc.log.seek(0)
    return proc.log.read().decode(errors='replace')[-20000:]


def kill_all_when(jobs: Dict[str, tuple], timeout: float = 300) -> dict:
    """Run several jobs at once; SIGKILL each job's process group (the job
    and any worker it forked) as soon as its condition holds (polled every
    10 ms).

    Args:
        jobs (dict): name -> (cmd, ready callable).

    Returns:
        dict: name -> dict(returncode (-9 when killed), output,
        finished_first (the job ended before its condition held)).
    """
    procs = {name: start(cmd) for name, (cmd, _) in jobs.items()}
    state = {name: None for name in jobs}
    t0 = time.time()
    while any(v is None for v in state.values()):
        for name, proc in procs.items():
            if state[name] is not None:
                continue
            if jobs[name][1]():
                os.killpg(proc.pid, signal.SIGKILL)
                state[name] = False
            elif proc.poll() is not None:
                state[name] = True
        if time.time() - t0 > timeout:
            for name, proc in procs.items():
                if state[name] is None:
                    os.killpg(proc.pid, signal.SIGKILL)
            outs = {n: output(p)[-3000:] for n, p in procs.items()}
            raise TimeoutError(f'jobs did not reach their kill points: {outs}')
        time.sleep(0.01)
    return {
        name: dict(
            returncode=proc.wait(),
            output=output(proc),
            finished_first=state[name])
        for name, proc in procs.items()
    }


def folder_bytes(folder: str) -> Dict[str, bytes]:
    """{relative path: content} of every file under ``folder``."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = osp.join(root, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, folder)] = f.read()
    return out


def tmp_files(folder: str) -> List[str]:
    """Temporary files (``*.tmp``) left under ``folder``."""
    return [
        osp.join(root, n) for root, _, files in os.walk(folder)
        for n in files if n.endswith('.tmp')
    ]


def state_dicts_equal(a: dict, b: dict) -> List[str]:
    """Keys whose tensors differ (bit for bit) between two state dicts."""
    import torch
    assert set(a) == set(b), set(a) ^ set(b)
    return [k for k in a if not torch.equal(a[k], b[k])]


def dist_guard_worker(rank: int, world: int, port: int, queue) -> None:
    """One rank of a 2-process gloo run of NonFiniteGuardOptimWrapper with
    DDP: rank 1's loss is NaN at iteration 2. Puts (rank, action, outcome,
    weights) for action 'skip' then 'raise' into ``queue``."""
    import torch
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    torch.set_num_threads(1)
    import mmseam  # noqa: F401
    from mmengine.model import BaseModel, MMDistributedDataParallel

    from mmseam.engine import NonFiniteGuardOptimWrapper, NonFiniteLossError

    class Toy(BaseModel):

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(3))
            self.calls = 0

        def forward(self, inputs, data_samples=None, mode='loss'):
            self.calls += 1
            loss_b = 0.1 * self.w.pow(2).sum()
            if rank == 1 and self.calls == 2:
                loss_b = loss_b * float('nan')
            return dict(
                loss_a=(inputs @ self.w - 1).pow(2).mean(), loss_b=loss_b)

    for action in ('skip', 'raise'):
        model = MMDistributedDataParallel(module=Toy())
        guard = NonFiniteGuardOptimWrapper(
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            action=action)
        weights = []
        try:
            for it in range(4):
                g = torch.Generator().manual_seed(10 * it + rank)
                model.train_step(dict(inputs=torch.randn(2, 3, generator=g)),
                                 guard)
                weights.append(model.module.w.detach().tolist())
            queue.put((rank, action, f'skipped {guard.num_skipped}',
                       weights))
        except NonFiniteLossError as err:
            queue.put((rank, action, str(err), model.module.w.tolist()))
    dist.destroy_process_group()
