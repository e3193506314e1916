# Copyright (c) mmseam contributors. All rights reserved.
"""``--what crf``: the dense CRF, one image at a time or in a pool."""
import os
from typing import List, Tuple

import numpy as np
import torch
from mmengine.config import Config

from .inputs import smooth_image


def crf_step_fn(args, workers: int):
    """``crf_inference`` on ``--batch`` images, serially or in a pool."""
    from mmseam.apis.crf import crf_inference
    h, w = args.img_size
    k = args.classes
    jobs = []
    for i in range(args.batch):
        img = smooth_image(h, w, args.seed + i)
        rng = np.random.RandomState(args.seed + i)
        low = torch.from_numpy(rng.rand(1, k, 12, 16).astype(np.float32))
        probs = torch.nn.functional.interpolate(
            low, (h, w), mode='bilinear', align_corners=False)[0].numpy()
        jobs.append((img, np.ascontiguousarray(probs)))
    pool = None
    if workers > 1:
        import multiprocessing
        pool = multiprocessing.get_context('fork').Pool(workers)

    def step():
        if pool is None:
            for job in jobs:
                crf_inference(*job)
        else:
            pool.starmap(crf_inference, jobs, chunksize=1)

    return step, args.batch, dict(workers=workers), pool


def plan(bench, cfg: Config, args,
         device: torch.device) -> List[Tuple[str, str]]:
    """Queue the crf modes on ``bench``; returns the ratio pairs."""
    if not args.compare_strict:
        bench.add('config', lambda: crf_step_fn(args, args.workers or 1))
        return []
    pool_size = args.workers or len(os.sched_getaffinity(0))
    bench.add('strict', lambda: crf_step_fn(args, 1))
    bench.add('fast', lambda: crf_step_fn(args, pool_size))
    return [('fast', 'strict')]
