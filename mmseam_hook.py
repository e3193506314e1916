# Copyright (c) mmseam contributors. All rights reserved.
"""Start-up hook of mmseam: stub ``mmcv._ext`` whatever is imported first.

MMSegmentation 1.2.2 imports ``mmcv.ops``, and ``mmcv.ops`` loads the
compiled ``mmcv._ext``. ``mmcv-lite`` (the pure-Python wheel) has none, so
``import mmseg.models`` fails there. This module holds the stand-in for the
missing extension (:func:`ensure_mmcv_ext`) and a one-shot import hook
(:func:`install`) that calls it right before ``mmcv.ops`` is first imported,
so that ``from mmseg.datasets import ...`` works before ``import mmseam``.

The installed ``mmseam-hook.pth`` (written by ``setup.py`` into
site-packages, for wheels and editable installs alike) calls
:func:`install` at interpreter start-up. The hook only looks at the name
``mmcv.ops``; it costs nothing else, and removes itself once it has run.
With full mmcv (a real, importable ``_ext``) nothing is stubbed.

This is a top-level module, not part of the ``mmseam`` package, so that the
start-up hook imports no more than this file (``import mmseam`` loads torch
and MMSegmentation). :mod:`mmseam.utils.mmcv_compat` re-exports its API.
"""
import importlib
import importlib.machinery
import sys
import types
import warnings

__all__ = [
    'ensure_mmcv_ext', 'is_mmcv_ext_stubbed', 'MissingMMCVOpError',
    'install', 'uninstall', 'is_installed'
]

_STUB_FLAG = '__mmseam_stub__'
INSTALL_HINT = (
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
            f'so that MMSegmentation can import. {INSTALL_HINT}')

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
        False if the real compiled extension is available (nothing stubbed)
        or mmcv itself is not installed.
    """
    if is_mmcv_ext_stubbed():
        return True
    try:  # a compiled _ext links against libtorch: have torch loaded first
        import torch  # noqa: F401
    except ImportError:
        pass
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
            f'{INSTALL_HINT}')
    stub = _MMCVExtStub(
        'mmcv._ext', 'mmseam stub for the missing compiled mmcv extension; '
        'see mmseam.utils.mmcv_compat')
    setattr(stub, _STUB_FLAG, True)
    # A spec without a loader: importlib/pkgutil see a module that cannot be
    # loaded, so mmengine's ``mmcv_full_available()`` answers False.
    stub.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', loader=None)
    sys.modules['mmcv._ext'] = stub
    import mmcv
    mmcv._ext = stub
    return True


class _MMCVOpsHook:
    """Meta path finder that runs :func:`ensure_mmcv_ext` before ``mmcv.ops``.

    It never finds a module itself (``find_spec`` always returns None, so
    the normal finders load ``mmcv.ops``); it only uses the moment of the
    first ``import mmcv.ops`` (``mmcv`` is imported by then), then removes
    itself from ``sys.meta_path``.
    """

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname != 'mmcv.ops':
            return None
        uninstall()
        ensure_mmcv_ext()
        return None


def is_installed() -> bool:
    """Whether the ``mmcv.ops`` import hook is waiting in sys.meta_path."""
    return _MMCVOpsHook in sys.meta_path


def install() -> None:
    """Put the one-shot ``mmcv.ops`` hook first in ``sys.meta_path``.

    Does nothing when ``mmcv.ops`` is imported already (too late to help; an
    ``import mmseam`` stubs what is needed for what follows) or when the hook
    is in place.
    """
    if 'mmcv.ops' in sys.modules or is_installed():
        return
    sys.meta_path.insert(0, _MMCVOpsHook)


def uninstall() -> None:
    """Remove the ``mmcv.ops`` import hook (no-op when absent).

    ``sys.meta_path`` is replaced by a new list rather than edited in place:
    the hook removes itself while the import system iterates over the old
    list, which an in-place removal would make skip the next finder.
    """
    if is_installed():
        sys.meta_path = [f for f in sys.meta_path if f is not _MMCVOpsHook]
