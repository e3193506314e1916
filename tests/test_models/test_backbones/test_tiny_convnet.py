# Copyright (c) mmseam contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import mmseam  # noqa: F401

init_default_scope('mmseg')


def test_output_shapes_and_out_indices():
    net = MODELS.build(dict(type='TinyConvNet'))
    outs = net(torch.randn(2, 3, 224, 224))
    assert [tuple(o.shape) for o in outs] == [(2, 32, 112, 112),
                                              (2, 32, 112, 112),
                                              (2, 64, 56, 56), (2, 64, 56, 56),
                                              (2, 128, 28, 28),
                                              (2, 128, 28, 28)]
    net = MODELS.build(
        dict(type='TinyConvNet', channels=(4, 8), strides=(2, 2),
             out_indices=(1, )))
    (out, ) = net(torch.randn(1, 3, 15, 15))
    assert out.shape == (1, 8, 4, 4)  # ceil(15 / 2) = 8, ceil(8 / 2) = 4


def test_blocks_equal_a_direct_computation():
    torch.manual_seed(0)
    net = MODELS.build(
        dict(type='TinyConvNet', channels=(4, 6), strides=(2, 1),
             out_indices=(0, 1))).eval()
    for m in net.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    x = torch.randn(2, 3, 9, 9)
    y = x
    expected = []
    for block, stride in zip(net.blocks, (2, 1)):
        conv, bn = block[0], block[1]
        y = F.conv2d(y, conv.weight, None, stride, 1)
        y = (y - bn.running_mean[:, None, None]) / torch.sqrt(
            bn.running_var[:, None, None] + bn.eps)
        y = (y * bn.weight[:, None, None] + bn.bias[:, None, None]).clamp(0)
        expected.append(y)
    for got, want in zip(net(x), expected):
        torch.testing.assert_close(got, want)


def test_norm_eval_keeps_statistics_frozen():
    net = MODELS.build(dict(type='TinyConvNet', norm_eval=True)).train()
    bn = net.blocks[0][1]
    assert not bn.training and net.training
    before = bn.running_mean.clone()
    net(torch.randn(2, 3, 32, 32) + 3)
    torch.testing.assert_close(bn.running_mean, before)
    net = MODELS.build(dict(type='TinyConvNet')).train()
    net(torch.randn(2, 3, 32, 32) + 3)
    assert not torch.equal(net.blocks[0][1].running_mean, before)


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match='same length'):
        MODELS.build(dict(type='TinyConvNet', channels=(4, 8), strides=(2, )))
    with pytest.raises(ValueError, match=r'blocks \[6\].*0-5'):
        MODELS.build(dict(type='TinyConvNet', out_indices=(0, 6)))
