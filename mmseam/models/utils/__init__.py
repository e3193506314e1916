# Copyright (c) mmseam contributors. All rights reserved.
from .cam_ops import max_norm, max_onehot
from .resize import bilinear_resize, interp_matrix, resize_chain_matrix
from .equivariant import (BaseEquivariantTransform, FlipTransform,
                          RescaleTransform, RotationTransform,
                          TranslationTransform)

__all__ = [
    'max_norm', 'max_onehot', 'bilinear_resize', 'interp_matrix',
    'resize_chain_matrix', 'BaseEquivariantTransform', 'RescaleTransform',
    'FlipTransform', 'RotationTransform', 'TranslationTransform'
]
