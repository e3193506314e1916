# Copyright (c) mmseam contributors. All rights reserved.
"""A small plain CNN with output stride 8 for CPU runs on synthetic data.

It is not part of the SEAM paper: it stands in for ResNet38 where a whole
weakly supervised pipeline must train from scratch in minutes on a
laptop-class CPU (``make demo``). Plain conv-BN-ReLU blocks learn the
synthetic class marks within a few hundred iterations where a ResNetV1c-18-d8
does not (docs/synthetic_data.md).
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ['TinyConvNet']


@MODELS.register_module()
class TinyConvNet(BaseModule):
    """Stack of plain 3x3 conv-BN-ReLU blocks (default output stride 8).

    Block ``i`` is ``Conv2d(c_{i-1}, c_i, 3, stride_i, padding d_i,
    dilation d_i, no bias) -> norm -> ReLU`` with ``c_{-1} = in_channels``.
    The receptive field of the last block is ``1 + sum_i 2 d_i j_i`` pixels,
    ``j_i`` the product of the strides before block ``i``: 43 px for the
    default six blocks, 123 px with two more blocks of dilation 2 and 3 at
    stride 8, enough to cover a whole synthetic object as ResNet38's field
    covers VOC objects (a CAM can only spread as far as its field reaches;
    docs/synthetic_data.md has what that changed in the demo). A block listed
    in ``residual_blocks`` computes ``x + block(x)`` instead, by default with
    its norm's weight and bias zero-initialised so that it starts as the
    identity (``zero_init_residual``, as in MMSegmentation's ResNet): deeper
    stacks then train from scratch as fast as the six plain blocks (a plain
    8-block stack learned the synthetic marks far more slowly).

    Args:
        in_channels (int): Input channels. Defaults to 3.
        channels (Sequence[int]): Output channels of the blocks.
            Defaults to ``(32, 32, 64, 64, 128, 128)``.
        strides (Sequence[int]): Stride of each block (their product is the
            output stride). Defaults to ``(2, 1, 2, 1, 2, 1)``.
        dilations (Sequence[int], optional): Dilation of each block (use
            co-prime values such as 2, 3 for consecutive dilated blocks to
            avoid gridding). Defaults to None (all 1).
        residual_blocks (Sequence[int]): Blocks computed as
            ``x + block(x)`` (the identity at the start with
            ``zero_init_residual``); each must keep its input's channels and
            have stride 1. Defaults to ().
        zero_init_residual (bool): Zero-initialise the norm of the residual
            blocks (identity start). Defaults to True.
        out_indices (Sequence[int]): Blocks whose outputs are returned.
            Defaults to all six.
        norm_cfg (dict): Norm layer config. Defaults to ``dict(type='BN')``.
        norm_eval (bool): Keep the norm layers in eval mode while training
            (frozen statistics, as SEAM does with ResNet38). Their affine
            parameters stay trainable unless ``norm_cfg`` has
            ``requires_grad=False``. Defaults to False.
        init_cfg (dict or list[dict], optional): Initialisation config, e.g.
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)`.
        - Output: tuple, one :math:`(N, c_i, H / s_i, W / s_i)` tensor per
          entry of ``out_indices`` (``s_i`` = product of the strides up to
          block ``i``, rounding up).
    """

    def __init__(self,
                 in_channels: int = 3,
                 channels: Sequence[int] = (32, 32, 64, 64, 128, 128),
                 strides: Sequence[int] = (2, 1, 2, 1, 2, 1),
                 dilations: Optional[Sequence[int]] = None,
                 residual_blocks: Sequence[int] = (),
                 zero_init_residual: bool = True,
                 out_indices: Sequence[int] = (0, 1, 2, 3, 4, 5),
                 norm_cfg: Dict = dict(type='BN'),
                 norm_eval: bool = False,
                 init_cfg: Optional[Union[Dict, List[Dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(channels) != len(strides):
            raise ValueError(
                f'channels {tuple(channels)} and strides {tuple(strides)} '
                'must have the same length (one entry per block).')
        if dilations is None:
            dilations = (1, ) * len(channels)
        if len(dilations) != len(channels) or min(dilations) < 1:
            raise ValueError(
                f'dilations {tuple(dilations)} must give one dilation >= 1 '
                f'per block ({len(channels)} blocks, channels '
                f'{tuple(channels)}).')
        bad = [i for i in out_indices if not 0 <= i < len(channels)]
        if bad:
            last = len(channels) - 1
            raise ValueError(f'out_indices {tuple(out_indices)} name blocks '
                             f'{bad} that do not exist; the network has '
                             f'{len(channels)} blocks (0-{last}).')
        in_chs = (in_channels, ) + tuple(channels[:-1])
        bad = [
            i for i in residual_blocks
            if not 0 <= i < len(channels) or strides[i] != 1
            or in_chs[i] != channels[i]
        ]
        if bad:
            raise ValueError(
                f'residual_blocks {tuple(residual_blocks)}: blocks {bad} '
                'cannot add their input (a residual block needs stride 1 '
                'and as many output channels as input channels; channels '
                f'{tuple(channels)}, strides {tuple(strides)}).')
        self.residual_blocks = frozenset(residual_blocks)
        self.out_indices = tuple(out_indices)
        self.norm_eval = norm_eval
        blocks = []
        prev = in_channels
        for ch, stride, dil in zip(channels, strides, dilations):
            _, norm = build_norm_layer(norm_cfg, ch)
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(
                        prev,
                        ch,
                        3,
                        stride,
                        padding=dil,
                        dilation=dil,
                        bias=False), norm,
                    nn.ReLU(inplace=True)))
            prev = ch
            if zero_init_residual and \
                    len(blocks) - 1 in self.residual_blocks:
                nn.init.zeros_(norm.weight)
                nn.init.zeros_(norm.bias)
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Return the outputs of the blocks in ``out_indices``."""
        outs = []
        for i, block in enumerate(self.blocks):
            x = x + block(x) if i in self.residual_blocks else block(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def train(self, mode: bool = True) -> 'TinyConvNet':
        """Set train mode; with ``norm_eval`` the norm layers stay in eval."""
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
