# Copyright (c) mmseam contributors. All rights reserved.
"""ResNet-38 ("WideResNet-38", model A1) as used by the official SEAM.

The network is the wide pre-activation ResNet of Wu et al., "Wider or Deeper:
Revisiting the ResNet Model for Visual Recognition" (model A1), in the
dilated output-stride-8 variant ("resnet38d") that PSA, SEAM and most
ResNet-38 based WSSS methods use.

Module and parameter names are those of the official PyTorch port
(``conv1a``, ``b2``, ``b2_1``, ..., ``b7``, ``bn7``; inside a block
``bn_branch2a``, ``conv_branch2a``, ``bn_branch2b1``, ``conv_branch2b1``,
``conv_branch1`` and, for the bottleneck blocks, ``bn_branch2b2``,
``conv_branch2b2``), so an official state dict loads after prefixing its keys
with ``backbone.`` (see ``tools/model_converters/seam_official_to_mmseam.py``).
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ['ResNet38d', 'PreActResBlock', 'PreActBottleneckBlock']

ConfigType = Dict
MultiConfig = Optional[Union[Dict, List[Dict]]]


class PreActResBlock(BaseModule):
    """Pre-activation basic block of ResNet-38 (official ``ResBlock``).

    ``x -> BN -> ReLU -> (x_bn_relu)``; the residual branch is
    ``conv3x3(stride, first_dilation) -> BN -> ReLU -> conv3x3(dilation)``
    and the shortcut is ``x`` when the shape is kept, else a bias-free 1x1
    conv (with the stride) applied to ``x_bn_relu``. All convs are bias-free.

    Args:
        in_channels (int): Input channels.
        mid_channels (int): Channels after the first 3x3 conv.
        out_channels (int): Output channels.
        stride (int): Stride of the first 3x3 conv and of the shortcut.
            Defaults to 1.
        first_dilation (int, optional): Dilation (= padding) of the first
            3x3 conv. ``None`` means ``dilation``. Defaults to None.
        dilation (int): Dilation (= padding) of the second 3x3 conv.
            Defaults to 1.
        norm_cfg (dict): Config of the norm layers.
            Defaults to ``dict(type='BN')``.
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)`.
        - Output: tuple ``(out, x_bn_relu)`` with ``out`` of shape
          :math:`(N, C_{out}, \\lceil H/s \\rceil, \\lceil W/s \\rceil)` and
          ``x_bn_relu`` (the BN+ReLU'd input) of shape
          :math:`(N, C_{in}, H, W)`.
    """

    def __init__(self,
                 in_channels: int,
                 mid_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 first_dilation: Optional[int] = None,
                 dilation: int = 1,
                 norm_cfg: ConfigType = dict(type='BN'),
                 init_cfg: MultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if first_dilation is None:
            first_dilation = dilation
        self.same_shape = in_channels == out_channels and stride == 1
        self.stride = stride
        self.first_dilation = first_dilation
        self.dilation = dilation

        self.bn_branch2a = build_norm_layer(norm_cfg, in_channels)[1]
        self.conv_branch2a = nn.Conv2d(
            in_channels,
            mid_channels,
            3,
            stride=stride,
            padding=first_dilation,
            dilation=first_dilation,
            bias=False)
        self.bn_branch2b1 = build_norm_layer(norm_cfg, mid_channels)[1]
        self.conv_branch2b1 = nn.Conv2d(
            mid_channels,
            out_channels,
            3,
            padding=dilation,
            dilation=dilation,
            bias=False)
        if not self.same_shape:
            self.conv_branch1 = nn.Conv2d(
                in_channels, out_channels, 1, stride=stride, bias=False)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Forward function.

        Args:
            x (Tensor): Input of shape (N, C_in, H, W).

        Returns:
            tuple[Tensor, Tensor]: ``(out, x_bn_relu)``, shapes
            (N, C_out, H', W') and (N, C_in, H, W).
        """
        x_bn_relu = F.relu(self.bn_branch2a(x))
        if self.same_shape:
            shortcut = x
        else:
            shortcut = self.conv_branch1(x_bn_relu)
        branch2 = self.conv_branch2a(x_bn_relu)
        branch2 = F.relu(self.bn_branch2b1(branch2))
        branch2 = self.conv_branch2b1(branch2)
        return shortcut + branch2, x_bn_relu


class PreActBottleneckBlock(BaseModule):
    """Pre-activation bottleneck block of ResNet-38 (official
    ``ResBlock_bot``).

    Residual branch:
    ``BN -> ReLU -> conv1x1(C_out/4) -> BN -> ReLU -> Dropout2d ->
    conv3x3(C_out/2, dilation) -> BN -> ReLU -> Dropout2d -> conv1x1(C_out)``;
    the shortcut is always a bias-free 1x1 conv on the BN+ReLU'd input (the
    official block applies it even when the shape is kept). All convs are
    bias-free.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the first 1x1 conv and of the shortcut.
            Defaults to 1.
        dilation (int): Dilation (= padding) of the 3x3 conv. Defaults to 1.
        dropout (float): Drop probability of both ``Dropout2d`` layers.
            Defaults to 0.
        norm_cfg (dict): Config of the norm layers.
            Defaults to ``dict(type='BN')``.
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)`.
        - Output: tuple ``(out, x_bn_relu)`` with ``out`` of shape
          :math:`(N, C_{out}, \\lceil H/s \\rceil, \\lceil W/s \\rceil)` and
          ``x_bn_relu`` of shape :math:`(N, C_{in}, H, W)`.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 dilation: int = 1,
                 dropout: float = 0.,
                 norm_cfg: ConfigType = dict(type='BN'),
                 init_cfg: MultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.stride = stride
        self.dilation = dilation
        quarter, half = out_channels // 4, out_channels // 2

        self.bn_branch2a = build_norm_layer(norm_cfg, in_channels)[1]
        self.conv_branch2a = nn.Conv2d(
            in_channels, quarter, 1, stride=stride, bias=False)
        self.bn_branch2b1 = build_norm_layer(norm_cfg, quarter)[1]
        self.dropout_2b1 = nn.Dropout2d(dropout)
        self.conv_branch2b1 = nn.Conv2d(
            quarter, half, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn_branch2b2 = build_norm_layer(norm_cfg, half)[1]
        self.dropout_2b2 = nn.Dropout2d(dropout)
        self.conv_branch2b2 = nn.Conv2d(half, out_channels, 1, bias=False)
        self.conv_branch1 = nn.Conv2d(
            in_channels, out_channels, 1, stride=stride, bias=False)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Bottleneck unit: 1x1 -> dilated 3x3 -> 1x1, projected shortcut.

        Args:
            x (Tensor): Input of shape (N, C_in, H, W).

        Returns:
            tuple[Tensor, Tensor]: ``(out, x_bn_relu)``: the unit's output
            (N, C_out, H', W') and its pre-activated input (N, C_in, H, W).
        """
        x_bn_relu = F.relu(self.bn_branch2a(x))
        shortcut = self.conv_branch1(x_bn_relu)
        branch2 = self.conv_branch2a(x_bn_relu)
        branch2 = self.dropout_2b1(F.relu(self.bn_branch2b1(branch2)))
        branch2 = self.conv_branch2b1(branch2)
        branch2 = self.dropout_2b2(F.relu(self.bn_branch2b2(branch2)))
        branch2 = self.conv_branch2b2(branch2)
        return shortcut + branch2, x_bn_relu


@MODELS.register_module()
class ResNet38d(BaseModule):
    """Wide ResNet-38 (model A1), dilated to output stride 8.

    The official SEAM / PSA backbone (``network/resnet38d.py``), with the
    official module names:

    ==================  ===================================  ==  ========
    modules             block (in, mid, out)                 OS  dilation
    ==================  ===================================  ==  ========
    ``conv1a``          conv3x3 3 -> 64, bias-free           1   1
    ``b2, b2_1, b2_2``  basic (64|128, 128, 128), s2 first   2   1
    ``b3, b3_1, b3_2``  basic (128|256, 256, 256), s2 first  4   1
    ``b4, b4_1..b4_5``  basic (256|512, 512, 512), s2 first  8   1
    ``b5, b5_1, b5_2``  basic (512|1024, 512, 1024)          8   2 (*)
    ``b6``              bottleneck 1024 -> 2048, drop 0.3    8   4
    ``b7``              bottleneck 2048 -> 4096, drop 0.5    8   4
    ``bn7``             BN + ReLU on the b7 output           8   -
    ==================  ===================================  ==  ========

    (*) ``b5``'s first 3x3 conv has dilation 1, its second one and both of
    ``b5_1``/``b5_2``'s convs dilation 2. The bottleneck blocks dilate only
    their 3x3 conv.

    Outputs (``out_indices`` picks from these; each is the BN+ReLU'd input of
    a block, as the official ``forward_as_dict`` with ``get_x_bn_relu``):

    ===  =========  ===============================  ========  ====
    idx  official   tensor                           channels  OS
    ===  =========  ===============================  ========  ====
    0    ``conv3``  relu(b4.bn_branch2a(b3_2 out))   256       4
    1    ``conv4``  relu(b5.bn_branch2a(b4_5 out))   512       8
    2    ``conv5``  relu(b6.bn_branch2a(b5_2 out))   1024      8
    3    ``conv6``  relu(bn7(b7 out))                4096      8
    ===  =========  ===============================  ========  ====

    E.g. a 1x3x448x448 input gives (1, 256, 112, 112), (1, 512, 56, 56),
    (1, 1024, 56, 56), (1, 4096, 56, 56); an odd size rounds up at each
    stride-2 layer (134 -> 67 -> 34 -> 17).

    Normalisation layers: the official port uses ``nn.BatchNorm2d`` with
    PyTorch defaults (eps 1e-5, momentum 0.1, affine, running stats); the
    default ``norm_cfg=dict(type='BN')`` builds exactly that. During SEAM and
    AffinityNet training the official code keeps every BN frozen:
    ``norm_eval=True`` reproduces it (BN layers in eval mode *and* their
    affine parameters with ``requires_grad=False``).

    ``frozen_stages`` (official SEAM: 1, i.e. its ``not_training`` list
    ``[conv1a, b2, b2_1, b2_2]``); frozen modules get ``requires_grad=False``
    and are kept in eval mode:

    ======  ============================================
    value   frozen modules (cumulative)
    ======  ============================================
    -1      none
    0       ``conv1a``
    1       + ``b2, b2_1, b2_2``
    2       + ``b3, b3_1, b3_2``
    3       + ``b4, b4_1 .. b4_5``
    4       + ``b5, b5_1, b5_2``
    5       + ``b6``
    6       + ``b7, bn7`` (whole backbone)
    ======  ============================================

    Args:
        in_channels (int): Input image channels. Defaults to 3.
        out_indices (Sequence[int]): Which of the four taps to return, see
            the table above. Defaults to (0, 1, 2, 3).
        frozen_stages (int): Freeze modules up to this stage, see the table
            above. Defaults to -1.
        norm_eval (bool): Keep BN layers in eval mode and their affine
            parameters frozen (``requires_grad=False``), as the official
            SEAM. Defaults to True.
        dropout_ratios (Sequence[float]): ``Dropout2d`` probabilities of
            ``b6`` and ``b7``. Defaults to (0.3, 0.5).
        norm_cfg (dict): Config of the norm layers.
            Defaults to ``dict(type='BN')``.
        with_cp (bool): Use gradient checkpointing per block (saves memory,
            costs one extra forward). Defaults to False.
        init_cfg (dict or list[dict], optional): Initialization config. To
            load the output of
            ``tools/model_converters/seam_official_to_mmseam.py`` use
            ``dict(type='Pretrained', checkpoint=PATH, prefix='backbone.')``.
            ``None`` keeps PyTorch's default init (as the official code,
            which then loads ImageNet weights). Defaults to None.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)`.
        - Output: tuple of ``len(out_indices)`` tensors, see the table above.
    """

    # Blocks in order: (name, kind, in, mid, out, stride, first dilation,
    # dilation); bottlenecks derive mid widths (out/4, out/2) themselves and
    # dilate only their 3x3 conv.
    arch_settings = (
        ('b2', 'basic', 64, 128, 128, 2, 1, 1),
        ('b2_1', 'basic', 128, 128, 128, 1, 1, 1),
        ('b2_2', 'basic', 128, 128, 128, 1, 1, 1),
        ('b3', 'basic', 128, 256, 256, 2, 1, 1),
        ('b3_1', 'basic', 256, 256, 256, 1, 1, 1),
        ('b3_2', 'basic', 256, 256, 256, 1, 1, 1),
        ('b4', 'basic', 256, 512, 512, 2, 1, 1),
        ('b4_1', 'basic', 512, 512, 512, 1, 1, 1),
        ('b4_2', 'basic', 512, 512, 512, 1, 1, 1),
        ('b4_3', 'basic', 512, 512, 512, 1, 1, 1),
        ('b4_4', 'basic', 512, 512, 512, 1, 1, 1),
        ('b4_5', 'basic', 512, 512, 512, 1, 1, 1),
        ('b5', 'basic', 512, 512, 1024, 1, 1, 2),
        ('b5_1', 'basic', 1024, 512, 1024, 1, 2, 2),
        ('b5_2', 'basic', 1024, 512, 1024, 1, 2, 2),
        ('b6', 'bottleneck', 1024, None, 2048, 1, 4, 4),
        ('b7', 'bottleneck', 2048, None, 4096, 1, 4, 4),
    )
    # Block names of each freezable stage (see the class docstring).
    stage_blocks = (
        ('conv1a', ),
        ('b2', 'b2_1', 'b2_2'),
        ('b3', 'b3_1', 'b3_2'),
        ('b4', 'b4_1', 'b4_2', 'b4_3', 'b4_4', 'b4_5'),
        ('b5', 'b5_1', 'b5_2'),
        ('b6', ),
        ('b7', 'bn7'),
    )
    # Block whose BN+ReLU'd input is tap 0, 1, 2 (tap 3 is relu(bn7)).
    tap_blocks = ('b4', 'b5', 'b6')
    out_channels = (256, 512, 1024, 4096)

    def __init__(self,
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = True,
                 dropout_ratios: Sequence[float] = (0.3, 0.5),
                 norm_cfg: ConfigType = dict(type='BN'),
                 with_cp: bool = False,
                 init_cfg: MultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        out_indices = tuple(out_indices)
        if len(out_indices) == 0 or not all(
                isinstance(i, int) and 0 <= i < 4 for i in out_indices):
            raise ValueError(
                f'ResNet38d: out_indices must be a non-empty sequence of '
                f'ints in [0, 3] (0=conv3, 1=conv4, 2=conv5, 3=conv6), got '
                f'{out_indices}.')
        if not -1 <= frozen_stages <= len(self.stage_blocks) - 1:
            raise ValueError(
                f'ResNet38d: frozen_stages must be in [-1, '
                f'{len(self.stage_blocks) - 1}], got {frozen_stages}.')
        dropout_ratios = tuple(dropout_ratios)
        if len(dropout_ratios) != 2 or not all(0. <= p <= 1.
                                               for p in dropout_ratios):
            raise ValueError(
                f'ResNet38d: dropout_ratios must be two probabilities (b6, '
                f'b7), got {dropout_ratios}.')
        self.in_channels = in_channels
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.dropout_ratios = dropout_ratios
        self.norm_cfg = norm_cfg
        self.with_cp = with_cp

        self.conv1a = nn.Conv2d(in_channels, 64, 3, padding=1, bias=False)
        self.block_names: List[str] = []
        drop = dict(b6=dropout_ratios[0], b7=dropout_ratios[1])
        for (name, kind, cin, mid, cout, stride, first_dilation,
             dilation) in self.arch_settings:
            if kind == 'basic':
                block = PreActResBlock(
                    cin,
                    mid,
                    cout,
                    stride=stride,
                    first_dilation=first_dilation,
                    dilation=dilation,
                    norm_cfg=norm_cfg)
            else:
                block = PreActBottleneckBlock(
                    cin,
                    cout,
                    stride=stride,
                    dilation=dilation,
                    dropout=drop[name],
                    norm_cfg=norm_cfg)
            self.add_module(name, block)
            self.block_names.append(name)
        self.bn7 = build_norm_layer(norm_cfg, 4096)[1]

        self._freeze()

    def _run_block(self, block: nn.Module, x: Tensor) -> Tuple[Tensor, Tensor]:
        if self.with_cp and self.training and torch.is_grad_enabled():
            return cp.checkpoint(block, x, use_reentrant=False)
        return block(x)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Forward function.

        Args:
            x (Tensor): Normalised images, shape (N, C_in, H, W).

        Returns:
            tuple[Tensor]: The taps selected by ``out_indices``:
            conv3 (N, 256, H/4, W/4), conv4 (N, 512, H/8, W/8),
            conv5 (N, 1024, H/8, W/8), conv6 (N, 4096, H/8, W/8)
            (sizes rounded up at each stride-2 layer).
        """
        x = self.conv1a(x)
        taps: List[Tensor] = []
        for name in self.block_names:
            x, x_bn_relu = self._run_block(getattr(self, name), x)
            if name in self.tap_blocks:
                taps.append(x_bn_relu)
        taps.append(F.relu(self.bn7(x)))
        return tuple(taps[i] for i in self.out_indices)

    def _frozen_modules(self) -> List[nn.Module]:
        names = [
            n for stage in self.stage_blocks[:self.frozen_stages + 1]
            for n in stage
        ]
        return [getattr(self, n) for n in names]

    def _freeze(self) -> None:
        """Apply ``frozen_stages`` and ``norm_eval``'s ``requires_grad``."""
        for module in self._frozen_modules():
            for param in module.parameters():
                param.requires_grad = False
        if self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    for param in module.parameters():
                        param.requires_grad = False

    def train(self, mode: bool = True) -> 'ResNet38d':
        """Set train mode, keeping frozen stages and (``norm_eval``) BN
        layers in eval mode with frozen parameters, like the official
        ``train()`` override.

        Args:
            mode (bool): Whether to set training mode. Defaults to True.

        Returns:
            ResNet38d: ``self``.
        """
        super().train(mode)
        self._freeze()
        if mode:
            for module in self._frozen_modules():
                module.eval()
            if self.norm_eval:
                for module in self.modules():
                    if isinstance(module, _BatchNorm):
                        module.eval()
        return self
