# Copyright (c) mmseam contributors. All rights reserved.
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope

import mmseam  # noqa: F401
from mmseg.registry import MODELS

init_default_scope('mmseg')

EPS = 1e-5


def _small_pcm(**kwargs):
    cfg = dict(
        type='PixelCorrelationModule',
        in_channels=(6, 8),
        proj_channels=(3, 4),
        out_channels=5,
        in_index=(0, 2))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def _small_inputs(n=2, c=4, h=5, w=5):
    torch.manual_seed(0)
    cam = torch.randn(n, c, h, w) * 3
    feat0 = torch.randn(n, 6, 2 * h, 2 * w)  # resized inside the PCM
    feat1 = torch.randn(n, 7, h, w)  # not used (in_index=(0, 2))
    feat2 = torch.randn(n, 8, h, w)
    feats = (feat0, feat1, feat2)
    img = torch.randn(n, 3, 4 * h, 4 * w)
    return cam, feats, img


def test_cam_input_hand_values():
    pcm = _small_pcm()
    # 1 x 3 x 1 x 2: channels bg, fg1, fg2 over two pixels
    cam = torch.tensor([[[[5., -1.]], [[4., 2.]], [[1., 8.]]]])
    out = pcm.cam_input(cam)
    fg1 = torch.tensor([4. - EPS, 2. - EPS]) / (4. + EPS)  # max-only norm
    fg2 = torch.tensor([1. - EPS, 8. - EPS]) / (8. + EPS)
    # pixel 0: fg1 wins, pixel 1: fg2 wins; bg = 1 - winning fg value
    exp = torch.tensor([[[[1 - fg1[0], 1 - fg2[1]]], [[fg1[0], 0.]],
                         [[0., fg2[1]]]]])
    torch.testing.assert_close(out, exp)
    assert not out.requires_grad


def test_cam_input_no_min_subtraction_and_ties():
    pcm = _small_pcm()
    # fg channel with a positive minimum keeps it (max-only normalisation);
    # equal fg channels are both kept; negative logits give bg = 1
    cam = torch.tensor([[[[0., 0., 0.]], [[2., 4., -1.]], [[2., 4., -3.]]]])
    out = pcm.cam_input(cam.requires_grad_())
    v = torch.tensor([2. - EPS, 4. - EPS, 0.]) / (4. + EPS)
    exp = torch.stack([1 - v, v, v])[None, :, None]
    torch.testing.assert_close(out, exp)
    assert out[0, 1, 0, 0] > 0.49  # min-max norm would give 0 here


def _loop_reference(pcm, cam, feats, img):
    """Direct per-pixel evaluation of the PCM formula."""
    n, c, h, w = cam.shape
    cam_in = pcm.cam_input(cam).reshape(n, c, h * w)
    img_s = F.interpolate(img, (h, w), mode='bilinear', align_corners=True)
    f0 = F.interpolate(feats[0], (h, w), mode='bilinear', align_corners=True)
    f2 = feats[2]
    w0 = pcm.proj[0].weight[:, :, 0, 0]
    w2 = pcm.proj[1].weight[:, :, 0, 0]
    wf = pcm.fuse.weight[:, :, 0, 0]
    out = torch.zeros(n, c, h * w)
    for b in range(n):
        emb = []
        for p in range(h * w):
            y, x = divmod(p, w)
            z = torch.cat([
                img_s[b, :, y, x],
                torch.relu(w0 @ f0[b, :, y, x]),
                torch.relu(w2 @ f2[b, :, y, x])
            ])
            emb.append(wf @ z)
        for j in range(h * w):
            num = torch.zeros(c)
            den = 0.
            for i in range(h * w):
                cos = torch.dot(emb[i], emb[j]) / (
                    emb[i].norm() * emb[j].norm())
                a = max(float(cos), 0.)
                num += cam_in[b, :, i] * a
                den += a
            out[b, :, j] = num / (den + EPS)
    return out.reshape(n, c, h, w)


def test_forward_matches_per_pixel_loop():
    pcm = _small_pcm()
    cam, feats, img = _small_inputs()
    out = pcm(cam, feats, img)
    assert out.shape == cam.shape
    assert torch.all(out >= 0)
    with torch.no_grad():
        ref = _loop_reference(pcm, cam, feats, img)
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)


def test_weighted_mean_of_constant_is_constant():
    pcm = _small_pcm()
    cam, feats, img = _small_inputs()
    n, c, h, w = cam.shape
    f = pcm.embed(feats, img, (h, w))
    aff = torch.relu(f.transpose(1, 2) @ f)
    # columns sum to ~1 after normalisation: a constant map is preserved
    norm = aff / (aff.sum(dim=1, keepdim=True) + EPS)
    torch.testing.assert_close(
        norm.sum(dim=1), torch.ones(n, h * w), atol=1e-4, rtol=0)
    # embeddings are unit vectors
    torch.testing.assert_close(
        f.norm(dim=1), torch.ones(n, h * w), atol=1e-4, rtol=0)


def test_gradients_only_reach_pcm_layers():
    pcm = _small_pcm()
    cam, feats, img = _small_inputs()
    cam.requires_grad_()
    feats = tuple(f.requires_grad_() for f in feats)
    out = pcm(cam, feats, img)
    out.sum().backward()
    assert cam.grad is None
    assert all(f.grad is None for f in feats)
    for param in pcm.parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0


def test_without_image():
    pcm = _small_pcm(use_image=False)
    assert pcm.fuse.in_channels == 7
    cam, feats, _ = _small_inputs(n=1, h=3, w=4)
    out = pcm(cam, feats)
    assert out.shape == (1, 4, 3, 4)
    with pytest.raises(ValueError, match='use_image'):
        _small_pcm()(cam, feats, None)


def test_default_config_and_official_init():
    torch.manual_seed(1)
    pcm = MODELS.build(dict(type='PixelCorrelationModule'))
    assert [tuple(p.weight.shape) for p in pcm.proj] == [(64, 512, 1, 1),
                                                         (128, 1024, 1, 1)]
    assert tuple(pcm.fuse.weight.shape) == (192, 195, 1, 1)
    assert all(p.bias is None for p in pcm.proj) and pcm.fuse.bias is None
    # kaiming_normal_ defaults: std = sqrt(2 / fan_in)
    for conv, fan_in in zip(pcm.proj, (512, 1024)):
        std = conv.weight.std().item()
        assert std == pytest.approx(math.sqrt(2 / fan_in), rel=0.05)
    # xavier_uniform_ gain 4: U(-b, b), b = 4 * sqrt(6 / (195 + 192))
    bound = 4 * math.sqrt(6 / (195 + 192))
    wmax = pcm.fuse.weight.abs().max().item()
    assert 0.95 * bound < wmax <= bound
    pcm.init_weights()  # official scheme, no error
    h = w = 3
    feats = (torch.randn(2, 256, 2 * h, 2 * w), torch.randn(2, 512, h, w),
             torch.randn(2, 1024, h, w), torch.randn(2, 4096, h, w))
    out = pcm(torch.randn(2, 21, h, w), feats, torch.randn(2, 3, 8 * h, 8 * w))
    assert out.shape == (2, 21, h, w) and torch.all(out >= 0)


def test_bad_config_and_inputs():
    with pytest.raises(ValueError, match='same length'):
        MODELS.build(dict(type='PixelCorrelationModule', in_channels=(512, )))
    pcm = _small_pcm(in_channels=(6, 9))
    cam, feats, img = _small_inputs(n=1)
    with pytest.raises(ValueError, match='in_channels'):
        pcm(cam, feats, img)
    with pytest.raises(ValueError, match='background'):
        pcm.cam_input(torch.rand(1, 1, 2, 2))
