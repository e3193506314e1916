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

With full mmcv installed nothing is stubbed.
"""
import importlib
import importlib.machinery
import sys
import types
import warnings

__all__ = ['ensure_mmcv_ext', 'is_mmcv_ext_stubbed', 'MissingMMCVOpError']

_STUB_FLAG = '__mmseam_stub__'
_INSTALL_HINT = (
    'Install full mmcv (with compiled ops) instead of mmcv-lite, e.g. build '
    'it '
    'from source: `pip uninstall -y mmcv-lite && pip install "setuptools<70" '
    '&& pip install --no-build-isolation "mmcv==2.1.0"` (about 20 minutes on '
    '2 CPU cores; needs a compiler, and nvcc for CUDA ops).')


class MissingMMCVOpError(RuntimeError):
    """Raised when a compiled mmcv op is called but only the stub exists."""


def _make_missing_op(name: str):

    def _missing_op(*args, **kwargs):
        raise MissingMMCVOpError(
            f'mmcv compiled op `{name}` was called, but mmcv._ext (the '
            f'compiled extension) is not installed: mmseam registered a stub '
            f'so that MMSegmentation can import. {_INSTALL_HINT}')

    _missing_op.__name__ = name
    _missing_op.__qualname__ = name
    return _missing_op


class _MMCVExtStub(types.ModuleType):
    """Module object standing in for ``mmcv._ext``.

    Any non-dunder attribute resolves to a function that raises
    :class:`MissingMMCVOpError` when called.
    """

    def __getattr__(self, name: str):
        if name.startswith('__') and name.endswith('__'):
            raise AttributeError(name)
        op = _make_missing_op(name)
        setattr(self, name, op)
        return op


def is_mmcv_ext_stubbed() -> bool:
    """Whether ``mmcv._ext`` currently is mmseam's stub."""
    mod = sys.modules.get('mmcv._ext')
    return mod is not None and getattr(mod, _STUB_FLAG, False)


def ensure_mmcv_ext() -> bool:
    """Make ``import mmcv.ops`` work, stubbing ``mmcv._ext`` if it is absent.

    Returns:
        bool: True if the stub was installed by this call or an earlier one,
        False if the real compiled extension is available (nothing stubbed).
    """
    if is_mmcv_ext_stubbed():
        return True
    try:
        importlib.import_module('mmcv._ext')
        return False
    except ModuleNotFoundError as err:
        if err.name not in ('mmcv._ext', 'mmcv'):
            raise
        if err.name == 'mmcv':
            # mmcv itself is missing: nothing to patch, mmseg will say so.
            return False
    except ImportError as err:  # present but broken (half-built, ABI)
        warnings.warn(
            f'mmcv._ext exists but fails to import ({err}); using mmseam\'s '
            f'stub instead, so compiled mmcv ops are unavailable. '
            f'{_INSTALL_HINT}')
    stub = _MMCVExtStub('mmcv._ext', 'mmseam stub for the missing compiled '
                        'mmcv extension; see mmseam.utils.mmcv_compat')
    setattr(stub, _STUB_FLAG, True)
    # A spec without a loader: importlib/pkgutil see a module that cannot be
    # loaded, so mmengine's ``mmcv_full_available()`` answers False.
    stub.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', loader=None)
    sys.modules['mmcv._ext'] = stub
    import mmcv
    mmcv._ext = stub
    return True
