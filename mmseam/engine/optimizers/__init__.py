# Copyright (c) mmseam contributors. All rights reserved.
from .nonfinite_guard import (NonFiniteGuardAmpOptimWrapper,
                              NonFiniteGuardOptimWrapper, NonFiniteLossError)

__all__ = [
    'NonFiniteGuardOptimWrapper', 'NonFiniteGuardAmpOptimWrapper',
    'NonFiniteLossError'
]
