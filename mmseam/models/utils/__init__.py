# Copyright (c) mmseam contributors. All rights reserved.
from .cam_ops import max_norm, max_onehot
from .equivariant import (BaseEquivariantTransform, FlipTransform,
                          RescaleTransform, RotationTransform,
                          TranslationTransform)

__all__ = [
    'max_norm', 'max_onehot', 'BaseEquivariantTransform', 'RescaleTransform',
    'FlipTransform', 'RotationTransform', 'TranslationTransform'
]
