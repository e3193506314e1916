# Copyright (c) mmseam contributors. All rights reserved.
"""Plain PyTorch re-implementation of the official SEAM network and step.

Written from the description of the official method and the layout of
the official ``network/resnet38d.py`` / ``network/resnet38_SEAM.py``: same
module names, hence the same state-dict keys as the official checkpoints
(``conv1a.weight``, ``b2.bn_branch2a.weight``, ``b2.conv_branch1.weight``, ...,
``b6.conv_branch2b2.weight``, ``bn7.running_var``, ``fc8.weight``,
``f8_3.weight``, ``f8_4.weight``, ``f9.weight``). The network depends on
nothing in mmseam, so tests can compare mmseam's modules against it.

Two users:

* the parity tests (``tests/test_models/test_parity.py``, the converter
  tests): :class:`OfficialResNet38d`, :class:`OfficialSEAMNet`,
  :func:`official_param_count`;
* ``tools/benchmark.py --compare-strict`` (its ``official`` mode):
  :func:`build_official_like`, :func:`build_official_optimizer`,
  :func:`official_train_step` and :func:`official_infer` write the
  official ``train_SEAM.py`` iteration and ``infer_SEAM.py`` per-image
  loop the way the official code does them (two separate network calls,
  in-place CAM edits with boolean-mask indexing, ``.item()`` logging, the
  hand-written poly SGD), on the shapes of an mmseam config.
  ``tests/test_official_reference.py`` checks that they compute what
  mmseam computes.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


class OfficialResBlock(nn.Module):
    """Pre-activation basic block (official ``ResBlock``)."""

    def __init__(self,
                 in_channels: int,
                 mid_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 first_dilation: Optional[int] = None,
                 dilation: int = 1) -> None:
        super().__init__()
        first_dilation = dilation if first_dilation is None else \
            first_dilation
        self.same_shape = in_channels == out_channels and stride == 1
        self.bn_branch2a = nn.BatchNorm2d(in_channels)
        self.conv_branch2a = nn.Conv2d(
            in_channels,
            mid_channels,
            3,
            stride,
            padding=first_dilation,
            dilation=first_dilation,
            bias=False)
        self.bn_branch2b1 = nn.BatchNorm2d(mid_channels)
        self.conv_branch2b1 = nn.Conv2d(
            mid_channels,
            out_channels,
            3,
            padding=dilation,
            dilation=dilation,
            bias=False)
        if not self.same_shape:
            self.conv_branch1 = nn.Conv2d(
                in_channels, out_channels, 1, stride, bias=False)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Returns ``(out, bn_relu(x))``."""
        pre = F.relu(self.bn_branch2a(x))
        short = x if self.same_shape else self.conv_branch1(pre)
        y = self.conv_branch2a(pre)
        y = self.conv_branch2b1(F.relu(self.bn_branch2b1(y)))
        return short + y, pre


class OfficialResBlockBot(nn.Module):
    """Pre-activation bottleneck block (official ``ResBlock_bot``)."""

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 dilation: int = 1,
                 dropout: float = 0.) -> None:
        super().__init__()
        c4, c2 = out_channels // 4, out_channels // 2
        self.bn_branch2a = nn.BatchNorm2d(in_channels)
        self.conv_branch2a = nn.Conv2d(in_channels, c4, 1, stride, bias=False)
        self.bn_branch2b1 = nn.BatchNorm2d(c4)
        self.dropout_2b1 = nn.Dropout2d(dropout)
        self.conv_branch2b1 = nn.Conv2d(
            c4, c2, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn_branch2b2 = nn.BatchNorm2d(c2)
        self.dropout_2b2 = nn.Dropout2d(dropout)
        self.conv_branch2b2 = nn.Conv2d(c2, out_channels, 1, bias=False)
        self.conv_branch1 = nn.Conv2d(
            in_channels, out_channels, 1, stride, bias=False)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Returns ``(out, bn_relu(x))``."""
        pre = F.relu(self.bn_branch2a(x))
        short = self.conv_branch1(pre)
        y = self.conv_branch2a(pre)
        y = self.dropout_2b1(F.relu(self.bn_branch2b1(y)))
        y = self.conv_branch2b1(y)
        y = self.dropout_2b2(F.relu(self.bn_branch2b2(y)))
        y = self.conv_branch2b2(y)
        return short + y, pre


class OfficialResNet38d(nn.Module):
    """Official ``resnet38d.Net`` layout (ResNet-38 A1, output stride 8).

    ``forward(x)`` with ``x`` (N, 3, H, W) returns the four taps of the
    official ``forward_as_dict``: ``dict(conv3, conv4, conv5, conv6)`` of
    shapes (N, 256, H/4, W/4), (N, 512, H/8, W/8), (N, 1024, H/8, W/8),
    (N, 4096, H/8, W/8).

    Args:
        frozen (bool): Keep, as the official training does, ``conv1a``,
            ``b2*`` and every BatchNorm frozen (no gradients; BatchNorm in
            eval mode even under ``train()``). Defaults to False.
    """

    def __init__(self, frozen: bool = False) -> None:
        super().__init__()
        self.frozen = frozen
        self.conv1a = nn.Conv2d(3, 64, 3, padding=1, bias=False)
        self.b2 = OfficialResBlock(64, 128, 128, stride=2)
        self.b2_1 = OfficialResBlock(128, 128, 128)
        self.b2_2 = OfficialResBlock(128, 128, 128)
        self.b3 = OfficialResBlock(128, 256, 256, stride=2)
        self.b3_1 = OfficialResBlock(256, 256, 256)
        self.b3_2 = OfficialResBlock(256, 256, 256)
        self.b4 = OfficialResBlock(256, 512, 512, stride=2)
        for i in range(1, 6):
            setattr(self, f'b4_{i}', OfficialResBlock(512, 512, 512))
        self.b5 = OfficialResBlock(
            512, 512, 1024, stride=1, first_dilation=1, dilation=2)
        self.b5_1 = OfficialResBlock(1024, 512, 1024, dilation=2)
        self.b5_2 = OfficialResBlock(1024, 512, 1024, dilation=2)
        self.b6 = OfficialResBlockBot(1024, 2048, dilation=4, dropout=0.3)
        self.b7 = OfficialResBlockBot(2048, 4096, dilation=4, dropout=0.5)
        self.bn7 = nn.BatchNorm2d(4096)

    def forward_as_dict(self, x: Tensor) -> Dict[str, Tensor]:
        x = self.conv1a(x)
        for name in ('b2', 'b2_1', 'b2_2', 'b3', 'b3_1', 'b3_2'):
            x, _ = getattr(self, name)(x)
        x, conv3 = self.b4(x)
        for i in range(1, 6):
            x, _ = getattr(self, f'b4_{i}')(x)
        x, conv4 = self.b5(x)
        x, _ = self.b5_1(x)
        x, _ = self.b5_2(x)
        x, conv5 = self.b6(x)
        x, _ = self.b7(x)
        conv6 = F.relu(self.bn7(x))
        return dict(conv3=conv3, conv4=conv4, conv5=conv5, conv6=conv6)

    def forward(self, x: Tensor) -> Dict[str, Tensor]:
        return self.forward_as_dict(x)

    def train(self, mode: bool = True) -> 'OfficialResNet38d':
        super().train(mode)
        if not self.frozen:
            return self
        for layer in (self.conv1a, self.b2, self.b2_1, self.b2_2):
            for p in layer.parameters():
                p.requires_grad = False
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
                m.weight.requires_grad = False
                m.bias.requires_grad = False
        return self


class _OfficialSEAMHead:
    """The official SEAM head and PCM (``fc8``, ``f8_3``, ``f8_4``,
    ``f9``), shared by :class:`OfficialSEAMNet` and
    :class:`OfficialSEAMOnBackbone` (both ``nn.Module`` s)."""

    def _build_head(self, num_classes: int, in_channels: int,
                    pcm_channels: Sequence[int],
                    proj_channels: Sequence[int],
                    out_channels: int) -> None:
        self.dropout7 = nn.Dropout2d(0.5)
        self.fc8 = nn.Conv2d(in_channels, num_classes, 1, bias=False)
        self.f8_3 = nn.Conv2d(
            pcm_channels[0], proj_channels[0], 1, bias=False)
        self.f8_4 = nn.Conv2d(
            pcm_channels[1], proj_channels[1], 1, bias=False)
        self.f9 = nn.Conv2d(
            3 + proj_channels[0] + proj_channels[1], out_channels, 1,
            bias=False)
        nn.init.xavier_uniform_(self.fc8.weight)
        nn.init.kaiming_normal_(self.f8_3.weight)
        nn.init.kaiming_normal_(self.f8_4.weight)
        nn.init.xavier_uniform_(self.f9.weight, gain=4)
        self.from_scratch_layers = [self.f8_3, self.f8_4, self.f9, self.fc8]

    @staticmethod
    def pcm_input(cam: Tensor) -> Tensor:
        """Detached max-norm, bg = 1 - max fg, keep only the max fg."""
        n, c, h, w = cam.shape
        with torch.no_grad():
            d = F.relu(cam.detach())
            peak = d.view(n, c, -1).max(dim=-1)[0].view(n, c, 1, 1) + 1e-5
            d = F.relu(d - 1e-5) / peak
            d[:, 0] = 1 - d[:, 1:].max(dim=1)[0]
            fg_max = d[:, 1:].max(dim=1, keepdim=True)[0]
            d[:, 1:][d[:, 1:] < fg_max] = 0
        return d

    def pcm(self, cam: Tensor, f: Tensor) -> Tensor:
        """Pixel correlation module, column-normalised affinity."""
        n, c, h, w = f.shape
        cam = F.interpolate(
            cam, (h, w), mode='bilinear',
            align_corners=True).view(n, -1, h * w)
        f = self.f9(f).view(n, -1, h * w)
        f = f / (torch.norm(f, dim=1, keepdim=True) + 1e-5)
        aff = F.relu(torch.matmul(f.transpose(1, 2), f), inplace=True)
        aff = aff / (torch.sum(aff, dim=1, keepdim=True) + 1e-5)
        return torch.matmul(cam, aff).view(n, -1, h, w)

    def forward_head(self, x: Tensor, feat: Tensor,
                     taps: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """``(cam, cam_rv)``, both (N, num_classes, H, W), from the image
        ``x`` (N, 3, H, W), the classifier features and the two PCM taps
        (resized to the CAM size when they differ, as mmseam's PCM
        does)."""
        cam = self.fc8(self.dropout7(feat))
        n, c, h, w = cam.shape
        cam_d_norm = self.pcm_input(cam)
        taps = [
            t if t.shape[-2:] == (h, w) else F.interpolate(
                t, (h, w), mode='bilinear', align_corners=True)
            for t in taps
        ]
        f8_3 = F.relu(self.f8_3(taps[0].detach()), inplace=True)
        f8_4 = F.relu(self.f8_4(taps[1].detach()), inplace=True)
        x_s = F.interpolate(x, (h, w), mode='bilinear', align_corners=True)
        f = torch.cat([x_s, f8_3, f8_4], dim=1)
        cam_rv = self.pcm(cam_d_norm, f)
        size = x.shape[2:]
        cam = F.interpolate(cam, size, mode='bilinear', align_corners=True)
        cam_rv = F.interpolate(
            cam_rv, size, mode='bilinear', align_corners=True)
        return cam, cam_rv

    def get_parameter_groups(self) -> Tuple[List[Tensor], ...]:
        """Official groups: (backbone w, backbone b, new w, new b)."""
        groups: Tuple[List[Tensor], ...] = ([], [], [], [])
        new = set(id(m) for m in self.from_scratch_layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m.weight.requires_grad:
                    groups[2 if id(m) in new else 0].append(m.weight)
                if m.bias is not None and m.bias.requires_grad:
                    groups[3 if id(m) in new else 1].append(m.bias)
        return groups


class OfficialSEAMNet(OfficialResNet38d, _OfficialSEAMHead):
    """Official ``resnet38_SEAM.Net``: ResNet-38 + CAM head + PCM.

    ``forward(x)`` with ``x`` (N, 3, H, W) returns ``(cam, cam_rv)``, both
    (N, num_classes, H, W), bilinear ``align_corners=True`` upsampled.

    Args:
        num_classes (int): Classes including background. Defaults to 21.
        frozen (bool): See :class:`OfficialResNet38d`. Defaults to False.
    """

    def __init__(self, num_classes: int = 21, frozen: bool = False) -> None:
        super().__init__(frozen=frozen)
        self._build_head(num_classes, 4096, (512, 1024), (64, 128), 192)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        d = self.forward_as_dict(x)
        return self.forward_head(x, d['conv6'], (d['conv4'], d['conv5']))


class OfficialSEAMOnBackbone(nn.Module, _OfficialSEAMHead):
    """The official SEAM head and PCM on another backbone.

    No official code exists for other backbones; this keeps the official
    step on the shapes of an mmseam config.

    Args:
        backbone (nn.Module): Returns a tuple of feature maps.
        num_classes (int): Classes including background.
        in_channels (int): Channels of ``feats[cls_index]``.
        pcm_channels (Sequence[int]): Channels of the two PCM taps.
        proj_channels (Sequence[int]): PCM projections (official 64, 128).
        out_channels (int): PCM embedding channels (official 192).
        pcm_index (Sequence[int]): Indices of the two PCM taps.
        cls_index (int): Index of the classifier tap. Defaults to -1.

    ``forward(x)`` with ``x`` (N, 3, H, W) returns ``(cam, cam_rv)``, both
    (N, num_classes, H, W).
    """

    def __init__(self, backbone: nn.Module, num_classes: int,
                 in_channels: int, pcm_channels: Sequence[int],
                 proj_channels: Sequence[int], out_channels: int,
                 pcm_index: Sequence[int], cls_index: int = -1) -> None:
        super().__init__()
        self.backbone = backbone
        self.pcm_index = tuple(pcm_index)
        self.cls_index = cls_index
        self._build_head(num_classes, in_channels, pcm_channels,
                         proj_channels, out_channels)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        feats = self.backbone(x)
        return self.forward_head(x, feats[self.cls_index],
                                 [feats[i] for i in self.pcm_index])


class OfficialPolySGD(torch.optim.SGD):
    """Official ``PolyOptimizer``: SGD whose lr decays as poly 0.9 per step.

    As in the official code, the weight decay is passed positionally into
    SGD's momentum slot: momentum is ``weight_decay``.
    """

    def __init__(self, params: list, lr: float, weight_decay: float,
                 max_step: int, momentum: float = 0.9) -> None:
        super().__init__(params, lr, weight_decay)
        self.global_step = 0
        self.max_step = max_step
        self.power = momentum
        self._initial_lr = [g['lr'] for g in self.param_groups]

    def step(self, closure=None):  # noqa: D102
        if self.global_step < self.max_step:
            lr_mult = (1 - self.global_step / self.max_step)**self.power
            for i, group in enumerate(self.param_groups):
                group['lr'] = self._initial_lr[i] * lr_mult
        super().step(closure)
        self.global_step += 1


def build_official_optimizer(net: nn.Module, lr: float = 0.01,
                             weight_decay: float = 5e-4,
                             max_step: int = 10576) -> OfficialPolySGD:
    """The official four parameter groups (1x, 2x, 10x, 20x lr)."""
    g = net.get_parameter_groups()
    return OfficialPolySGD([
        dict(params=g[0], lr=lr, weight_decay=weight_decay),
        dict(params=g[1], lr=2 * lr, weight_decay=0),
        dict(params=g[2], lr=10 * lr, weight_decay=weight_decay),
        dict(params=g[3], lr=20 * lr, weight_decay=0),
    ], lr=lr, weight_decay=weight_decay, max_step=max_step)


def _max_norm(p: Tensor, e: float = 1e-5) -> Tensor:
    n, c, h, w = p.size()
    p = F.relu(p)
    max_v = torch.max(p.view(n, c, -1), dim=-1)[0].view(n, c, 1, 1)
    min_v = torch.min(p.view(n, c, -1), dim=-1)[0].view(n, c, 1, 1)
    return F.relu(p - min_v - e) / (max_v - min_v + e)


def _max_onehot(x: Tensor) -> Tensor:
    x_max = torch.max(x[:, 1:, :, :], dim=1, keepdim=True)[0]
    x[:, 1:, :, :][x[:, 1:, :, :] != x_max] = 0
    return x


def _min_pool_loss(x: Tensor) -> Tensor:
    n, c, h, w = x.size()
    k = h * w // 4
    x = torch.max(x, dim=1)[0]
    y = torch.topk(x.view(n, -1), k=k, dim=-1, largest=False)[0]
    y = F.relu(y, inplace=False)
    return torch.sum(y) / (k * n)


def official_train_step(net: nn.Module, optimizer: torch.optim.SGD,
                        img1: Tensor, label: Tensor,
                        scale_factor: float = 0.3) -> Dict[str, float]:
    """One official ``train_SEAM.py`` iteration.

    Args:
        net (nn.Module): The network, in train mode.
        optimizer (torch.optim.SGD): Its optimizer.
        img1 (Tensor): Normalised crops, (N, 3, H, W).
        label (Tensor): Multi-hot foreground labels, (N, C - 1).
        scale_factor (float): Rescale of the second view. Defaults to 0.3.

    Returns:
        dict[str, float]: The logged losses (read with ``.item()`` as the
        official loop does).
    """
    n = img1.size(0)
    bg_score = torch.ones((n, 1), device=label.device)
    label = torch.cat((bg_score, label), dim=1).unsqueeze(2).unsqueeze(3)
    img2 = F.interpolate(
        img1, scale_factor=scale_factor, mode='bilinear', align_corners=True)
    cam1, cam_rv1 = net(img1)
    label1 = F.adaptive_avg_pool2d(cam1, (1, 1))
    loss_rvmin1 = _min_pool_loss((cam_rv1 * label)[:, 1:, :, :])
    cam1 = F.interpolate(
        _max_norm(cam1), scale_factor=scale_factor, mode='bilinear',
        align_corners=True) * label
    cam_rv1 = F.interpolate(
        _max_norm(cam_rv1), scale_factor=scale_factor, mode='bilinear',
        align_corners=True) * label
    cam2, cam_rv2 = net(img2)
    label2 = F.adaptive_avg_pool2d(cam2, (1, 1))
    loss_rvmin2 = _min_pool_loss((cam_rv2 * label)[:, 1:, :, :])
    cam2 = _max_norm(cam2) * label
    cam_rv2 = _max_norm(cam_rv2) * label
    loss_cls1 = F.multilabel_soft_margin_loss(label1[:, 1:, :, :],
                                              label[:, 1:, :, :])
    loss_cls2 = F.multilabel_soft_margin_loss(label2[:, 1:, :, :],
                                              label[:, 1:, :, :])
    ns, cs, hs, ws = cam2.size()
    loss_er = torch.mean(torch.abs(cam1[:, 1:, :, :] - cam2[:, 1:, :, :]))
    cam1[:, 0, :, :] = 1 - torch.max(cam1[:, 1:, :, :], dim=1)[0]
    cam2[:, 0, :, :] = 1 - torch.max(cam2[:, 1:, :, :], dim=1)[0]
    tensor_ecr1 = torch.abs(_max_onehot(cam2.detach()) - cam_rv1)
    tensor_ecr2 = torch.abs(_max_onehot(cam1.detach()) - cam_rv2)
    k = int(cs * hs * ws * 0.2)
    loss_ecr1 = torch.mean(torch.topk(tensor_ecr1.view(ns, -1), k=k,
                                      dim=-1)[0])
    loss_ecr2 = torch.mean(torch.topk(tensor_ecr2.view(ns, -1), k=k,
                                      dim=-1)[0])
    loss_ecr = loss_ecr1 + loss_ecr2
    loss_cls = (loss_cls1 + loss_cls2) / 2 + (loss_rvmin1 + loss_rvmin2) / 2
    loss = loss_cls + loss_er + loss_ecr
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return dict(
        loss=loss.item(),
        loss_cls=loss_cls.item(),
        loss_er=loss_er.item(),
        loss_ecr=loss_ecr.item())


@torch.no_grad()
def official_infer(net: nn.Module,
                   img: Tensor,
                   label: Tensor,
                   scales: Sequence[float] = (0.5, 1.0, 1.5, 2.0),
                   flip: bool = True) -> np.ndarray:
    """The official ``infer_SEAM.py`` per-image loop.

    One pass per scale and flip at batch 1; each pass's PCM output is
    resized to the image size, copied to the host as a numpy array, masked
    with the labels and flipped back; the sum is ReLU'd and min-max
    normalised per class.

    Args:
        net (nn.Module): The network, in eval mode.
        img (Tensor): Normalised image, (1, 3, H, W).
        label (Tensor): Multi-hot foreground labels, (C - 1,).
        scales (Sequence[float]): Scales. Defaults to the official ones.
        flip (bool): Also run flipped copies. Defaults to True.

    Returns:
        np.ndarray: (C - 1, H, W) normalised CAMs.
    """
    h, w = img.shape[-2:]
    inputs = []
    for s in scales:
        size = (max(int(round(h * s)), 1), max(int(round(w * s)), 1))
        x = F.interpolate(img, size, mode='bilinear', align_corners=False)
        inputs.append(x)
        if flip:
            inputs.append(x.flip(-1))
    lab = label.cpu().numpy().reshape(-1, 1, 1)
    cams = []
    for i, x in enumerate(inputs):
        _, cam = net(x)
        cam = F.interpolate(
            cam[:, 1:, :, :], (h, w), mode='bilinear',
            align_corners=False)[0]
        cam = cam.cpu().numpy() * lab
        if flip and i % 2 == 1:
            cam = np.flip(cam, axis=-1)
        cams.append(cam)
    sum_cam = np.sum(cams, axis=0)
    sum_cam[sum_cam < 0] = 0
    cam_max = np.max(sum_cam, (1, 2), keepdims=True)
    cam_min = np.min(sum_cam, (1, 2), keepdims=True)
    sum_cam[sum_cam < cam_min + 1e-5] = 0
    return (sum_cam - cam_min - 1e-5) / (cam_max - cam_min + 1e-5)


def build_official_like(model_cfg: dict) -> nn.Module:
    """The official network on the shapes of an mmseam SEAM config.

    Args:
        model_cfg (dict): ``cfg.model`` of a SEAM config with a PCM neck.

    Returns:
        nn.Module: :class:`OfficialSEAMNet` (frozen as officially trained)
        for ``ResNet38d`` configs, else :class:`OfficialSEAMOnBackbone` on
        the config's backbone (built from the registry, weights random).
    """
    neck = model_cfg.get('neck')
    if not neck:
        raise ValueError(
            'build_official_like: the official SEAM step needs a PCM; the '
            'config has model.neck=None (a CAM baseline). Benchmark a SEAM '
            'config instead.')
    bb = dict(model_cfg['backbone'])
    if bb.get('type') == 'ResNet38d':
        return OfficialSEAMNet(model_cfg['num_classes'], frozen=True)
    from mmseg.registry import MODELS
    bb['init_cfg'] = None
    return OfficialSEAMOnBackbone(
        MODELS.build(bb),
        num_classes=model_cfg['num_classes'],
        in_channels=model_cfg['in_channels'],
        pcm_channels=tuple(neck.get('in_channels', (512, 1024))),
        proj_channels=tuple(neck.get('proj_channels', (64, 128))),
        out_channels=neck.get('out_channels', 192),
        pcm_index=tuple(neck.get('in_index', (1, 2))),
        cls_index=model_cfg.get('in_index', -1))


def official_param_count(num_classes: Optional[int] = None) -> int:
    """ResNet-38 parameter count from the layer shapes, by hand.

    Args:
        num_classes (int, optional): Also count the SEAM head (fc8, f8_3,
            f8_4, f9) for this many classes. Defaults to None.

    Returns:
        int: Number of learnable parameters (BN running stats excluded).
    """

    def basic(cin: int, mid: int, cout: int, stride: int = 1) -> int:
        n = 2 * cin + cin * mid * 9 + 2 * mid + mid * cout * 9
        if cin != cout or stride != 1:
            n += cin * cout
        return n

    def bot(cin: int, cout: int) -> int:
        c4, c2 = cout // 4, cout // 2
        return (2 * cin + cin * c4 + 2 * c4 + c4 * c2 * 9 + 2 * c2 +
                c2 * cout + cin * cout)

    blocks: List[int] = [
        3 * 64 * 9,
        basic(64, 128, 128, 2),
        basic(128, 128, 128),
        basic(128, 128, 128),
        basic(128, 256, 256, 2),
        basic(256, 256, 256),
        basic(256, 256, 256),
        basic(256, 512, 512, 2),
    ] + [basic(512, 512, 512)] * 5 + [
        basic(512, 512, 1024),
        basic(1024, 512, 1024),
        basic(1024, 512, 1024),
        bot(1024, 2048),
        bot(2048, 4096),
        2 * 4096,
    ]
    total = sum(blocks)
    if num_classes is not None:
        total += 4096 * num_classes + 512 * 64 + 1024 * 128 + 195 * 192
    return total
