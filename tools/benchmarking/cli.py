# Copyright (c) mmseam contributors. All rights reserved.
"""Command line of ``tools/benchmark.py`` (see its docstring)."""
import argparse
from typing import List

import torch
from mmengine.config import DictAction

from .runner import PLANS, run


def _add_workload_args(p: argparse.ArgumentParser) -> None:
    """What is measured: workload, batch, sizes, scales, classes."""
    p.add_argument('config', help='SEAM config file')
    p.add_argument('--what', choices=tuple(PLANS), default='train')
    p.add_argument(
        '--batch',
        type=int,
        default=None,
        help='images per step (default: train 8, infer/crf/rw 1)')
    p.add_argument(
        '--crop',
        type=int,
        default=None,
        help='train crop size (default: the data preprocessor size)')
    p.add_argument(
        '--img-size',
        type=int,
        nargs=2,
        default=[375, 500],
        metavar=('H', 'W'),
        help='image size for infer / crf / rw (default 375 500)')
    p.add_argument(
        '--size-cycle',
        type=int,
        default=1,
        metavar='K',
        help='infer: cycle through K image sizes, one a step (--img-size '
        'and heights 16, 32, ... smaller), as a split of mixed sizes does; '
        'use --warmup >= K so every size is seen before timing; pseudo: '
        'the split holds these K sizes in turn (default 1)')
    p.add_argument(
        '--scales', type=float, nargs='+', default=[0.5, 1.0, 1.5, 2.0])
    p.add_argument('--no-flip', action='store_true')
    p.add_argument(
        '--classes',
        type=int,
        default=3,
        help='crf / rw: score channels including background (default 3)')


def _add_mode_args(p: argparse.ArgumentParser) -> None:
    """How: precision, iterations, device, modes compared."""
    p.add_argument(
        '--amp',
        action='store_true',
        help='bf16 autocast (added to the config defaults)')
    p.add_argument('--iters', type=int, default=10)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        choices=['cpu', 'cuda'])
    p.add_argument(
        '--compare-strict',
        action='store_true',
        help='strict-parity vs fast default (and the official step for '
        'train / infer) in one process, with ratio lines')
    p.add_argument(
        '--plain-wrapper',
        action='store_true',
        help="train: MMEngine's OptimWrapper / AmpOptimWrapper instead of "
        "the config's wrapper subclass (isolates e.g. the NaN guard's "
        'per-step checks)')


def _add_run_args(p: argparse.ArgumentParser) -> None:
    """Workers, threads, rounds, compile, profile, seed, config edits."""
    p.add_argument(
        '--workers',
        type=int,
        default=None,
        help='crf worker processes (default: 1; with --compare-strict the '
        'fast mode uses all usable cores; pseudo: all usable cores but '
        'two)')
    p.add_argument(
        '--num-images',
        type=int,
        default=32,
        help='pseudo: images in the split (default 32)')
    p.add_argument(
        '--no-crf',
        action='store_true',
        help='pseudo: CAM inference (CAMs + PNGs) only, no CRF')
    p.add_argument(
        '--bucket-by-size',
        action='store_true',
        help='pseudo: infer_cams(bucket_by_size=True), the split grouped by '
        'image size (with --size-cycle: a split of mixed sizes)')
    p.add_argument(
        '--threads', type=int, default=None, help='torch.set_num_threads')
    p.add_argument(
        '--rounds',
        type=int,
        default=1,
        help='with several modes: build them all and run their timed '
        'iterations interleaved this many times (robust to drifting load '
        'on shared machines; peak memory then includes the other modes\' '
        'resident models)')
    p.add_argument(
        '--compile',
        action='store_true',
        help='torch.compile the network in the config / fast mode (sets '
        'model.compile_cfg=dict(dynamic=False) for train and '
        'model.test_cfg.compile_cfg as the bf16 config for infer when the '
        'config has none); with --compare-strict a fast_eager mode is '
        'added')
    p.add_argument(
        '--profile',
        type=int,
        default=0,
        metavar='N',
        help='after timing a mode, profile N more steps (torch.profiler) '
        'and print the top kernels / operators by self time (not with '
        '--rounds)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument(
        '--verbose', action='store_true', help='keep MMEngine log output')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)


def parse_args(argv=None) -> argparse.Namespace:
    """Parse (and check) the command line."""
    p = argparse.ArgumentParser(
        description='Benchmark SEAM training / inference / CRF / RW')
    _add_workload_args(p)
    _add_mode_args(p)
    _add_run_args(p)
    args = p.parse_args(argv)
    for name in ('iters', 'warmup', 'batch', 'crop', 'classes', 'rounds',
                 'num_images', 'profile', 'size_cycle'):
        value = getattr(args, name)
        if value is not None and value < (
                0 if name in ('warmup', 'profile') else 1):
            p.error(f'--{name} must be positive, got {value}')
    return args


def main(argv=None) -> List[dict]:
    """Run the command line ``argv``; returns the printed records."""
    return run(parse_args(argv))
