# Copyright (c) mmseam contributors. All rights reserved.
"""Packing of images, masks and image-level labels."""
from typing import Sequence

import numpy as np
import torch
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

__all__ = ['PackSegClsInputs']


@TRANSFORMS.register_module()
class PackSegClsInputs(PackSegInputs):
    """:class:`PackSegInputs` that also packs the image-level labels.

    Besides what :class:`PackSegInputs` packs (``inputs`` = C x H x W
    tensor, ``gt_sem_seg`` when ``gt_seg_map`` is present, meta keys), the
    ``SegDataSample`` gets the data field ``img_labels``: a float32 tensor of
    shape (num_fg,), multi-hot over the foreground classes (``classes[1:]``),
    taken from ``results['img_labels']`` when that key exists.

    Args:
        meta_keys (Sequence[str]): Meta keys to pack. Defaults to the
            :class:`PackSegInputs` keys plus ``'img_id'``.
    """

    def __init__(
        self,
        meta_keys: Sequence[str] = ('img_path', 'seg_map_path', 'ori_shape',
                                    'img_shape', 'pad_shape', 'scale_factor',
                                    'flip', 'flip_direction',
                                    'reduce_zero_label', 'img_id')
    ) -> None:
        super().__init__(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack ``results`` into ``inputs`` and ``data_samples``.

        Args:
            results (dict): Result dict of the pipeline; ``img_labels``
                (array-like of shape (num_fg,)) is optional.

        Returns:
            dict: ``inputs`` (Tensor C x H x W) and ``data_samples``
            (:obj:`SegDataSample` with ``img_labels``: Tensor (num_fg,)).
        """
        packed = super().transform(results)
        if 'img_labels' in results:
            labels = np.asarray(results['img_labels'], dtype=np.float32)
            if labels.ndim != 1:
                raise ValueError(
                    'img_labels must be a 1-D multi-hot of shape (num_fg,), '
                    f'got shape {labels.shape} for '
                    f'{results.get("img_path", "<unknown image>")}.')
            packed['data_samples'].set_data(
                dict(img_labels=torch.from_numpy(labels.copy())))
        return packed
