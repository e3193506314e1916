# Copyright (c) mmseam contributors. All rights reserved.
"""The official-step re-implementation (``official_reference.py``, the
benchmark's ``official`` mode) computes what mmseam computes: same losses
on the same weights, same CAMs."""
import copy

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmseam  # noqa: F401
from official_reference import (OfficialResNet38d, OfficialSEAMNet,
                                build_official_like, build_official_optimizer,
                                official_infer, official_train_step)

init_default_scope('mmseg')

TINY = dict(
    type='SEAM',
    num_classes=4,
    in_channels=64,
    backbone=dict(
        type='ResNetV1c',
        depth=18,
        stem_channels=8,
        base_channels=8,
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        out_indices=(0, 1, 2, 3),
        norm_eval=True,
        contract_dilation=True),
    neck=dict(
        type='PixelCorrelationModule',
        in_channels=(16, 32),
        proj_channels=(8, 8),
        out_channels=16,
        in_index=(1, 2)),
    equivariant_transform=dict(type='RescaleTransform', scale_factor=0.5),
    # the re-implementation normalises ER and ECR by the input's channels
    # (the official code on VOC's 21); mmseam's defaults count VOC's
    # channels whatever the class count, so count the input's here
    loss_er=dict(type='EquivariantRegLoss', ref_channels=None),
    loss_ecr=dict(type='EquivariantCrossRegLoss', topk_channels=None))
LABELS = torch.tensor([[1., 0, 1], [0, 1, 0]])
# PCM taps at different strides (stage 0 at 1/4, stage 2 at 1/8 = the CAM
# size), as TinyConvNet's: the official network resizes them like the PCM
TINY_MIXED = copy.deepcopy(TINY)
TINY_MIXED['neck'].update(in_channels=(8, 32), in_index=(0, 2))


def twins(cfg=TINY):
    """An mmseam SEAM and the official network with the same weights."""
    torch.manual_seed(0)
    ours = MODELS.build(copy.deepcopy(cfg))
    official = build_official_like(copy.deepcopy(cfg))
    official.backbone.load_state_dict(ours.backbone.state_dict())
    official.fc8.weight.data.copy_(ours.classifier.weight)
    official.f8_3.weight.data.copy_(ours.neck.proj[0].weight)
    official.f8_4.weight.data.copy_(ours.neck.proj[1].weight)
    official.f9.weight.data.copy_(ours.neck.fuse.weight)
    return ours.eval(), official.eval()  # eval: no dropout


@pytest.mark.parametrize('cfg', [TINY, TINY_MIXED], ids=['same', 'mixed'])
def test_train_step_losses_equal_seam_loss(cfg):
    ours, official = twins(cfg)
    x = torch.randn(2, 3, 32, 32)
    data_samples = []
    for row in LABELS:
        s = SegDataSample()
        s.set_data(dict(img_labels=row))
        data_samples.append(s)
    want = ours.loss(x, data_samples)
    before = official.fc8.weight.detach().clone()
    opt = build_official_optimizer(official, lr=0.01)
    got = official_train_step(official, opt, x, LABELS, scale_factor=0.5)
    # the official log folds the min-pool loss into loss_cls
    assert got['loss_cls'] == pytest.approx(
        (want['loss_cls'] + want['loss_minpool']).item(), rel=1e-5)
    assert got['loss_er'] == pytest.approx(want['loss_er'].item(), rel=1e-5)
    assert got['loss_ecr'] == pytest.approx(
        want['loss_ecr'].item(), rel=1e-5)
    assert got['loss'] == pytest.approx(
        sum(v.item() for v in want.values()), rel=1e-5)
    # it is a full step: the new layers moved (10x lr group)
    assert not torch.equal(official.fc8.weight, before)
    assert opt.global_step == 1
    # the official momentum quirk: weight decay passed as momentum
    assert opt.param_groups[0]['momentum'] == 5e-4
    assert [g['lr'] for g in opt.param_groups] == pytest.approx(
        [0.01, 0.02, 0.1, 0.2])


def test_infer_equals_multiscale_cam():
    ours, official = twins()
    img = torch.randn(1, 3, 24, 28)
    label = LABELS[0]
    got = official_infer(official, img, label, scales=(0.5, 1.0, 1.5))
    with torch.no_grad():
        raw = ours.multiscale_cam(img, scales=(0.5, 1.0, 1.5), flip=True)
        want = ours.normalize_cam(raw)[0] * label[:, None, None]
    # the official code leaves the sub-threshold pixels slightly negative
    # (it zeroes them before subtracting the minimum); mmseam clips at 0
    np.testing.assert_allclose(
        np.maximum(got, 0) * label.numpy()[:, None, None],
        want.numpy(),
        rtol=1e-4,
        atol=1e-5)


def test_resnet38_layout_and_freezing():
    net = OfficialResNet38d(frozen=True)
    keys = set(net.state_dict())
    for key in ('conv1a.weight', 'b2.conv_branch1.weight',
                'b5.conv_branch2b1.weight', 'b7.conv_branch2b2.weight',
                'bn7.running_var'):
        assert key in keys
    net.train()
    assert not net.conv1a.weight.requires_grad
    assert not net.b2_2.conv_branch2a.weight.requires_grad
    assert net.b3.conv_branch2a.weight.requires_grad
    assert not net.bn7.training and not net.bn7.weight.requires_grad
    with torch.no_grad():
        taps = net.eval()(torch.randn(1, 3, 40, 40))
    assert [tuple(t.shape) for t in taps.values()] == [
        (1, 256, 10, 10), (1, 512, 5, 5), (1, 1024, 5, 5), (1, 4096, 5, 5)
    ]
    # not frozen unless asked (the parity tests calibrate every BN)
    free = OfficialResNet38d().train()
    assert free.bn7.training and free.conv1a.weight.requires_grad
    head = OfficialSEAMNet(5, frozen=True).train()
    groups = [set(map(id, g)) for g in head.get_parameter_groups()]
    assert id(head.fc8.weight) in groups[2] and id(head.f9.weight) in groups[2]
    assert id(head.b3.conv_branch2a.weight) in groups[0]
    assert id(head.conv1a.weight) not in groups[0]
    assert not groups[1] and not groups[3]  # no conv has a bias
    cfg = dict(TINY, backbone=dict(type='ResNet38d'), num_classes=5)
    like = build_official_like(cfg)
    assert isinstance(like, OfficialSEAMNet) and like.frozen
    assert like.fc8.weight.shape == (5, 4096, 1, 1)


def test_needs_a_pcm():
    cfg = copy.deepcopy(TINY)
    cfg['neck'] = None
    with pytest.raises(ValueError, match='model.neck=None'):
        build_official_like(cfg)
