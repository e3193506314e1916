# Copyright (c) mmseam contributors. All rights reserved.
"""Pseudo-label / CAM quality: mIoU with a background-threshold sweep.

SEAM scores CAMs by appending a constant background score ``t`` to the
normalised class maps and taking the argmax; ``t`` is swept over
``0.00, 0.01, ..., 0.59`` and the best value is reported. Intersections and
unions come from MMSegmentation's
:meth:`mmseg.evaluation.metrics.IoUMetric.intersect_and_union` and the
per-class metrics from :meth:`IoUMetric.total_area_to_metrics`, so numbers
agree with MMSegmentation's ``IoUMetric``.

On data other than VOC the best threshold can lie above 0.59: when the
best value of the sweep is its upper edge, the sweep is extended (by default
up to 0.99, same step) and the result names the range that was swept
(``swept_range``); a best value at the edge of the extended range is
reported with a warning that names the fix.

Note: like ``IoUMetric``, the mean skips classes whose union is empty (NaN);
the official SEAM script counts them as IoU 0. The two agree whenever every
class occurs in the ground truth or the predictions (e.g. the VOC train
split).
"""
import logging
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.logging import MMLogger, print_log
from prettytable import PrettyTable

from mmseam.apis.cam_io import load_cam, load_label_png

__all__ = [
    'DEFAULT_BG_THRESHOLDS', 'DEFAULT_SWEEP_LIMIT', 'sweep_grid',
    'best_fg_class_and_score',
    'sweep_intersect_and_union', 'areas_to_metrics', 'summarize_sweep',
    'format_iou_table', 'evaluate_pseudo_labels'
]

#: SEAM's background-threshold sweep: 0.00, 0.01, ..., 0.59 (60 values).
DEFAULT_BG_THRESHOLDS = tuple(np.round(np.arange(0, 0.60, 0.01), 2).tolist())

#: Upper end of the extension of a sweep whose best value is its upper edge.
DEFAULT_SWEEP_LIMIT = 0.99

Areas = Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def _iou_metric():
    # imported lazily: mmseg must be imported after mmseam (mmcv._ext stub)
    from mmseg.evaluation.metrics import IoUMetric
    return IoUMetric


def best_fg_class_and_score(
    fg_scores: torch.Tensor,
    fg_classes: Optional[torch.Tensor] = None
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel best foreground class and its score.

    Args:
        fg_scores (torch.Tensor): Foreground scores of shape (K, ...).
        fg_classes (torch.Tensor, optional): Shape (K,), class index of each
            channel in the full class list. Defaults to ``1 .. K``.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: ``classes`` (int64) and
        ``scores`` (float32), both of shape (...). Ties go to the first
        channel (as ``np.argmax``); with K = 0 the scores are ``-inf`` and
        classes 0, so every pixel is background.
    """
    k = fg_scores.shape[0]
    if fg_classes is None:
        fg_classes = torch.arange(1, k + 1, device=fg_scores.device)
    fg_classes = torch.as_tensor(
        fg_classes, dtype=torch.long, device=fg_scores.device)
    if fg_classes.shape != (k, ):
        raise ValueError(f'fg_classes must have shape ({k},), got '
                         f'{tuple(fg_classes.shape)}.')
    if k == 0:
        shape = fg_scores.shape[1:]
        return (torch.zeros(shape, dtype=torch.long, device=fg_scores.device),
                torch.full(shape, float('-inf'), device=fg_scores.device))
    fg_scores = fg_scores.float()
    idx = fg_scores.argmax(dim=0)
    score = fg_scores.gather(0, idx[None])[0]
    return fg_classes[idx], score


def sweep_intersect_and_union(fg_scores: torch.Tensor,
                              gt: torch.Tensor,
                              num_classes: int,
                              thresholds: Sequence[float],
                              fg_classes: Optional[torch.Tensor] = None,
                              ignore_index: int = 255) -> Areas:
    """Intersection/union areas for every background threshold at once.

    For threshold ``t`` the prediction is ``argmax([t, fg_scores ...])``:
    the best foreground class where its score is ``> t`` (float32
    comparison; background wins ties, as in SEAM's evaluation), else
    background 0.

    Instead of one ``argmax`` and one histogram per threshold, each pixel's
    best class and score are computed once, the score is bucketed by the
    number of thresholds below it (``b``), and
    ``IoUMetric.intersect_and_union`` is run once on the joint labels
    ``b * C + class`` (in chunks of at most ~1024 bins, where
    ``torch.histc`` is exact). Prefix/suffix sums over ``b`` then give the
    areas at every threshold; they equal those of the per-threshold loop.

    Args:
        fg_scores (torch.Tensor): Shape (K, H, W), foreground class scores
            (normalised CAMs; absent classes 0 or left out).
        gt (torch.Tensor): Shape (H, W), ground-truth class indices.
        num_classes (int): Number of classes C including background.
        thresholds (Sequence[float]): T background thresholds (any order).
        fg_classes (torch.Tensor, optional): Shape (K,), class index of each
            channel in [0, C). Defaults to ``1 .. K``.
        ignore_index (int): Ground-truth value to ignore. Defaults to 255.

    Returns:
        tuple[torch.Tensor]: ``area_intersect``, ``area_union``,
        ``area_pred_label``, ``area_label``, each float32 of shape (T, C),
        row ``i`` for ``thresholds[i]``.
    """
    if fg_scores.ndim != 3 or tuple(fg_scores.shape[1:]) != tuple(gt.shape):
        raise ValueError(f'fg_scores must have shape (K, {tuple(gt.shape)}) '
                         f'to match the ground truth, got '
                         f'{tuple(fg_scores.shape)}.')
    num_t = len(thresholds)
    if num_t == 0:
        raise ValueError('thresholds must not be empty.')
    iou_metric = _iou_metric()
    cls, score = best_fg_class_and_score(fg_scores, fg_classes)
    cls, score = cls.cpu(), score.cpu()
    if cls.numel() and (cls.min() < 0 or cls.max() >= num_classes):
        raise ValueError(f'fg_classes must lie in [0, {num_classes - 1}].')
    gt = gt.to(device='cpu', dtype=torch.long)
    valid = gt != ignore_index
    cls, score, gt = cls[valid], score[valid], gt[valid]
    thr = torch.from_numpy(np.asarray(thresholds, dtype=np.float32))
    thr_sorted, order = torch.sort(thr)
    # b = number of thresholds < score; foreground at sorted index i <=> b > i
    bucket = torch.searchsorted(thr_sorted, score.contiguous(), right=False)
    num_b = num_t + 1
    hists = torch.zeros(3, num_b, num_classes)  # intersect, pred, label
    chunk = max(1, 1024 // num_classes)
    for b0 in range(0, num_b, chunk):
        b1 = min(b0 + chunk, num_b)
        sel = (bucket >= b0) & (bucket < b1)
        if not bool(sel.any()):
            continue
        offset = (bucket[sel] - b0) * num_classes
        inter, _, pred, label = iou_metric.intersect_and_union(
            offset + cls[sel],
            offset + gt[sel], (b1 - b0) * num_classes,
            ignore_index=-1)
        shape = (b1 - b0, num_classes)
        hists[0, b0:b1] = inter.reshape(shape)
        hists[1, b0:b1] = pred.reshape(shape)
        hists[2, b0:b1] = label.reshape(shape)
    h_int, h_pred, h_label = hists
    # prefix over b <= i (background) and suffix over b > i (foreground)
    prefix = lambda h: torch.cumsum(h, 0)[:num_t]  # noqa: E731
    suffix = lambda h: h.sum(0, keepdim=True) - prefix(h)  # noqa: E731
    area_pred = suffix(h_pred)
    area_pred[:, 0] += prefix(h_pred).sum(1)
    area_intersect = suffix(h_int)
    area_intersect[:, 0] += prefix(h_label)[:, 0]
    area_label = h_label.sum(0, keepdim=True).expand(num_t, -1).clone()
    area_union = area_pred + area_label - area_intersect
    inverse = torch.argsort(order)
    return tuple(a[inverse]
                 for a in (area_intersect, area_union, area_pred, area_label))


def areas_to_metrics(areas: Areas,
                     nan_to_num: Optional[int] = None) -> Dict[str, object]:
    """Turn summed areas of one prediction into IoU metrics.

    Args:
        areas (tuple[torch.Tensor]): ``area_intersect``, ``area_union``,
            ``area_pred_label``, ``area_label``, each of shape (C,).
        nan_to_num (int, optional): Replace NaN IoUs (classes absent from
            prediction and ground truth) by this value. Defaults to None.

    Returns:
        dict: ``aAcc`` (float, %), ``mIoU`` (float, %), ``IoU`` and ``Acc``
        (np.ndarray of shape (C,), in %), from
        ``IoUMetric.total_area_to_metrics``.
    """
    ret = _iou_metric().total_area_to_metrics(*areas, ['mIoU'], nan_to_num)
    return dict(
        aAcc=float(np.round(ret['aAcc'] * 100, 2)),
        mIoU=float(np.round(np.nanmean(ret['IoU']) * 100, 2)),
        IoU=np.round(ret['IoU'] * 100, 2),
        Acc=np.round(ret['Acc'] * 100, 2))


def format_iou_table(class_names: Sequence[str], metrics: dict) -> str:
    """Per-class IoU/Acc table as printed by ``IoUMetric``.

    Args:
        class_names (Sequence[str]): C class names.
        metrics (dict): Output of :func:`areas_to_metrics`.

    Returns:
        str: The rendered PrettyTable.
    """
    table = PrettyTable()
    table.add_column('Class', list(class_names))
    table.add_column('IoU', list(metrics['IoU']))
    table.add_column('Acc', list(metrics['Acc']))
    return table.get_string()


def sweep_grid(thresholds: Sequence[float],
               extend_to: Optional[float] = DEFAULT_SWEEP_LIMIT
               ) -> Tuple[List[float], int]:
    """The thresholds to score: the sweep plus its upward extension.

    The extension continues the sweep above its largest value with the
    sweep's step (the smallest gap between two values; 0.01 for a single
    value) up to ``extend_to``. It is only used when the best value of the
    sweep itself is its upper edge (see :func:`summarize_sweep`).

    Args:
        thresholds (Sequence[float]): The sweep, e.g.
            :data:`DEFAULT_BG_THRESHOLDS`.
        extend_to (float, optional): Largest extension value; None or a
            value <= max(thresholds) for no extension. Defaults to 0.99.

    Returns:
        tuple[list[float], int]: ``thresholds`` followed by the extension,
        and ``len(thresholds)`` (the number of swept values proper).
    """
    base = [float(t) for t in thresholds]
    if not base:
        raise ValueError('thresholds must not be empty.')
    if extend_to is None or extend_to <= max(base) + 1e-9:
        return base, len(base)
    gaps = np.diff(np.unique(np.round(base, 6)))
    step = float(gaps.min()) if gaps.size else 0.01
    top = max(base)
    num = int(np.floor((extend_to - top) / step + 1e-6))
    extra = [round(top + step * (i + 1), 6) for i in range(num)]
    return base + extra, len(base)


def _pick_best(mious: np.ndarray, thresholds: Sequence[float],
               num_base: int, logger) -> Tuple[int, int]:
    """Best threshold index, extending the sweep at its upper edge.

    Returns:
        tuple[int, int]: Index of the best threshold and the number of
        thresholds that were swept (``num_base`` or all of them).
    """
    def argbest(n):
        head = mious[:n]
        return 0 if np.all(np.isnan(head)) else int(np.nanargmax(head))

    thr = np.asarray(thresholds, dtype=np.float64)
    base = thr[:num_base]
    best = argbest(num_base)
    swept = num_base
    if np.isclose(thr[best], base.max()) and len(thr) > num_base:
        best, swept = argbest(len(thr)), len(thr)
        print_log(
            f'best background threshold {base.max():.2f} is the upper edge '
            f'of the sweep {base.min():.2f}-{base.max():.2f}: extended the '
            f'sweep to {thr.max():.2f}; best now {thr[best]:.2f}.',
            logger=logger,
            level=logging.WARNING)
    top = thr[:swept].max()
    if np.isclose(thr[best], top) and swept > 1:
        print_log(
            f'best background threshold {top:.2f} is the upper edge of the '
            f'swept range {thr[:swept].min():.2f}-{top:.2f}: the best value '
            'may lie above it. Sweep larger values (CAMSweepMetric '
            'thresholds / extend_to, or --thresholds / --extend-to of '
            'tools/eval_pseudo_labels.py).',
            logger=logger,
            level=logging.WARNING)
    elif np.isclose(thr[best], base.min()) and base.min() > 0:
        print_log(
            f'best background threshold {base.min():.2f} is the lower edge '
            f'of the sweep: the best value may lie below it; sweep smaller '
            'values (thresholds / --thresholds).',
            logger=logger,
            level=logging.WARNING)
    return best, swept


def _threshold_index(thresholds: Sequence[float], value: float) -> int:
    diffs = np.abs(np.asarray(thresholds, dtype=np.float64) - value)
    idx = int(diffs.argmin())
    if diffs[idx] > 1e-6:
        raise ValueError(f'bg_threshold {value} is not one of the swept '
                         f'thresholds {list(thresholds)}; add it to '
                         '`thresholds`.')
    return idx


def summarize_sweep(areas: Areas,
                    thresholds: Sequence[float],
                    class_names: Optional[Sequence[str]] = None,
                    bg_threshold: Optional[float] = None,
                    nan_to_num: Optional[int] = None,
                    logger: Union[MMLogger, str, None] = None,
                    log_curve: bool = True,
                    num_base: Optional[int] = None) -> dict:
    """Pick the best threshold from summed sweep areas and log the results.

    The best of the first ``num_base`` thresholds (the sweep proper) is
    taken; when it is the sweep's upper edge, the best over all thresholds
    (the sweep and its extension, see :func:`sweep_grid`) is taken instead
    and a warning is logged. A best value at the upper edge of the range
    finally swept is logged as a warning too.

    Args:
        areas (tuple[torch.Tensor]): Summed ``sweep_intersect_and_union``
            outputs, each of shape (T, C).
        thresholds (Sequence[float]): The T thresholds (the sweep, then its
            extension).
        class_names (Sequence[str], optional): C names for the table;
            defaults to the indices.
        bg_threshold (float, optional): Also report the mIoU at this
            threshold (must be one of ``thresholds``).
        nan_to_num (int, optional): See :func:`areas_to_metrics`.
        logger (MMLogger | str, optional): Where to log (``print_log``);
            ``'silent'`` logs nothing.
        log_curve (bool): Log the whole mIoU curve. Defaults to True.
        num_base (int, optional): How many of ``thresholds`` form the sweep
            proper; defaults to all (no extension).

    Returns:
        dict: ``mIoU``/``aAcc`` (%, at the best threshold),
        ``best_bg_threshold``, ``IoU``/``Acc`` (np.ndarray (C,), at the best
        threshold), ``curve`` (list of ``(t, mIoU)`` over the range swept),
        ``swept_range`` (``(min, max)`` of the thresholds swept),
        ``sweep_extended`` (bool) and, if ``bg_threshold`` is given,
        ``mIoU_at_bg_threshold``.
    """
    num_t = len(thresholds)
    if num_t == 0 or areas[0].shape[0] != num_t:
        raise ValueError(f'need one area row per threshold, got {num_t} '
                         f'thresholds and {areas[0].shape[0]} rows.')
    per_t = [
        areas_to_metrics(tuple(a[i] for a in areas), nan_to_num)
        for i in range(num_t)
    ]
    mious = np.array([m['mIoU'] for m in per_t])
    num_base = num_t if num_base is None else min(num_base, num_t)
    best, swept = _pick_best(mious, thresholds, num_base, logger)
    curve = [(float(t), m['mIoU'])
             for t, m in zip(thresholds[:swept], per_t[:swept])]
    swept_range = (float(min(thresholds[:swept])),
                   float(max(thresholds[:swept])))
    result = OrderedDict(
        mIoU=per_t[best]['mIoU'],
        aAcc=per_t[best]['aAcc'],
        best_bg_threshold=float(thresholds[best]),
        IoU=per_t[best]['IoU'],
        Acc=per_t[best]['Acc'],
        curve=curve,
        swept_range=swept_range,
        sweep_extended=swept > num_base)
    if bg_threshold is not None:
        idx = _threshold_index(thresholds, bg_threshold)
        result['mIoU_at_bg_threshold'] = per_t[idx]['mIoU']
    if class_names is None:
        class_names = [str(i) for i in range(len(per_t[best]['IoU']))]
    if log_curve:
        print_log(
            'mIoU vs background threshold:\n' +
            '\n'.join(f'  t={t:.2f}: {m:.2f}' for t, m in curve),
            logger=logger)
    print_log(
        f'best background threshold {thresholds[best]:.2f} (swept '
        f'{swept_range[0]:.2f}-{swept_range[1]:.2f}): mIoU '
        f'{result["mIoU"]:.2f}' +
        (f'; at {bg_threshold:.2f}: {result["mIoU_at_bg_threshold"]:.2f}'
         if bg_threshold is not None else ''),
        logger=logger)
    print_log(
        'per class results:\n' + format_iou_table(class_names, per_t[best]),
        logger=logger)
    return result


def _check_files(ids: Sequence[str], pred_dir: str, pred_ext: str, gt_dir: str,
                 gt_ext: str, what: str) -> None:
    missing_pred = [
        osp.join(pred_dir, f'{i}{pred_ext}') for i in ids
        if not osp.isfile(osp.join(pred_dir, f'{i}{pred_ext}'))
    ]
    if missing_pred:
        raise FileNotFoundError(
            f'{len(missing_pred)} of {len(ids)} {what} files of the split '
            f'are missing, e.g. {missing_pred[:3]}; run inference on this '
            f'split first (or point to the right folder / split).')
    missing_gt = [
        osp.join(gt_dir, f'{i}{gt_ext}') for i in ids
        if not osp.isfile(osp.join(gt_dir, f'{i}{gt_ext}'))
    ]
    if missing_gt:
        raise FileNotFoundError(
            f'{len(missing_gt)} of {len(ids)} ground-truth files are '
            f'missing, e.g. {missing_gt[:3]}; check --gt-dir (VOC: '
            '<data_root>/SegmentationClass) and that the split has '
            'pixel annotations (VOC ImageSets/Segmentation/*.txt).')


def evaluate_pseudo_labels(pred_dir: str,
                           gt_dir: str,
                           ids: Sequence[str],
                           num_classes: int,
                           type: str = 'png',
                           thresholds: Sequence[float] = DEFAULT_BG_THRESHOLDS,
                           bg_threshold: Optional[float] = None,
                           extend_to: Optional[float] = DEFAULT_SWEEP_LIMIT,
                           class_names: Optional[Sequence[str]] = None,
                           ignore_index: int = 255,
                           nan_to_num: Optional[int] = None,
                           logger: Union[MMLogger, str, None] = None,
                           log_curve: bool = True) -> dict:
    """Score pseudo labels or CAM files against ground-truth label PNGs.

    Args:
        pred_dir (str): Folder of ``<id>.png`` pseudo labels (``type='png'``)
            or ``<id>.npz`` CAM files (``type='cam'``, see
            :func:`mmseam.apis.save_cam`). CAM files hold float16 values,
            which are compared with the float32 thresholds as stored.
        gt_dir (str): Folder of ``<id>.png`` ground-truth label maps.
        ids (Sequence[str]): Image ids of the split.
        num_classes (int): Number of classes including background.
        type (str): ``'png'`` or ``'cam'``. Defaults to ``'png'``.
        thresholds (Sequence[float]): Background thresholds swept for CAMs.
            Defaults to 0.00, 0.01, ..., 0.59.
        bg_threshold (float, optional): For CAMs, also report the mIoU at
            this threshold (must be in ``thresholds`` or their extension).
        extend_to (float, optional): When the best threshold is the upper
            edge of ``thresholds``, extend the sweep up to this value (see
            :func:`sweep_grid`); None never extends. Defaults to 0.99.
        class_names (Sequence[str], optional): Names for the table.
        ignore_index (int): Ignored ground-truth value. Defaults to 255.
        nan_to_num (int, optional): See :func:`areas_to_metrics`.
        logger (MMLogger | str, optional): Where to log; ``'silent'`` for
            nothing.
        log_curve (bool): Log the whole curve (CAMs). Defaults to True.

    Returns:
        dict: ``mIoU``, ``aAcc``, ``IoU``, ``Acc`` (see
        :func:`areas_to_metrics`); for CAMs also ``best_bg_threshold``,
        ``curve`` and optionally ``mIoU_at_bg_threshold``
        (see :func:`summarize_sweep`).
    """
    if type not in ('png', 'cam'):
        raise ValueError(f"type must be 'png' or 'cam', got {type!r}.")
    ids = list(ids)
    if not ids:
        raise ValueError('no image ids to evaluate.')
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(f'{len(class_names)} class names for num_classes='
                         f'{num_classes}.')
    ext = '.png' if type == 'png' else '.npz'
    _check_files(ids, pred_dir, ext, gt_dir, '.png',
                 'pseudo-label' if type == 'png' else 'CAM')
    iou_metric = _iou_metric()
    num_base = None
    if type == 'png':
        thresholds = [0.0]  # unused: one "threshold" row
    else:
        thresholds, num_base = sweep_grid(thresholds, extend_to)
    totals = None
    for img_id in ids:
        pred_path = osp.join(pred_dir, f'{img_id}{ext}')
        gt_path = osp.join(gt_dir, f'{img_id}.png')
        gt = torch.from_numpy(load_label_png(gt_path).astype(np.int64))
        if type == 'png':
            pred = load_label_png(pred_path)
            if pred.shape != tuple(gt.shape):
                raise ValueError(f'{pred_path} has size {pred.shape} but '
                                 f'{gt_path} has size {tuple(gt.shape)}.')
            areas = iou_metric.intersect_and_union(
                torch.from_numpy(pred.astype(np.int64)), gt, num_classes,
                ignore_index)
            areas = tuple(a[None] for a in areas)
        else:
            cams, labels = load_cam(pred_path)
            if cams.shape[1:] != tuple(gt.shape):
                raise ValueError(f'{pred_path} has CAM size {cams.shape[1:]}'
                                 f' but {gt_path} has size '
                                 f'{tuple(gt.shape)}; save CAMs at the '
                                 'original image size.')
            if labels.size and labels.max() >= num_classes:
                raise ValueError(f'{pred_path} has class ids {labels} '
                                 f'outside [1, {num_classes - 1}].')
            order = np.argsort(labels, kind='stable')
            areas = sweep_intersect_and_union(
                torch.from_numpy(cams[order]),
                gt,
                num_classes,
                thresholds,
                fg_classes=torch.from_numpy(labels[order]),
                ignore_index=ignore_index)
        totals = list(areas) if totals is None else [
            t + a for t, a in zip(totals, areas)
        ]
    if class_names is None:
        class_names = [str(i) for i in range(num_classes)]
    if type == 'png':
        metrics = areas_to_metrics(tuple(t[0] for t in totals), nan_to_num)
        print_log(
            f'mIoU {metrics["mIoU"]:.2f} over {len(ids)} images',
            logger=logger)
        print_log(
            'per class results:\n' + format_iou_table(class_names, metrics),
            logger=logger)
        return dict(metrics)
    return dict(
        summarize_sweep(
            tuple(totals),
            thresholds,
            class_names=class_names,
            bg_threshold=bg_threshold,
            nan_to_num=nan_to_num,
            logger=logger,
            log_curve=log_curve,
            num_base=num_base))
