# Copyright (c) mmseam contributors. All rights reserved.
"""AffinityNet model and AffinityLoss."""
import math
import os.path as osp

import mmseam  # noqa: F401
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from mmseam.models.losses import AffinityLoss
from mmseam.models.segmentors.affinitynet import (effective_radius,
                                                  get_pair_offsets,
                                                  pair_affinity,
                                                  pairs_to_dense)

init_default_scope('mmseg')

TINY_BACKBONE = dict(
    type='ResNetV1c',
    depth=18,
    num_stages=4,
    out_indices=(0, 1, 2, 3),
    strides=(1, 2, 1, 1),
    dilations=(1, 1, 2, 4),
    norm_cfg=dict(type='BN', requires_grad=True),
    contract_dilation=True)


def tiny_model(**kwargs):
    cfg = dict(
        type='AffinityNet',
        backbone=TINY_BACKBONE,
        in_channels=(128, 256, 512),
        proj_channels=(8, 8, 16),
        out_channels=24,
        in_index=(1, 2, 3),
        data_preprocessor=dict(
            type='SegDataPreProcessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True,
            size=(96, 96),
            pad_val=0,
            seg_pad_val=255))
    cfg.update(kwargs)
    return MODELS.build(cfg)


# ---------------------------------------------------------------- loss


def test_affinity_loss_hand_computed():
    aff = torch.tensor([[0.5, 0.9, 0.2, 0.7, 0.3]])
    bg = torch.tensor([[1., 0, 0, 0, 0]])
    fg = torch.tensor([[0., 1, 0, 0, 1]])
    neg = torch.tensor([[0., 0, 1, 1, 0]])
    eps = 1e-5
    exp_bg = -math.log(0.5 + eps) / (1 + eps)
    exp_fg = (-math.log(0.9 + eps) - math.log(0.3 + eps)) / (2 + eps)
    exp_neg = (-math.log(1 + eps - 0.2) - math.log(1 + eps - 0.7)) / (2 + eps)
    loss = AffinityLoss()
    terms = loss.terms(aff, bg, fg, neg)
    assert terms['bg'].item() == pytest.approx(exp_bg, rel=1e-6)
    assert terms['fg'].item() == pytest.approx(exp_fg, rel=1e-6)
    assert terms['neg'].item() == pytest.approx(exp_neg, rel=1e-6)
    assert terms['fg_count'].item() == pytest.approx(2 + eps)
    total = exp_bg / 4 + exp_fg / 4 + exp_neg / 2
    assert loss(aff, bg, fg, neg).item() == pytest.approx(total, rel=1e-6)
    custom = AffinityLoss(
        bg_weight=1., fg_weight=0., neg_weight=2., loss_weight=0.5)
    assert custom(aff, bg, fg, neg).item() == pytest.approx(
        0.5 * (exp_bg + 2 * exp_neg), rel=1e-6)
    # no labels of a kind -> that term is 0, not NaN
    zero = torch.zeros_like(aff)
    assert loss(aff, zero, zero, zero).item() == 0
    with pytest.raises(ValueError, match='shape'):
        loss(aff, bg[:, :3], fg, neg)


# ------------------------------------------------------- pair affinity


def _official_indices(radius, h, w):
    """Index pairs as the official get_indices_of_pairs (own rewrite)."""
    idx = np.arange(h * w).reshape(h, w)
    rf = radius - 1
    ch, cw = h - rf, w - 2 * rf
    ind_from = idx[:ch, rf:rf + cw].reshape(-1)
    ind_to = np.concatenate([
        idx[dy:dy + ch, rf + dx:rf + dx + cw].reshape(-1)
        for dy, dx in get_pair_offsets(radius)
    ])
    return torch.from_numpy(ind_from), torch.from_numpy(ind_to)


def test_pair_affinity_matches_index_select_formulation():
    torch.manual_seed(0)
    feat = torch.randn(2, 6, 9, 13, dtype=torch.float64)
    aff = pair_affinity(feat, 5)
    assert aff.shape == (2, 34, 5, 5)
    ind_from, ind_to = _official_indices(5, 9, 13)
    x = feat.flatten(2)
    ff = torch.index_select(x, 2, ind_from).unsqueeze(2)
    ft = torch.index_select(x, 2, ind_to).view(2, 6, 34, -1)
    ref = torch.exp(-torch.mean(torch.abs(ft - ff), dim=1))
    torch.testing.assert_close(aff.reshape(2, 34, -1), ref)


def test_pairs_to_dense_matches_sparse_construction():
    torch.manual_seed(1)
    h, w, r = 7, 10, 3
    feat = torch.randn(1, 4, h, w, dtype=torch.float64)
    aff = pair_affinity(feat, r)
    dense = pairs_to_dense(aff, h, w, r)[0]
    ind_from, ind_to = _official_indices(r, h, w)
    n_off = len(get_pair_offsets(r))
    from_exp = ind_from.repeat(n_off)
    vals = aff[0].reshape(-1)
    ref = torch.zeros(h * w, h * w, dtype=torch.float64)
    ref[from_exp, ind_to] = vals
    ref[ind_to, from_exp] = vals
    ref += torch.eye(h * w, dtype=torch.float64)
    torch.testing.assert_close(dense, ref)
    torch.testing.assert_close(dense, dense.T)
    assert (dense.diagonal() == 1).all()
    # a border pair outside the official source region stays 0:
    # (row 0, col 0) -> (row 0, col 1) has its source in the left margin
    assert dense[0, 1] == 0


def test_effective_radius_official_rule():
    assert effective_radius(56, 56, 5) == 5
    assert effective_radius(11, 40, 5) == 5
    assert effective_radius(10, 40, 5) == 4
    assert effective_radius(5, 5, 5) == 2
    assert effective_radius(2, 9, 5) == 1


# ---------------------------------------------------------------- model


def test_affinitynet_structure_and_init():
    torch.manual_seed(0)
    model = tiny_model()
    assert [c.weight.shape[:2] for c in model.proj] == [(8, 128), (8, 256),
                                                        (16, 512)]
    assert model.fuse.weight.shape[:2] == (24, 32)
    assert all(c.bias is None for c in model.proj) and model.fuse.bias is None
    bound = 4 * math.sqrt(6 / (32 + 24))  # xavier uniform, gain 4
    assert model.fuse.weight.abs().max() <= bound
    assert model.fuse.weight.abs().max() > 0.8 * bound
    assert model.num_pairs == 34
    with pytest.raises(ValueError, match='same length'):
        tiny_model(in_index=(1, 2))


def test_affinitynet_pair_equals_direct_formula():
    torch.manual_seed(0)
    model = tiny_model().eval()
    inputs = torch.randn(1, 3, 96, 112)
    with torch.no_grad():
        feat = model._forward(inputs)
        aff, radius = model.predict_affinity(inputs)
        dense = model.dense_affinity(inputs)[0]
    assert feat.shape == (1, 24, 12, 14)
    assert (feat > -1).all()  # ELU output
    assert radius == 5 and aff.shape == (1, 34, 8, 6)
    offsets = get_pair_offsets(5)
    for k, y, x in [(0, 0, 0), (5, 3, 2), (33, 7, 5), (20, 4, 1)]:
        dy, dx = offsets[k]
        fi = feat[0, :, y, x + 4]
        fj = feat[0, :, y + dy, x + 4 + dx]
        expected = torch.exp(-(fi - fj).abs().mean())
        torch.testing.assert_close(aff[0, k, y, x], expected)
        i, j = y * 14 + x + 4, (y + dy) * 14 + x + 4 + dx
        torch.testing.assert_close(dense[i, j], expected)
        torch.testing.assert_close(dense[j, i], expected)
    # a small map shrinks the radius as officially
    with torch.no_grad():
        aff_small, r_small = model.predict_affinity(torch.randn(1, 3, 56, 80))
    assert r_small == 3 and aff_small.shape == (1, 12, 5, 6)
    with pytest.raises(RuntimeError, match='invalid mode'):
        model(inputs, mode='foo')


def _training_batch(n=2, seed=0):
    """Packed samples from hand-made CRF maps through the real pipeline."""
    rng = np.random.default_rng(seed)
    pipeline = Compose([
        dict(type='AffinityRandomCrop', crop_size=96),
        dict(type='RandomFlip', prob=0.5),
        dict(type='AffinityLabelFromCRF', stride=8),
        dict(type='ExtractAffinityLabels', radius=5),
        dict(type='PackAffinityInputs'),
    ])
    samples = []
    for _ in range(n):
        h, w = 90, 100
        img = rng.integers(0, 255, (h, w, 3)).astype(np.uint8)
        la = np.zeros((h, w, 2), np.float32)
        la[:, :40, 0] = 0.9  # left: confident background
        la[:, 40:, 1] = 0.8  # right: class 7
        la[:, :40, 1] = 0.1
        ha = la.copy()
        ha[:, 40:56, 0] = 0.9  # ha calls the middle bg as well -> 0
        ha[:, 56:, 0] = 0.05  # the far right stays class 7
        samples.append(
            pipeline(
                dict(
                    img=img,
                    crf_la=la,
                    crf_ha=ha,
                    crf_labels=np.array([0, 7]),
                    seg_fields=['crf_la', 'crf_ha'])))
    return pseudo_collate(samples)


def test_affinitynet_loss_matches_manual_and_trains():
    torch.manual_seed(0)
    np.random.seed(0)
    model = tiny_model()
    data = _training_batch()
    sample = data['data_samples'][0]
    assert sample.aff_bg_pos.shape == (34, 8, 4)
    assert sample.aff_bg_pos.sum() > 0 and sample.aff_neg.sum() > 0
    assert sample.aff_fg_pos.sum() > 0

    # loss() == AffinityLoss on predict_affinity() with the packed labels
    model.eval()
    with torch.no_grad():
        batch = model.data_preprocessor(data, True)
        losses = model.loss(batch['inputs'], batch['data_samples'])
        aff, _ = model.predict_affinity(batch['inputs'])
    labels = [
        torch.stack([s.get(k) for s in batch['data_samples']])
        for k in ('aff_bg_pos', 'aff_fg_pos', 'aff_neg')
    ]
    terms = AffinityLoss().terms(aff, *labels)
    torch.testing.assert_close(losses['aff_bg'], terms['bg'])
    torch.testing.assert_close(losses['aff_neg'], terms['neg'])
    torch.testing.assert_close(
        losses['loss_aff'],
        terms['bg'] / 4 + terms['fg'] / 4 + terms['neg'] / 2)
    assert losses['aff_fg_cnt'].item() == pytest.approx(
        labels[1].sum().item(), abs=1e-4)

    # one SGD step updates the new layers and the (not detached) backbone
    model.train()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    before = {
        'proj': model.proj[0].weight.detach().clone(),
        'fuse': model.fuse.weight.detach().clone(),
        'backbone': model.backbone.layer4[0].conv1.weight.detach().clone(),
    }
    log_vars = model.train_step(data, optim)
    assert set(log_vars) >= {
        'loss', 'loss_aff', 'aff_bg', 'aff_fg', 'aff_neg', 'aff_bg_cnt'
    }
    assert math.isfinite(log_vars['loss'].item())
    torch.testing.assert_close(log_vars['loss'], log_vars['loss_aff'])
    assert not torch.equal(before['proj'], model.proj[0].weight)
    assert not torch.equal(before['fuse'], model.fuse.weight)
    assert not torch.equal(before['backbone'],
                           model.backbone.layer4[0].conv1.weight)


def test_affinitynet_predict_and_label_mismatch():
    torch.manual_seed(0)
    model = tiny_model().eval()
    inputs = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        samples = model(inputs, mode='predict')
    assert samples[1].aff_feat.shape == (24, 8, 12)
    data = _training_batch(n=1)
    batch = model.data_preprocessor(data, True)
    with pytest.raises(ValueError, match='match the backbone'):
        model.loss(batch['inputs'][..., :80], batch['data_samples'])


def test_official_config_pipeline_and_model(tmp_path):
    """The shipped config: 448 crops give 34 x 52 x 48 pair labels, and the
    model has the official new layers."""
    import mmcv
    from mmengine.config import Config

    from mmseam.apis.cam_io import save_crf_scores
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    cfg = Config.fromfile(
        osp.join(repo, 'configs', 'affinity',
                 'affinitynet_resnet38d_1xb8-8e_voc12aug-448x448.py'))
    assert cfg.custom_imports['imports'] == ['mmseam']
    assert cfg.train_dataloader.batch_size == 8
    assert cfg.train_cfg.max_epochs == 8
    assert cfg.optim_wrapper.optimizer.lr == 0.01
    assert cfg.optim_wrapper.optimizer.weight_decay == 5e-4
    rng = np.random.default_rng(0)
    h, w = 300, 500
    img_path = str(tmp_path / 'JPEGImages' / 'x1.jpg')
    mmcv.imwrite(rng.integers(0, 255, (h, w, 3)).astype(np.uint8), img_path)
    for sub in ('la', 'ha'):
        scores = rng.random((3, h, w)).astype(np.float32)
        save_crf_scores(str(tmp_path / sub / 'x1.npz'), scores, [0, 2, 9])
    pipeline = cfg.train_dataloader.dataset.pipeline
    pipeline[1].update(
        la_dir=str(tmp_path / 'la'), ha_dir=str(tmp_path / 'ha'))
    packed = Compose(pipeline)(dict(img_path=img_path))
    assert packed['inputs'].shape == (3, 448, 448)
    sample = packed['data_samples']
    assert sample.aff_bg_pos.shape == (34, 52, 48)
    # 148 of the 448 rows are padding (at a random offset): at least 17 of
    # the 56 cell rows hold no score and are ignored
    assert (sample.aff_label == 255).all(dim=1).sum() >= 17
    assert set(sample.aff_label.unique().tolist()) <= {0, 2, 9, 255}

    model = MODELS.build(cfg.model)
    assert [tuple(c.weight.shape) for c in model.proj] == [(64, 512, 1, 1),
                                                           (128, 1024, 1, 1),
                                                           (256, 4096, 1, 1)]
    assert tuple(model.fuse.weight.shape) == (448, 448, 1, 1)
    assert model.backbone.frozen_stages == 1 and model.backbone.norm_eval
