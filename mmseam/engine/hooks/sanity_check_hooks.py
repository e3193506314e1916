# Copyright (c) mmseam contributors. All rights reserved.
"""Fail fast when the model does not fit its data or its checkpoint.

* :class:`NumClassesCheckHook` compares the model's class count with the
  class list of every data set of the run before training / testing starts.
* :class:`CheckpointFitHook` checks a checkpoint (``load_from``,
  ``--resume``) against the model before its weights are loaded: MMEngine
  loads with ``strict=False`` and only *warns* on missing keys and shape
  mismatches, so a wrong checkpoint would otherwise train or test a mostly
  random network.
  Before training it also refuses a ``Pretrained`` ``init_cfg`` whose
  ``checkpoint`` is not set (:func:`check_pretrained_init`).

``tools/train.py`` and ``tools/test.py`` add both hooks to every run
(:func:`add_sanity_check_hooks`).
"""
import re
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.runner import BaseLoop
from mmseg.registry import HOOKS

__all__ = [
    'CheckpointMismatchError', 'NumClassesMismatchError',
    'check_checkpoint_fits', 'check_num_classes', 'check_pretrained_init',
    'NumClassesCheckHook', 'CheckpointFitHook', 'add_sanity_check_hooks',
    'unwrap_model'
]


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the model it is loaded into."""


class NumClassesMismatchError(ValueError):
    """The model's class count differs from the data set's class list."""


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """Strip model wrappers (DDP, ...) and test-time-augmentation wrappers.

    Args:
        model (nn.Module): A model, possibly wrapped.

    Returns:
        nn.Module: The innermost model (the one checkpoints are saved from).
    """
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


def _state_dict_of(checkpoint) -> Dict[str, torch.Tensor]:
    if isinstance(checkpoint, dict) and 'state_dict' in checkpoint:
        checkpoint = checkpoint['state_dict']
    if not isinstance(checkpoint, dict):
        raise CheckpointMismatchError(
            f'the checkpoint holds a {type(checkpoint).__name__}, not a '
            'state dict (or a dict with "state_dict").')
    return {
        re.sub(r'^module\.', '', k): v
        for k, v in checkpoint.items() if isinstance(v, torch.Tensor)
    }


def _listed(items: Sequence[str], limit: int = 5) -> str:
    shown = ', '.join(items[:limit])
    if len(items) > limit:
        shown += f' ... ({len(items) - limit} more)'
    return shown


def check_checkpoint_fits(model: torch.nn.Module,
                          checkpoint,
                          source: str = 'the checkpoint',
                          min_shared_ratio: float = 1.0) -> dict:
    """Raise when ``checkpoint`` does not fit ``model``.

    A checkpoint fits when every key it shares with the model has the
    model's shape, and it holds at least ``min_shared_ratio`` of the
    model's state-dict keys (``module.`` prefixes are ignored, as MMEngine
    does when loading).

    Args:
        model (nn.Module): The model (wrappers are stripped).
        checkpoint (dict): A loaded checkpoint (``{'state_dict': ...}`` or a
            bare state dict).
        source (str): How to name the checkpoint in messages (its path).
        min_shared_ratio (float): Fraction of the model's keys the
            checkpoint must hold: 1.0 (test, inference, resume) requires all
            of them; training from ``load_from`` uses 0.5, which still
            catches a checkpoint of another architecture.

    Returns:
        dict: ``shared``, ``missing`` and ``unexpected`` key lists.

    Raises:
        CheckpointMismatchError: On shape mismatches or too few shared keys;
            the message names the checkpoint, the keys and the fix.
    """
    model = unwrap_model(model)
    model_sd = model.state_dict()
    ckpt_sd = _state_dict_of(checkpoint)
    shared = [k for k in model_sd if k in ckpt_sd]
    missing = [k for k in model_sd if k not in ckpt_sd]
    unexpected = [k for k in ckpt_sd if k not in model_sd]
    mismatched = [
        f'{k}: checkpoint {tuple(ckpt_sd[k].shape)} vs model '
        f'{tuple(model_sd[k].shape)}' for k in shared
        if tuple(ckpt_sd[k].shape) != tuple(model_sd[k].shape)
    ]
    name = type(model).__name__
    if mismatched:
        raise CheckpointMismatchError(
            f'{source} does not fit the {name} model: {len(mismatched)} '
            f'weight(s) have another shape ({_listed(mismatched, 3)}). '
            'It was trained with another config (e.g. another num_classes '
            'or backbone width); use the checkpoint of this config, or fix '
            'the config (model.num_classes / channels) to match it.')
    needed = min_shared_ratio * len(model_sd)
    if len(shared) < needed:
        hint = ''
        if unexpected and not shared:
            hint = (f' Its keys look like {_listed(unexpected, 3)}: convert '
                    'official SEAM/ResNet38 weights with '
                    'tools/model_converters/seam_official_to_mmseam.py, and '
                    'load backbone-only weights through '
                    "model.backbone.init_cfg=dict(type='Pretrained', "
                    "prefix='backbone.') instead of load_from.")
        raise CheckpointMismatchError(
            f'{source} does not fit the {name} model: it holds only '
            f'{len(shared)} of the model\'s {len(model_sd)} weights '
            f'(required: {min_shared_ratio:.0%}); missing e.g. '
            f'{_listed(missing, 3)}.{hint} Pass the checkpoint trained with '
            'this config.')
    return dict(shared=shared, missing=missing, unexpected=unexpected)


def check_pretrained_init(model: torch.nn.Module) -> List[str]:
    """Refuse a ``Pretrained`` ``init_cfg`` without a checkpoint.

    Configs that start from the weights of an earlier step (e.g. the
    synthetic-data classifier pretraining) leave
    ``init_cfg=dict(type='Pretrained', checkpoint=None, ...)`` for the
    caller to fill in; MMEngine would fail on it with an unrelated
    ``TypeError`` deep inside checkpoint loading.

    Args:
        model (nn.Module): The built model (wrappers are stripped).

    Returns:
        list[str]: The config keys of the ``Pretrained`` checkpoints that
        are set, e.g. ``['model.backbone.init_cfg.checkpoint']``.

    Raises:
        ValueError: Naming the unset key and the two ways to fix it.
    """
    found = []
    for name, module in unwrap_model(model).named_modules():
        cfgs = getattr(module, 'init_cfg', None)
        for cfg in cfgs if isinstance(cfgs, list) else [cfgs]:
            if not isinstance(cfg, dict) or cfg.get('type') != 'Pretrained':
                continue
            key = '.'.join(['model'] + ([name] if name else []) +
                           ['init_cfg'])
            if cfg.get('checkpoint') is None:
                raise ValueError(
                    f'{key}.checkpoint is not set: this config starts from '
                    'the weights of an earlier step (see the README of its '
                    f'config folder). Pass --cfg-options {key}.checkpoint='
                    f'PATH, or {key}=None to train from scratch.')
            found.append(f'{key}.checkpoint')
    return found


def _model_num_classes(model: torch.nn.Module) -> Dict[str, int]:
    model = unwrap_model(model)
    found = {}
    heads = getattr(model, 'decode_head', None)
    if heads is None and isinstance(getattr(model, 'num_classes', None),
                                    int):  # SEAM; EncoderDecoder copies it
        found['model.num_classes'] = model.num_classes
    if isinstance(heads, torch.nn.Module):
        heads = [heads]
    for i, head in enumerate(heads or []):
        if isinstance(getattr(head, 'num_classes', None), int):
            key = 'model.decode_head.num_classes' if i == 0 and len(
                heads) == 1 else f'model.decode_head[{i}].num_classes'
            found[key] = head.num_classes
    aux = getattr(model, 'auxiliary_head', None)
    if isinstance(aux, torch.nn.Module):
        aux = [aux] if not isinstance(aux, torch.nn.ModuleList) else aux
    for i, head in enumerate(aux or []):
        if isinstance(getattr(head, 'num_classes', None), int):
            found[f'model.auxiliary_head[{i}].num_classes'] = head.num_classes
    return found


def check_num_classes(model: torch.nn.Module,
                      dataset,
                      where: str = 'dataset') -> Optional[int]:
    """Raise when the model's class count differs from ``dataset``'s.

    Class-agnostic models (e.g. AffinityNet, no ``num_classes``) and data
    sets without ``metainfo['classes']`` pass.

    Args:
        model (nn.Module): The model; ``num_classes`` is read from the model
            (SEAM, EncoderDecoder) and its decode / auxiliary heads.
        dataset: A data set with ``metainfo['classes']``.
        where (str): Name of the data set in messages, e.g.
            ``'train_dataloader.dataset'``.

    Returns:
        int | None: The number of classes of the data set, or None when
        nothing was checked.

    Raises:
        NumClassesMismatchError: Naming the config keys and the fix.
    """
    classes = getattr(dataset, 'metainfo', {}).get('classes')
    if not classes:
        return None
    found = _model_num_classes(model)
    bad = {k: v for k, v in found.items() if v != len(classes)}
    if bad:
        keys = ', '.join(f'{k}={v}' for k, v in bad.items())
        raise NumClassesMismatchError(
            f'{keys} but {where} has {len(classes)} classes '
            f'{tuple(classes)} (background included). Set '
            f'{" and ".join(bad)} to {len(classes)} in the config, or fix '
            f'the class list (metainfo=dict(classes=...)) of {where}.')
    return len(classes) if found else None


@HOOKS.register_module()
class NumClassesCheckHook(Hook):
    """Check the model's class count against the data sets' class lists.

    Runs before training (train and val data sets) and before testing, so a
    mismatch stops the run at once instead of failing (or silently training
    wrong outputs) later.
    """

    priority = 'VERY_HIGH'

    @staticmethod
    def _check_loop(runner, attr: str, name: str) -> None:
        loop = getattr(runner, attr, None)
        loader = getattr(loop, 'dataloader', None)
        if loader is None:
            return
        check_num_classes(runner.model, loader.dataset, f'{name}.dataset')

    def before_train(self, runner) -> None:
        self._check_loop(runner, '_train_loop', 'train_dataloader')
        self._check_loop(runner, '_val_loop', 'val_dataloader')

    def before_val(self, runner) -> None:
        self._check_loop(runner, '_val_loop', 'val_dataloader')

    def before_test(self, runner) -> None:
        self._check_loop(runner, '_test_loop', 'test_dataloader')


@HOOKS.register_module()
class CheckpointFitHook(Hook):
    """Check every loaded checkpoint against the model before loading it.

    Called by MMEngine right after a checkpoint is read (``load_from`` and
    ``resume``) and before its weights go into the model. Before a training
    run initialises the weights, it also checks that every ``Pretrained``
    ``init_cfg`` names a checkpoint (:func:`check_pretrained_init`).

    Args:
        min_shared_ratio (float): Fraction of the model's weights that a
            ``load_from`` checkpoint must hold (see
            :func:`check_checkpoint_fits`). Resuming always requires all of
            them. Defaults to 0.5.
    """

    priority = 'VERY_HIGH'

    def __init__(self, min_shared_ratio: float = 0.5) -> None:
        self.min_shared_ratio = min_shared_ratio

    def before_run(self, runner) -> None:
        # only a training run (its train loop is built by now) initialises
        # the weights from init_cfg; test and val load a checkpoint instead
        if isinstance(getattr(runner, '_train_loop', None), BaseLoop):
            check_pretrained_init(runner.model)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        resuming = bool(getattr(runner, '_resume', False))
        source = getattr(runner, '_load_from', None)
        if resuming and source is None:
            source = 'the latest checkpoint of the work dir'
        ratio = 1.0 if resuming else self.min_shared_ratio
        check_checkpoint_fits(
            runner.model,
            checkpoint,
            source=f'checkpoint {source}' if source else 'the checkpoint',
            min_shared_ratio=ratio)


def add_sanity_check_hooks(cfg, min_shared_ratio: float = 0.5) -> List[dict]:
    """Append :class:`NumClassesCheckHook` and :class:`CheckpointFitHook`
    to ``cfg.custom_hooks`` (unless the config has them already).

    Args:
        cfg (Config): The run config (changed in place).
        min_shared_ratio (float): For :class:`CheckpointFitHook` (1.0 for
            testing).

    Returns:
        list[dict]: The resulting ``custom_hooks``.
    """
    hooks = list(cfg.get('custom_hooks', None) or [])
    types = {h.get('type') for h in hooks if isinstance(h, dict)}
    if 'NumClassesCheckHook' not in types:
        hooks.append(dict(type='NumClassesCheckHook'))
    if 'CheckpointFitHook' not in types:
        hooks.append(
            dict(type='CheckpointFitHook', min_shared_ratio=min_shared_ratio))
    cfg.custom_hooks = hooks
    return hooks
