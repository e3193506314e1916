# Copyright (c) mmseam contributors. All rights reserved.
"""The ``official`` mode: the plain official SEAM step of
``tests/official_reference.py`` on the shapes of the config."""
import importlib.util
import os.path as osp
import sys
from types import ModuleType

import torch
from mmengine.config import Config

from .env import REPO
from .inputs import make_labels


def official_reference() -> ModuleType:
    """``tests/official_reference.py``, imported by path (once)."""
    name = 'official_reference'
    if name not in sys.modules:
        path = osp.join(REPO, 'tests', 'official_reference.py')
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{path} does not exist; the official mode of '
                '--compare-strict needs the repository\'s tests/ folder.')
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def official_train_step_fn(cfg: Config, args, device: torch.device):
    """The official training step (its own poly SGD, no wrapper)."""
    ref = official_reference()
    torch.manual_seed(args.seed)
    net = ref.build_official_like(cfg.model).to(device)
    net.train()
    opt_cfg = cfg.optim_wrapper.get('optimizer', {})
    optimizer = ref.build_official_optimizer(
        net,
        lr=opt_cfg.get('lr', 0.01),
        weight_decay=opt_cfg.get('weight_decay', 5e-4))
    n, s = args.batch, args.crop
    g = torch.Generator().manual_seed(args.seed)
    img = torch.randn(n, 3, s, s, generator=g).to(device)
    labels = make_labels(n, cfg.model.num_classes - 1, args.seed).to(device)
    scale = (cfg.model.get('equivariant_transform') or {}).get(
        'scale_factor', 0.3)

    def step():
        ref.official_train_step(net, optimizer, img, labels, scale)

    return step, n, dict(
        channels_last=False, optim_wrapper=type(optimizer).__name__)


def official_infer_step_fn(cfg: Config, args, device: torch.device):
    """The official per-image CAM loop on ``--batch`` images."""
    ref = official_reference()
    torch.manual_seed(args.seed)
    net = ref.build_official_like(cfg.model).to(device).eval()
    h, w = args.img_size
    n = args.batch
    g = torch.Generator().manual_seed(args.seed)
    imgs = torch.randn(n, 3, h, w, generator=g).to(device)
    labels = make_labels(n, cfg.model.num_classes - 1, args.seed)

    def step():
        for i in range(n):
            ref.official_infer(net, imgs[i:i + 1], labels[i], args.scales,
                               not args.no_flip)

    return step, n, dict(channels_last=False)
