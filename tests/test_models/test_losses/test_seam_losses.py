# Copyright (c) mmseam contributors. All rights reserved.
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope

import mmseam  # noqa: F401
from mmseg.registry import MODELS

init_default_scope('mmseg')


def _log_sigmoid(x):
    return -math.log(1 + math.exp(-x))


def test_multilabel_soft_margin_by_hand():
    loss_fn = MODELS.build(dict(type='MultiLabelSoftMarginLoss'))
    assert loss_fn.loss_name == 'loss_cls'
    logits = torch.tensor([[2., -1.], [0., 3.]])
    labels = torch.tensor([[1., 0.], [0., 1.]])
    s0 = -(_log_sigmoid(2.) + _log_sigmoid(1.)) / 2
    s1 = -(_log_sigmoid(0.) + _log_sigmoid(3.)) / 2
    exp = (s0 + s1) / 2
    assert loss_fn(logits, labels).item() == pytest.approx(exp, rel=1e-6)
    # official call shape: GAP output (N, K, 1, 1)
    out4d = loss_fn(logits[..., None, None], labels[..., None, None])
    assert out4d.item() == pytest.approx(exp, rel=1e-6)


def test_multilabel_soft_margin_matches_torch_and_weight():
    logits = torch.randn(4, 20, requires_grad=True)
    labels = (torch.rand(4, 20) > 0.7).float()
    loss = MODELS.build(dict(type='MultiLabelSoftMarginLoss'))(logits, labels)
    torch.testing.assert_close(loss,
                               F.multilabel_soft_margin_loss(logits, labels))
    weighted = MODELS.build(
        dict(type='MultiLabelSoftMarginLoss', loss_weight=2.5))
    torch.testing.assert_close(weighted(logits, labels), 2.5 * loss)
    loss.backward()
    assert logits.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='same'):
        weighted(logits, labels[:, :5])


def test_min_pool_by_hand():
    loss_fn = MODELS.build(dict(type='MinPoolLoss'))
    assert loss_fn.loss_name == 'loss_minpool'
    # 1 x 2 x 2 x 2: per-pixel max over channels = [[3, 1], [-2, 5]];
    # k = 4 // 4 = 1 smallest -> -2 -> relu -> 0
    cam = torch.tensor([[[[3., 0.], [-4., 5.]], [[1., 1.], [-2., 2.]]]])
    assert loss_fn(cam).item() == 0.
    # shift everything up by 1: maxes [[4, 2], [-1, 6]], min -1 -> 0 still;
    # shift by 3: maxes [[6, 4], [1, 8]], smallest 1 -> 1 / (1 * 1)
    assert loss_fn(cam + 3).item() == pytest.approx(1.)
    # ratio 0.5 -> k = 2: smallest {1, 4} -> 5 / 2
    half = MODELS.build(dict(type='MinPoolLoss', ratio=0.5))
    assert half(cam + 3).item() == pytest.approx(2.5)
    # batch of 2: the second sample smallest max is 2 -> (1 + 2) / (1 * 2)
    batch = torch.cat([cam + 3, cam + 4])
    assert loss_fn(batch).item() == pytest.approx(1.5)
    weighted = MODELS.build(dict(type='MinPoolLoss', loss_weight=0.5))
    assert weighted(batch).item() == pytest.approx(0.75)


def test_min_pool_matches_official_formula():
    cam = torch.randn(3, 4, 7, 9, requires_grad=True)
    n, _, h, w = cam.shape
    k = h * w // 4  # official
    pix = cam.max(dim=1)[0].view(n, -1)
    ref = F.relu(torch.sort(pix, dim=-1)[0][:, :k]).sum() / (k * n)
    loss = MODELS.build(dict(type='MinPoolLoss'))(cam)
    torch.testing.assert_close(loss, ref)
    loss.backward()
    assert cam.grad is not None


def test_er_by_hand():
    loss_fn = MODELS.build(dict(type='EquivariantRegLoss'))
    assert loss_fn.loss_name == 'loss_er'
    pred = torch.tensor([[[[1., 2.], [3., 4.]]]])
    target = torch.tensor([[[[0., 4.], [3., 0.]]]])
    # |diff| = 1, 2, 0, 4 -> sum 7 over N * H * W * 20 = 80 (VOC reference)
    assert loss_fn(pred, target).item() == pytest.approx(7 / 80)
    w = MODELS.build(dict(type='EquivariantRegLoss', loss_weight=4.))
    assert w(pred, target).item() == pytest.approx(28 / 80)
    # ref_channels=None: the plain mean over the input's channels
    mean = MODELS.build(dict(type='EquivariantRegLoss', ref_channels=None))
    assert mean(pred, target).item() == pytest.approx(1.75)
    with pytest.raises(ValueError, match='same frame'):
        loss_fn(pred, target[..., :1])
    with pytest.raises(ValueError, match='ref_channels'):
        MODELS.build(dict(type='EquivariantRegLoss', ref_channels=0))


def test_er_equals_the_official_mean_on_voc_whatever_the_classes():
    torch.manual_seed(0)
    # VOC: 20 foreground channels -> the official torch.mean(|c1 - c2|)
    pred, target = torch.rand(2, 20, 5, 6), torch.rand(2, 20, 5, 6)
    er = MODELS.build(dict(type='EquivariantRegLoss'))
    torch.testing.assert_close(er(pred, target),
                               torch.mean(torch.abs(pred - target)))
    # 5 foreground channels: the same per-channel strength, i.e. the mean
    # over 5 channels weighted 5 / 20
    pred, target = torch.rand(2, 5, 5, 6), torch.rand(2, 5, 5, 6)
    torch.testing.assert_close(
        er(pred, target), 0.25 * torch.mean(torch.abs(pred - target)))
    # an absent class (zero on both sides) does not change the loss
    zeros = torch.zeros(2, 1, 5, 6)
    torch.testing.assert_close(
        er(torch.cat([pred, zeros], 1), torch.cat([target, zeros], 1)),
        er(pred, target))


def test_ecr_topk_by_hand():
    loss_fn = MODELS.build(
        dict(type='EquivariantCrossRegLoss', topk_channels=None))
    assert loss_fn.loss_name == 'loss_ecr'
    # 2 samples, C=2, H=1, W=5 -> 10 values each, k = int(10 * 0.2) = 2
    pred = torch.tensor([[[[1., 0., 0., 0., 0.]], [[0., 0., 0.5, 0., 0.]]],
                         [[[0., 0., 0., 0., 0.]], [[0., 0., 0., 0., 0.]]]])
    target = torch.tensor([[[[0., 0., 0., 0., 0.3]], [[0., 0., 0., 0., 0.]]],
                           [[[2., 0., 0., 0., 0.]], [[0., 1., 1., 1., 0.]]]])
    # sample 0 |diff|: {1, 0.3, 0.5} -> top2 = 1, 0.5 -> mean 0.75
    # sample 1 |diff|: {2, 1, 1, 1} -> top2 = 2, 1 -> mean 1.5
    # mean over batch -> 1.125
    assert loss_fn(pred, target).item() == pytest.approx(1.125)
    w = MODELS.build(
        dict(
            type='EquivariantCrossRegLoss',
            topk_ratio=0.5,
            topk_channels=None,
            loss_weight=2))
    # k = 5: sample 0 -> (1 + 0.5 + 0.3) / 5; sample 1 -> (2 + 3) / 5
    exp = 2 * ((1.8 / 5) + 1.) / 2
    assert w(pred, target).item() == pytest.approx(exp)


def test_ecr_matches_official_formula():
    pred = torch.rand(2, 21, 6, 7, requires_grad=True)
    target = torch.rand(2, 21, 6, 7)
    ns, _, hs, ws = pred.shape
    diff = torch.abs(target - pred)
    ref = torch.mean(
        torch.topk(diff.view(ns, -1), k=int(21 * hs * ws * 0.2), dim=-1)[0])
    loss = MODELS.build(dict(type='EquivariantCrossRegLoss'))(pred, target)
    torch.testing.assert_close(loss, ref)
    loss.backward()
    assert pred.grad is not None


def test_ecr_topk_channels_by_hand():
    # the by-hand example above with k computed from other channel counts
    pred = torch.tensor([[[[1., 0., 0., 0., 0.]], [[0., 0., 0.5, 0., 0.]]],
                         [[[0., 0., 0., 0., 0.]], [[0., 0., 0., 0., 0.]]]])
    target = torch.tensor([[[[0., 0., 0., 0., 0.3]], [[0., 0., 0., 0., 0.]]],
                           [[[2., 0., 0., 0., 0.]], [[0., 1., 1., 1., 0.]]]])
    # k = int(4 * 5 * 0.2) = 4: (1 + 0.5 + 0.3 + 0) / 4, (2 + 1 + 1 + 1) / 4
    four = MODELS.build(dict(type='EquivariantCrossRegLoss', topk_channels=4))
    assert four(pred, target).item() == pytest.approx((0.45 + 1.25) / 2)
    # k = int(21 * 5 * 0.2) = 21 > C * H * W = 10: capped, sum / 10
    voc = MODELS.build(dict(type='EquivariantCrossRegLoss', topk_channels=21))
    assert voc(pred, target).item() == pytest.approx((0.18 + 0.5) / 2)
    with pytest.raises(ValueError, match='topk_channels'):
        MODELS.build(dict(type='EquivariantCrossRegLoss', topk_channels=0))
    with pytest.raises(ValueError, match='topk_channels'):
        MODELS.build(
            dict(type='EquivariantCrossRegLoss', topk_channels=21.0))


def test_ecr_topk_channels_21_is_the_official_code_on_six_channels():
    # the official line, literally, on a 6-channel (5 classes + bg) input:
    # k = int(21 * hs * ws * 0.2) of the 6 * hs * ws entries
    torch.manual_seed(0)
    pred = torch.rand(3, 6, 5, 7)
    target = torch.rand(3, 6, 5, 7)
    ns, _, hs, ws = pred.shape
    ref = torch.mean(
        torch.topk(
            torch.abs(target - pred).view(ns, -1),
            k=int(21 * hs * ws * 0.2),
            dim=-1)[0])
    loss = MODELS.build(
        dict(type='EquivariantCrossRegLoss', topk_channels=21))(pred, target)
    torch.testing.assert_close(loss, ref)
    # the default is the official count (21 channels) whatever C is
    default = MODELS.build(dict(type='EquivariantCrossRegLoss'))(pred,
                                                                 target)
    torch.testing.assert_close(default, loss)
    own = MODELS.build(
        dict(type='EquivariantCrossRegLoss', topk_channels=None))(pred,
                                                                  target)
    assert own.item() > loss.item()  # fewer, larger entries kept


def test_invalid_ratios():
    with pytest.raises(ValueError, match='ratio'):
        MODELS.build(dict(type='MinPoolLoss', ratio=0))
    with pytest.raises(ValueError, match='topk_ratio'):
        MODELS.build(dict(type='EquivariantCrossRegLoss', topk_ratio=1.5))
