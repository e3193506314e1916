# Copyright (c) mmseam contributors. All rights reserved.
"""Make MMEngine 0.10.7 checkpoints load on torch >= 2.6.

torch 2.6 switched ``torch.load`` to ``weights_only=True`` by default.
MMEngine 0.10.7 calls ``torch.load`` without the argument, and its full
checkpoints hold a ``message_hub`` with ``HistoryBuffer`` objects and numpy
scalars, so ``--resume``, ``load_from`` and ``mmseg.apis.init_model`` fail with
an ``UnpicklingError`` (fixed upstream by mmengine PR #1670, not released).

:func:`patch_mmengine_checkpoint_loading` wraps every loader registered in
``mmengine.runner.CheckpointLoader`` so that it runs with full unpickling for
the duration of the call (the same behaviour as mmengine's fix). It touches
no file in site-packages and is idempotent. Only load checkpoints you trust,
as with any pickle.
"""
import contextlib
import functools
import os
import warnings

__all__ = ['patch_mmengine_checkpoint_loading', 'full_unpickling']

_ENV = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'
_PATCHED_FLAG = '_mmseam_weights_only_patch'


@contextlib.contextmanager
def full_unpickling():
    """Context in which ``torch.load`` defaults to ``weights_only=False``."""
    old = os.environ.get(_ENV)
    os.environ[_ENV] = '1'
    try:
        with warnings.catch_warnings():
            # torch announces the forced weights_only=False on every load
            warnings.filterwarnings('ignore', message=f'.*{_ENV}')
            yield
    finally:
        if old is None:
            os.environ.pop(_ENV, None)
        else:
            os.environ[_ENV] = old


def _wrap(loader):
    if getattr(loader, _PATCHED_FLAG, False):
        return loader

    @functools.wraps(loader)
    def wrapped(*args, **kwargs):
        with full_unpickling():
            return loader(*args, **kwargs)

    setattr(wrapped, _PATCHED_FLAG, True)
    return wrapped


def patch_mmengine_checkpoint_loading() -> None:
    """Wrap MMEngine's checkpoint loaders (local, http, openmmlab, ...)."""
    from mmengine.runner.checkpoint import CheckpointLoader
    schemes = CheckpointLoader._schemes
    for prefix, loader in list(schemes.items()):
        schemes[prefix] = _wrap(loader)
    # Loaders registered later (register_scheme) are wrapped as well.
    if not getattr(CheckpointLoader, _PATCHED_FLAG, False):
        original = CheckpointLoader._register_scheme.__func__

        @functools.wraps(original)
        def _register_scheme(cls, prefixes, loader, force=False):
            return original(cls, prefixes, _wrap(loader), force=force)

        CheckpointLoader._register_scheme = classmethod(_register_scheme)
        setattr(CheckpointLoader, _PATCHED_FLAG, True)
