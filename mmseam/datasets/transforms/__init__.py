# Copyright (c) mmseam contributors. All rights reserved.
from .affinity import (AffinityLabelFromCRF, AffinityRandomCrop,
                       ExtractAffinityLabels, LoadCRFScores,
                       PackAffinityInputs)
from .formatting import PackSegClsInputs
from .transforms import ColorJitter, RandomCropPad

__all__ = [
    'ColorJitter', 'PackSegClsInputs', 'RandomCropPad', 'LoadCRFScores',
    'AffinityRandomCrop', 'AffinityLabelFromCRF', 'ExtractAffinityLabels',
    'PackAffinityInputs'
]
