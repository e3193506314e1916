# Copyright (c) mmseam contributors. All rights reserved.
from .pseudo_label_hook import PseudoLabelHook
from .sanity_check_hooks import (CheckpointFitHook, CheckpointMismatchError,
                                 NumClassesCheckHook, NumClassesMismatchError,
                                 add_sanity_check_hooks,
                                 check_checkpoint_fits, check_num_classes)

__all__ = [
    'PseudoLabelHook', 'NumClassesCheckHook', 'CheckpointFitHook',
    'CheckpointMismatchError', 'NumClassesMismatchError',
    'add_sanity_check_hooks', 'check_checkpoint_fits', 'check_num_classes'
]
from .cam_visualization_hook import CAMVisualizationHook  # noqa: E402

__all__ += ['CAMVisualizationHook']
