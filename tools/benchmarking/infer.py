# Copyright (c) mmseam contributors. All rights reserved.
"""``--what infer``: SEAM's multi-scale CAM step (and the official one)."""
import itertools
from typing import List, Optional, Tuple

import torch
from mmengine.config import Config

from .configs import build_model, compiles, set_cudnn, to_eager, to_strict
from .inputs import cycle_sizes, make_labels
from .official import official_infer_step_fn
from .train import OFFICIAL_PAIRS


def infer_step_fn(cfg: Config, args, device: torch.device,
                  amp: Optional[str]):
    """``multiscale_cam`` x flip + normalisation on one batch of images."""
    set_cudnn(cfg, device)
    model = build_model(cfg, device, args.seed)
    model.eval()
    if amp:
        model.test_cfg['amp_dtype'] = amp
    used_amp = model.test_cfg.get('amp_dtype')
    n = args.batch
    g = torch.Generator().manual_seed(args.seed)
    imgs = [
        torch.randn(n, 3, h, w, generator=g).to(device)
        for h, w in cycle_sizes(args.img_size, args.size_cycle)
    ]
    labels = make_labels(n, model.num_classes - 1, args.seed).to(device)
    source = model.test_cfg['cam_source']
    count = itertools.count()

    @torch.no_grad()
    def step():
        img = imgs[next(count) % len(imgs)]
        raw = model.multiscale_cam(
            img,
            scales=args.scales,
            flip=not args.no_flip,
            out_size=img.shape[-2:],
            source=source)
        cam = model.normalize_cam(raw) * labels[:, :, None, None]
        cam.cpu()

    return step, n, dict(
        channels_last=bool(getattr(model, 'channels_last', False)),
        amp=used_amp)


def plan(bench, cfg: Config, args,
         device: torch.device) -> List[Tuple[str, str]]:
    """Queue the infer modes on ``bench``; returns the ratio pairs."""
    amp = 'bfloat16' if args.amp else None
    if not args.compare_strict:
        bench.add('config', lambda: infer_step_fn(cfg, args, device, amp))
        return []
    pairs = list(OFFICIAL_PAIRS)
    bench.add('strict',
              lambda: infer_step_fn(to_strict(cfg), args, device, None))
    bench.add('fast', lambda: infer_step_fn(cfg, args, device, amp))
    if compiles(cfg, 'infer'):
        bench.add('fast_eager',
                  lambda: infer_step_fn(to_eager(cfg), args, device, amp))
        pairs.append(('fast', 'fast_eager'))
    bench.add('official', lambda: official_infer_step_fn(cfg, args, device))
    return pairs
