# Copyright (c) mmseam contributors. All rights reserved.
"""SEAM on mmpretrain's ViT-B/16 and ConvNeXt-T: the configs' taps at full
size, and a few Runner iterations of each config at a tiny size on
synthetic VOC-layout data."""
import copy
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.utils import import_modules_from_strings

import mmseam  # noqa: F401
from mmseam.datasets.synthetic import SYNTHETIC_METAINFO, make_synthetic_voc

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CROP = (64, 64)

# config -> (its taps at full size: channels and output stride, in order;
# the size-tiny backbone override; the tiny taps' channels)
CASES = {
    'seam_vit-b16_1xb8-8e_voc12aug-448x448.py':
    (((768, 16), (768, 16), (768, 16)),
     dict(
         arch=dict(
             embed_dims=64,
             num_layers=3,
             num_heads=2,
             feedforward_channels=128),
         img_size=CROP[0],
         out_indices=(0, 1, 2),
         drop_path_rate=0.0), (64, 64, 64)),
    'seam_convnext-t_1xb8-8e_voc12aug-448x448.py':
    (((192, 8), (384, 16), (768, 32)),
     dict(
         arch=dict(depths=[1, 1, 1, 1], channels=[8, 16, 32, 64]),
         drop_path_rate=0.0), (16, 32, 64)),
}


def load(name):
    cfg = Config.fromfile(osp.join(REPO, 'configs/seam', name))
    import_modules_from_strings(cfg.custom_imports['imports'])
    init_default_scope('mmseg')
    return cfg


@pytest.mark.parametrize('name', sorted(CASES))
def test_full_size_taps_match_the_pcm_and_classifier(name):
    """The real architecture: every tap the PCM reads has the channels the
    PCM projects, the classifier reads the last tap, at the strides the
    config states; the ImageNet checkpoint stays a model-zoo URL."""
    from mmseg.registry import MODELS
    taps, _, _ = CASES[name]
    cfg = load(name)
    init = cfg.model.backbone.init_cfg
    assert init.type == 'Pretrained' and init.prefix == 'backbone.'
    assert init.checkpoint.startswith(
        'https://download.openmmlab.com/mmclassification/v0/')
    assert cfg.model.backbone.type.startswith('mmpretrain.')
    cfg.model.backbone.init_cfg = None  # nothing can be downloaded here
    model = MODELS.build(cfg.model).eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.zeros(1, 3, 64, 64))
    assert [(f.shape[1], 64 // f.shape[-1]) for f in feats] == list(taps)
    read = [feats[i].shape[1] for i in model.neck.in_index]
    assert [c.in_channels for c in model.neck.proj] == read
    assert sum(c.in_channels for c in model.neck.proj) == sum(read)
    assert model.neck.in_index == (0, 1)
    assert model.in_index == -1
    assert model.classifier.in_channels == feats[-1].shape[1]


def tiny_runner(name, data_root, work_dir):
    _, backbone, chans = CASES[name]
    cfg = load(name)
    cfg.work_dir = str(work_dir)
    cfg.model.backbone.update(copy.deepcopy(backbone))
    cfg.model.backbone.init_cfg = None
    cfg.model.num_classes = len(SYNTHETIC_METAINFO['classes'])
    cfg.model.in_channels = chans[-1]
    cfg.model.neck.update(
        in_channels=chans[:2], proj_channels=(8, 8), out_channels=16)
    cfg.model.data_preprocessor.size = CROP
    ds = cfg.train_dataloader.dataset
    ds.update(
        data_root=data_root,
        metainfo=SYNTHETIC_METAINFO,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='RandomCropPad', crop_size=CROP),
            dict(type='PackSegClsInputs')
        ])
    cfg.train_dataloader.update(
        batch_size=2, num_workers=0, persistent_workers=False)
    # 4 images, batch 2: two iterations; the warm-up ends after the first,
    # the poly decay would end after two epochs (a non-zero second step)
    cfg.train_cfg = dict(
        type='EpochBasedTrainLoop', max_epochs=1, val_interval=2)
    cfg.param_scheduler[0].end = 2
    cfg.param_scheduler[1].end = 1
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator',
                'test_dataloader', 'test_cfg', 'test_evaluator'):
        cfg[key] = None
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook')
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1)
    cfg.default_hooks.logger.interval = 1
    cfg.randomness = dict(seed=0)
    return Runner.from_cfg(cfg)


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('zoo') / 'voc')
    make_synthetic_voc(root, seed=1, num_train=4, num_val=1, image_size=64)
    return root


@pytest.mark.parametrize('name', sorted(CASES))
def test_tiny_config_trains_through_the_runner(name, data_root, tmp_path):
    runner = tiny_runner(name, data_root, tmp_path / 'work')
    model = runner.model
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    frozen = {k for k, v in model.named_parameters() if not v.requires_grad}
    runner.train()
    assert runner.iter == 2
    hub = runner.message_hub
    for key in ('loss', 'loss_cls', 'loss_minpool', 'loss_er', 'loss_ecr'):
        value = hub.get_scalar(f'train/{key}').current()
        assert math.isfinite(value), (key, value)
    after = dict(model.named_parameters())
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    if 'convnext' in name:
        # stem + stage 1 frozen, the rest of the backbone trains except the
        # LayerNorms of the PCM's taps: the PCM reads its features detached
        # (as SEAM's), so nothing trains them (find_unused_parameters)
        first = ('backbone.downsample_layers.0.', 'backbone.stages.0.')
        assert frozen == {k for k in before if k.startswith(first)}
        pcm_only = {f'backbone.norm{i}.{p}' for i in (1, 2)
                    for p in ('weight', 'bias')}
        assert changed == set(before) - frozen - pcm_only
        assert 'backbone.stages.1.0.norm.bias' in changed
        assert runner.cfg.model_wrapper_cfg.find_unused_parameters
    else:
        # every weight trains (the PCM's taps are blocks that also feed
        # the classifier)
        assert not frozen and changed == set(before)
        # no weight decay on these: only the gradient moves them, so it
        # reaches the first block and the embeddings
        assert {'backbone.pos_embed', 'backbone.cls_token',
                'backbone.layers.0.ln1.bias'} <= changed
    # the lr multipliers of the config: classifier and PCM at 10x
    groups = runner.optim_wrapper.optimizer.param_groups
    lr_of = {id(p): g['initial_lr'] for g in groups for p in g['params']}
    base = lr_of[id(after['backbone.stages.1.0.norm.bias'])] \
        if 'convnext' in name else lr_of[id(after['backbone.pos_embed'])]
    assert base == cfg_lr(name)
    assert lr_of[id(after['classifier.weight'])] == pytest.approx(10 * base)
    assert lr_of[id(after['neck.fuse.weight'])] == pytest.approx(10 * base)


def cfg_lr(name):
    return Config.fromfile(osp.join(REPO, 'configs/seam',
                                    name)).optim_wrapper.optimizer.lr
