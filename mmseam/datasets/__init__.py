# Copyright (c) mmseam contributors. All rights reserved.
from .synthetic import (SYNTHETIC_CLASSES, SYNTHETIC_METAINFO,
                        SYNTHETIC_PALETTE, make_synthetic_voc)
from .transforms import *  # noqa: F401,F403
from .voc_cls import DatasetError, VOCClsDataset

__all__ = [
    'DatasetError', 'VOCClsDataset', 'SYNTHETIC_CLASSES', 'SYNTHETIC_PALETTE',
    'SYNTHETIC_METAINFO', 'make_synthetic_voc'
]
