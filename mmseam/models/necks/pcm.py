# Copyright (c) mmseam contributors. All rights reserved.
"""Pixel Correlation Module (PCM) of SEAM.

Wang et al., "Self-supervised Equivariant Attention Mechanism for Weakly
Supervised Semantic Segmentation", CVPR 2020,
https://arxiv.org/abs/2004.04581.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from mmseam.models.utils.projection import (build_projections,
                                            official_projection_init)
from mmseam.utils.misc import source_path

__all__ = ['PixelCorrelationModule']

_FILE = source_path(__name__)


@MODELS.register_module()
class PixelCorrelationModule(BaseModule):
    """Pixel Correlation Module: refine a CAM with feature affinities.

    For every target pixel ``j`` the output is the affinity-weighted mean of
    the (transformed, detached) input CAM over all source pixels ``i``::

        y_j = sum_i cam_in_i * relu(cos(f_i, f_j))
              / (sum_i relu(cos(f_i, f_j)) + eps)

    where ``f = fuse(cat[img_s, relu(proj_0(feat_0)), ...])`` and
    ``cam_in = cam_input(cam)``. The CAM and the backbone features are
    detached, so gradients only reach ``proj`` and ``fuse`` (as in the
    official code). The affinity is dense: (h*w)^2 values per image; it is
    built once (ReLU in place) and the column normalisation is applied to
    the (C, h*w) product instead of the (h*w)^2 matrix. Under autocast the
    two products run in low precision, the column sums and the output are
    fp32.

    Args:
        in_channels (Sequence[int]): Channels of the backbone features used.
            Defaults to (512, 1024) (ResNet38d conv4, conv5).
        proj_channels (Sequence[int]): Output channels of the bias-free 1x1
            projections, one per feature. Defaults to (64, 128).
        out_channels (int): Output channels of ``fuse``. Defaults to 192.
        in_index (Sequence[int]): Indices of the features in the backbone
            output tuple. Defaults to (1, 2).
        use_image (bool): Concatenate the (normalised) input image resized
            to the CAM size in front of the projected features. Defaults to
            True.
        eps (float): Stabiliser of the CAM max-normalisation, the feature
            L2 normalisation and the affinity normalisation. Defaults to
            1e-5.
        init_cfg (dict | list[dict], optional): Initialisation config. With
            None (default), ``proj`` gets ``kaiming_normal_`` (default
            arguments) and ``fuse`` ``xavier_uniform_`` with gain 4, as in
            the official code.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (512, 1024),
                 proj_channels: Sequence[int] = (64, 128),
                 out_channels: int = 192,
                 in_index: Sequence[int] = (1, 2),
                 use_image: bool = True,
                 eps: float = 1e-5,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        in_channels = tuple(in_channels)
        proj_channels = tuple(proj_channels)
        in_index = tuple(in_index)
        if not len(in_channels) == len(proj_channels) == len(in_index):
            raise ValueError(
                f'{_FILE}: `in_channels` {in_channels}, `proj_channels` '
                f'{proj_channels} and `in_index` {in_index} must have the '
                f'same length (one entry per backbone feature).')
        if not in_index and not use_image:
            raise ValueError(
                f'{_FILE}: PixelCorrelationModule needs at least one input: '
                f'set `use_image=True` or give backbone features.')
        self.in_channels = in_channels
        self.proj_channels = proj_channels
        self.out_channels = out_channels
        self.in_index = in_index
        self.use_image = use_image
        self.eps = eps

        self.proj, self.fuse = build_projections(
            in_channels, proj_channels,
            sum(proj_channels) + (3 if use_image else 0), out_channels)
        if init_cfg is None:
            self._official_init()

    def _official_init(self) -> None:
        official_projection_init(self.proj, self.fuse)

    def init_weights(self) -> None:
        """Initialise weights (official scheme unless ``init_cfg`` is set)."""
        if self.init_cfg is None:
            if not self._is_init:
                self._official_init()
                self._is_init = True
        else:
            super().init_weights()

    @torch.no_grad()
    def cam_input(self, cam: Tensor) -> Tensor:
        """Build the detached PCM input from raw CAM logits (no gradient).

        ``p = relu(cam)``; per (n, c) ``p = relu(p - eps) / (max_hw(p) +
        eps)`` (max only, no min subtraction); channel 0 is replaced by
        ``1 - max_{c>=1} p_c``; among the foreground channels every value
        smaller than the per-pixel foreground maximum is zeroed (ties are
        kept; the background channel is untouched).

        Args:
            cam (Tensor): Raw CAM logits of shape (N, C, h, w), channel 0 is
                the background slot.

        Returns:
            Tensor: PCM input of shape (N, C, h, w), no grad.
        """
        if cam.dim() != 4 or cam.size(1) < 2:
            raise ValueError(
                f'{_FILE}: `cam` must be (N, C, h, w) with a background '
                f'channel and >= 1 foreground channel, got '
                f'{tuple(cam.shape)}.')
        p = F.relu(cam.detach())
        p_max = p.flatten(2).amax(dim=-1)[..., None, None] + self.eps
        p = F.relu(p - self.eps) / p_max
        fg = p[:, 1:]
        fg_max = fg.amax(dim=1, keepdim=True)
        fg = torch.where(fg < fg_max, torch.zeros_like(fg), fg)
        return torch.cat([1 - fg_max, fg], dim=1)

    def _resize(self, x: Tensor, size: Tuple[int, int]) -> Tensor:
        if tuple(x.shape[-2:]) == tuple(size):
            return x
        return F.interpolate(x, size=size, mode='bilinear', align_corners=True)

    def embed(self, feats: Sequence[Tensor], img: Optional[Tensor],
              size: Tuple[int, int]) -> Tensor:
        """Compute the L2-normalised pixel embeddings.

        Args:
            feats (Sequence[Tensor]): Backbone outputs; ``feats[i]`` for
                ``i in in_index`` is used, each (N, in_channels[k], h', w').
            img (Tensor, optional): Normalised input image (N, 3, H, W);
                required if ``use_image``.
            size (tuple[int, int]): Target size (h, w) (the CAM size).

        Returns:
            Tensor: Embeddings of shape (N, out_channels, h * w), unit norm
            (up to ``eps``) over the channels.
        """
        parts = []
        if self.use_image:
            if img is None:
                raise ValueError(
                    f'{_FILE}: `use_image=True` but no `img` was given; pass '
                    f'the normalised input batch or set use_image=False.')
            parts.append(self._resize(img, size))
        for k, (idx, conv) in enumerate(zip(self.in_index, self.proj)):
            feat = feats[idx].detach()
            if feat.size(1) != self.in_channels[k]:
                raise ValueError(
                    f'{_FILE}: backbone output {idx} has {feat.size(1)} '
                    f'channels but `in_channels[{k}]` is '
                    f'{self.in_channels[k]}; fix `in_channels`/`in_index` '
                    f'in the neck config.')
            parts.append(F.relu(conv(self._resize(feat, size))))
        f = self.fuse(torch.cat(parts, dim=1)).flatten(2)
        return f / (
            torch.linalg.vector_norm(f, dim=1, keepdim=True) + self.eps)

    def forward(self,
                cam: Tensor,
                feats: Sequence[Tensor],
                img: Optional[Tensor] = None) -> Tensor:
        """Refine a CAM.

        Args:
            cam (Tensor): Raw CAM logits at feature size, (N, C, h, w).
            feats (Sequence[Tensor]): Backbone output tuple.
            img (Tensor, optional): Normalised input image, (N, 3, H, W).

        Returns:
            Tensor: Refined CAM ``cam_rv`` of shape (N, C, h, w), >= 0.
        """
        n, c, h, w = cam.shape
        cam_in = self.cam_input(cam).reshape(n, c, h * w)
        f = self.embed(feats, img, (h, w))
        # aff[n, i, j] = relu(cos(f_i, f_j)), ReLU'd in place (one (hw)^2
        # buffer, which is all autograd keeps). The column normalisation
        # of the official code, cam @ (aff / colsum), is applied after the
        # product as (cam @ aff) / colsum: the same value up to fp32
        # rounding, without a second (hw)^2 tensor and its passes.
        aff = torch.bmm(f.transpose(1, 2), f).relu_()
        colsum = aff.sum(dim=1, keepdim=True, dtype=torch.float32)
        out = torch.bmm(cam_in.to(aff.dtype), aff).float()
        return (out / (colsum + self.eps)).reshape(n, c, h, w)
