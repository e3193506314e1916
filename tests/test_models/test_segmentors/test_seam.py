# Copyright (c) mmseam contributors. All rights reserved.
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmseam  # noqa: F401
from mmseam.models.utils import max_norm, max_onehot

init_default_scope('mmseg')

TINY_BACKBONE = dict(
    type='ResNetV1c',
    depth=18,
    stem_channels=8,
    base_channels=8,
    strides=(1, 2, 1, 1),
    dilations=(1, 1, 2, 4),
    out_indices=(0, 1, 2, 3),
    norm_eval=True,
    contract_dilation=True)
NUM_CLASSES = 4


def tiny_seam(**kwargs):
    cfg = dict(
        type='SEAM',
        num_classes=NUM_CLASSES,
        in_channels=64,
        backbone=TINY_BACKBONE,
        neck=dict(
            type='PixelCorrelationModule',
            in_channels=(16, 32),
            proj_channels=(8, 8),
            out_channels=16,
            in_index=(1, 2)),
        equivariant_transform=dict(type='RescaleTransform', scale_factor=0.5),
        test_cfg=dict(bg_threshold=0.3))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def samples(labels, shape=(32, 32)):
    out = []
    for lab in labels:
        s = SegDataSample(metainfo=dict(ori_shape=shape, img_shape=shape))
        s.set_data(dict(img_labels=torch.tensor(lab, dtype=torch.float32)))
        out.append(s)
    return out


LABELS = [[1, 0, 1], [0, 1, 0]]


def test_forward_tensor_shapes():
    torch.manual_seed(0)
    model = tiny_seam().eval()
    x = torch.randn(2, 3, 40, 48)
    out = model(x, mode='tensor')
    assert set(out) == {'cam', 'cam_pcm'}
    for v in out.values():
        assert v.shape == (2, NUM_CLASSES, 40, 48)
    assert (out['cam_pcm'] >= 0).all()
    # upsampled with align_corners=True from the 5x6 feature map: corners of
    # the output equal corners of the feature-level CAM
    raw = model.forward_cam(x)['cam']
    assert raw.shape == (2, NUM_CLASSES, 5, 6)
    torch.testing.assert_close(out['cam'][..., 0, 0], raw[..., 0, 0])
    torch.testing.assert_close(out['cam'][..., -1, -1], raw[..., -1, -1])


def test_loss_equals_official_recipe():
    """SEAM.loss == the official train_SEAM.py step written out directly."""
    torch.manual_seed(1)
    model = tiny_seam().eval()  # no dropout: deterministic
    x = torch.randn(2, 3, 32, 32)
    losses = model.loss(x, samples(LABELS))
    assert set(losses) == {'loss_cls', 'loss_minpool', 'loss_er', 'loss_ecr'}

    y = torch.tensor([[1.] + lab for lab in LABELS])[:, :, None, None]
    o1 = model._forward(x)
    x2 = F.interpolate(x, scale_factor=0.5, mode='bilinear',
                       align_corners=True)
    o2 = model._forward(x2)
    cam1, rv1, cam2, rv2 = o1['cam'], o1['cam_pcm'], o2['cam'], o2['cam_pcm']
    cls = sum(
        F.multilabel_soft_margin_loss(
            F.adaptive_avg_pool2d(c, 1)[:, 1:], y[:, 1:])
        for c in (cam1, cam2)) / 2

    def minpool(cam):
        n, _, h, w = cam.shape
        k = h * w // 4
        v = cam.max(dim=1)[0].view(n, -1)
        low = torch.topk(v, k, dim=-1, largest=False)[0]
        return F.relu(low).sum() / (k * n)

    mp = (minpool((rv1 * y)[:, 1:]) + minpool((rv2 * y)[:, 1:])) / 2

    def down(t):
        return F.interpolate(t, scale_factor=0.5, mode='bilinear',
                             align_corners=True)

    c1 = down(max_norm(cam1)) * y
    r1 = down(max_norm(rv1)) * y
    c2 = max_norm(cam2) * y
    r2 = max_norm(rv2) * y
    # ER and ECR normalised by VOC's channel counts (20 fg, 21), as the
    # official code on VOC, whatever the class count
    n, _, hs, ws = c2.shape
    er = (c1[:, 1:] - c2[:, 1:]).abs().sum() / (n * hs * ws * 20)
    c1[:, 0] = 1 - c1[:, 1:].max(dim=1)[0]
    c2[:, 0] = 1 - c2[:, 1:].max(dim=1)[0]

    def topk_mean(t):
        n, c, h, w = t.shape
        k = min(int(21 * h * w * 0.2), c * h * w)
        return torch.topk(t.view(n, -1), k)[0].mean()

    ecr = (topk_mean((max_onehot(c2.detach()) - r1).abs()) +
           topk_mean((max_onehot(c1.detach()) - r2).abs()))
    torch.testing.assert_close(losses['loss_cls'], cls)
    torch.testing.assert_close(losses['loss_minpool'], mp)
    torch.testing.assert_close(losses['loss_er'], er)
    torch.testing.assert_close(losses['loss_ecr'], ecr)


def _grads(model):
    return {
        n: (p.grad is not None and p.grad.abs().sum().item() > 0)
        for n, p in model.named_parameters() if p.requires_grad
    }


def test_gradient_isolation():
    """ECR/min-pool only train the PCM; cls/ER never reach the PCM."""
    torch.manual_seed(2)
    model = tiny_seam().train()
    x = torch.randn(2, 3, 32, 32)
    losses = model.loss(x, samples(LABELS))
    (losses['loss_ecr'] + losses['loss_minpool']).backward()
    g = _grads(model)
    assert all(v for n, v in g.items() if n.startswith('neck.'))
    assert not any(v for n, v in g.items() if not n.startswith('neck.'))

    model.zero_grad(set_to_none=True)
    losses = model.loss(x, samples(LABELS))
    (losses['loss_cls'] + losses['loss_er']).backward()
    g = _grads(model)
    assert not any(v for n, v in g.items() if n.startswith('neck.'))
    assert g['classifier.weight']
    assert any(v for n, v in g.items() if n.startswith('backbone.'))


def test_cam_baseline_has_only_cls_loss():
    torch.manual_seed(3)
    model = tiny_seam(
        neck=None,
        equivariant_transform=None,
        loss_minpool=None,
        loss_er=None,
        loss_ecr=None)
    losses = model.loss(torch.randn(2, 3, 32, 32), samples(LABELS))
    assert set(losses) == {'loss_cls'}
    assert model.test_cfg['cam_source'] == 'cam'
    out = model(torch.randn(1, 3, 32, 32), mode='tensor')
    assert set(out) == {'cam'}


def test_each_loss_can_be_switched_off():
    model = tiny_seam(loss_er=None, loss_minpool=None)
    losses = model.loss(torch.randn(2, 3, 32, 32), samples(LABELS))
    assert set(losses) == {'loss_cls', 'loss_ecr'}


def test_cls_pool_max_scores_are_the_cam_maxima():
    """cls_pool='max': loss_cls is the soft margin of each class's CAM max."""
    torch.manual_seed(5)
    kw = dict(
        neck=None,
        equivariant_transform=None,
        loss_minpool=None,
        loss_er=None,
        loss_ecr=None,
        dropout_ratio=0.0)
    model = tiny_seam(cls_pool='max', **kw).eval()
    x = torch.randn(2, 3, 32, 32)
    loss = model.loss(x, samples(LABELS))['loss_cls']
    cam = model(x, mode='tensor')['cam']
    y = torch.tensor(LABELS, dtype=torch.float32)
    scores = torch.stack([cam[n, 1:].flatten(1).max(1)[0] for n in range(2)])
    expected = F.multilabel_soft_margin_loss(scores, y)
    torch.testing.assert_close(loss, expected)
    # the same weights with GAP give the mean instead
    avg = tiny_seam(**kw).eval()
    avg.load_state_dict(model.state_dict())
    loss_avg = avg.loss(x, samples(LABELS))['loss_cls']
    torch.testing.assert_close(
        loss_avg,
        F.multilabel_soft_margin_loss(cam[:, 1:].mean((2, 3)), y))
    assert not torch.allclose(loss, loss_avg)
    with pytest.raises(ValueError, match="cls_pool='sum'.*'avg'"):
        tiny_seam(cls_pool='sum')


def test_class_count_mismatch_is_explained():
    model = tiny_seam()
    with pytest.raises(ValueError, match='num_classes'):
        model.loss(torch.randn(1, 3, 32, 32), samples([[1, 0, 1, 0, 0]]))


def test_predict_masks_absent_classes_and_thresholds_background():
    torch.manual_seed(4)
    model = tiny_seam().eval()
    x = torch.randn(2, 3, 32, 32)
    ds = samples(LABELS)
    ds[1].set_metainfo(dict(ori_shape=(20, 24)))
    with torch.no_grad():
        out = model.predict(x, ds)
    for s, lab in zip(out, LABELS):
        logits = s.seg_logits.data
        assert logits.shape[0] == NUM_CLASSES
        assert torch.all(logits[0] == 0.3)
        for c, present in enumerate(lab, start=1):
            if not present:
                assert torch.all(logits[c] == 0)
        assert logits[1:].max() <= 1 and logits[1:].min() >= 0
        torch.testing.assert_close(s.pred_sem_seg.data[0],
                                   logits.argmax(0))
    assert out[0].seg_logits.data.shape[1:] == (32, 32)
    assert out[1].seg_logits.data.shape[1:] == (20, 24)
    # the present class reaches 1 somewhere (per-class min-max)
    assert out[0].seg_logits.data[1].max() > 0.99


def test_multiscale_flip_equals_direct_sum():
    torch.manual_seed(5)
    model = tiny_seam().eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        got = model.multiscale_cam(x, scales=(1.0, 0.5), flip=True)
        want = 0
        for s in (1.0, 0.5):
            xs = x if s == 1.0 else F.interpolate(
                x, scale_factor=s, mode='bilinear', align_corners=False)
            for flip in (False, True):
                xi = xs.flip(-1) if flip else xs
                o = model._forward(xi)['cam_pcm'][:, 1:]
                o = F.interpolate(o, (32, 32), mode='bilinear',
                                  align_corners=False)
                want = want + (o.flip(-1) if flip else o)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_normalize_cam_matches_official_formula():
    cam = torch.tensor([[[[-1., 0.], [2., 4.]]]])
    got = model_cls().normalize_cam(cam)
    # relu -> [0,0,2,4]; min 0, max 4 -> (v - 1e-5) / (4 + 1e-5), floor 0
    want = torch.tensor([[[[0., 0.], [(2 - 1e-5) / (4 + 1e-5),
                                      (4 - 1e-5) / (4 + 1e-5)]]]])
    torch.testing.assert_close(got, want)


def model_cls():
    return MODELS.get('SEAM')


@pytest.mark.parametrize('backbone,in_channels,neck_in', [
    (dict(
        type='mmpretrain.ResNet',
        depth=18,
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        out_indices=(0, 1, 2, 3)), 512, (128, 256)),
    (dict(type='mmpretrain.ConvNeXt', arch='atto', out_indices=(0, 1, 2, 3),
          gap_before_final_norm=False), 320, (80, 160)),
])
def test_mmpretrain_backbones_through_config(backbone, in_channels, neck_in):
    """mmpretrain backbones work by config alone (custom_imports)."""
    from mmengine.utils import import_modules_from_strings
    import_modules_from_strings(['mmpretrain.models'])
    model = tiny_seam(
        backbone=backbone,
        in_channels=in_channels,
        neck=dict(
            type='PixelCorrelationModule',
            in_channels=neck_in,
            proj_channels=(8, 8),
            out_channels=16,
            in_index=(1, 2)))
    losses = model.loss(torch.randn(2, 3, 64, 64), samples(LABELS))
    assert set(losses) == {'loss_cls', 'loss_minpool', 'loss_er', 'loss_ecr'}
    assert all(torch.isfinite(v) for v in losses.values())
    out = model.eval()(torch.randn(1, 3, 64, 64), mode='tensor')
    assert out['cam_pcm'].shape == (1, NUM_CLASSES, 64, 64)


def test_channels_last_is_layout_only():
    """channels_last changes the memory format, not the maths."""
    torch.manual_seed(6)
    ref = tiny_seam().eval()
    fast = tiny_seam(channels_last=True).eval()
    fast.load_state_dict(ref.state_dict())
    w_fast = fast.backbone.stem[0].weight  # a 3x3 conv
    w_ref = ref.backbone.stem[0].weight
    assert w_fast.is_contiguous(memory_format=torch.channels_last)
    assert not w_ref.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 32, 32)
    want = ref.loss(x, samples(LABELS))
    got = fast.loss(x, samples(LABELS))
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=1e-4, atol=1e-6)
    with torch.no_grad():
        torch.testing.assert_close(
            fast.multiscale_cam(x, scales=(1.0, 0.5), flip=True),
            ref.multiscale_cam(x, scales=(1.0, 0.5), flip=True),
            rtol=1e-4,
            atol=1e-5)


def test_amp_dtype_option():
    with pytest.raises(ValueError, match='amp_dtype'):
        tiny_seam(test_cfg=dict(amp_dtype='bf16'))
    torch.manual_seed(7)
    ref = tiny_seam().eval()
    amp = tiny_seam(test_cfg=dict(amp_dtype='bfloat16')).eval()
    amp.load_state_dict(ref.state_dict())
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        want = ref.multiscale_cam(x, scales=(1.0, 0.5), flip=True)
        got = amp.multiscale_cam(x, scales=(1.0, 0.5), flip=True)
        amp.test_cfg['amp_dtype'] = None  # the strict-parity switch
        plain = amp.multiscale_cam(x, scales=(1.0, 0.5), flip=True)
    assert got.dtype == torch.float32  # CAMs are summed in fp32
    assert not torch.equal(got, want)  # the network really ran in bf16
    # bf16 rounding only: within a few percent of the CAM's range
    assert (got - want).abs().max() <= 0.05 * want.abs().max()
    torch.testing.assert_close(plain, want)


def test_loss_under_bf16_autocast_is_fp32_and_close():
    torch.manual_seed(8)
    model = tiny_seam().eval()
    x = torch.randn(2, 3, 32, 32)
    want = model.loss(x, samples(LABELS))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = model.loss(x, samples(LABELS))
        out = model._forward(x)
    assert all(v.dtype == torch.float32 for v in out.values())
    for k in want:
        assert got[k].dtype == torch.float32
        torch.testing.assert_close(got[k], want[k], rtol=0.05, atol=0.01)


def test_image_labels_stack_once():
    model = tiny_seam()
    y = model._image_labels(samples(LABELS), torch.device('cpu'))
    want = torch.tensor([[1., 1, 0, 1], [1, 0, 1, 0]])[:, :, None, None]
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, want)


def test_loss_and_inference_never_read_tensor_values():
    """No host-device sync in the step: the whole loss, its backward and the
    multi-scale inference run on the meta device, where any ``.item()``,
    ``bool(tensor)``, boolean-mask indexing or other data-dependent shape
    raises."""
    model = tiny_seam().train().to('meta')
    x = torch.randn(2, 3, 32, 32, device='meta')
    data_samples = samples(LABELS)
    for s in data_samples:
        s.img_labels = s.img_labels.to('meta')
    losses = model.loss(x, data_samples)
    assert set(losses) == {'loss_cls', 'loss_minpool', 'loss_er', 'loss_ecr'}
    sum(losses.values()).backward()
    assert model.neck.fuse.weight.grad.device.type == 'meta'
    with torch.no_grad():
        cam = model.eval().multiscale_cam(x, scales=(1.0, 0.5), flip=True)
    assert cam.shape == (2, NUM_CLASSES - 1, 32, 32)
    # the check has teeth: reading a value or a boolean-mask selection fails
    cam = torch.rand(1, NUM_CLASSES, 4, 4, device='meta')
    for read in (lambda: cam.sum().item(), lambda: cam[cam > 0.5],
                 lambda: bool(cam.max() > 0)):
        with pytest.raises((RuntimeError, NotImplementedError)):
            read()


class _CountingBackend:
    """A torch.compile backend that records each graph it is given and runs
    it as traced (``aot_eager`` numerics without the AOT step)."""

    def __init__(self):
        self.graphs = 0

    def __call__(self, gm, example_inputs):
        self.graphs += 1
        return gm.forward

    def __repr__(self):  # part of the compiled-function cache key
        return f'_CountingBackend@{id(self):x}'


def test_compile_cfg_validation():
    assert tiny_seam().compile_cfg is None
    assert tiny_seam(compile_cfg=True).compile_cfg == {}
    assert tiny_seam(compile_cfg=False).compile_cfg is None
    model = tiny_seam(test_cfg=dict(compile_cfg=dict(dynamic=False)))
    assert model.test_cfg['compile_cfg'] == dict(dynamic=False)
    with pytest.raises(TypeError, match='model.compile_cfg must be a dict'):
        tiny_seam(compile_cfg='inductor')
    with pytest.raises(TypeError,
                       match='model.test_cfg.compile_cfg must be a dict'):
        tiny_seam(test_cfg=dict(compile_cfg=1))


def test_compiled_network_equals_eager():
    """compile_cfg compiles forward_cam in training (one graph, no graph
    break: fullgraph=True), test_cfg.compile_cfg in eval mode; losses,
    gradients and CAMs equal the eager model's, the parameter names are
    unchanged, and a deep copy runs its own weights."""
    torch.manual_seed(8)
    ref = tiny_seam(dropout_ratio=0.0)
    train_backend, test_backend = _CountingBackend(), _CountingBackend()
    comp = tiny_seam(
        dropout_ratio=0.0,
        compile_cfg=dict(backend='aot_eager', fullgraph=True,
                         dynamic=False),
        test_cfg=dict(bg_threshold=0.3, compile_cfg=dict(
            backend=test_backend, fullgraph=True)))
    assert list(comp.state_dict()) == list(ref.state_dict())
    comp.load_state_dict(ref.state_dict())
    x = torch.randn(2, 3, 32, 32)
    _assert_same_losses_and_grads(ref, comp, x, none_grads_match=True)

    # eval mode: the test-time compile_cfg, two sizes and flips
    ref.eval()
    comp.eval()
    comp.compile_cfg = dict(backend=train_backend)  # must not be used now
    with torch.no_grad():
        cam_ref = ref.multiscale_cam(x, scales=(1.0, 0.5), flip=True)
        cam_comp = comp.multiscale_cam(x, scales=(1.0, 0.5), flip=True)
    torch.testing.assert_close(cam_comp, cam_ref, rtol=1e-5, atol=1e-6)
    assert test_backend.graphs >= 1 and train_backend.graphs == 0

    # a deep copy computes with its own weights
    twin = copy.deepcopy(comp)
    with torch.no_grad():
        twin.classifier.weight.mul_(2)
        doubled = twin.multiscale_cam(x, scales=(1.0, ), flip=False,
                                      source='cam')
        single = comp.multiscale_cam(x, scales=(1.0, ), flip=False,
                                     source='cam')
    torch.testing.assert_close(doubled, 2 * single)


def _assert_same_losses_and_grads(ref, comp, x, none_grads_match=False,
                                  backend=None):
    """``comp.loss`` equals ``ref.loss`` on ``x`` in values and parameter
    gradients; with ``backend``, the loss call traced exactly one graph;
    with ``none_grads_match``, parameters without a gradient in ``ref``
    have none in ``comp`` either."""
    want = ref.loss(x, samples(LABELS))
    got = comp.loss(x, samples(LABELS))
    if backend is not None:
        assert backend.graphs == 1  # one graph: the network is not compiled
        assert set(got) == set(want)  # apart from the losses
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=1e-5, atol=1e-6)
    sum(want.values()).backward()
    sum(got.values()).backward()
    for (name, p_ref), p_comp in zip(ref.named_parameters(),
                                     comp.parameters()):
        if p_ref.grad is None:
            if none_grads_match:
                assert p_comp.grad is None, name
        else:
            torch.testing.assert_close(
                p_comp.grad, p_ref.grad, rtol=1e-4, atol=1e-6, msg=name)


def test_compile_scope_loss_equals_eager():
    """compile_scope='loss' traces both Siamese passes and all losses as one
    graph (fullgraph=True: no graph break) with the eager values."""
    with pytest.raises(ValueError, match='compile_scope'):
        tiny_seam(compile_scope='all')
    torch.manual_seed(9)
    ref = tiny_seam(dropout_ratio=0.0)
    backend = _CountingBackend()
    comp = tiny_seam(
        dropout_ratio=0.0,
        compile_cfg=dict(backend=backend, fullgraph=True, dynamic=False),
        compile_scope='loss')
    comp.load_state_dict(ref.state_dict())
    x = torch.randn(2, 3, 32, 32)
    _assert_same_losses_and_grads(ref, comp, x, backend=backend)
