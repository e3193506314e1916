# Copyright (c) mmseam contributors. All rights reserved.
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

import mmseam  # noqa: F401
from mmseam.models.decode_heads import LargeFOVHead
from mmseg.registry import MODELS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402

init_default_scope('mmseg')


def test_largefov_layers():
    head = MODELS.build(
        dict(type='LargeFOVHead', in_channels=4096, num_classes=21))
    assert isinstance(head, LargeFOVHead)
    conv = head.conv_fov.conv
    assert (conv.in_channels, conv.out_channels) == (4096, 512)
    assert conv.kernel_size == (3, 3)
    assert conv.dilation == (12, 12) and conv.padding == (12, 12)
    assert conv.bias is None
    assert isinstance(head.conv_fov.bn, nn.BatchNorm2d)
    conv2 = head.conv_fov2.conv
    assert (conv2.in_channels, conv2.out_channels) == (512, 512)
    assert conv2.kernel_size == (1, 1) and conv2.bias is None
    assert isinstance(head.conv_fov2.bn, nn.BatchNorm2d)
    assert type(head.dropout) is nn.Dropout and head.dropout.p == 0.5
    assert head.conv_seg.kernel_size == (1, 1)
    assert head.conv_seg.in_channels == 512
    assert head.conv_seg.out_channels == 21
    assert head.conv_seg.bias is not None

    other = LargeFOVHead(
        in_channels=64,
        channels=32,
        dilation=6,
        num_classes=3,
        dropout_type='channel',
        norm_cfg=None)
    assert other.conv_fov.conv.dilation == (6, 6)
    assert other.conv_fov.conv.padding == (6, 6)
    assert other.conv_fov.conv.bias is not None  # no norm -> biased conv
    assert not other.conv_fov.with_norm
    assert type(other.dropout) is nn.Dropout2d
    with pytest.raises(ValueError, match='dropout_type'):
        LargeFOVHead(in_channels=8, num_classes=3, dropout_type='x')


def test_largefov_forward_shape_and_value():
    head = LargeFOVHead(in_channels=4096, num_classes=21)
    head.init_weights()
    # kaiming-normal fan_out for the classifier, zero bias (official init)
    assert head.conv_seg.bias.abs().max() == 0
    assert head.conv_seg.weight.std().item() == pytest.approx(
        math.sqrt(2 / 21), rel=0.05)
    head.eval()
    # ResNet38 conv6 at output stride 8 of a 64 x 80 input
    feats = (torch.randn(2, 1024, 8, 10), torch.randn(2, 4096, 8, 10))
    with torch.no_grad():
        out = head(feats)
    assert out.shape == (2, 21, 8, 10)

    def conv_bn_relu(x, module, **conv_kw):
        x = F.conv2d(x, module.conv.weight, None, **conv_kw)
        bn = module.bn
        x = F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight,
                         bn.bias, False, 0.0, bn.eps)
        return F.relu(x)

    with torch.no_grad():
        x = conv_bn_relu(feats[-1], head.conv_fov, padding=12, dilation=12)
        x = conv_bn_relu(x, head.conv_fov2)
        ref = F.conv2d(x, head.conv_seg.weight, head.conv_seg.bias)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
    # dropout is active in training mode only
    head.train()
    x = torch.randn(1, 4096, 4, 4)
    assert not torch.equal(head((x, )), head((x, )))


def test_encoder_decoder_with_largefov():
    norm_cfg = dict(type='BN', requires_grad=True)
    model = MODELS.build(
        ConfigDict(
            type='EncoderDecoder',
            data_preprocessor=dict(
                type='SegDataPreProcessor',
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                bgr_to_rgb=True,
                pad_val=0,
                seg_pad_val=255,
                size=(48, 56)),
            backbone=dict(
                type='ResNetV1c',
                depth=18,
                num_stages=4,
                out_indices=(0, 1, 2, 3),
                dilations=(1, 1, 2, 4),
                strides=(1, 2, 1, 1),
                norm_cfg=norm_cfg,
                contract_dilation=True),
            decode_head=dict(
                type='LargeFOVHead',
                in_channels=512,
                channels=64,
                num_classes=5,
                norm_cfg=norm_cfg,
                align_corners=True),
            train_cfg=dict(),
            test_cfg=dict(mode='whole')))
    model.init_weights()
    inputs = torch.rand(2, 3, 48, 56) * 255
    samples = []
    for _ in range(2):
        ds = SegDataSample(
            metainfo=dict(
                img_shape=(48, 56), ori_shape=(48, 56), pad_shape=(48, 56)))
        ds.gt_sem_seg = PixelData(data=torch.randint(0, 5, (1, 48, 56)))
        samples.append(ds)
    data = model.data_preprocessor(
        dict(inputs=list(inputs), data_samples=samples), True)
    model.train()
    losses = model.loss(data['inputs'], data['data_samples'])
    assert set(losses) == {'decode.loss_ce', 'decode.acc_seg'}
    assert losses['decode.loss_ce'].requires_grad
    assert torch.isfinite(losses['decode.loss_ce'])
    model.eval()
    with torch.no_grad():
        logits = model(data['inputs'], mode='tensor')
        preds = model.predict(data['inputs'], data['data_samples'])
    assert logits.shape == (2, 5, 6, 7)  # output stride 8
    assert preds[0].pred_sem_seg.data.shape == (1, 48, 56)
