# Copyright (c) mmseam contributors. All rights reserved.
import pytest
import torch
import torch.nn as nn
from mmengine.registry import init_default_scope
from torch.nn.modules.batchnorm import _BatchNorm

import mmseam  # noqa: F401
from mmseam.models.backbones import ResNet38d
from mmseg.registry import MODELS

init_default_scope('mmseg')

# (name, in, mid, out, stride, first dilation, dilation) of the basic blocks
BASIC = [
    ('b2', 64, 128, 128, 2, 1, 1),
    ('b2_1', 128, 128, 128, 1, 1, 1),
    ('b2_2', 128, 128, 128, 1, 1, 1),
    ('b3', 128, 256, 256, 2, 1, 1),
    ('b3_1', 256, 256, 256, 1, 1, 1),
    ('b3_2', 256, 256, 256, 1, 1, 1),
    ('b4', 256, 512, 512, 2, 1, 1),
    ('b4_1', 512, 512, 512, 1, 1, 1),
    ('b4_2', 512, 512, 512, 1, 1, 1),
    ('b4_3', 512, 512, 512, 1, 1, 1),
    ('b4_4', 512, 512, 512, 1, 1, 1),
    ('b4_5', 512, 512, 512, 1, 1, 1),
    ('b5', 512, 512, 1024, 1, 1, 2),
    ('b5_1', 1024, 512, 1024, 1, 2, 2),
    ('b5_2', 1024, 512, 1024, 1, 2, 2),
]
# (name, in, out, dilation, dropout) of the bottleneck blocks
BOTTLENECK = [('b6', 1024, 2048, 4, 0.3), ('b7', 2048, 4096, 4, 0.5)]
STAGES = [['conv1a'], ['b2', 'b2_1', 'b2_2'], ['b3', 'b3_1', 'b3_2'],
          ['b4', 'b4_1', 'b4_2', 'b4_3', 'b4_4', 'b4_5'],
          ['b5', 'b5_1', 'b5_2'], ['b6'], ['b7', 'bn7']]


def hand_param_count() -> int:
    """ResNet-38 A1 learnable parameters from the layer shapes."""
    total = 3 * 64 * 3 * 3  # conv1a
    for _, cin, mid, cout, stride, _, _ in BASIC:
        total += 2 * cin  # bn_branch2a (weight, bias)
        total += cin * mid * 9  # conv_branch2a
        total += 2 * mid  # bn_branch2b1
        total += mid * cout * 9  # conv_branch2b1
        if cin != cout or stride != 1:
            total += cin * cout  # conv_branch1
    for _, cin, cout, _, _ in BOTTLENECK:
        total += 2 * cin + cin * (cout // 4)  # bn_branch2a, conv_branch2a
        total += 2 * (cout // 4) + (cout // 4) * (cout // 2) * 9
        total += 2 * (cout // 2) + (cout // 2) * cout  # ... conv_branch2b2
        total += cin * cout  # conv_branch1 (always present)
    total += 2 * 4096  # bn7
    return total


@pytest.fixture(scope='module')
def backbone() -> ResNet38d:
    torch.manual_seed(0)
    model = MODELS.build(dict(type='ResNet38d'))
    model.eval()
    return model


def test_param_count(backbone):
    n = sum(p.numel() for p in backbone.parameters())
    assert n == hand_param_count() == 105_070_912
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in backbone.modules())
    assert n_bn == 15 * 2 + 2 * 3 + 1
    # conv weights: conv1a, 2 per basic block + 4 shortcuts (b2, b3, b4, b5),
    # 4 per bottleneck; 5 entries per BN (weight, bias, 3 buffers)
    assert len(backbone.state_dict()) == 1 + 15 * 2 + 4 + 2 * 4 + n_bn * 5


def test_tap_shapes(backbone):
    with torch.no_grad():
        outs = backbone(torch.randn(1, 3, 64, 64))
    assert isinstance(outs, tuple)
    assert [tuple(o.shape) for o in outs] == [(1, 256, 16, 16), (1, 512, 8, 8),
                                              (1, 1024, 8, 8), (1, 4096, 8, 8)]
    # every tap is a BN+ReLU output
    assert all(bool((o >= 0).all()) for o in outs)
    assert backbone.out_channels == (256, 512, 1024, 4096)

    # odd sizes round up at each stride-2 layer: 67 -> 34 -> 17 -> 9
    with torch.no_grad():
        outs = backbone(torch.randn(2, 3, 67, 45))
    assert [tuple(o.shape) for o in outs] == [(2, 256, 17, 12), (2, 512, 9, 6),
                                              (2, 1024, 9, 6), (2, 4096, 9, 6)]


def test_taps_are_block_inputs(backbone):
    """Tap i equals relu(bn_branch2a(input of b4/b5/b6)), tap 3 relu(bn7)."""
    x = torch.randn(1, 3, 40, 40)
    with torch.no_grad():
        outs = backbone(x)
        feats = {}
        y = backbone.conv1a(x)
        for name in backbone.block_names:
            feats[name] = y
            y = getattr(backbone, name)(y)[0]
        for idx, name in enumerate(('b4', 'b5', 'b6')):
            bn = getattr(backbone, name).bn_branch2a
            torch.testing.assert_close(
                outs[idx], torch.relu(bn(feats[name])), rtol=0, atol=0)
        torch.testing.assert_close(
            outs[3], torch.relu(backbone.bn7(y)), rtol=0, atol=0)


def test_out_indices(backbone):
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        full = backbone(x)
        backbone.out_indices = (1, 3)
        try:
            sub = backbone(x)
        finally:
            backbone.out_indices = (0, 1, 2, 3)
    assert len(sub) == 2
    torch.testing.assert_close(sub[0], full[1], rtol=0, atol=0)
    torch.testing.assert_close(sub[1], full[3], rtol=0, atol=0)
    with torch.device('meta'):
        assert ResNet38d(out_indices=[2]).out_indices == (2, )


def test_layer_layout():
    with torch.device('meta'):
        model = ResNet38d()
    conv1a = model.conv1a
    assert (conv1a.in_channels, conv1a.out_channels, conv1a.kernel_size,
            conv1a.stride, conv1a.padding) == (3, 64, (3, 3), (1, 1), (1, 1))
    for name, cin, mid, cout, stride, dil1, dil2 in BASIC:
        block = getattr(model, name)
        c2a, c2b1 = block.conv_branch2a, block.conv_branch2b1
        assert (c2a.in_channels, c2a.out_channels) == (cin, mid), name
        assert (c2b1.in_channels, c2b1.out_channels) == (mid, cout), name
        assert c2a.stride == (stride, stride), name
        assert c2a.dilation == c2a.padding == (dil1, dil1), name
        assert c2b1.dilation == c2b1.padding == (dil2, dil2), name
        assert c2b1.stride == (1, 1), name
        has_short = cin != cout or stride != 1
        assert hasattr(block, 'conv_branch1') == has_short, name
        if has_short:
            assert block.conv_branch1.kernel_size == (1, 1)
            assert block.conv_branch1.stride == (stride, stride)
    for name, cin, cout, dil, drop in BOTTLENECK:
        block = getattr(model, name)
        assert block.conv_branch2a.kernel_size == (1, 1)
        assert block.conv_branch2a.out_channels == cout // 4
        assert block.conv_branch2b1.kernel_size == (3, 3)
        assert block.conv_branch2b1.dilation == (dil, dil)
        assert block.conv_branch2b1.padding == (dil, dil)
        assert block.conv_branch2b1.out_channels == cout // 2
        assert block.conv_branch2b2.kernel_size == (1, 1)
        assert block.conv_branch2b2.out_channels == cout
        assert block.conv_branch1.in_channels == cin
        assert isinstance(block.dropout_2b1, nn.Dropout2d)
        assert block.dropout_2b1.p == block.dropout_2b2.p == drop
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            assert m.bias is None
        if isinstance(m, nn.BatchNorm2d):
            assert m.eps == 1e-5 and m.momentum == 0.1 and m.affine

    with torch.device('meta'):
        model = ResNet38d(dropout_ratios=(0.1, 0.2))
    assert model.b6.dropout_2b2.p == 0.1 and model.b7.dropout_2b1.p == 0.2


@pytest.mark.parametrize('frozen_stages', list(range(-1, 7)))
def test_frozen_stages_mapping(frozen_stages):
    with torch.device('meta'):
        model = ResNet38d(frozen_stages=frozen_stages)
    model.train()
    frozen = [n for stage in STAGES[:frozen_stages + 1] for n in stage]
    for name, child in model.named_children():
        convs = [m for m in child.modules() if isinstance(m, nn.Conv2d)]
        for conv in convs:
            assert conv.weight.requires_grad == (name not in frozen), name
        if name in frozen:
            assert not any(m.training for m in child.modules()), name
        else:
            for m in child.modules():
                assert m.training == (not isinstance(m, _BatchNorm)), name
    # norm_eval: every BN frozen
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            assert not m.weight.requires_grad and not m.bias.requires_grad


def test_frozen_params_unchanged_after_sgd_step():
    torch.manual_seed(0)
    model = ResNet38d(frozen_stages=1)  # official SEAM not_training
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optim = torch.optim.SGD(model.parameters(), lr=0.1)
    outs = model(torch.randn(1, 3, 16, 16))
    sum(o.mean() for o in outs).backward()
    optim.step()
    after = model.state_dict()
    frozen_prefixes = ('conv1a.', 'b2.', 'b2_1.', 'b2_2.')
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    # conv1a, b2, b2_1, b2_2 and every BN parameter/buffer stay as they were
    assert not any(k.startswith(frozen_prefixes) for k in changed)
    assert not any('bn' in k for k in changed)
    # trainable convs did move
    assert 'b3.conv_branch2a.weight' in changed
    assert 'b7.conv_branch2b2.weight' in changed
    assert model.b2.conv_branch2a.weight.grad is None
    assert model.b4.bn_branch2a.weight.grad is None


def test_bn_stays_eval_after_train():
    with torch.device('meta'):
        model = ResNet38d()
    model.train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert len(bns) == 37
    assert not any(m.training for m in bns)
    assert model.b6.dropout_2b1.training and model.b3.conv_branch2a.training
    model.train(False)
    assert not any(m.training for m in model.modules())
    model.train()
    assert not any(m.training for m in bns)
    assert model.b7.dropout_2b2.training


def test_norm_eval_false_trains_bn():
    torch.manual_seed(0)
    model = ResNet38d(norm_eval=False, frozen_stages=0)
    model.train()
    assert model.b3.bn_branch2a.training
    assert model.b3.bn_branch2a.weight.requires_grad
    assert not model.conv1a.weight.requires_grad
    mean_before = model.b2.bn_branch2a.running_mean.clone()
    with torch.no_grad():
        model(torch.randn(2, 3, 16, 16))
    # BN statistics update in train mode
    assert not torch.equal(mean_before, model.b2.bn_branch2a.running_mean)


def test_with_cp_same_gradients():
    torch.manual_seed(0)
    model = ResNet38d(dropout_ratios=(0., 0.), frozen_stages=1)
    model.train()
    x = torch.randn(1, 3, 16, 16)

    def grads():
        model.zero_grad(set_to_none=True)
        sum(o.square().mean() for o in model(x)).backward()
        return {
            k: p.grad.clone()
            for k, p in model.named_parameters() if p.grad is not None
        }

    plain = grads()
    model.with_cp = True
    checked = grads()
    assert plain.keys() == checked.keys()
    assert 'b3.conv_branch2a.weight' in plain
    for k in plain:
        torch.testing.assert_close(checked[k], plain[k], rtol=1e-5, atol=1e-8)


def test_invalid_args():
    with pytest.raises(ValueError, match='out_indices'):
        ResNet38d(out_indices=(4, ))
    with pytest.raises(ValueError, match='frozen_stages'):
        ResNet38d(frozen_stages=7)
    with pytest.raises(ValueError, match='dropout_ratios'):
        ResNet38d(dropout_ratios=(0.3, ))
