# Copyright (c) mmseam contributors. All rights reserved.
from .formatting import PackSegClsInputs
from .transforms import ColorJitter, RandomCropPad

__all__ = ['ColorJitter', 'PackSegClsInputs', 'RandomCropPad']
