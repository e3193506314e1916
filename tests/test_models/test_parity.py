# Copyright (c) mmseam contributors. All rights reserved.
"""Numerical parity of mmseam with the official SEAM network.

A plain re-implementation of the official network (``tests/
official_reference.py``, official state-dict keys) is randomly initialised,
its weights are converted with ``tools/model_converters/
seam_official_to_mmseam.py`` and loaded (strictly) into mmseam's modules;
both must then give the same outputs on the same normalised input.
"""
import importlib.util
import os.path as osp
import sys

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import mmseam  # noqa: F401
from mmseam.models.backbones import ResNet38d
from mmseg.registry import MODELS

init_default_scope('mmseg')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEAM_CONFIG = osp.join(REPO, 'configs', 'seam',
                       'seam_resnet38d_1xb8-8e_voc12aug-448x448.py')
ATOL = 1e-4


def _load_by_path(name: str, path: str):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


converter = _load_by_path(
    'seam_official_to_mmseam',
    osp.join(REPO, 'tools', 'model_converters', 'seam_official_to_mmseam.py'))
reference = _load_by_path('official_reference',
                          osp.join(REPO, 'tests', 'official_reference.py'))


def randomise_bn(net: nn.Module, seed: int) -> None:
    """Give every BN data-driven statistics and a non-trivial affine.

    With default init, activations shrink through the 38 layers and any
    output difference would be tiny; calibrating the running statistics on
    a random batch keeps every BN output at unit scale, so the comparison
    below is meaningful.
    """
    torch.manual_seed(seed)
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the calibration batch
    net.train()
    with torch.no_grad():
        net(torch.randn(2, 3, 48, 48))
    for bn in bns:
        bn.momentum = 0.1
        with torch.no_grad():
            bn.weight.uniform_(0.7, 1.3)
            bn.bias.normal_(0, 0.1)
    net.eval()


def test_backbone_matches_reference():
    torch.manual_seed(0)
    ref = reference.OfficialResNet38d()
    randomise_bn(ref, seed=1)
    state, info = converter.convert_official_state_dict(ref.state_dict())
    assert info['kind'] == 'imagenet'

    model = ResNet38d()
    backbone_state = {k[len('backbone.'):]: v for k, v in state.items()}
    model.load_state_dict(backbone_state, strict=True)
    model.eval()
    del state, backbone_state

    x = torch.randn(2, 3, 56, 72)
    with torch.no_grad():
        want = ref(x)
        got = model(x)
    names = ('conv3', 'conv4', 'conv5', 'conv6')
    shapes = [(2, 256, 14, 18), (2, 512, 7, 9), (2, 1024, 7, 9),
              (2, 4096, 7, 9)]
    for tap, name, shape in zip(got, names, shapes):
        assert tuple(tap.shape) == shape
        assert want[name].abs().mean() > 0.1  # not a vanishing signal
        torch.testing.assert_close(tap, want[name], rtol=0, atol=1e-5)


def test_seam_matches_official(tmp_path):
    torch.manual_seed(0)
    num_classes = 21
    ref = reference.OfficialSEAMNet(num_classes)
    randomise_bn(ref, seed=2)
    assert sum(p.numel() for p in ref.parameters()) == \
        reference.official_param_count(num_classes)
    src = str(tmp_path / 'resnet38_SEAM.pth')
    torch.save(ref.state_dict(), src)
    dst = str(tmp_path / 'seam_mmseam.pth')
    meta = converter.convert(src, dst, num_classes=num_classes)
    assert meta['kind'] == 'seam'

    cfg = Config.fromfile(SEAM_CONFIG)
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    load_checkpoint(model, dst, map_location='cpu', strict=True)
    model.eval()
    assert sum(p.numel() for p in model.parameters()) == \
        reference.official_param_count(num_classes)

    x = torch.randn(2, 3, 56, 72)
    with torch.no_grad():
        cam_ref, cam_rv_ref = ref(x)
        out = model._forward(x)
    assert set(out) == {'cam', 'cam_pcm'}
    for got, want in ((out['cam'], cam_ref), (out['cam_pcm'], cam_rv_ref)):
        assert tuple(got.shape) == (2, num_classes, 56, 72)
        assert got.dtype == torch.float32
        assert (got - want).abs().max().item() <= ATOL
    # the outputs carry signal (raw logits of unit scale, PCM >= 0)
    assert cam_ref.std() > 0.1
    assert cam_rv_ref.min() >= 0 and cam_rv_ref.max() > 0.1
