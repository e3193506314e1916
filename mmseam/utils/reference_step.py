# Copyright (c) mmseam contributors. All rights reserved.
"""A plain re-implementation of the official SEAM training and CAM step.

Only for benchmarking (``tools/benchmark.py --compare-strict``): it writes
the official ``train_SEAM.py`` iteration and the official ``infer_SEAM.py``
per-image loop the way the official code does them (two separate network
calls, in-place CAM edits with boolean-mask indexing, ``.item()`` logging,
the hand-written poly SGD), on the same shapes as an mmseam config, so the
speed of mmseam's step can be compared with "the official code" on any
device. Written from the description in the shared ``seam_reference.md``
(spec 1.1-1.4); no code of the official repository is used.

The network is the official ``resnet38_SEAM.Net`` layout
(:class:`PlainResNet38`) when the config's backbone is ``ResNet38d``, and
otherwise the config's own backbone module with the official SEAM head and
PCM written out in plain PyTorch on top (no official code exists for other
backbones; this keeps "the same shapes").
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'PlainResNet38', 'OfficialSEAMNet', 'OfficialPolySGD',
    'official_train_step', 'official_infer', 'build_official_like'
]


class _Block(nn.Module):
    """Official ``ResBlock`` (pre-activation, basic)."""

    def __init__(self, cin: int, mid: int, cout: int, stride: int = 1,
                 first_dilation: Optional[int] = None,
                 dilation: int = 1) -> None:
        super().__init__()
        fd = dilation if first_dilation is None else first_dilation
        self.same_shape = cin == cout and stride == 1
        self.bn_branch2a = nn.BatchNorm2d(cin)
        self.conv_branch2a = nn.Conv2d(
            cin, mid, 3, stride, padding=fd, dilation=fd, bias=False)
        self.bn_branch2b1 = nn.BatchNorm2d(mid)
        self.conv_branch2b1 = nn.Conv2d(
            mid, cout, 3, padding=dilation, dilation=dilation, bias=False)
        if not self.same_shape:
            self.conv_branch1 = nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        branch2 = F.relu(self.bn_branch2a(x))
        x_bn_relu = branch2
        if not self.same_shape:
            branch1 = self.conv_branch1(branch2)
        else:
            branch1 = x
        branch2 = self.conv_branch2a(branch2)
        branch2 = F.relu(self.bn_branch2b1(branch2))
        branch2 = self.conv_branch2b1(branch2)
        return branch1 + branch2, x_bn_relu


class _BotBlock(nn.Module):
    """Official ``ResBlock_bot`` (pre-activation bottleneck)."""

    def __init__(self, cin: int, cout: int, stride: int = 1,
                 dilation: int = 1, dropout: float = 0.) -> None:
        super().__init__()
        self.bn_branch2a = nn.BatchNorm2d(cin)
        self.conv_branch2a = nn.Conv2d(cin, cout // 4, 1, stride, bias=False)
        self.bn_branch2b1 = nn.BatchNorm2d(cout // 4)
        self.dropout_2b1 = nn.Dropout2d(dropout)
        self.conv_branch2b1 = nn.Conv2d(
            cout // 4, cout // 2, 3, padding=dilation, dilation=dilation,
            bias=False)
        self.bn_branch2b2 = nn.BatchNorm2d(cout // 2)
        self.dropout_2b2 = nn.Dropout2d(dropout)
        self.conv_branch2b2 = nn.Conv2d(cout // 2, cout, 1, bias=False)
        self.conv_branch1 = nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        branch2 = F.relu(self.bn_branch2a(x))
        x_bn_relu = branch2
        branch1 = self.conv_branch1(branch2)
        branch2 = self.conv_branch2a(branch2)
        branch2 = self.dropout_2b1(F.relu(self.bn_branch2b1(branch2)))
        branch2 = self.conv_branch2b1(branch2)
        branch2 = self.dropout_2b2(F.relu(self.bn_branch2b2(branch2)))
        branch2 = self.conv_branch2b2(branch2)
        return branch1 + branch2, x_bn_relu


class PlainResNet38(nn.Module):
    """Official ``resnet38d.Net`` (ResNet-38 A1, output stride 8).

    ``forward(x)`` with ``x`` (N, 3, H, W) returns the official
    ``forward_as_dict`` taps as a tuple ``(conv3, conv4, conv5, conv6)``:
    (N, 256, H/4, W/4), (N, 512, H/8, W/8), (N, 1024, H/8, W/8),
    (N, 4096, H/8, W/8). ``train()`` keeps the official frozen parts
    (``conv1a``, ``b2*`` and every BatchNorm) frozen and in eval mode.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1a = nn.Conv2d(3, 64, 3, padding=1, bias=False)
        self.b2 = _Block(64, 128, 128, stride=2)
        self.b2_1 = _Block(128, 128, 128)
        self.b2_2 = _Block(128, 128, 128)
        self.b3 = _Block(128, 256, 256, stride=2)
        self.b3_1 = _Block(256, 256, 256)
        self.b3_2 = _Block(256, 256, 256)
        self.b4 = _Block(256, 512, 512, stride=2)
        self.b4_1 = _Block(512, 512, 512)
        self.b4_2 = _Block(512, 512, 512)
        self.b4_3 = _Block(512, 512, 512)
        self.b4_4 = _Block(512, 512, 512)
        self.b4_5 = _Block(512, 512, 512)
        self.b5 = _Block(512, 512, 1024, stride=1, first_dilation=1,
                         dilation=2)
        self.b5_1 = _Block(1024, 512, 1024, dilation=2)
        self.b5_2 = _Block(1024, 512, 1024, dilation=2)
        self.b6 = _BotBlock(1024, 2048, stride=1, dilation=4, dropout=0.3)
        self.b7 = _BotBlock(2048, 4096, dilation=4, dropout=0.5)
        self.bn7 = nn.BatchNorm2d(4096)
        self.not_training = [self.conv1a, self.b2, self.b2_1, self.b2_2]

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        x = self.conv1a(x)
        x, _ = self.b2(x)
        x, _ = self.b2_1(x)
        x, _ = self.b2_2(x)
        x, _ = self.b3(x)
        x, _ = self.b3_1(x)
        x, _ = self.b3_2(x)
        x, conv3 = self.b4(x)
        x, _ = self.b4_1(x)
        x, _ = self.b4_2(x)
        x, _ = self.b4_3(x)
        x, _ = self.b4_4(x)
        x, _ = self.b4_5(x)
        x, conv4 = self.b5(x)
        x, _ = self.b5_1(x)
        x, _ = self.b5_2(x)
        x, conv5 = self.b6(x)
        x, _ = self.b7(x)
        conv6 = F.relu(self.bn7(x))
        return conv3, conv4, conv5, conv6

    def train(self, mode: bool = True) -> 'PlainResNet38':
        super().train(mode)
        for layer in self.not_training:
            for p in layer.parameters():
                p.requires_grad = False
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
                m.weight.requires_grad = False
                m.bias.requires_grad = False
        return self


class OfficialSEAMNet(nn.Module):
    """Official ``resnet38_SEAM.Net`` head and PCM on a given backbone.

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
        self.dropout7 = nn.Dropout2d(0.5)
        self.fc8 = nn.Conv2d(in_channels, num_classes, 1, bias=False)
        self.f8_3 = nn.Conv2d(pcm_channels[0], proj_channels[0], 1,
                              bias=False)
        self.f8_4 = nn.Conv2d(pcm_channels[1], proj_channels[1], 1,
                              bias=False)
        self.f9 = nn.Conv2d(
            3 + proj_channels[0] + proj_channels[1], out_channels, 1,
            bias=False)
        nn.init.xavier_uniform_(self.fc8.weight)
        nn.init.kaiming_normal_(self.f8_3.weight)
        nn.init.kaiming_normal_(self.f8_4.weight)
        nn.init.xavier_uniform_(self.f9.weight, gain=4)
        self.from_scratch_layers = [self.f8_3, self.f8_4, self.f9, self.fc8]

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        feats = self.backbone(x)
        cam = self.fc8(self.dropout7(feats[self.cls_index]))
        n, c, h, w = cam.size()
        with torch.no_grad():
            cam_d = F.relu(cam.detach())
            cam_d_max = torch.max(
                cam_d.view(n, c, -1), dim=-1)[0].view(n, c, 1, 1) + 1e-5
            cam_d_norm = F.relu(cam_d - 1e-5) / cam_d_max
            cam_d_norm[:, 0, :, :] = 1 - torch.max(
                cam_d_norm[:, 1:, :, :], dim=1)[0]
            cam_max = torch.max(
                cam_d_norm[:, 1:, :, :], dim=1, keepdim=True)[0]
            cam_d_norm[:, 1:, :, :][cam_d_norm[:, 1:, :, :] < cam_max] = 0
        taps = []
        for idx in self.pcm_index:
            tap = feats[idx].detach()
            if tap.shape[-2:] != (h, w):
                # backbones whose taps differ in stride (ResNet38d's are
                # all at the CAM size): resized as mmseam's PCM does
                tap = F.interpolate(
                    tap, (h, w), mode='bilinear', align_corners=True)
            taps.append(tap)
        f8_3 = F.relu(self.f8_3(taps[0]), inplace=True)
        f8_4 = F.relu(self.f8_4(taps[1]), inplace=True)
        x_s = F.interpolate(x, (h, w), mode='bilinear', align_corners=True)
        f = torch.cat([x_s, f8_3, f8_4], dim=1)
        cam_rv = self.pcm(cam_d_norm, f)
        cam = F.interpolate(cam, x.shape[2:], mode='bilinear',
                            align_corners=True)
        cam_rv = F.interpolate(cam_rv, x.shape[2:], mode='bilinear',
                               align_corners=True)
        return cam, cam_rv

    def pcm(self, cam: Tensor, f: Tensor) -> Tensor:
        """Official ``PCM``: column-normalised relu(cos) affinity."""
        n, c, h, w = f.size()
        cam = F.interpolate(
            cam, (h, w), mode='bilinear', align_corners=True).view(
                n, -1, h * w)
        f = self.f9(f)
        f = f.view(n, -1, h * w)
        f = f / (torch.norm(f, dim=1, keepdim=True) + 1e-5)
        aff = F.relu(torch.matmul(f.transpose(1, 2), f), inplace=True)
        aff = aff / (torch.sum(aff, dim=1, keepdim=True) + 1e-5)
        cam_rv = torch.matmul(cam, aff).view(n, -1, h, w)
        return cam_rv

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


class OfficialPolySGD(torch.optim.SGD):
    """Official ``PolyOptimizer``: SGD whose lr decays as poly 0.9 per step.

    As in the official code, the weight decay is passed positionally into
    SGD's momentum slot (SEAM issue #21): momentum is ``weight_decay``.
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


def build_official_optimizer(net: OfficialSEAMNet, lr: float = 0.01,
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


def official_train_step(net: OfficialSEAMNet, optimizer: torch.optim.SGD,
                        img1: Tensor, label: Tensor,
                        scale_factor: float = 0.3) -> Dict[str, float]:
    """One official ``train_SEAM.py`` iteration.

    Args:
        net (OfficialSEAMNet): The network, in train mode.
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
def official_infer(net: OfficialSEAMNet,
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
        net (OfficialSEAMNet): The network, in eval mode.
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


def build_official_like(model_cfg: dict) -> OfficialSEAMNet:
    """The official network on the shapes of an mmseam SEAM config.

    Args:
        model_cfg (dict): ``cfg.model`` of a SEAM config with a PCM neck.

    Returns:
        OfficialSEAMNet: :class:`PlainResNet38` for ``ResNet38d`` configs,
        else the config's backbone (built from the registry, weights
        random) under the official head and PCM.
    """
    neck = model_cfg.get('neck')
    if not neck:
        raise ValueError(
            'build_official_like: the official SEAM step needs a PCM; the '
            'config has model.neck=None (a CAM baseline). Benchmark a SEAM '
            'config instead.')
    bb = dict(model_cfg['backbone'])
    if bb.get('type') == 'ResNet38d':
        backbone = PlainResNet38()
    else:
        from mmseg.registry import MODELS
        bb['init_cfg'] = None
        backbone = MODELS.build(bb)
    return OfficialSEAMNet(
        backbone,
        num_classes=model_cfg['num_classes'],
        in_channels=model_cfg['in_channels'],
        pcm_channels=tuple(neck.get('in_channels', (512, 1024))),
        proj_channels=tuple(neck.get('proj_channels', (64, 128))),
        out_channels=neck.get('out_channels', 192),
        pcm_index=tuple(neck.get('in_index', (1, 2))),
        cls_index=model_cfg.get('in_index', -1))
