# Copyright (c) mmseam contributors. All rights reserved.
"""Benchmarked configs and their strict / eager / plain-wrapper variants."""
import copy
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """The config with random backbone weights (no checkpoint is read)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file {path!r} does not exist')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.model.get('type') != 'SEAM':
        raise ValueError(
            f'{path}: tools/benchmark.py benchmarks SEAM configs '
            f'(model.type="SEAM"), got model.type={cfg.model.get("type")!r}.')
    cfg.model.pretrained = None
    cfg.model.backbone.init_cfg = None
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    return cfg


def non_amp_wrapper(wrapper_cfg: dict) -> dict:
    """The non-AMP counterpart of an optimizer-wrapper config."""
    wrapper_cfg = copy.deepcopy(dict(wrapper_cfg))
    kind = wrapper_cfg.get('type', 'OptimWrapper')
    if isinstance(kind, str) and 'Amp' in kind:
        wrapper_cfg['type'] = kind.replace('Amp', '')
        wrapper_cfg.pop('dtype', None)
        wrapper_cfg.pop('loss_scale', None)
        wrapper_cfg.pop('use_fsdp', None)
    return wrapper_cfg


def plain_wrapper(wrapper_cfg: dict) -> dict:
    """MMEngine's own wrapper class in place of the config's subclass.

    ``OptimWrapper`` (``AmpOptimWrapper`` for AMP configs) with the same
    optimizer, ``paramwise_cfg`` and the arguments that class accepts; the
    extra arguments of a subclass (e.g. the NaN guard's ``action``) are
    dropped. Isolates the cost of such subclasses.
    """
    import inspect

    from mmengine.optim import AmpOptimWrapper, OptimWrapper
    wrapper_cfg = copy.deepcopy(dict(wrapper_cfg))
    kind = wrapper_cfg.get('type', 'OptimWrapper')
    cls = AmpOptimWrapper if isinstance(kind, str) and 'Amp' in kind \
        else OptimWrapper
    allowed = {'type', 'constructor', 'paramwise_cfg', 'optimizer'}
    for klass in (cls, OptimWrapper):
        allowed |= set(inspect.signature(klass.__init__).parameters)
    out = {k: v for k, v in wrapper_cfg.items() if k in allowed}
    out['type'] = cls.__name__
    return out


def to_strict(cfg: Config) -> Config:
    """Strict-parity variant: fp32, NCHW, no AMP wrapper.

    Turns ``seam_resnet38d_1xb8-bf16-8e_voc12aug-448x448.py`` into (the
    relevant keys of) ``seam_resnet38d_1xb8-8e_voc12aug-448x448.py``:
    ``model.channels_last=False``, ``model.test_cfg.amp_dtype=None``, no
    ``torch.compile``, the non-AMP class of the optimizer wrapper
    (``*AmpOptimWrapper`` -> ``*OptimWrapper``, without ``dtype`` /
    ``loss_scale``). The optimizer is kept as configured (the SEAM
    schedule's fused SGD is bit-identical to the foreach one on the CPU).
    """
    cfg = copy.deepcopy(cfg)
    cfg.model.channels_last = False
    cfg.model.setdefault('test_cfg', {})
    cfg.model.test_cfg['amp_dtype'] = None
    cfg = to_eager(cfg)
    if 'optim_wrapper' in cfg:
        cfg.optim_wrapper = non_amp_wrapper(cfg.optim_wrapper)
    return cfg


def to_eager(cfg: Config) -> Config:
    """The config without ``torch.compile`` (``model.compile_cfg`` and
    ``model.test_cfg.compile_cfg`` set to None)."""
    cfg = copy.deepcopy(cfg)
    cfg.model['compile_cfg'] = None
    cfg.model.setdefault('test_cfg', {})
    cfg.model.test_cfg['compile_cfg'] = None
    return cfg


def compiles(cfg: Config, what: str) -> bool:
    """Whether the config compiles the network for ``what`` (a
    ``compile_cfg`` that is a dict, even an empty one, or True)."""
    if what == 'train':
        value = cfg.model.get('compile_cfg')
    elif what == 'infer':
        value = cfg.model.get('test_cfg', {}).get('compile_cfg')
    else:
        return False
    return value is not None and value is not False


def config_amp(cfg: Config) -> Optional[str]:
    """The autocast dtype the config's optimizer wrapper trains with."""
    wrapper = cfg.get('optim_wrapper') or {}
    kind = wrapper.get('type', 'OptimWrapper')
    if isinstance(kind, str) and 'Amp' in kind:
        dtype = wrapper.get('dtype') or 'float16'
        return dtype if isinstance(dtype, str) else str(dtype).split('.')[-1]
    return None


def build_model(cfg: Config, device: torch.device, seed: int):
    from mmseg.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    return model.to(device)


def set_cudnn(cfg: Config, device: torch.device) -> None:
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = bool(
            cfg.get('env_cfg', {}).get('cudnn_benchmark', False))
