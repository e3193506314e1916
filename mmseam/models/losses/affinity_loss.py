# Copyright (c) mmseam contributors. All rights reserved.
"""AffinityNet loss (Ahn & Kwak, CVPR 2018, https://arxiv.org/abs/1803.10464).

Reproduces the official ``train_aff.py`` of PSA / SEAM: three
class-balanced cross-entropy terms over the pixel pairs of the radius
neighbourhood (background-positive, foreground-positive, negative), each
normalised by its own pair count over the whole batch.
"""
from typing import Dict

import torch
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from mmseam.utils.misc import source_path

__all__ = ['AffinityLoss']

_FILE = source_path(__name__)


@MODELS.register_module()
class AffinityLoss(nn.Module):
    """Balanced pair-affinity cross-entropy of AffinityNet.

    With predicted pair affinities ``a`` in (0, 1] and binary pair labels::

        bg  = sum(-bg_pos * log(a + eps)) / (sum(bg_pos) + eps)
        fg  = sum(-fg_pos * log(a + eps)) / (sum(fg_pos) + eps)
        neg = sum(-neg * log(1 + eps - a)) / (sum(neg) + eps)
        loss = loss_weight * (bg_weight * bg + fg_weight * fg
                              + neg_weight * neg)

    The sums run over the whole batch (all samples, pairs and positions),
    as in the official code. The official weights are 1/4, 1/4, 1/2.

    Args:
        bg_weight (float): Weight of the background-positive term.
            Defaults to 0.25.
        fg_weight (float): Weight of the foreground-positive term.
            Defaults to 0.25.
        neg_weight (float): Weight of the negative term. Defaults to 0.5.
        eps (float): Stabiliser inside the logs and of the counts.
            Defaults to 1e-5.
        loss_weight (float): Global weight. Defaults to 1.0.
        loss_name (str): Key of the total loss in the loss dict.
            Defaults to 'loss_aff'.
    """

    def __init__(self,
                 bg_weight: float = 0.25,
                 fg_weight: float = 0.25,
                 neg_weight: float = 0.5,
                 eps: float = 1e-5,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_aff') -> None:
        super().__init__()
        self.bg_weight = float(bg_weight)
        self.fg_weight = float(fg_weight)
        self.neg_weight = float(neg_weight)
        self.eps = float(eps)
        self.loss_weight = float(loss_weight)
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """str: Key of this loss in the model's loss dict."""
        return self._loss_name

    def terms(self, aff: Tensor, bg_pos: Tensor, fg_pos: Tensor,
              neg: Tensor) -> Dict[str, Tensor]:
        """Compute the three unweighted terms and the pair counts.

        Args:
            aff (Tensor): Pair affinities in (0, 1], any shape, e.g.
                (N, P, h', w') with P pair offsets.
            bg_pos (Tensor): Background-positive pair labels (0/1), same
                shape as ``aff``.
            fg_pos (Tensor): Foreground-positive pair labels, same shape.
            neg (Tensor): Negative pair labels, same shape.

        Returns:
            dict[str, Tensor]: Scalars ``bg``, ``fg``, ``neg`` (the terms)
            and ``bg_count``, ``fg_count``, ``neg_count`` (label sums + eps,
            no gradient).
        """
        for name, label in (('bg_pos', bg_pos), ('fg_pos', fg_pos), ('neg',
                                                                     neg)):
            if label.shape != aff.shape:
                raise ValueError(
                    f'{_FILE}: AffinityLoss `{name}` has shape '
                    f'{tuple(label.shape)} but the affinity has '
                    f'{tuple(aff.shape)}; the pair labels must come from the '
                    f'same radius and feature size as the prediction.')
        bg_pos = bg_pos.to(aff.dtype)
        fg_pos = fg_pos.to(aff.dtype)
        neg = neg.to(aff.dtype)
        bg_count = bg_pos.sum() + self.eps
        fg_count = fg_pos.sum() + self.eps
        neg_count = neg.sum() + self.eps
        log_pos = torch.log(aff + self.eps)
        bg = torch.sum(-bg_pos * log_pos) / bg_count
        fg = torch.sum(-fg_pos * log_pos) / fg_count
        neg_term = torch.sum(-neg * torch.log(1. + self.eps - aff)) / neg_count
        return dict(
            bg=bg,
            fg=fg,
            neg=neg_term,
            bg_count=bg_count.detach(),
            fg_count=fg_count.detach(),
            neg_count=neg_count.detach())

    def combine(self, terms: Dict[str, Tensor]) -> Tensor:
        """Weight and sum the terms returned by :meth:`terms`.

        Args:
            terms (dict[str, Tensor]): Output of :meth:`terms`.

        Returns:
            Tensor: The scalar loss.
        """
        return self.loss_weight * (
            self.bg_weight * terms['bg'] + self.fg_weight * terms['fg'] +
            self.neg_weight * terms['neg'])

    def forward(self, aff: Tensor, bg_pos: Tensor, fg_pos: Tensor,
                neg: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            aff (Tensor): Pair affinities in (0, 1], e.g. (N, P, h', w').
            bg_pos (Tensor): Background-positive labels, same shape.
            fg_pos (Tensor): Foreground-positive labels, same shape.
            neg (Tensor): Negative labels, same shape.

        Returns:
            Tensor: Scalar loss.
        """
        return self.combine(self.terms(aff, bg_pos, fg_pos, neg))

    def extra_repr(self) -> str:
        return (f'bg_weight={self.bg_weight}, fg_weight={self.fg_weight}, '
                f'neg_weight={self.neg_weight}, eps={self.eps}, '
                f'loss_weight={self.loss_weight}, '
                f'loss_name={self._loss_name!r}')
