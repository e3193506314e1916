# Copyright (c) mmseam contributors. All rights reserved.
"""The JSON records the benchmark prints."""
import os.path as osp
import statistics

import torch

from .env import REPO, device_name, git_commit, git_dirty
from .inputs import cycle_sizes


def base_record(args, device: torch.device) -> dict:
    """The fields every record shares: device, torch, commit, config."""
    config = osp.abspath(args.config)
    return dict(
        device=device.type,
        device_name=device_name(device),
        num_threads=torch.get_num_threads(),
        torch=torch.__version__,
        commit=git_commit(),
        git_dirty=git_dirty(),
        config=osp.relpath(config, REPO)
        if config.startswith(REPO) else args.config)


def make_record(what: str, mode: str, res: dict, images: int, args,
                base: dict, info: dict) -> dict:
    """One result line: images/s, step times, memory, the benchmark's set-up
    (``base``) and the workload's ``info``."""
    times = res['times']
    med = statistics.median(times)
    rec = dict(
        what=what,
        mode=mode,
        img_per_s=images / med,
        sec_per_step_median=med,
        sec_per_step_mean=statistics.fmean(times),
        sec_per_step_min=min(times),
        iters=len(times),
        warmup=args.warmup,
        peak_mem_mib=res['peak_mem_mib'],
        peak_mem_warmup_mib=res.get('peak_mem_warmup_mib'),
        mem_metric=res['mem_metric'])
    rec.update(base)
    rec.update(
        batch=args.batch,
        crop=args.crop if what == 'train' else None,
        img_size=list(args.img_size) if what != 'train' else None)
    if what == 'infer' and args.size_cycle > 1:
        rec['img_sizes'] = [
            list(hw) for hw in cycle_sizes(args.img_size, args.size_cycle)
        ]
    rec.setdefault('amp', None)
    rec.setdefault('channels_last', False)
    rec.update(info)
    return rec


def ratio_record(what: str, a: dict, b: dict, base: dict) -> dict:
    """The ratio line of modes ``a`` over ``b``."""
    rec = dict(
        what=what,
        ratio=f'{a["mode"]}/{b["mode"]}',
        img_per_s_ratio=a['img_per_s'] / b['img_per_s'],
        sec_per_step_ratio=(a['sec_per_step_median'] /
                            b['sec_per_step_median']))
    rec.update(base)
    return rec
