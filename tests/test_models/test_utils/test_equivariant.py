# Copyright (c) mmseam contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope

import mmseam  # noqa: F401
from mmseg.registry import MODELS

init_default_scope('mmseg')


def test_rescale_matches_official_interpolate_and_sizes():
    t = MODELS.build(dict(type='RescaleTransform'))
    assert t.scale_factor == 0.3 and t.align_corners and t.mode == 'bilinear'
    x = torch.rand(2, 3, 448, 448)
    y = t(x)
    assert y.shape == (2, 3, 134, 134)
    ref = F.interpolate(
        x, scale_factor=0.3, mode='bilinear', align_corners=True)
    assert torch.equal(y, ref)
    # non-square sizes round down, per dimension
    assert t(torch.rand(1, 1, 56, 100)).shape[-2:] == (16, 30)
    assert t.inverse(y, (448, 448)).shape == (2, 3, 448, 448)
    with pytest.raises(ValueError, match='size'):
        t.inverse(y)
    with pytest.raises(ValueError, match='scale_factor'):
        MODELS.build(dict(type='RescaleTransform', scale_factor=0))


def test_rescale_linear_ramp_round_trip():
    # bilinear + align_corners=True reproduces linear functions exactly
    h, w = 40, 60
    yy, xx = torch.meshgrid(
        torch.arange(h, dtype=torch.float64),
        torch.arange(w, dtype=torch.float64),
        indexing='ij')
    ramp = (0.5 * yy - 0.25 * xx + 3.)[None, None].repeat(2, 2, 1, 1)
    t = MODELS.build(dict(type='RescaleTransform', scale_factor=0.3))
    small = t(ramp)
    assert small.shape[-2:] == (12, 18)
    # forward samples the ramp at i * (h - 1) / (h' - 1)
    ys = torch.arange(12, dtype=torch.float64) * (h - 1) / 11
    xs = torch.arange(18, dtype=torch.float64) * (w - 1) / 17
    exp_small = 0.5 * ys[:, None] - 0.25 * xs[None] + 3.
    torch.testing.assert_close(small[0, 0], exp_small, atol=1e-5, rtol=0)
    back = t.inverse(small, (h, w))
    torch.testing.assert_close(back, ramp, atol=1e-5, rtol=0)
    # float32 as used in training
    back32 = t.inverse(t(ramp.float()), (h, w))
    torch.testing.assert_close(back32, ramp.float(), atol=1e-4, rtol=0)


@pytest.mark.parametrize('direction,dim', [('horizontal', -1),
                                           ('vertical', -2)])
def test_flip(direction, dim):
    t = MODELS.build(dict(type='FlipTransform', direction=direction))
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    y = t(x)
    if dim == -1:
        assert torch.equal(y[..., 0], x[..., -1])
        assert torch.equal(y[..., 1:, :], torch.flip(x, (-1, ))[..., 1:, :])
    else:
        assert torch.equal(y[..., 0, :], x[..., -1, :])
    assert not torch.equal(y, x)
    assert torch.equal(t.inverse(y, (4, 5)), x)
    with pytest.raises(ValueError, match='direction'):
        MODELS.build(dict(type='FlipTransform', direction='diagonal'))


@pytest.mark.parametrize('k', [1, 2, 3, -1, 5])
def test_rotation(k):
    t = MODELS.build(dict(type='RotationTransform', k=k))
    x = torch.rand(2, 3, 4, 6)
    y = t(x)
    if k % 2:
        assert y.shape == (2, 3, 6, 4)
    else:
        assert y.shape == (2, 3, 4, 6)
    assert torch.equal(t.inverse(y, (4, 6)), x)
    with pytest.raises(ValueError, match='size'):
        t.inverse(y, (5, 6))


def test_rotation_by_hand():
    # one counter-clockwise quarter turn of [[1, 2], [3, 4]]
    t = MODELS.build(dict(type='RotationTransform', k=1))
    x = torch.tensor([[[[1., 2.], [3., 4.]]]])
    assert torch.equal(t(x), torch.tensor([[[[2., 4.], [1., 3.]]]]))


def test_translation_pixels_by_hand():
    t = MODELS.build(dict(type='TranslationTransform', shift=(1, -2)))
    x = torch.arange(1, 13, dtype=torch.float32).reshape(1, 1, 3, 4)
    y = t(x)
    # content moves down 1, left 2; zero fill
    exp = torch.tensor([[0., 0., 0., 0.], [3., 4., 0., 0.], [7., 8., 0., 0.]])
    assert torch.equal(y[0, 0], exp)
    mask = t.valid_mask((3, 4))
    assert mask.dtype == torch.bool and mask.shape == (1, 1, 3, 4)
    exp_mask = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0]],
                            dtype=torch.bool)
    assert torch.equal(mask[0, 0], exp_mask)
    back = t.inverse(y, (3, 4))
    assert torch.equal(back, x * mask)


@pytest.mark.parametrize('shift', [(0.25, 0.1), (-0.3, 0.5), (2, 3), (-1, 0),
                                   (0, 0)])
def test_translation_identity_on_valid_region(shift):
    t = MODELS.build(dict(type='TranslationTransform', shift=shift))
    x = torch.rand(2, 3, 8, 10) + 1  # strictly positive
    back = t.inverse(t(x), (8, 10))
    mask = t.valid_mask((8, 10)).expand_as(x)
    assert torch.equal(back[mask], x[mask])
    assert torch.all(back[~mask] == 0)
    dy, dx = t.pixel_shift((8, 10))
    assert int(mask[0, 0].sum()) == (8 - abs(dy)) * (10 - abs(dx))


def test_translation_fraction_rounding_and_errors():
    t = MODELS.build(dict(type='TranslationTransform', shift=(0.25, -0.1)))
    assert t.pixel_shift((8, 10)) == (2, -1)
    # shift larger than the image -> everything leaves the frame
    t = MODELS.build(dict(type='TranslationTransform', shift=(5, 0)))
    assert t(torch.ones(1, 1, 4, 4)).sum() == 0
    assert t.valid_mask((4, 4)).sum() == 0
    with pytest.raises(ValueError, match='shift'):
        MODELS.build(dict(type='TranslationTransform', shift=(1.5, 0.)))
    with pytest.raises(ValueError, match='shift'):
        MODELS.build(dict(type='TranslationTransform', shift=(1, )))


def test_transforms_keep_gradients():
    x = torch.rand(1, 2, 10, 10, requires_grad=True)
    for cfg in [
            dict(type='RescaleTransform'),
            dict(type='FlipTransform'),
            dict(type='RotationTransform'),
            dict(type='TranslationTransform', shift=(2, 2))
    ]:
        t = MODELS.build(cfg)
        t.inverse(t(x), (10, 10)).sum().backward()
        assert x.grad is not None and x.grad.abs().sum() > 0
        x.grad = None
