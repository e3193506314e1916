# Copyright (c) mmseam contributors. All rights reserved.
from .metrics import *  # noqa: F401,F403
from .pseudo_label_eval import (DEFAULT_BG_THRESHOLDS, evaluate_pseudo_labels,
                                sweep_intersect_and_union)

__all__ = [
    'CAMSweepMetric', 'DEFAULT_BG_THRESHOLDS', 'evaluate_pseudo_labels',
    'sweep_intersect_and_union'
]
