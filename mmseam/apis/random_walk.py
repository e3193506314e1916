# Copyright (c) mmseam contributors. All rights reserved.
"""Random-walk propagation of CAMs with AffinityNet affinities.

Official PSA / SEAM ``infer_aff.py``: the CAM scores (background
``(1 - max_c cam_c)^alpha`` + class CAMs) are zero-padded to a multiple of
the stride, average-pooled by the stride, and propagated with the
transition matrix ``T = A^beta / colsum(A^beta)`` raised to the power
``2^logt`` (``cam_rw = cam_vec @ T^(2^logt)``), then bilinearly upsampled
by the stride, cropped and arg-maxed.

Two equal ways to propagate:

* ``'dense'``: the official one; builds the (hw, hw) matrix and squares it
  ``logt`` times (O(logt * (hw)^3) time, O((hw)^2) memory).
* ``'sparse'``: ``2^logt`` banded vector-matrix products that only touch
  the pairs within the radius (O(2^logt * P * K * hw) time, O(P * hw)
  memory); the default for maps larger than ``dense_max_hw`` pixels.

Presets: SEAM (``alpha=6, beta=8, logt=6``, the defaults) and PSA
(``RW_PRESETS['psa']``: ``alpha=16, beta=8, logt=8``).
"""
import math
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmseam.models.segmentors.affinitynet import (effective_radius,
                                                  get_pair_offsets,
                                                  pair_affinity, pair_regions,
                                                  pairs_to_dense)
from mmseam.utils.misc import source_path

__all__ = [
    'RW_PRESETS', 'random_walk', 'random_walk_with_model', 'propagate',
    'image_pair_affinity',
    'rw_input_scores', 'banded_vecmat', 'radius_from_num_pairs'
]

_FILE = source_path(__name__)
#: 'auto' goes dense up to this many pixels of the feature map, per device
#: type (tools/benchmark.py --what rw: on an H100 the dense path is ~10x
#: faster than the banded one for a 47 x 63 map; on the CPU the banded one
#: wins above ~1000 pixels).
DENSE_MAX_HW = dict(cpu=1024, cuda=8192)

#: Official random-walk hyper-parameters.
RW_PRESETS: Dict[str, Dict[str, float]] = dict(
    seam=dict(alpha=6, beta=8, logt=6), psa=dict(alpha=16, beta=8, logt=8))

ArrayLike = Union[np.ndarray, Tensor]


def radius_from_num_pairs(num_pairs: int) -> int:
    """Radius whose offset set (:func:`get_pair_offsets`) has ``num_pairs``.

    Args:
        num_pairs (int): Number of pair offsets P (e.g. 34).

    Returns:
        int: The radius (e.g. 5); 1 for P = 0.
    """
    radius = 1
    while len(get_pair_offsets(radius)) < num_pairs:
        radius += 1
    if len(get_pair_offsets(radius)) != num_pairs:
        raise ValueError(f'{_FILE}: no radius has {num_pairs} pair offsets; '
                         f'the pair affinities must come from '
                         f'pair_affinity / AffinityNet.predict_affinity.')
    return radius


def banded_vecmat(v: Tensor, aff: Tensor, radius: int) -> Tensor:
    """``v @ A`` for the banded symmetric affinity ``A`` (diagonal 1).

    ``A`` is the matrix of :func:`pairs_to_dense` (pairs within ``radius``
    plus the identity), never built: one shifted slice product per offset
    and direction.

    Args:
        v (Tensor): Row vectors as maps, (N, K, h, w).
        aff (Tensor): Pair affinities (N, P, h', w') of the (h, w) map.
        radius (int): Radius of ``aff``.

    Returns:
        Tensor: ``v @ A`` as maps, (N, K, h, w).
    """
    h, w = v.shape[-2:]
    src, dsts = pair_regions(h, w, radius)
    out = v.clone()
    v_src = v[..., src[0], src[1]]
    out_src = out[..., src[0], src[1]]
    for k, (ys, xs) in enumerate(dsts):
        a = aff[:, k:k + 1]
        out[..., ys, xs] += v_src * a
        out_src += v[..., ys, xs] * a
    return out


def rw_input_scores(cams: Tensor, alpha: float, stride: int = 8) -> Tensor:
    """Random-walk input: background + CAMs, padded and average-pooled.

    Args:
        cams (Tensor): Class CAMs in [0, 1], (K, H, W) (K may be 0).
        alpha (float): Background power: ``bg = (1 - max_k cam_k)^alpha``.
        stride (int): Pooling stride. Defaults to 8.

    Returns:
        Tensor: (1 + K, ceil(H/stride), ceil(W/stride)) pooled scores;
        channel 0 is the background. The padded area counts as 0 in every
        channel (as the official code, which pads after computing bg).
    """
    k, h, w = cams.shape
    if k:
        cam_max = cams.amax(dim=0).clamp(min=0)
    else:
        cam_max = cams.new_zeros(h, w)
    bg = (1 - cam_max).pow(alpha)
    scores = torch.cat([bg[None], cams], dim=0)
    pad_h = math.ceil(h / stride) * stride - h
    pad_w = math.ceil(w / stride) * stride - w
    scores = F.pad(scores, (0, pad_w, 0, pad_h))
    return F.avg_pool2d(scores[None], stride, stride)[0]


def propagate(scores: Tensor,
              affinity: Tensor,
              beta: float = 8,
              logt: int = 6,
              radius: Optional[int] = None,
              method: str = 'auto',
              dense_max_hw: Optional[int] = None) -> Tensor:
    """Propagate score maps: ``v @ T^(2^logt)`` with
    ``T = A^beta / colsum(A^beta)``.

    Args:
        scores (Tensor): Score maps (N, K, h, w).
        affinity (Tensor): Either dense (N, h*w, h*w) (symmetric, diagonal
            1) or pair affinities (N, P, h', w') of the (h, w) map.
        beta (float): Affinity power. Defaults to 8.
        logt (int): log2 of the number of steps. Defaults to 6.
        radius (int, optional): Radius of pair affinities (inferred from P
            if None).
        method (str): 'dense' (square the dense T ``logt`` times, official),
            'sparse' (2^logt banded products) or 'auto' (dense when
            ``h*w <= dense_max_hw``). A dense ``affinity`` always uses the
            dense path. Defaults to 'auto'.
        dense_max_hw (int, optional): Largest h*w for which 'auto' goes
            dense. Defaults to 1024 on the CPU and 8192 on a GPU (where the
            dense squarings run ~10x faster than the banded products for a
            VOC-sized 47 x 63 map; 8192^2 fp32 is 256 MiB a matrix).

    Returns:
        Tensor: Propagated scores (N, K, h, w).
    """
    if method not in ('auto', 'dense', 'sparse'):
        raise ValueError(f"{_FILE}: method must be 'auto', 'dense' or "
                         f"'sparse', got {method!r}.")
    if logt < 0:
        raise ValueError(f'{_FILE}: logt must be >= 0, got {logt}.')
    n, k, h, w = scores.shape
    hw = h * w
    dense_in = affinity.dim() == 3 and tuple(affinity.shape[-2:]) == (hw, hw)
    if not dense_in and affinity.dim() == 4:
        if radius is None:
            radius = radius_from_num_pairs(affinity.size(1))
        src, dsts = pair_regions(h, w, radius)
        want = (n, len(dsts), src[0].stop - src[0].start,
                src[1].stop - src[1].start)
        if tuple(affinity.shape) != want:
            raise ValueError(
                f'{_FILE}: pair affinities {tuple(affinity.shape)} do not '
                f'match scores {tuple(scores.shape)} with radius {radius} '
                f'(expected {want}); the CAM must be pooled to the '
                f'affinity feature size.')
    elif not dense_in:
        raise ValueError(
            f'{_FILE}: affinity must be dense (N, {hw}, {hw}) or pair '
            f'affinities (N, P, h\', w\'), got {tuple(affinity.shape)} for '
            f'scores {tuple(scores.shape)}.')
    if affinity.size(0) != n:
        raise ValueError(f'{_FILE}: batch sizes of scores ({n}) and '
                         f'affinity ({affinity.size(0)}) differ.')
    affinity = affinity.to(scores.dtype).pow(beta)
    if dense_max_hw is None:
        dense_max_hw = DENSE_MAX_HW['cuda' if scores.is_cuda else 'cpu']
    use_dense = dense_in or method == 'dense' or (method == 'auto'
                                                  and hw <= dense_max_hw)
    if use_dense:
        mat = affinity if dense_in else pairs_to_dense(affinity, h, w, radius)
        trans = mat / mat.sum(dim=1, keepdim=True)
        for _ in range(logt):
            trans = torch.bmm(trans, trans)
        return torch.bmm(scores.reshape(n, k, hw), trans).reshape(n, k, h, w)
    degree = banded_vecmat(scores.new_ones(n, 1, h, w), affinity, radius)
    v = scores
    for _ in range(2**logt):
        v = banded_vecmat(v, affinity, radius) / degree
    return v


def _as_tensor(x: ArrayLike, device: torch.device) -> Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    return x.to(device)


def _sorted_channels(cams: Tensor,
                     labels: Optional[Sequence[int]]) -> Tuple[Tensor, Tensor]:
    """The (K, H, W) CAMs in increasing class order and the class id of
    every walk channel, (1 + K,) with the background's 0 first."""
    k = cams.shape[0]
    if labels is None:
        labels = list(range(1, k + 1))
    labels = torch.as_tensor(np.asarray(labels, dtype=np.int64).reshape(-1))
    if labels.numel() != k or (labels <= 0).any() or len(set(
            labels.tolist())) != k:
        raise ValueError(
            f'{_FILE}: labels {labels.tolist()} must be {k} distinct class '
            f'ids >= 1, one per CAM channel.')
    order = torch.argsort(labels)
    cams, labels = cams[order.to(cams.device)], labels[order]
    return cams, torch.cat([labels.new_zeros(1), labels]).to(cams.device)


def _affinity_input(affinity: ArrayLike, device: torch.device, hw: int,
                    radius: int) -> Tuple[Tensor, int]:
    """A given affinity as :func:`propagate` takes it: dense (1, hw, hw) or
    pairs (1, P, h', w'), with the radius of the pairs."""
    aff = _as_tensor(affinity, device).float()
    if aff.dim() == 2:  # dense (hw, hw)
        aff = aff[None]
    elif aff.dim() == 3 and tuple(aff.shape) != (1, hw, hw):
        aff = aff[None]  # pairs (P, h', w')
    if aff.dim() == 4:
        radius = radius_from_num_pairs(aff.size(1))
    elif aff.dim() != 3:
        raise ValueError(f'{_FILE}: unsupported affinity shape '
                         f'{tuple(affinity.shape)}.')
    return aff, radius


def random_walk(
    cams: ArrayLike,
    labels: Optional[Sequence[int]] = None,
    affinity: Optional[Tensor] = None,
    features: Optional[Tensor] = None,
    alpha: float = 6,
    beta: float = 8,
    logt: int = 6,
    radius: int = 5,
    stride: int = 8,
    method: str = 'auto',
    dense_max_hw: Optional[int] = None,
    device: Optional[Union[str, torch.device]] = None,
    return_scores: bool = False
) -> Union[Tensor, Tuple[Tensor, Tensor, Tensor]]:
    """Random-walk refinement of one image's CAMs into a label map.

    Official SEAM / PSA maths: ``bg = (1 - max_k cam_k)^alpha``; pad
    (bg, cams) with zeros to a multiple of ``stride``; ``avg_pool(stride)``;
    propagate with ``T = A^beta / colsum(A^beta)``, ``T^(2^logt)``;
    bilinear upsample (``align_corners=False``) to the padded size; crop;
    argmax; channel -> class id.

    Args:
        cams (np.ndarray | Tensor): Class CAMs in [0, 1], (K, H, W), one per
            present class (K may be 0).
        labels (Sequence[int], optional): Class id of each CAM channel
            (1..num_classes-1). Defaults to ``1..K``.
        affinity (Tensor, optional): Affinity of the (h, w) = (ceil(H/s),
            ceil(W/s)) map: dense (h*w, h*w) or pair affinities (P, h', w')
            (a leading batch dim of 1 is allowed), e.g. from
            ``AffinityNet.dense_affinity`` / ``predict_affinity``.
        features (Tensor, optional): AffinityNet features (C, h, w) or
            (1, C, h, w) to compute the affinity from (radius shrunk on
            small maps as officially). Give exactly one of ``affinity`` and
            ``features``.
        alpha (float): Background power. Defaults to 6 (SEAM; PSA 16).
        beta (float): Affinity power. Defaults to 8.
        logt (int): log2 of the number of walk steps. Defaults to 6 (SEAM;
            PSA 8).
        radius (int): Radius of ``features`` pairs / fallback for pair
            affinities. Defaults to 5.
        stride (int): Output stride of the affinity. Defaults to 8.
        method (str): 'auto', 'dense' or 'sparse', see :func:`propagate`.
        dense_max_hw (int, optional): 'auto' threshold, see
            :func:`propagate`.
        device (str | torch.device, optional): Where to compute. Defaults
            to the device of ``affinity`` / ``features``.
        return_scores (bool): Also return the walked scores and the class
            ids of their channels. Defaults to False.

    Returns:
        Tensor | tuple: Label map (H, W) int64 of class ids (0 =
        background) on ``device``; with ``return_scores`` also the scores
        (1 + K, H, W) and the channel class ids (1 + K,) (sorted, first 0).
    """
    if (affinity is None) == (features is None):
        raise ValueError(f'{_FILE}: give exactly one of `affinity` and '
                         f'`features`.')
    ref = affinity if affinity is not None else features
    device = torch.device(device) if device is not None else ref.device
    cams = _as_tensor(cams, device).float()
    if cams.dim() != 3:
        raise ValueError(f'{_FILE}: cams must be (K, H, W), got '
                         f'{tuple(cams.shape)}.')
    k, h, w = cams.shape
    cams, class_ids = _sorted_channels(cams, labels)
    scores = rw_input_scores(cams, alpha, stride)
    fh, fw = scores.shape[-2:]
    if features is not None:
        feat = _as_tensor(features, device).float()
        feat = feat[None] if feat.dim() == 3 else feat
        if tuple(feat.shape[-2:]) != (fh, fw):
            raise ValueError(
                f'{_FILE}: features are {tuple(feat.shape[-2:])} but the '
                f'CAM of a {h}x{w} image pooled by {stride} is {(fh, fw)}; '
                f'run AffinityNet on the image zero-padded to a multiple of '
                f'{stride}.')
        radius = effective_radius(fh, fw, radius)
        aff = pair_affinity(feat, radius)
    else:
        aff, radius = _affinity_input(affinity, device, fh * fw, radius)
    walked = propagate(
        scores[None],
        aff,
        beta=beta,
        logt=logt,
        radius=radius,
        method=method,
        dense_max_hw=dense_max_hw)
    walked = F.interpolate(
        walked, (fh * stride, fw * stride),
        mode='bilinear',
        align_corners=False)[0, :, :h, :w]
    label_map = class_ids[walked.argmax(dim=0)]
    if return_scores:
        return label_map, walked, class_ids
    return label_map


@torch.no_grad()
def image_pair_affinity(model: torch.nn.Module, img: np.ndarray,
                        stride: int = 8) -> Tuple[Tensor, int]:
    """AffinityNet's pair affinities of one image, as official
    ``infer_aff.py`` computes them: the *normalised* image zero-padded at the
    bottom / right to a multiple of ``stride``.

    Args:
        model (nn.Module): An AffinityNet (``data_preprocessor`` and
            ``predict_affinity``).
        img (np.ndarray): (H, W, 3) uint8 image as ``LoadImageFromFile``
            loads it (BGR).
        stride (int): Output stride of the model. Defaults to 8.

    Returns:
        tuple[Tensor, int]: Pair affinities (1, P, h', w') of the padded
        image and the radius (see ``AffinityNet.predict_affinity``).
    """
    h, w = img.shape[:2]
    inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
    data = model.data_preprocessor(dict(inputs=[inputs]), False)
    inputs = data['inputs']
    pad_h = math.ceil(h / stride) * stride - h
    pad_w = math.ceil(w / stride) * stride - w
    inputs = F.pad(inputs, (0, pad_w, 0, pad_h))
    return model.predict_affinity(inputs)


def random_walk_with_model(
    model: torch.nn.Module,
    img: np.ndarray,
    cams: ArrayLike,
    labels: Optional[Sequence[int]] = None,
    alpha: float = 6,
    beta: float = 8,
    logt: int = 6,
    stride: int = 8,
    method: str = 'auto',
    dense_max_hw: Optional[int] = None,
    return_scores: bool = False
) -> Union[Tensor, Tuple[Tensor, Tensor, Tensor]]:
    """Run an AffinityNet on one image and random-walk its CAMs.

    As official ``infer_aff.py``: single scale, the *normalised* image is
    zero-padded at the bottom / right to a multiple of ``stride``, the pair
    affinities of the padded image are used for :func:`random_walk`.

    Args:
        model (nn.Module): An :class:`~mmseam.models.AffinityNet` (with a
            ``data_preprocessor`` and ``predict_affinity``), in eval mode.
        img (np.ndarray): The image, (H, W, 3) uint8 as loaded by
            ``LoadImageFromFile`` (BGR; the data preprocessor converts).
        cams (np.ndarray | Tensor): CAMs (K, H, W) in [0, 1].
        labels (Sequence[int], optional): Class ids of the CAM channels.
        alpha (float): Background power. Defaults to 6.
        beta (float): Affinity power. Defaults to 8.
        logt (int): log2 of the number of steps. Defaults to 6.
        stride (int): Output stride of the model. Defaults to 8.
        method (str): 'auto', 'dense' or 'sparse' (see :func:`propagate`).
        dense_max_hw (int, optional): 'auto' threshold, see
            :func:`propagate`.
        return_scores (bool): See :func:`random_walk`.

    Returns:
        Tensor | tuple: As :func:`random_walk` (on the model's device).
    """
    h, w = img.shape[:2]
    if tuple(np.shape(cams)[1:]) != (h, w):
        raise ValueError(
            f'{_FILE}: CAMs of size {tuple(np.shape(cams)[1:])} do not match '
            f'the {h}x{w} image; CAMs must be saved at the original image '
            f'size.')
    aff, radius = image_pair_affinity(model, img, stride)
    return random_walk(
        cams,
        labels,
        affinity=aff[0],
        alpha=alpha,
        beta=beta,
        logt=logt,
        radius=radius,
        stride=stride,
        method=method,
        dense_max_hw=dense_max_hw,
        device=aff.device,
        return_scores=return_scores)
