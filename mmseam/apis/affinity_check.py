# Copyright (c) mmseam contributors. All rights reserved.
"""How AffinityNet's pair affinities, and the CRF pair labels it learns
from, agree with the ground truth (docs/pipeline.md, "Stage-2 labels").

The ground-truth mask is reduced to the network's cells (``stride x stride``
blocks, :func:`block_labels`: a cell takes the label of at least ``purity``
of its pixels, else it is ignored) and turned into pair labels within the
AffinityNet radius as in training
(:func:`~mmseam.datasets.transforms.affinity.extract_affinity_labels`):
*positive* pairs lie in one region (both background or one class; *object*
pairs: one class), *boundary* pairs in two. Against them:

- the network's affinities (a pair is *cut* when its affinity is below
  ``threshold``): ``boundary_recall`` (boundary pairs cut),
  ``boundary_precision`` (cut pairs that are boundary pairs),
  ``within_recall`` (positive pairs kept) and ``object_recall`` (object
  pairs kept: what lets the walk spread a class over its object);
- the CRF pair labels of training (``AffinityLabelFromCRF`` on the low / high
  power CRF scores): ``label_boundary_coverage`` (boundary pairs labelled
  negative), ``label_object_coverage`` (object pairs labelled positive),
  ``label_negative_precision`` (negative labels on boundary pairs) and
  ``label_positive_precision``.
"""
import os.path as osp
from typing import Dict, Optional

import numpy as np

from mmseam.datasets.transforms.affinity import extract_affinity_labels

__all__ = ['block_labels', 'pair_counts', 'pair_metrics',
           'evaluate_affinity']

_COUNT_KEYS = ('pos', 'neg', 'obj', 'pos_kept', 'obj_kept', 'neg_cut', 'cut',
               'label_neg', 'label_neg_true', 'label_pos', 'label_pos_true',
               'label_obj')


def block_labels(mask: np.ndarray, stride: int, purity: float = 0.75,
                 ignore_index: int = 255) -> np.ndarray:
    """The label of each ``stride x stride`` cell of a mask.

    The mask is padded with ``ignore_index`` at the bottom / right to a
    multiple of ``stride`` (as the image is for the network).

    Args:
        mask (np.ndarray): (H, W) class ids, ``ignore_index`` = unlabelled.
        stride (int): Cell size s.
        purity (float): Least share of a cell's s*s pixels its label must
            hold, in (0.5, 1]; cells below it (mixed, mostly unlabelled)
            get ``ignore_index``. Defaults to 0.75.
        ignore_index (int): Defaults to 255.

    Returns:
        np.ndarray: (ceil(H/s), ceil(W/s)) int64 labels.
    """
    if not 0.5 < purity <= 1:
        raise ValueError(f'purity={purity} must lie in (0.5, 1] (one label '
                         'per cell).')
    mask = np.asarray(mask, dtype=np.int64)
    h, w = mask.shape
    hp, wp = -(-h // stride), -(-w // stride)
    padded = np.full((hp * stride, wp * stride), ignore_index, np.int64)
    padded[:h, :w] = mask
    cells = padded.reshape(hp, stride, wp, stride).transpose(0, 2, 1, 3)
    cells = cells.reshape(hp, wp, stride * stride)
    out = np.full((hp, wp), ignore_index, np.int64)
    for value in np.unique(mask):
        if value == ignore_index:
            continue
        share = (cells == value).mean(-1)
        out[share >= purity] = value
    return out


def pair_counts(gt_cells: np.ndarray,
                radius: int,
                affinity: Optional[np.ndarray] = None,
                label_cells: Optional[np.ndarray] = None,
                threshold: float = 0.5) -> Dict[str, int]:
    """Pair counts of one image (summed over images by the caller).

    Args:
        gt_cells (np.ndarray): (h, w) ground-truth cell labels
            (:func:`block_labels`).
        radius (int): Pair radius (the one the affinities were computed
            with).
        affinity (np.ndarray, optional): (P, h - r + 1, w - 2r + 2) pair
            affinities in the layout of
            :func:`~mmseam.models.segmentors.affinitynet.pair_affinity`.
        label_cells (np.ndarray, optional): (h, w) training cell labels
            (``aff_label`` of ``AffinityLabelFromCRF``; 255 = unlabelled).
        threshold (float): Affinity below which a pair is cut.
            Defaults to 0.5.

    Returns:
        dict: ``pos``, ``neg``, ``obj`` (ground-truth pairs: one region,
        two regions, one object), ``pos_kept``, ``obj_kept``, ``neg_cut``,
        ``cut`` (with ``affinity``), ``label_neg``, ``label_neg_true``,
        ``label_pos``, ``label_pos_true``, ``label_obj`` (with
        ``label_cells``); counts not computed are 0.
    """
    bg_pos, fg_pos, neg = extract_affinity_labels(gt_cells, radius)
    obj, pos, neg = fg_pos > 0, (bg_pos + fg_pos) > 0, neg > 0
    out = dict.fromkeys(_COUNT_KEYS, 0)
    out.update(pos=int(pos.sum()), neg=int(neg.sum()), obj=int(obj.sum()))
    if affinity is not None:
        affinity = np.asarray(affinity)
        if affinity.shape != pos.shape:
            raise ValueError(f'affinity of shape {affinity.shape} does not '
                             f'match the {pos.shape} pairs of a '
                             f'{gt_cells.shape} map at radius {radius}.')
        cut = affinity < threshold
        out.update(
            pos_kept=int((pos & ~cut).sum()),
            obj_kept=int((obj & ~cut).sum()),
            neg_cut=int((neg & cut).sum()),
            cut=int(((pos | neg) & cut).sum()))
    if label_cells is not None:
        l_bg, l_fg, l_neg = extract_affinity_labels(label_cells, radius)
        l_pos, l_neg = (l_bg + l_fg) > 0, l_neg > 0
        out.update(
            label_neg=int((l_neg & (pos | neg)).sum()),
            label_neg_true=int((l_neg & neg).sum()),
            label_pos=int((l_pos & (pos | neg)).sum()),
            label_pos_true=int((l_pos & pos).sum()),
            label_obj=int((l_pos & obj).sum()))
    return out


def pair_metrics(counts: Dict[str, int]) -> Dict[str, Optional[float]]:
    """Recalls and precisions of summed :func:`pair_counts` (None where
    the denominator is 0, and the label metrics None where no pair was
    labelled)."""

    def ratio(a, b):
        return round(counts[a] / counts[b], 4) if counts[b] else None

    # no labelled pair at all: the training labels were not scored
    labelled = counts['label_neg'] + counts['label_pos'] > 0
    return dict(
        boundary_recall=ratio('neg_cut', 'neg'),
        boundary_precision=ratio('neg_cut', 'cut'),
        within_recall=ratio('pos_kept', 'pos'),
        object_recall=ratio('obj_kept', 'obj'),
        label_boundary_coverage=ratio('label_neg_true', 'neg')
        if labelled else None,
        label_object_coverage=ratio('label_obj', 'obj')
        if labelled else None,
        label_negative_precision=ratio('label_neg_true', 'label_neg'),
        label_positive_precision=ratio('label_pos_true', 'label_pos'),
        boundary_pair_share=round(counts['neg'] /
                                  max(counts['neg'] + counts['pos'], 1), 4))


def evaluate_affinity(model,
                      images: Dict[str, str],
                      mask_dir: str,
                      la_dir: Optional[str] = None,
                      ha_dir: Optional[str] = None,
                      stride: int = 8,
                      threshold: float = 0.5,
                      purity: float = 0.75) -> dict:
    """Score an AffinityNet (and its CRF training labels) on images with
    ground-truth masks.

    Args:
        model (nn.Module): An AffinityNet in eval mode (``data_preprocessor``
            and ``predict_affinity``), on its device.
        images (dict): ``{image id: image path}``.
        mask_dir (str): Folder of ``<id>.png`` ground-truth label maps;
            images without one are left out.
        la_dir (str, optional): Low-power CRF score folder; with
            ``ha_dir``, the training labels are scored too.
        ha_dir (str, optional): High-power CRF score folder.
        stride (int): Output stride of the network. Defaults to 8.
        threshold (float): See :func:`pair_counts`. Defaults to 0.5.
        purity (float): See :func:`block_labels`. Defaults to 0.75.

    Returns:
        dict: :func:`pair_metrics` plus ``counts`` and ``images`` (the
        number scored).

    Raises:
        FileNotFoundError: When no image has a mask.
    """
    import mmcv
    import torch
    from PIL import Image

    from mmseam.apis.random_walk import image_pair_affinity

    from mmseam.datasets.transforms.affinity import (AffinityLabelFromCRF,
                                                     LoadCRFScores)
    to_cells = AffinityLabelFromCRF(stride=stride)
    load_crf = LoadCRFScores(la_dir, ha_dir) if la_dir and ha_dir else None
    total = dict.fromkeys(_COUNT_KEYS, 0)
    scored = 0
    for img_id, img_path in images.items():
        mask_path = osp.join(mask_dir, f'{img_id}.png')
        if not osp.isfile(mask_path):
            continue
        scored += 1
        img = mmcv.imread(img_path)  # BGR uint8, as LoadImageFromFile
        with torch.no_grad():
            aff, radius = image_pair_affinity(model, img, stride)
        gt = block_labels(np.asarray(Image.open(mask_path)), stride, purity)
        cells = None
        if load_crf is not None:
            res = load_crf.transform(dict(img=img, img_path=img_path,
                                          img_id=img_id))
            cells = to_cells.transform(res)['aff_label']
        counts = pair_counts(gt, radius, aff[0].float().cpu().numpy(),
                             cells, threshold)
        for key, value in counts.items():
            total[key] += value
    if not scored:
        raise FileNotFoundError(
            f'none of the {len(images)} images has a mask in {mask_dir} '
            '(<id>.png); pass the folder of the ground-truth masks.')
    return dict(pair_metrics(total), counts=total, images=scored)
