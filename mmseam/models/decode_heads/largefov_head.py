# Copyright (c) mmseam contributors. All rights reserved.
from typing import List, Optional, Tuple, Union

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class LargeFOVHead(BaseDecodeHead):
    """DeepLab-v1 LargeFOV head, as in SEAM's official stage-2 model.

    ``conv_fov`` 3x3 dilated conv (``in_channels -> channels``, no bias) +
    norm + ReLU -> ``conv_fov2`` 1x1 conv (``channels -> channels``, no
    bias) + norm + ReLU -> dropout -> ``conv_seg`` 1x1 conv (with bias) to
    the classes. The last two steps are :class:`BaseDecodeHead`'s
    ``dropout`` and ``conv_seg``.

    Official values (SEAM stage 2 on ResNet38 at output stride 8): 4096 input
    channels, 512 channels, dilation 12, BatchNorm, element-wise
    ``nn.Dropout(0.5)``, kaiming-normal (fan_out) conv init, logits
    upsampled with ``align_corners=True`` (set ``align_corners=True`` in the
    config for parity).

    Args:
        in_channels (int): Input channels (4096 for ResNet38 ``conv6``).
        channels (int): Hidden channels. Defaults to 512.
        dilation (int): Dilation (= padding) of the 3x3 conv. Defaults to 12.
        dropout_ratio (float): Dropout before ``conv_seg``. Defaults to 0.5.
        dropout_type (str): ``'element'`` (``nn.Dropout``, as the official
            model) or ``'channel'`` (``nn.Dropout2d``, mmseg's default).
            Defaults to ``'element'``.
        norm_cfg (dict, optional): Norm layer of the two convs. Defaults to
            ``dict(type='BN', requires_grad=True)``; None gives biased convs
            without norm.
        init_cfg (dict | list[dict], optional): Initialisation of
            ``conv_seg`` (the two ConvModules use kaiming-normal fan_out
            themselves). Defaults to kaiming-normal fan_out.
        **kwargs: Other :class:`BaseDecodeHead` arguments (``num_classes``,
            ``in_index``, ``align_corners``, ``loss_decode``, ...).

    Shapes:
        input: tuple of backbone features; ``inputs[in_index]`` is
        (N, in_channels, h, w). output: (N, num_classes, h, w).
    """

    def __init__(self,
                 in_channels: int,
                 channels: int = 512,
                 dilation: int = 12,
                 dropout_ratio: float = 0.5,
                 dropout_type: str = 'element',
                 norm_cfg: Optional[dict] = dict(
                     type='BN', requires_grad=True),
                 init_cfg: Optional[Union[dict, List[dict]]] = dict(
                     type='Kaiming',
                     mode='fan_out',
                     nonlinearity='relu',
                     distribution='normal',
                     override=dict(name='conv_seg')),
                 **kwargs) -> None:
        super().__init__(
            in_channels,
            channels,
            dropout_ratio=dropout_ratio,
            norm_cfg=norm_cfg,
            init_cfg=init_cfg,
            **kwargs)
        if dropout_type not in ('element', 'channel'):
            raise ValueError("LargeFOVHead: dropout_type must be 'element' "
                             f"or 'channel', got {dropout_type!r}.")
        if dropout_ratio > 0 and dropout_type == 'element':
            self.dropout = nn.Dropout(dropout_ratio)
        self.dilation = dilation
        self.conv_fov = ConvModule(
            self.in_channels,
            self.channels,
            kernel_size=3,
            padding=dilation,
            dilation=dilation,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)
        self.conv_fov2 = ConvModule(
            self.channels,
            self.channels,
            kernel_size=1,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)

    def _forward_feature(self, inputs: Tuple[Tensor, ...]) -> Tensor:
        """Features before the classifier.

        Args:
            inputs (tuple[Tensor]): Backbone features.

        Returns:
            Tensor: Shape (N, channels, h, w).
        """
        x = self._transform_inputs(inputs)
        return self.conv_fov2(self.conv_fov(x))

    def forward(self, inputs: Tuple[Tensor, ...]) -> Tensor:
        """Segment logits.

        Args:
            inputs (tuple[Tensor]): Backbone features; the selected one has
                shape (N, in_channels, h, w).

        Returns:
            Tensor: Shape (N, num_classes, h, w).
        """
        return self.cls_seg(self._forward_feature(inputs))
