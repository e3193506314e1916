# Copyright (c) mmseam contributors. All rights reserved.
"""Let MMEngine configs inherit ``mmseam::`` bases.

MMEngine 0.10.7 resolves ``_base_ = ['mmseam::seam/<config>.py']`` only for
packages listed in its hard-coded ``mmengine.config.utils.MODULE2PACKAGE``
(``mmseg`` is, ``mmseam`` is not: ``AssertionError: mmengine does not
support to load mmseam config``), and it finds a package's files with
``get_installed_path``, which answers ``site-packages/mmseam`` for a PEP 660
editable install, where the package is not.

:func:`register_mmseam_config_scope` (run by ``import mmseam``) makes two
explicit changes, both limited to the name ``mmseam``:

1. ``MODULE2PACKAGE['mmseam'] = 'mmseam'`` (kept if MMEngine lists it);
2. ``get_installed_path('mmseam')`` *as called by* ``mmengine.config``
   returns the directory of the imported ``mmseam`` package (editable or
   not); every other package goes to MMEngine's own function.

``mmseam::<path>`` then reads ``mmseam/.mim/configs/<path>`` (``setup.py``
links or copies ``configs/`` there). Because the bases are read while the
config is parsed, ``mmseam`` must be imported before ``Config.fromfile``
(mmseam's tools do it first); ``custom_imports`` in the config itself comes
too late for its own ``_base_``.
"""
import importlib
import os.path as osp

__all__ = ['register_mmseam_config_scope', 'MMSEAM_SCOPE']

MMSEAM_SCOPE = 'mmseam'


def _mmseam_package_dir() -> str:
    import mmseam
    return osp.dirname(osp.abspath(mmseam.__file__))


def register_mmseam_config_scope() -> None:
    """Make ``mmseam::`` config bases resolvable by MMEngine (idempotent)."""
    mmengine_config = importlib.import_module('mmengine.config.config')
    mmengine_config_utils = importlib.import_module('mmengine.config.utils')

    mmengine_config_utils.MODULE2PACKAGE.setdefault(MMSEAM_SCOPE,
                                                    MMSEAM_SCOPE)
    original = mmengine_config.get_installed_path
    if getattr(original, '__mmseam_wrapped__', None) is not None:
        return

    def get_installed_path(package: str) -> str:
        """MMEngine's ``get_installed_path``; for ``mmseam``, where the
        imported package lives (an editable install's source tree too)."""
        if package == MMSEAM_SCOPE:
            return _mmseam_package_dir()
        return original(package)

    get_installed_path.__mmseam_wrapped__ = original
    get_installed_path.__wrapped__ = original
    mmengine_config.get_installed_path = get_installed_path
