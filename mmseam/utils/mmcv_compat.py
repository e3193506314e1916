# Copyright (c) mmseam contributors. All rights reserved.
"""Let MMSegmentation import when mmcv's compiled extension is missing.

MMSegmentation 1.2.2 imports ``mmcv.ops`` at import time, and ``mmcv.ops``
loads the compiled ``mmcv._ext``. ``mmcv-lite`` (the pure-Python wheel that
installs everywhere) has no ``_ext``, so ``import mmseg.models`` fails.

:func:`ensure_mmcv_ext` registers a small, explicit stand-in module as
``mmcv._ext`` *only when the real one cannot be imported*. Looking up any
op name on it succeeds (so ``mmcv.ops`` imports), but calling an op raises a
:class:`RuntimeError` that names the op and says how to get full mmcv.
Dunder names (``__file__``, ``__path__``, ...) are never faked, so
``inspect`` and ``importlib`` keep working. SEAM needs no compiled op.

It runs at ``import mmseam`` and, through the ``mmseam-hook.pth`` start-up
hook that installing mmseam puts into site-packages, right before the first
``import mmcv.ops`` of any program, so the import order does not matter.
The code lives in the top-level module ``mmseam_hook`` (the start-up hook
must not import the whole package); this module is its public face.

With full mmcv installed nothing is stubbed.
"""
from mmseam_hook import INSTALL_HINT, MissingMMCVOpError, ensure_mmcv_ext
from mmseam_hook import is_installed as is_mmcv_ops_hook_installed
from mmseam_hook import is_mmcv_ext_stubbed

__all__ = [
    'ensure_mmcv_ext', 'is_mmcv_ext_stubbed', 'MissingMMCVOpError',
    'is_mmcv_ops_hook_installed', 'INSTALL_HINT'
]
