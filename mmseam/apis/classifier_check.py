# Copyright (c) mmseam contributors. All rights reserved.
"""Which classes a CAM classifier has learned: per-class average precision.

A classifier trained from scratch with global max pooling (the synthetic
stand-in for ImageNet pretraining) can end its schedule with some classes
still unlearned: their scores stay flat while the other classes are named
perfectly. A backbone from such a run starts the CAM baseline and SEAM
without those classes, and their pseudo-label numbers then swing by several
points from one seed to the next. ``tools/run_pipeline.py`` measures this
right after pretraining with :func:`class_average_precision`.
"""
from typing import Optional, Tuple

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.model import is_model_wrapper

__all__ = ['image_label_scores', 'class_average_precision']


def _pool(cam: torch.Tensor, pool: str) -> torch.Tensor:
    fg = cam[:, 1:].flatten(2)
    return fg.amax(-1) if pool == 'max' else fg.mean(-1)


def image_label_scores(model,
                       dataset,
                       pool: Optional[str] = None,
                       batch_size: int = 8) -> Tuple[np.ndarray, np.ndarray]:
    """Image-level class scores of a SEAM-type classifier over a data set.

    Each image goes through ``model(inputs, mode='tensor')`` (eval mode, no
    augmentation); its ``cam`` output (N x C x H x W, channel 0 background)
    is pooled over H x W per foreground class, as ``loss_cls`` pools it in
    training. Consecutive images of one size run as one batch.

    Args:
        model: A :class:`~mmseam.models.SEAM` (or a wrapper of one) with its
            data preprocessor.
        dataset: A data set whose items are packed by ``PackSegClsInputs``
            (data samples with ``img_labels``, a (C-1,) multi-hot vector).
        pool (str, optional): 'max' or 'avg'; defaults to the model's own
            ``cls_pool``.
        batch_size (int): Images per forward pass. Defaults to 8.

    Returns:
        tuple[np.ndarray, np.ndarray]: Scores (N x (C-1), float64) and labels
        (N x (C-1), int64), one row per image in data set order.
    """
    if is_model_wrapper(model):
        model = model.module
    pool = pool or getattr(model, 'cls_pool', 'avg')
    if pool not in ('max', 'avg'):
        raise ValueError(f"pool={pool!r}; use 'max' or 'avg'.")
    if batch_size < 1:
        raise ValueError(f'batch_size={batch_size} must be >= 1.')
    scores, labels = [], []
    was_training = model.training
    model.eval()

    def run(items):
        data = model.data_preprocessor(pseudo_collate(items), False)
        with torch.no_grad():
            cam = model(data['inputs'], mode='tensor')['cam']
        scores.append(_pool(cam.float(), pool).cpu().double())
        for sample in data['data_samples']:
            if 'img_labels' not in sample:
                raise KeyError(
                    f'{sample.metainfo.get("img_path")}: the data sample has '
                    f'no `img_labels`; pack the items with PackSegClsInputs '
                    f'and image-level labels (e.g. VOCClsDataset).')
            labels.append(sample.img_labels.flatten().cpu().long())

    try:
        batch, size = [], None
        for i in range(len(dataset)):
            item = dataset[i]
            item_size = tuple(item['inputs'].shape[-2:])
            if batch and (item_size != size or len(batch) == batch_size):
                run(batch)
                batch = []
            batch.append(item)
            size = item_size
        if batch:
            run(batch)
    finally:
        model.train(was_training)
    if not scores:
        raise ValueError('The data set is empty: no image to score.')
    score = torch.cat(scores).numpy()
    label = torch.stack(labels).numpy()
    if label.shape[1] != score.shape[1]:
        raise ValueError(
            f'The images carry {label.shape[1]} foreground labels but the '
            f'model scores {score.shape[1]} foreground classes: set '
            f'model.num_classes to 1 + {label.shape[1]}.')
    return score, label


def class_average_precision(scores: np.ndarray,
                            labels: np.ndarray) -> np.ndarray:
    """Per-class average precision of image-level scores, in [0, 1].

    Uses MMPretrain's ``AveragePrecision`` (the mean of the precision at
    each positive image in score order). A class with no positive image gets
    ``nan``: there is nothing to rank.

    Args:
        scores (np.ndarray): N x K scores.
        labels (np.ndarray): N x K multi-hot labels.

    Returns:
        np.ndarray: K values.
    """
    from mmpretrain.evaluation import AveragePrecision
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    if scores.shape != labels.shape or scores.ndim != 2:
        raise ValueError(f'scores {scores.shape} and labels {labels.shape} '
                         f'must both be N x K.')
    ap = AveragePrecision.calculate(
        torch.from_numpy(scores), torch.from_numpy(labels.astype(np.int64)),
        average=None).numpy() / 100.0
    ap[labels.sum(0) == 0] = np.nan
    return ap
