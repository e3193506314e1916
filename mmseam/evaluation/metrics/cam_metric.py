# Copyright (c) mmseam contributors. All rights reserved.
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmseg.registry import METRICS

from ..pseudo_label_eval import (DEFAULT_BG_THRESHOLDS, DEFAULT_SWEEP_LIMIT,
                                 summarize_sweep, sweep_grid,
                                 sweep_intersect_and_union)


@METRICS.register_module()
class CAMSweepMetric(BaseMetric):
    """CAM mIoU with SEAM's background-threshold sweep.

    Contract with the model: each data sample carries ``seg_logits`` (a
    ``PixelData`` whose ``data`` has shape (C, H, W), C = number of classes
    including background) where channels ``1..C-1`` are the normalised
    foreground CAMs in [0, 1] with absent classes 0 (what the SEAM
    segmentor's ``predict`` returns), and ``gt_sem_seg`` of shape (1, H, W).
    Channel 0 (the model's own background score) is **not used**: the
    metric reads ``data_sample.seg_logits.data[1:]`` and, for every
    threshold ``t`` in ``thresholds``, predicts ``argmax([t, cams])``
    (foreground class if its CAM is ``> t``, else background).

    When the best threshold is the upper edge of ``thresholds`` (on data
    other than VOC the best value can lie above 0.59), the sweep is extended
    with the same step up to ``extend_to`` (the areas of the extension are
    accumulated alongside at little cost), a warning is logged and
    ``bg_sweep_max`` says how far the sweep went; a best value at the edge
    of the extended range is logged as a warning naming the fix.

    Areas come from ``IoUMetric.intersect_and_union`` and metrics from
    ``IoUMetric.total_area_to_metrics``, so at a given threshold the numbers
    equal MMSegmentation's ``IoUMetric`` on the thresholded prediction.

    Args:
        thresholds (Sequence[float]): Background thresholds to sweep.
            Defaults to SEAM's 0.00, 0.01, ..., 0.59.
        bg_threshold (float, optional): Also report the mIoU at this fixed
            threshold (must be one of ``thresholds`` or of their extension),
            e.g. the one used for pseudo labels. Defaults to None.
        extend_to (float, optional): Largest threshold of the extension of a
            sweep whose best value is its upper edge; None never extends.
            Defaults to 0.99.
        ignore_index (int): Ground-truth value to ignore. Defaults to 255.
        nan_to_num (int, optional): Replace NaN IoUs (classes absent in
            prediction and ground truth) by this value. Defaults to None.
        log_curve (bool): Log the whole mIoU-vs-threshold curve.
            Defaults to True.
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Metric name prefix. Defaults to None.

    Returned metrics: ``mIoU`` and ``aAcc`` (%, at the best threshold),
    ``best_bg_threshold``, ``bg_sweep_min`` / ``bg_sweep_max`` (the range
    swept, e.g. 0.0 / 0.59, or 0.0 / 0.99 when extended) and, if
    ``bg_threshold`` is set, ``mIoU_at_bg_threshold``.
    """

    def __init__(self,
                 thresholds: Sequence[float] = DEFAULT_BG_THRESHOLDS,
                 bg_threshold: Optional[float] = None,
                 extend_to: Optional[float] = DEFAULT_SWEEP_LIMIT,
                 ignore_index: int = 255,
                 nan_to_num: Optional[int] = None,
                 log_curve: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not len(thresholds):
            raise ValueError('CAMSweepMetric: thresholds must not be empty.')
        # the sweep proper first, then its extension (see sweep_grid)
        self.thresholds, self.num_base = sweep_grid(thresholds, extend_to)
        if bg_threshold is not None and not np.isclose(
                self.thresholds, bg_threshold, rtol=0, atol=1e-6).any():
            raise ValueError(f'CAMSweepMetric: bg_threshold {bg_threshold} '
                             'must be one of the thresholds; add it to '
                             '`thresholds`.')
        self.bg_threshold = bg_threshold
        self.ignore_index = ignore_index
        self.nan_to_num = nan_to_num
        self.log_curve = log_curve

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Accumulate the sweep areas of a batch.

        Args:
            data_batch (dict): A batch from the dataloader (unused).
            data_samples (Sequence[dict]): Model outputs, each with
                ``seg_logits.data`` of shape (C, H, W) and
                ``gt_sem_seg.data`` of shape (1, H, W).
        """
        num_classes = len(self.dataset_meta['classes'])
        for data_sample in data_samples:
            if 'seg_logits' not in data_sample:
                raise KeyError(
                    'CAMSweepMetric needs `seg_logits` in each data sample '
                    '(channels 1.. = normalised CAMs); use a model whose '
                    'predict() returns them, e.g. the SEAM segmentor.')
            logits = data_sample['seg_logits']['data']
            if logits.ndim != 3 or logits.shape[0] != num_classes:
                raise ValueError(
                    f'seg_logits must have shape ({num_classes}, H, W) for '
                    f'the {num_classes} dataset classes, got '
                    f'{tuple(logits.shape)}.')
            gt = data_sample['gt_sem_seg']['data'].squeeze(0)
            if tuple(gt.shape) != tuple(logits.shape[1:]):
                raise ValueError(
                    f'seg_logits size {tuple(logits.shape[1:])} differs from '
                    f'gt_sem_seg size {tuple(gt.shape)} for '
                    f'{data_sample.get("img_path", "a sample")}.')
            areas = sweep_intersect_and_union(
                logits[1:].detach(),
                gt,
                num_classes,
                self.thresholds,
                fg_classes=torch.arange(1, num_classes),
                ignore_index=self.ignore_index)
            self.results.append(areas)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Sum the areas, pick the best threshold, log curve and table.

        Args:
            results (list): Per-sample tuples of four (T, C) area tensors.

        Returns:
            dict[str, float]: ``mIoU``, ``aAcc``, ``best_bg_threshold``,
            ``bg_sweep_min``, ``bg_sweep_max`` and optionally
            ``mIoU_at_bg_threshold``.
        """
        logger: MMLogger = MMLogger.get_current_instance()
        totals = tuple(sum(r[i] for r in results) for i in range(4))
        summary = summarize_sweep(
            totals,
            self.thresholds,
            class_names=self.dataset_meta['classes'],
            bg_threshold=self.bg_threshold,
            nan_to_num=self.nan_to_num,
            logger=logger,
            log_curve=self.log_curve,
            num_base=self.num_base)
        metrics = dict(
            mIoU=summary['mIoU'],
            aAcc=summary['aAcc'],
            best_bg_threshold=summary['best_bg_threshold'],
            bg_sweep_min=summary['swept_range'][0],
            bg_sweep_max=summary['swept_range'][1])
        if self.bg_threshold is not None:
            metrics['mIoU_at_bg_threshold'] = summary['mIoU_at_bg_threshold']
        return metrics
