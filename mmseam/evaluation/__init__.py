# Copyright (c) mmseam contributors. All rights reserved.
from .metrics import *  # noqa: F401,F403
from .metrics import __all__ as _metrics_all
from .pseudo_label_eval import (DEFAULT_BG_THRESHOLDS, DEFAULT_SWEEP_LIMIT,
                                evaluate_pseudo_labels, sweep_grid,
                                sweep_intersect_and_union)

__all__ = _metrics_all + [
    'DEFAULT_BG_THRESHOLDS', 'DEFAULT_SWEEP_LIMIT', 'evaluate_pseudo_labels',
    'sweep_grid', 'sweep_intersect_and_union'
]
