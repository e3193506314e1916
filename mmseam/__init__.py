# Copyright (c) mmseam contributors. All rights reserved.
"""mmseam: SEAM weakly supervised semantic segmentation for MMSegmentation.

Importing ``mmseam`` (directly, or through ``custom_imports`` in a config)

1. makes MMSegmentation importable on ``mmcv-lite`` (see
   :mod:`mmseam.utils.mmcv_compat`),
2. makes MMEngine 0.10.7 checkpoints load on torch >= 2.6 (see
   :mod:`mmseam.utils.checkpoint_compat`),
3. lets MMEngine configs inherit ``mmseam::`` bases (see
   :mod:`mmseam.utils.config_compat`),
4. registers every mmseam component into MMSegmentation's registries
   (``mmseg.registry.MODELS``, ``DATASETS``, ``TRANSFORMS``, ``HOOKS``,
   ``METRICS``), so configs keep ``default_scope='mmseg'``; what an
   ``mmseam::`` base brings is built through the ``mmseam`` scope's child
   nodes of those registries (:mod:`mmseam.registry`).
"""
from .utils.mmcv_compat import ensure_mmcv_ext

ensure_mmcv_ext()

from .utils.checkpoint_compat import \
    patch_mmengine_checkpoint_loading  # noqa: E402

patch_mmengine_checkpoint_loading()

from .utils.config_compat import register_mmseam_config_scope  # noqa: E402

register_mmseam_config_scope()

from .apis import *  # noqa: F401,F403,E402
from .datasets import *  # noqa: F401,F403,E402
from .engine import *  # noqa: F401,F403,E402
from .evaluation import *  # noqa: F401,F403,E402
from .models import *  # noqa: F401,F403,E402
from .version import __version__, version_info  # noqa: E402

__all__ = ['__version__', 'version_info']
