# Copyright (c) mmseam contributors. All rights reserved.
"""Losses of SEAM (Wang et al., CVPR 2020, https://arxiv.org/abs/2004.04581).

All losses reproduce the official ``train_SEAM.py`` formulas, return a
scalar tensor multiplied by ``loss_weight`` and expose ``loss_name`` (the key
under which the segmentor logs them). None of them synchronises with the
device (no ``.item()``, no boolean-mask indexing).
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from mmseam.utils.misc import check_4d, source_path

__all__ = [
    'MultiLabelSoftMarginLoss', 'MinPoolLoss', 'EquivariantRegLoss',
    'EquivariantCrossRegLoss'
]

_FILE = source_path(__name__)

#: The official code's reference class counts (PASCAL VOC: 20 foreground
#: classes, 21 channels with the background). ER and ECR normalise by them
#: so that their strength does not depend on the data set's class count.
VOC_FG_CHANNELS = 20
VOC_CHANNELS = VOC_FG_CHANNELS + 1


def _check_ratio(value: float, name: str, cls_name: str) -> float:
    if not 0 < value <= 1:
        raise ValueError(f'{_FILE}: {cls_name} `{name}` must lie in (0, 1], '
                         f'got {value}.')
    return float(value)


def _check_channels(value: Optional[int], name: str,
                    cls_name: str) -> Optional[int]:
    if value is not None and (isinstance(value, bool)
                              or not isinstance(value, int) or value < 1):
        raise ValueError(
            f'{_FILE}: {cls_name} `{name}` must be a positive int or None '
            f"(use the input's channels), got {value!r}.")
    return value


def _check_pair(pred: Tensor, target: Tensor, cls_name: str) -> None:
    """Both views as (N, C, H, W) maps in the same frame."""
    check_4d(pred, cls_name, _FILE)
    if pred.shape != target.shape:
        raise ValueError(
            f'{_FILE}: {cls_name} got pred {tuple(pred.shape)} and target '
            f'{tuple(target.shape)}; bring both views to the same frame '
            f'first.')


class _SEAMLoss(nn.Module):
    """Common ``loss_weight`` / ``loss_name`` handling."""

    def __init__(self, loss_weight: float, loss_name: str) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """str: Key of this loss in the segmentor's loss dict."""
        return self._loss_name


@MODELS.register_module()
class MultiLabelSoftMarginLoss(_SEAMLoss):
    """Multi-label soft-margin classification loss.

    Same value as ``F.multilabel_soft_margin_loss`` with mean reduction: for
    every sample the mean over the K classes of
    ``-(y log sigmoid(x) + (1 - y) log sigmoid(-x))``, then the mean over
    the batch. SEAM applies it to the GAP of the raw CAM logits over the
    foreground channels.

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        loss_name (str): Name of the loss. Defaults to 'loss_cls'.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_cls') -> None:
        super().__init__(loss_weight, loss_name)

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            logits (Tensor): Class scores of shape (N, K) (trailing singleton
                dims, e.g. (N, K, 1, 1), are flattened).
            labels (Tensor): Multi-hot targets with the same number of
                elements per sample, (N, K).

        Returns:
            Tensor: Scalar loss.
        """
        logits = logits.flatten(1)
        labels = labels.flatten(1).to(logits.dtype)
        if logits.shape != labels.shape:
            raise ValueError(
                f'{_FILE}: MultiLabelSoftMarginLoss got logits of shape '
                f'{tuple(logits.shape)} and labels of shape '
                f'{tuple(labels.shape)}; both must be (N, K) over the same '
                f'(foreground) classes.')
        loss = -(
            labels * F.logsigmoid(logits) +
            (1 - labels) * F.logsigmoid(-logits))
        return self.loss_weight * loss.mean(dim=1).mean()


@MODELS.register_module()
class MinPoolLoss(_SEAMLoss):
    """Adaptive min-pooling loss on the PCM output (official SEAM).

    Per pixel take the maximum over the channels, keep the
    ``k = int(H * W * ratio)`` smallest of these per sample (for the default
    ratio 0.25 this equals the official ``H * W // 4``), apply ``relu`` and
    return ``sum / (k * N)``. It pushes the weakest quarter of the image
    towards zero for every class. SEAM feeds ``(cam_pcm * labels)[:, 1:]``
    (foreground channels, absent classes zeroed).

    Args:
        ratio (float): Fraction of pixels kept. Defaults to 0.25.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        loss_name (str): Name of the loss. Defaults to 'loss_minpool'.
    """

    def __init__(self,
                 ratio: float = 0.25,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_minpool') -> None:
        super().__init__(loss_weight, loss_name)
        self.ratio = _check_ratio(ratio, 'ratio', 'MinPoolLoss')

    def forward(self, cam: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            cam (Tensor): Map of shape (N, K, H, W).

        Returns:
            Tensor: Scalar loss.
        """
        check_4d(cam, 'MinPoolLoss', _FILE)
        n, _, h, w = cam.shape
        k = max(int(h * w * self.ratio), 1)
        # max with indices (official): index-routed backward, no tie mask
        pix_max = cam.max(dim=1)[0].reshape(n, -1)
        lowest = torch.topk(pix_max, k=k, dim=-1, largest=False)[0]
        return self.loss_weight * F.relu(lowest).sum() / (k * n)


@MODELS.register_module()
class EquivariantRegLoss(_SEAMLoss):
    """Equivariant regularisation (ER): absolute difference of two views.

    ``sum(|pred - target|) / (N * H * W * ref_channels)``: the sum over the
    foreground channels of the label-masked, max-normalised CAMs of the two
    views in the same frame, divided by a reference channel count instead
    of the input's ``C``. The official code takes the mean over VOC's 20
    foreground channels (absent classes are 0 and still count), so with
    ``ref_channels=20`` (default) the loss equals the official one on VOC
    and keeps the same strength per present class on a data set with any
    number of classes (docs/method.md, "Class-count independent losses").
    ``ref_channels=None`` divides by the input's ``C`` (a plain mean).

    Args:
        ref_channels (int, optional): Channel count of the normalisation;
            None uses the input's ``C``. Defaults to 20 (VOC's foreground
            classes, the official reference).
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        loss_name (str): Name of the loss. Defaults to 'loss_er'.
    """

    def __init__(self,
                 ref_channels: Optional[int] = VOC_FG_CHANNELS,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_er') -> None:
        super().__init__(loss_weight, loss_name)
        self.ref_channels = _check_channels(ref_channels, 'ref_channels',
                                            'EquivariantRegLoss')

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Shape (N, C, H, W).
            target (Tensor): Same shape as ``pred``.

        Returns:
            Tensor: Scalar loss.
        """
        _check_pair(pred, target, 'EquivariantRegLoss')
        diff = (pred - target).abs()
        if self.ref_channels is None:
            return self.loss_weight * diff.mean()
        n, _, h, w = pred.shape
        return self.loss_weight * diff.sum() / (n * h * w * self.ref_channels)


@MODELS.register_module()
class EquivariantCrossRegLoss(_SEAMLoss):
    """Equivariant cross regularisation (ECR) with top-k OHEM.

    For every sample, flatten ``|pred - target|`` over (C, H, W), keep the
    ``k = min(int(topk_channels * H * W * topk_ratio), C * H * W)`` largest
    values and average them (divide by ``k``); then average over the batch
    (the official ``torch.mean(torch.topk(...))`` over N x k). In SEAM
    ``pred`` is the max-normalised PCM output of one view and ``target`` the
    detached, max-only CAM of the other view.

    ``topk_channels`` is the channel count ``k`` is computed from. The
    official code counts VOC's 21 channels (background included). On VOC
    most channels are absent classes (zero on both sides), so the top 20 %
    of 21 x H x W entries hold every entry of the 2-4 present channels and
    the mining hardly selects; counted over the input's ``C`` on a data set
    with few classes, the top 20 % would keep only the hardest part of the
    present channels, a much stronger mining. The default (21, the official
    reference) keeps the official ``k`` and so the same behaviour whatever
    the class count (docs/method.md, "Class-count independent losses");
    ``k`` is capped at ``C * H * W`` (then the loss is
    ``sum |pred - target| / k`` over all entries). ``None`` counts the
    input's ``C``.

    Args:
        topk_ratio (float): Fraction of the channel-pixels kept. Defaults
            to 0.2.
        topk_channels (int, optional): Channel count ``k`` is computed from;
            None uses the input's ``C``. Defaults to 21 (VOC's channels,
            the official reference).
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        loss_name (str): Name of the loss. Defaults to 'loss_ecr'.
    """

    def __init__(self,
                 topk_ratio: float = 0.2,
                 topk_channels: Optional[int] = VOC_CHANNELS,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_ecr') -> None:
        super().__init__(loss_weight, loss_name)
        self.topk_ratio = _check_ratio(topk_ratio, 'topk_ratio',
                                       'EquivariantCrossRegLoss')
        self.topk_channels = _check_channels(topk_channels, 'topk_channels',
                                             'EquivariantCrossRegLoss')

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Shape (N, C, H, W).
            target (Tensor): Same shape as ``pred``.

        Returns:
            Tensor: Scalar loss.
        """
        _check_pair(pred, target, 'EquivariantCrossRegLoss')
        n, c, h, w = pred.shape
        channels = c if self.topk_channels is None else self.topk_channels
        k = min(max(int(channels * h * w * self.topk_ratio), 1), c * h * w)
        diff = (pred - target).abs().reshape(n, -1)
        return self.loss_weight * torch.topk(diff, k=k, dim=-1)[0].mean()
