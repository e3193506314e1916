# Copyright (c) mmseam contributors. All rights reserved.
"""``--what train``: mmseam's training step (and the official one)."""
import contextlib
import copy
from typing import List, Optional, Tuple

import torch
from mmengine.config import Config

from .configs import (build_model, compiles, config_amp, non_amp_wrapper,
                      plain_wrapper, set_cudnn, to_eager, to_strict)
from .inputs import make_labels, make_samples
from .official import official_train_step_fn

#: Ratio lines of ``--compare-strict`` for train and infer.
OFFICIAL_PAIRS = [('fast', 'strict'), ('strict', 'official'),
                  ('fast', 'official')]


def train_step_fn(cfg: Config, args, device: torch.device,
                  amp: Optional[str]):
    """mmseam's training step under ``cfg``; autocast ``amp`` if given."""
    from mmengine.optim import build_optim_wrapper
    set_cudnn(cfg, device)
    model = build_model(cfg, device, args.seed)
    model.train()
    wrapper_cfg = copy.deepcopy(dict(cfg.optim_wrapper))
    if args.plain_wrapper:
        wrapper_cfg = plain_wrapper(wrapper_cfg)
    manual_amp = amp
    kind = wrapper_cfg.get('type', 'OptimWrapper')
    if isinstance(kind, str) and 'Amp' in kind:
        if device.type == 'cuda':
            manual_amp = None if amp == config_amp(cfg) else amp
        else:
            # MMEngine's AmpOptimWrapper needs a GPU; autocast by hand.
            wrapper_cfg = non_amp_wrapper(wrapper_cfg)
    optim_wrapper = build_optim_wrapper(model, wrapper_cfg)
    n, s = args.batch, args.crop
    g = torch.Generator().manual_seed(args.seed)
    inputs = torch.randn(n, 3, s, s, generator=g).to(device)
    labels = make_labels(n, model.num_classes - 1, args.seed)
    samples = make_samples(labels, (s, s), device)
    autocast = (
        torch.autocast(device.type, dtype=getattr(torch, manual_amp))
        if manual_amp else contextlib.nullcontext())

    def step():
        with optim_wrapper.optim_context(model), autocast:
            losses = model(inputs, samples, mode='loss')
        loss, _ = model.parse_losses(losses)
        optim_wrapper.update_params(loss)

    info = dict(
        channels_last=bool(getattr(model, 'channels_last', False)),
        optim_wrapper=type(optim_wrapper).__name__)
    return step, n, info


def plan(bench, cfg: Config, args,
         device: torch.device) -> List[Tuple[str, str]]:
    """Queue the train modes on ``bench``; returns the ratio pairs."""
    fast_amp = ('bfloat16' if args.amp else None) or config_amp(cfg)

    def ours(c, a):

        def make():
            step, n, info = train_step_fn(c, args, device, a)
            info['amp'] = a
            return step, n, info

        return make

    if not args.compare_strict:
        bench.add('config', ours(cfg, fast_amp))
        return []
    pairs = list(OFFICIAL_PAIRS)
    bench.add('strict', ours(to_strict(cfg), None))
    bench.add('fast', ours(cfg, fast_amp))
    if compiles(cfg, 'train'):
        bench.add('fast_eager', ours(to_eager(cfg), fast_amp))
        pairs.append(('fast', 'fast_eager'))
    bench.add('official', lambda: official_train_step_fn(cfg, args, device))
    return pairs
