# Copyright (c) mmseam contributors. All rights reserved.
from .file_checks import (BadImageError, DatasetError, image_file_problem,
                          read_label_file, resolve_palette)
from .image_folder import ImageFolderClsDataset
from .synthetic import (SYNTHETIC_CLASSES, SYNTHETIC_METAINFO,
                        SYNTHETIC_PALETTE, make_synthetic_voc)
from .transforms import *  # noqa: F401,F403
from .voc_cls import VOCClsDataset

__all__ = [
    'BadImageError', 'DatasetError', 'VOCClsDataset', 'ImageFolderClsDataset',
    'SYNTHETIC_CLASSES', 'SYNTHETIC_PALETTE', 'SYNTHETIC_METAINFO',
    'make_synthetic_voc', 'image_file_problem', 'read_label_file',
    'resolve_palette'
]
