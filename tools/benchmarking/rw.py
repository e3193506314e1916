# Copyright (c) mmseam contributors. All rights reserved.
"""``--what rw``: the random walk, dense or automatic."""
from typing import List, Tuple

import torch
from mmengine.config import Config

from .env import sync


def rw_step_fn(args, device: torch.device, method: str):
    """``random_walk`` from 448-channel features at 1/8 of the image."""
    from mmseam.apis import random_walk
    h, w = args.img_size
    k = max(args.classes - 1, 0)
    fh, fw = -(-h // 8), -(-w // 8)
    g = torch.Generator().manual_seed(args.seed)
    low = torch.rand(1, max(k, 1), 6, 8, generator=g)
    cams = torch.nn.functional.interpolate(
        low, (h, w), mode='bilinear', align_corners=False)[0, :k]
    cams = cams.to(device)
    feats = [
        torch.randn(448, fh, fw, generator=g).to(device)
        for _ in range(args.batch)
    ]
    labels = list(range(1, k + 1))

    def step():
        for feat in feats:
            random_walk(cams, labels, features=feat, method=method)
        sync(device)

    return step, args.batch, dict(rw_method=method)


def plan(bench, cfg: Config, args,
         device: torch.device) -> List[Tuple[str, str]]:
    """Queue the rw modes on ``bench``; returns the ratio pairs."""
    if not args.compare_strict:
        bench.add('config', lambda: rw_step_fn(args, device, 'auto'))
        return []
    bench.add('strict', lambda: rw_step_fn(args, device, 'dense'))
    bench.add('fast', lambda: rw_step_fn(args, device, 'auto'))
    return [('fast', 'strict')]
