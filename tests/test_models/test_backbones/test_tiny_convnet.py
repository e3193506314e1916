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


@pytest.mark.parametrize('dilations', [None, (1, 2)])
def test_blocks_equal_a_direct_computation(dilations):
    torch.manual_seed(0)
    net = MODELS.build(
        dict(type='TinyConvNet', channels=(4, 6), strides=(2, 1),
             dilations=dilations, out_indices=(0, 1))).eval()
    for m in net.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    x = torch.randn(2, 3, 9, 9)
    y = x
    expected = []
    for block, stride, dil in zip(net.blocks, (2, 1), dilations or (1, 1)):
        conv, bn = block[0], block[1]
        y = F.conv2d(y, conv.weight, None, stride, dil, dil)
        y = (y - bn.running_mean[:, None, None]) / torch.sqrt(
            bn.running_var[:, None, None] + bn.eps)
        y = (y * bn.weight[:, None, None] + bn.bias[:, None, None]).clamp(0)
        expected.append(y)
    for got, want in zip(net(x), expected):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize('extra_dilations,field', [((), 43), ((2, 3), 123)])
def test_receptive_field_by_hand(extra_dilations, field):
    # 1 + 2 * (1 + 2 + 2 + 4 + 4 + 8) = 43 px for the six default blocks;
    # two more blocks at stride 8 with dilations 2 and 3 add
    # 2 * 8 * (2 + 3) = 80 px: 123 px (docs/synthetic_data.md)
    n = 6 + len(extra_dilations)
    torch.manual_seed(0)
    net = MODELS.build(
        dict(
            type='TinyConvNet',
            channels=(32, 32, 64, 64, 128, 128) + (128, ) * (n - 6),
            strides=(2, 1, 2, 1, 2, 1) + (1, ) * (n - 6),
            dilations=(1, ) * 6 + tuple(extra_dilations),
            residual_blocks=tuple(range(6, n)),
            out_indices=(n - 1, ))).eval()
    for block in net.blocks[6:]:  # leave the identity start
        block[1].weight.data.fill_(1.0)
    x = torch.randn(1, 3, 256, 256, requires_grad=True)
    (out, ) = net(x)
    out[0, :, 16, 16].sum().backward()  # output cell 16 = input pixel 128
    rows, cols = x.grad[0].abs().sum(0).nonzero().unbind(1)
    half = field // 2
    assert (rows.min().item(), rows.max().item()) == (128 - half, 128 + half)
    assert (cols.min().item(), cols.max().item()) == (128 - half, 128 + half)


def test_residual_blocks_start_as_identity_and_add_their_input():
    torch.manual_seed(0)
    cfg = dict(
        type='TinyConvNet',
        channels=(4, 4, 4),
        strides=(2, 1, 1),
        dilations=(1, 2, 3),
        residual_blocks=(1, 2),
        out_indices=(0, 1, 2))
    net = MODELS.build(cfg).eval()
    x = torch.randn(2, 3, 16, 16)
    a, b, c = net(x)
    torch.testing.assert_close(b, a)  # zero-initialised norms: identity
    torch.testing.assert_close(c, a)
    for block in net.blocks[1:]:
        block[1].weight.data.uniform_(0.5, 1.5)
        block[1].bias.data.uniform_(-0.2, 0.2)
    a, b, c = net(x)
    want = a
    for block, dil in zip(net.blocks[1:], (2, 3)):
        conv, bn = block[0], block[1]
        y = F.conv2d(want, conv.weight, None, 1, dil, dil)
        y = F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight,
                         bn.bias, False, 0.0, bn.eps)
        want = want + y.clamp(min=0)
        got = b if dil == 2 else c
        torch.testing.assert_close(got, want)
    net = MODELS.build(dict(cfg, zero_init_residual=False)).eval()
    assert net.blocks[1][1].weight.eq(1).all()  # the norm's default init
    a, b, _ = net(x)
    assert (b - a).abs().max() > 0.1
    with pytest.raises(ValueError, match=r'blocks \[0\] cannot add'):
        MODELS.build(dict(cfg, residual_blocks=(0, )))  # stride 2
    with pytest.raises(ValueError, match=r'blocks \[1\] cannot add'):
        MODELS.build(dict(cfg, channels=(4, 8, 8), residual_blocks=(1, )))


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
    with pytest.raises(ValueError, match='one dilation >= 1 per block'):
        MODELS.build(dict(type='TinyConvNet', dilations=(1, 2)))
    with pytest.raises(ValueError, match='one dilation >= 1 per block'):
        MODELS.build(dict(type='TinyConvNet', dilations=(1, 1, 1, 1, 1, 0)))
