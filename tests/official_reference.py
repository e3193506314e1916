# Copyright (c) mmseam contributors. All rights reserved.
"""Plain PyTorch re-implementation of the official SEAM network (tests only).

Written from the description in ``docs/seam_reference.md`` (sections 1.1 and
1.2) and the layout of the official ``network/resnet38d.py`` /
``network/resnet38_SEAM.py``: same module names, hence the same state-dict
keys as the official checkpoints (``conv1a.weight``,
``b2.bn_branch2a.weight``, ``b2.conv_branch1.weight``, ...,
``b6.conv_branch2b2.weight``, ``bn7.running_var``, ``fc8.weight``,
``f8_3.weight``, ``f8_4.weight``, ``f9.weight``). It depends on nothing in
mmseam, so tests can compare mmseam's modules against it.
"""
from typing import Dict, List, Optional, Tuple

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
    """Official ``resnet38d.Net`` layout; ``forward`` returns the four taps
    ``dict(conv3, conv4, conv5, conv6)`` of ``forward_as_dict``."""

    def __init__(self) -> None:
        super().__init__()
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


class OfficialSEAMNet(OfficialResNet38d):
    """Official ``resnet38_SEAM.Net``: CAM head + PCM.

    ``forward(x)`` with ``x`` (N, 3, H, W) returns ``(cam, cam_rv)``, both
    (N, num_classes, H, W), bilinear ``align_corners=True`` upsampled.
    """

    def __init__(self, num_classes: int = 21) -> None:
        super().__init__()
        self.dropout7 = nn.Dropout2d(0.5)
        self.fc8 = nn.Conv2d(4096, num_classes, 1, bias=False)
        self.f8_3 = nn.Conv2d(512, 64, 1, bias=False)
        self.f8_4 = nn.Conv2d(1024, 128, 1, bias=False)
        self.f9 = nn.Conv2d(192 + 3, 192, 1, bias=False)
        nn.init.xavier_uniform_(self.fc8.weight)
        nn.init.kaiming_normal_(self.f8_3.weight)
        nn.init.kaiming_normal_(self.f8_4.weight)
        nn.init.xavier_uniform_(self.f9.weight, gain=4)

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
        aff = F.relu(torch.matmul(f.transpose(1, 2), f))
        aff = aff / (torch.sum(aff, dim=1, keepdim=True) + 1e-5)
        return torch.matmul(cam, aff).view(n, -1, h, w)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        d = self.forward_as_dict(x)
        cam = self.fc8(self.dropout7(d['conv6']))
        n, c, h, w = cam.shape
        cam_d_norm = self.pcm_input(cam)
        f8_3 = F.relu(self.f8_3(d['conv4'].detach()))
        f8_4 = F.relu(self.f8_4(d['conv5'].detach()))
        x_s = F.interpolate(x, (h, w), mode='bilinear', align_corners=True)
        f = torch.cat([x_s, f8_3, f8_4], dim=1)
        cam_rv = self.pcm(cam_d_norm, f)
        size = x.shape[2:]
        cam = F.interpolate(cam, size, mode='bilinear', align_corners=True)
        cam_rv = F.interpolate(
            cam_rv, size, mode='bilinear', align_corners=True)
        return cam, cam_rv


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
