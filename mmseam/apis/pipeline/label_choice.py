# Copyright (c) mmseam contributors. All rights reserved.
"""Which pseudo labels stage 2 learns from, by a rule without ground truth.

AffinityNet learns its affinities from the confident pixels of two CRF
label maps: foreground where the low background power (``la``) labels a
class, background where the high power (``ha``) labels background. The
random walk is meant to fill the uncertain band between them; a walk that
overturns many of those confident pixels spreads labels along affinities
that do not hold on the data (docs/pipeline.md, "Stage-2 labels"). The
pipeline measures that agreement on the label split and trains stage 2 on
the random-walk labels only when it is high enough, otherwise on the CRF
labels the walk started from.
"""
import os.path as osp
from typing import Sequence

import numpy as np
from PIL import Image

__all__ = ['MIN_SEED_AGREEMENT', 'seed_agreement', 'choose_stage2_labels']

#: Random-walk labels must keep at least this fraction of the confident
#: CRF pixels (per image, averaged over the split) to be used for stage 2.
MIN_SEED_AGREEMENT = 0.97


def _png(folder: str, img_id: str) -> np.ndarray:
    path = osp.join(folder, f'{img_id}.png')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path}: missing label; run the step that writes {folder} '
            'again (it skips finished images).')
    return np.asarray(Image.open(path))


def seed_agreement(labels_dir: str, la_dir: str, ha_dir: str,
                   ids: Sequence[str]) -> float:
    """Mean per-image fraction of confident CRF pixels a label map keeps.

    For an image with label map ``L`` (H x W class indices), low-power CRF
    labels ``A`` and high-power CRF labels ``B``, the confident pixels are
    ``A > 0`` (foreground, target ``A``) and, elsewhere, ``B == 0``
    (background, target 0); the image's agreement is the fraction of
    confident pixels where ``L`` equals the target (1.0 for an image without
    confident pixels).

    Args:
        labels_dir (str): Folder of ``<id>.png`` label maps to check.
        la_dir (str): Folder of the low-power CRF label PNGs.
        ha_dir (str): Folder of the high-power CRF label PNGs.
        ids (Sequence[str]): Image ids.

    Returns:
        float: The mean agreement over ``ids``, in [0, 1].
    """
    if not ids:
        raise ValueError('seed_agreement: no image ids given.')
    scores = []
    for img_id in ids:
        labels = _png(labels_dir, img_id)
        low, high = _png(la_dir, img_id), _png(ha_dir, img_id)
        fg = low > 0
        confident = fg | (high == 0)
        target = np.where(fg, low, 0)
        count = int(confident.sum())
        kept = int(((labels == target) & confident).sum())
        scores.append(kept / count if count else 1.0)
    return float(np.mean(scores))


def choose_stage2_labels(crf_dir: str, rw_dir: str, la_dir: str, ha_dir: str,
                         ids: Sequence[str],
                         min_agreement: float = MIN_SEED_AGREEMENT) -> dict:
    """Pick the random-walk labels or the CRF labels for stage 2.

    Args:
        crf_dir (str): CRF label PNGs (the power matching the threshold).
        rw_dir (str): Random-walk label PNGs.
        la_dir (str): Low-power CRF label PNGs (AffinityNet's foreground).
        ha_dir (str): High-power CRF label PNGs (AffinityNet's background).
        ids (Sequence[str]): Image ids of the label split.
        min_agreement (float): Least :func:`seed_agreement` of the
            random-walk labels. Defaults to :data:`MIN_SEED_AGREEMENT`.

    Returns:
        dict: ``source`` ('rw' or 'crf'), ``dir`` (its folder),
        ``seed_agreement`` of the random-walk labels and ``min_agreement``.
    """
    agreement = seed_agreement(rw_dir, la_dir, ha_dir, ids)
    use_rw = agreement >= min_agreement
    return dict(
        source='rw' if use_rw else 'crf',
        dir=rw_dir if use_rw else crf_dir,
        seed_agreement=round(agreement, 4),
        min_agreement=min_agreement)
