# Copyright (c) mmseam contributors. All rights reserved.
"""AffinityNet (Ahn & Kwak, "Learning Pixel-level Semantic Affinity with
Image-level Supervision", CVPR 2018, https://arxiv.org/abs/1803.10464), as
used by the random-walk stage of SEAM.

Pair geometry (shared by the affinity-label transforms, the model and the
random walk): the pairs of a feature map of size (h, w) with radius ``r``
are the directed offsets ``(dy, dx)`` of :func:`get_pair_offsets` (a half
disc, so every undirected pair appears once), taken from every *source*
pixel of the region ``rows [0, h - r + 1), cols [r - 1, w - r + 1)`` (the
official "from" crop). A pair map therefore has shape
``(P, h - (r - 1), w - 2 (r - 1))`` with ``P = len(get_pair_offsets(r))``
(34 for r = 5), offset-major, in the official order.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import Tensor

from mmseam.models.utils.projection import (build_projections,
                                            official_projection_init)
from mmseam.utils.misc import source_path

__all__ = [
    'AffinityNet', 'get_pair_offsets', 'effective_radius', 'pair_regions',
    'pair_affinity', 'pairs_to_dense'
]

_FILE = source_path(__name__)

Region = Tuple[slice, slice]


def get_pair_offsets(radius: int = 5) -> List[Tuple[int, int]]:
    """Directed pair offsets within a radius, in the official order.

    First ``(0, 1), ..., (0, radius - 1)``, then for ``dy = 1 .. radius - 1``
    and ``dx = -(radius - 1) .. radius - 1`` every ``(dy, dx)`` with
    ``dx^2 + dy^2 < radius^2`` (PSA / SEAM ``ExtractAffinityLabelInRadius``
    and ``get_indices_of_pairs``). For ``radius=5`` these are 34 offsets.

    Args:
        radius (int): Neighbourhood radius (exclusive). Defaults to 5.

    Returns:
        list[tuple[int, int]]: ``(dy, dx)`` offsets; empty for radius <= 1.
    """
    if radius < 0:
        raise ValueError(f'{_FILE}: radius must be >= 0, got {radius}.')
    offsets = [(0, dx) for dx in range(1, radius)]
    for dy in range(1, radius):
        for dx in range(-radius + 1, radius):
            if dx * dx + dy * dy < radius * radius:
                offsets.append((dy, dx))
    return offsets


def effective_radius(height: int, width: int, radius: int = 5) -> int:
    """Radius used for a feature map, shrunk on small maps as officially.

    The official network uses ``(min(h, w) - 1) // 2`` when
    ``min(h, w) < 2 * radius + 1`` (never less than 1 here, where the
    official code would fail).

    Args:
        height (int): Feature map height h.
        width (int): Feature map width w.
        radius (int): Requested radius. Defaults to 5.

    Returns:
        int: The radius to use (>= 1; 1 means no pairs).
    """
    min_edge = min(height, width)
    if min_edge < 2 * radius + 1:
        radius = (min_edge - 1) // 2
    return max(int(radius), 1)


def pair_regions(height: int,
                 width: int,
                 radius: int = 5) -> Tuple[Region, List[Region]]:
    """Slices of the source region and of each offset's target region.

    Args:
        height (int): Map height h.
        width (int): Map width w.
        radius (int): Radius of the pairs (not shrunk here).

    Returns:
        tuple: ``(src, dsts)``; ``src`` = (row slice, col slice) of the
        source pixels, shape (h', w') = (h - r + 1, w - 2r + 2); ``dsts`` =
        one (row slice, col slice) per offset of
        :func:`get_pair_offsets`, each of the same shape (h', w'), such that
        ``x[..., dsts[k][0], dsts[k][1]]`` is the partner of
        ``x[..., src[0], src[1]]`` under offset k.
    """
    radius = max(int(radius), 1)
    rf = radius - 1
    out_h, out_w = height - rf, width - 2 * rf
    if out_h <= 0 or out_w <= 0:
        raise ValueError(
            f'{_FILE}: a {height}x{width} map is too small for pairs of '
            f'radius {radius} (needs h >= {radius}, w >= {2 * rf + 1}); use '
            f'a larger input or a smaller radius (see effective_radius).')
    src = (slice(0, out_h), slice(rf, rf + out_w))
    dsts = [(slice(dy, dy + out_h), slice(rf + dx, rf + dx + out_w))
            for dy, dx in get_pair_offsets(radius)]
    return src, dsts


def pair_affinity(feat: Tensor, radius: int = 5) -> Tensor:
    """Pair affinities ``a_ij = exp(-mean_c |f_i - f_j|)`` within a radius.

    Vectorised with shifted slices (one slice per offset).

    Args:
        feat (Tensor): Pixel embeddings of shape (N, C, h, w).
        radius (int): Pair radius (used as given; shrink it beforehand with
            :func:`effective_radius` if needed). Defaults to 5.

    Returns:
        Tensor: Pair affinities of shape (N, P, h', w') in (0, 1], see the
        module docstring for the layout.
    """
    if feat.dim() != 4:
        raise ValueError(f'{_FILE}: `feat` must be (N, C, h, w), got '
                         f'{tuple(feat.shape)}.')
    n, _, h, w = feat.shape
    src, dsts = pair_regions(h, w, radius)
    f_src = feat[:, :, src[0], src[1]]
    if not dsts:
        return feat.new_zeros((n, 0) + tuple(f_src.shape[-2:]))
    affs = [
        torch.exp(-torch.mean(torch.abs(feat[:, :, ys, xs] - f_src), dim=1))
        for ys, xs in dsts
    ]
    return torch.stack(affs, dim=1)


def pairs_to_dense(aff: Tensor,
                   height: int,
                   width: int,
                   radius: int = 5) -> Tensor:
    """Dense symmetric affinity matrix from pair affinities.

    Same matrix as the official ``forward(x, to_dense=True)``: entry
    ``(i, j)`` (row-major pixel indices of the (h, w) map) holds the pair
    affinity of ``i`` and ``j`` when the pair is in the pair set, the
    diagonal is 1, everything else 0.

    Args:
        aff (Tensor): Pair affinities (N, P, h', w') (or (P, h', w')).
        height (int): Map height h.
        width (int): Map width w.
        radius (int): Radius the pairs were computed with.

    Returns:
        Tensor: Dense affinities of shape (N, h*w, h*w) (or (h*w, h*w) for
        an unbatched input).
    """
    unbatched = aff.dim() == 3
    if unbatched:
        aff = aff[None]
    src, dsts = pair_regions(height, width, radius)
    n, p = aff.shape[:2]
    if p != len(dsts) or tuple(aff.shape[-2:]) != (src[0].stop - src[0].start,
                                                   src[1].stop - src[1].start):
        raise ValueError(
            f'{_FILE}: pair affinities of shape {tuple(aff.shape)} do not '
            f'match a {height}x{width} map with radius {radius} '
            f'({len(dsts)} offsets).')
    hw = height * width
    index = torch.arange(hw, device=aff.device).view(height, width)
    src_idx = index[src[0], src[1]].reshape(-1)
    dense = aff.new_zeros(n, hw, hw)
    diag = torch.arange(hw, device=aff.device)
    dense[:, diag, diag] = 1
    for k, (ys, xs) in enumerate(dsts):
        dst_idx = index[ys, xs].reshape(-1)
        vals = aff[:, k].reshape(n, -1)
        dense[:, src_idx, dst_idx] = vals
        dense[:, dst_idx, src_idx] = vals
    return dense[0] if unbatched else dense


@MODELS.register_module()
class AffinityNet(BaseModel):
    """AffinityNet: predicts semantic affinities between nearby pixels.

    Backbone taps ``in_index`` are projected by bias-free 1x1 convs + ELU
    (``proj``; official ``f8_3, f8_4, f8_5``), concatenated and fused by a
    bias-free 1x1 conv + ELU (``fuse``; official ``f9``). The affinity of
    two pixels within ``radius`` is ``exp(-mean_c |f_i - f_j|)``. The
    backbone features are *not* detached (the backbone is fine-tuned).

    Official init: ``kaiming_normal_`` for ``proj``, ``xavier_uniform_``
    with gain 4 for ``fuse`` (used when ``init_cfg`` is None; the
    backbone's own ``init_cfg`` loads its pretrained weights).

    Args:
        backbone (dict): Backbone config; must return a tuple of feature
            maps of equal spatial size at the indices ``in_index``.
        in_channels (Sequence[int]): Channels of the used backbone taps.
            Defaults to (512, 1024, 4096) (ResNet38d conv4, conv5, conv6).
        proj_channels (Sequence[int]): Output channels of ``proj``.
            Defaults to (64, 128, 256).
        out_channels (int): Output channels of ``fuse``. Defaults to 448.
        in_index (Sequence[int]): Indices of the taps in the backbone
            output. Defaults to (1, 2, 3).
        radius (int): Pair radius. Defaults to 5 (34 offsets).
        loss_aff (dict): Config of the loss. Defaults to
            ``dict(type='AffinityLoss')``.
        data_preprocessor (dict, optional): Data preprocessor config, e.g.
            ``SegDataPreProcessor``.
        train_cfg (dict, optional): Unused, kept for config compatibility.
        test_cfg (dict, optional): Unused, kept for config compatibility.
        pretrained (str, optional): Backbone checkpoint (mmseg style;
            prefer the backbone's ``init_cfg``). Defaults to None.
        init_cfg (dict | list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 in_channels: Sequence[int] = (512, 1024, 4096),
                 proj_channels: Sequence[int] = (64, 128, 256),
                 out_channels: int = 448,
                 in_index: Sequence[int] = (1, 2, 3),
                 radius: int = 5,
                 loss_aff: dict = dict(type='AffinityLoss'),
                 data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if pretrained is not None:
            backbone = dict(
                backbone,
                init_cfg=dict(type='Pretrained', checkpoint=pretrained))
        in_channels = tuple(in_channels)
        proj_channels = tuple(proj_channels)
        in_index = tuple(in_index)
        if not len(in_channels) == len(proj_channels) == len(in_index) > 0:
            raise ValueError(
                f'{_FILE}: AffinityNet `in_channels` {in_channels}, '
                f'`proj_channels` {proj_channels} and `in_index` {in_index} '
                f'must be non-empty and of the same length (one entry per '
                f'backbone tap).')
        if radius < 2:
            raise ValueError(f'{_FILE}: AffinityNet `radius` must be >= 2, '
                             f'got {radius}.')
        self.backbone = MODELS.build(backbone)
        self.in_channels = in_channels
        self.proj_channels = proj_channels
        self.out_channels = out_channels
        self.in_index = in_index
        self.radius = int(radius)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self.proj, self.fuse = build_projections(
            in_channels, proj_channels, sum(proj_channels), out_channels)
        self.loss_aff = MODELS.build(loss_aff)
        if init_cfg is None:
            self._official_init()

    def _official_init(self) -> None:
        official_projection_init(self.proj, self.fuse)

    @property
    def num_pairs(self) -> int:
        """int: Number of pair offsets P at the full radius."""
        return len(get_pair_offsets(self.radius))

    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """Run the backbone.

        Args:
            inputs (Tensor): Normalised images (N, 3, H, W).

        Returns:
            tuple[Tensor]: Backbone outputs.
        """
        return tuple(self.backbone(inputs))

    def _forward(self,
                 inputs: Tensor,
                 data_samples: Optional[List[SegDataSample]] = None) -> Tensor:
        """Compute the pixel embeddings.

        Args:
            inputs (Tensor): Normalised images (N, 3, H, W).
            data_samples (list[SegDataSample], optional): Unused.

        Returns:
            Tensor: Affinity features of shape (N, out_channels, h, w)
            (h, w = the backbone tap size, H/8 x W/8 for ResNet38d).
        """
        feats = self.extract_feat(inputs)
        parts = []
        size = None
        for k, (idx, conv) in enumerate(zip(self.in_index, self.proj)):
            feat = feats[idx]
            if feat.size(1) != self.in_channels[k]:
                raise ValueError(
                    f'{_FILE}: backbone output {idx} has {feat.size(1)} '
                    f'channels but `in_channels[{k}]` is '
                    f'{self.in_channels[k]}; fix `in_channels`/`in_index` '
                    f'in the AffinityNet config.')
            if size is None:
                size = feat.shape[-2:]
            elif feat.shape[-2:] != size:
                raise ValueError(
                    f'{_FILE}: backbone outputs {self.in_index} differ in '
                    f'size ({tuple(size)} vs {tuple(feat.shape[-2:])}); '
                    f'AffinityNet needs taps of one output stride.')
            parts.append(F.elu(conv(feat)))
        return F.elu(self.fuse(torch.cat(parts, dim=1)))

    def pair_radius(self, height: int, width: int) -> int:
        """Radius used for an (h, w) feature map (official shrink rule).

        Args:
            height (int): Feature height h.
            width (int): Feature width w.

        Returns:
            int: The effective radius.
        """
        return effective_radius(height, width, self.radius)

    def predict_affinity(self, inputs: Tensor) -> Tuple[Tensor, int]:
        """Pair affinities (banded form) for the random walk.

        Args:
            inputs (Tensor): Normalised images (N, 3, H, W).

        Returns:
            tuple[Tensor, int]: Pair affinities (N, P, h', w') and the radius
            r used (see :func:`pair_regions`; the map size is the feature
            size (h, w) = (h' + r - 1, w' + 2r - 2)).
        """
        feat = self._forward(inputs)
        radius = self.pair_radius(*feat.shape[-2:])
        return pair_affinity(feat, radius), radius

    def dense_affinity(self, inputs: Tensor) -> Tensor:
        """Dense symmetric affinity matrix (official ``to_dense=True``).

        Args:
            inputs (Tensor): Normalised images (N, 3, H, W).

        Returns:
            Tensor: (N, h*w, h*w) with 1 on the diagonal, the pair
            affinities within the radius, 0 elsewhere.
        """
        feat = self._forward(inputs)
        h, w = feat.shape[-2:]
        radius = self.pair_radius(h, w)
        return pairs_to_dense(pair_affinity(feat, radius), h, w, radius)

    def _stack_labels(self, data_samples: List[SegDataSample], key: str,
                      ref: Tensor) -> Tensor:
        labels = []
        for i, sample in enumerate(data_samples):
            if key not in sample:
                raise KeyError(
                    f'{_FILE}: data sample {i} has no `{key}`; the training '
                    f'pipeline must end with ExtractAffinityLabels and '
                    f'PackAffinityInputs (mmseam/datasets/transforms/'
                    f'affinity.py).')
            labels.append(sample.get(key))
        labels = torch.stack(labels).to(device=ref.device, dtype=ref.dtype)
        if labels.shape != ref.shape:
            raise ValueError(
                f'{_FILE}: `{key}` has shape {tuple(labels.shape)} but the '
                f'predicted pair affinities have {tuple(ref.shape)}; the '
                f'label stride/radius (ExtractAffinityLabels, '
                f'AffinityLabelFromCRF) must match the backbone output '
                f'stride and the model radius ({self.radius}).')
        return labels

    def loss(self, inputs: Tensor,
             data_samples: List[SegDataSample]) -> Dict[str, Tensor]:
        """Compute the affinity loss.

        Args:
            inputs (Tensor): Normalised images (N, 3, H, W).
            data_samples (list[SegDataSample]): Each with the pair labels
                ``aff_bg_pos``, ``aff_fg_pos``, ``aff_neg`` of shape
                (P, h', w') (from ``PackAffinityInputs``).

        Returns:
            dict[str, Tensor]: ``loss_aff`` (the weighted total; key =
            ``loss_aff.loss_name``) plus the logged, not back-propagated
            parts ``aff_bg``, ``aff_fg``, ``aff_neg`` and pair counts
            ``aff_bg_cnt``, ``aff_fg_cnt``, ``aff_neg_cnt``.
        """
        feat = self._forward(inputs)
        aff = pair_affinity(feat, self.radius)
        bg_pos = self._stack_labels(data_samples, 'aff_bg_pos', aff)
        fg_pos = self._stack_labels(data_samples, 'aff_fg_pos', aff)
        neg = self._stack_labels(data_samples, 'aff_neg', aff)
        terms = self.loss_aff.terms(aff, bg_pos, fg_pos, neg)
        losses = {self.loss_aff.loss_name: self.loss_aff.combine(terms)}
        for name in ('bg', 'fg', 'neg'):
            losses[f'aff_{name}'] = terms[name].detach()
            losses[f'aff_{name}_cnt'] = terms[f'{name}_count']
        return losses

    def predict(
        self,
        inputs: Tensor,
        data_samples: Optional[List[SegDataSample]] = None
    ) -> List[SegDataSample]:
        """Attach the affinity features to the data samples.

        Args:
            inputs (Tensor): Normalised images (N, 3, H, W).
            data_samples (list[SegDataSample], optional): Samples to fill;
                new ones are created if None.

        Returns:
            list[SegDataSample]: Each with ``aff_feat`` (out_channels, h, w).
        """
        feat = self._forward(inputs)
        if data_samples is None:
            data_samples = [SegDataSample() for _ in range(feat.size(0))]
        for sample, f in zip(data_samples, feat):
            sample.set_data(dict(aff_feat=f))
        return data_samples

    def forward(
        self,
        inputs: Tensor,
        data_samples: Optional[List[SegDataSample]] = None,
        mode: str = 'tensor'
    ) -> Union[Dict[str, Tensor], Tensor, List[SegDataSample]]:
        """Dispatch to :meth:`loss`, :meth:`predict` or :meth:`_forward`.

        Args:
            inputs (Tensor): Normalised images (N, 3, H, W).
            data_samples (list[SegDataSample], optional): Data samples.
            mode (str): 'loss', 'predict' or 'tensor'. Defaults to 'tensor'.

        Returns:
            dict | list | Tensor: Loss dict, data samples, or features.
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(f'{_FILE}: invalid mode "{mode}"; use "loss", '
                           f'"predict" or "tensor".')
