# Copyright (c) mmseam contributors. All rights reserved.
"""Train a model from an MMEngine config (MMSegmentation's CLI conventions).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
"""
import argparse
import logging
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmseam  # noqa: E402,F401  (stubs mmcv._ext, registers components)
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from mmseam.engine import add_sanity_check_hooks  # noqa: E402
from mmseam.utils import destroy_dist, init_dist_any_device  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a mmseam model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint; without a value, resume '
        'from the latest checkpoint in the work dir')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value pairs, e.g. '
        'train_dataloader.batch_size=4')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank (torch>=2) or
    # --local_rank (older)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def check_palettes(cfg: Config, source: str) -> None:
    """A data set whose metainfo gives classes and a palette of another
    length stops here, naming the config file and the fix."""
    from mmseam.datasets.file_checks import resolve_palette
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        meta = ((cfg.get(key) or {}).get('dataset') or {}).get('metainfo')
        if meta and meta.get('classes') is not None and meta.get(
                'palette') is not None:
            resolve_palette(meta['classes'], meta['palette'],
                            source=f'{source}, {key}.dataset')


def build_cfg(args) -> Config:
    """Merge the CLI into the config (work dir, resume, AMP, launcher)."""
    if not osp.isfile(args.config):
        raise FileNotFoundError(
            f'Config file {args.config!r} does not exist; pass a path such '
            f'as configs/seam/seam_resnet38d_1xb8-8e_voc12aug-448x448.py')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper in ('AmpOptimWrapper', 'NonFiniteGuardAmpOptimWrapper'):
            print_log(
                'AMP training is already enabled in the config.',
                logger='current',
                level=logging.WARNING)
        else:
            # keep the NaN/Inf loss guard under AMP
            guarded = wrapper == 'NonFiniteGuardOptimWrapper'
            cfg.optim_wrapper.type = ('NonFiniteGuardAmpOptimWrapper'
                                      if guarded else 'AmpOptimWrapper')
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    check_palettes(cfg, args.config)
    # fail fast on a class-count mismatch or a checkpoint that does not fit
    add_sanity_check_hooks(cfg)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(
                f'--resume checkpoint {args.resume!r} does not exist; pass '
                f'an existing .pth or use --resume without a value to take '
                f'the latest checkpoint in the work dir')
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def setup_cpu_distributed(cfg: Config) -> None:
    """``--launcher pytorch`` on a machine without CUDA.

    MMEngine's launcher calls ``torch.cuda.set_device`` and NCCL, and wraps
    the model in DDP with ``device_ids=[LOCAL_RANK]``, all of which fail on
    a CPU. Initialise the process group with gloo first (MMEngine then skips
    its own initialisation) and wrap with ``device_ids=None`` (CPU DDP).
    """
    init_dist_any_device(cfg.launcher)
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper.setdefault('device_ids', None)
    cfg.model_wrapper_cfg = wrapper


def main(argv=None):
    args = parse_args(argv)
    cfg = build_cfg(args)
    if args.launcher != 'none' and not torch.cuda.is_available():
        setup_cpu_distributed(cfg)
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    runner.train()
    if args.launcher != 'none':
        destroy_dist()
    return runner


if __name__ == '__main__':
    main()
