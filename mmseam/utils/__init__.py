# Copyright (c) mmseam contributors. All rights reserved.
from .checkpoint_compat import (full_unpickling,
                                patch_mmengine_checkpoint_loading)
from .dist_utils import destroy_dist, init_dist_any_device, select_device
from .mmcv_compat import (MissingMMCVOpError, ensure_mmcv_ext,
                          is_mmcv_ext_stubbed)

__all__ = [
    'ensure_mmcv_ext', 'is_mmcv_ext_stubbed', 'MissingMMCVOpError',
    'patch_mmengine_checkpoint_loading', 'full_unpickling',
    'init_dist_any_device', 'destroy_dist', 'select_device'
]
