# Copyright (c) mmseam contributors. All rights reserved.
"""Random walk: dense vs banded propagation, official maths, the tool."""
import importlib.util
import json
import os.path as osp

import mmseam  # noqa: F401
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from PIL import Image

from mmseam.apis.cam_io import load_label_png, save_cam
from mmseam.apis.random_walk import (RW_PRESETS, banded_vecmat, propagate,
                                     radius_from_num_pairs, random_walk,
                                     random_walk_with_model)
from mmseam.models.segmentors.affinitynet import (get_pair_offsets,
                                                  pair_affinity,
                                                  pairs_to_dense)

init_default_scope('mmseg')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _random_pairs(h, w, radius, seed=0, c=5):
    g = torch.Generator().manual_seed(seed)
    feat = torch.randn(1, c, h, w, generator=g, dtype=torch.float64)
    return feat, pair_affinity(feat, radius)


def _numpy_transition(dense, beta):
    a = np.power(dense, beta)
    return a / a.sum(axis=0, keepdims=True)


def test_presets():
    assert RW_PRESETS['seam'] == dict(alpha=6, beta=8, logt=6)
    assert RW_PRESETS['psa'] == dict(alpha=16, beta=8, logt=8)
    assert radius_from_num_pairs(34) == 5
    assert radius_from_num_pairs(12) == 3
    with pytest.raises(ValueError, match='no radius'):
        radius_from_num_pairs(33)


def test_banded_vecmat_equals_dense_product():
    h, w = 9, 12
    _, aff = _random_pairs(h, w, 5)
    v = torch.rand(1, 3, h, w, dtype=torch.float64)
    dense = pairs_to_dense(aff, h, w, 5)[0]
    ref = v.reshape(3, -1) @ dense
    out = banded_vecmat(v, aff, 5)
    torch.testing.assert_close(out.reshape(3, -1), ref)


@pytest.mark.parametrize('method', ['dense', 'sparse'])
def test_one_step_logt0(method):
    h, w, beta = 9, 12, 8
    _, aff = _random_pairs(h, w, 5, seed=1)
    scores = torch.rand(1, 4, h, w, dtype=torch.float64)
    out = propagate(scores, aff, beta=beta, logt=0, method=method)
    trans = _numpy_transition(pairs_to_dense(aff, h, w, 5)[0].numpy(), beta)
    ref = scores.reshape(4, -1).numpy() @ trans
    np.testing.assert_allclose(out.reshape(4, -1).numpy(), ref, rtol=1e-10)
    # the walk conserves each channel's mass (T is column stochastic only
    # w.r.t. the destination: check against the numpy product instead)
    assert out.shape == scores.shape


@pytest.mark.parametrize('method', ['dense', 'sparse'])
def test_few_steps_equal_matrix_power(method):
    h, w, beta, logt = 10, 11, 4, 3
    _, aff = _random_pairs(h, w, 5, seed=2)
    scores = torch.rand(1, 3, h, w, dtype=torch.float64)
    out = propagate(scores, aff, beta=beta, logt=logt, method=method)
    trans = _numpy_transition(pairs_to_dense(aff, h, w, 5)[0].numpy(), beta)
    ref = scores.reshape(3, -1).numpy() @ np.linalg.matrix_power(
        trans, 2**logt)
    np.testing.assert_allclose(out.reshape(3, -1).numpy(), ref, rtol=1e-9)


@pytest.mark.parametrize('radius', [3, 5])
def test_sparse_path_equals_dense_path(radius):
    h, w = 20, 23
    _, aff = _random_pairs(h, w, radius, seed=3)
    aff = torch.cat([aff, aff.flip(-1)])  # batch of 2
    scores = torch.rand(2, 5, h, w, dtype=torch.float64)
    dense = propagate(scores, aff, beta=8, logt=5, method='dense')
    sparse = propagate(scores, aff, beta=8, logt=5, method='sparse')
    torch.testing.assert_close(sparse, dense, rtol=1e-10, atol=1e-12)
    # a dense matrix input gives the same result
    mat = pairs_to_dense(aff, h, w, radius)
    torch.testing.assert_close(
        propagate(scores, mat, beta=8, logt=5), dense, rtol=1e-10, atol=1e-12)
    # 'auto' switches on the threshold and agrees with both
    torch.testing.assert_close(
        propagate(scores, aff, beta=8, logt=5, dense_max_hw=10),
        dense,
        rtol=1e-10,
        atol=1e-12)


def _official_random_walk(cams, labels, feat, num_classes, alpha, beta, logt,
                          radius):
    """Direct rewrite of the official infer_aff.py maths (float64, dense)."""
    k, h, w = cams.shape
    ph, pw = -(-h // 8) * 8, -(-w // 8) * 8
    full = np.zeros((num_classes, h, w))
    full[labels] = cams
    full[0] = (1 - full[1:].max(0))**alpha
    full = np.pad(full, ((0, 0), (0, ph - h), (0, pw - w)))
    full = F.avg_pool2d(torch.from_numpy(full)[None], 8, 8)[0]
    fh, fw = full.shape[-2:]
    # dense affinity with index lists, as the official to_dense
    idx = np.arange(fh * fw).reshape(fh, fw)
    rf = radius - 1
    ch, cw = fh - rf, fw - 2 * rf
    ind_from = idx[:ch, rf:rf + cw].reshape(-1)
    f = feat[0].reshape(feat.shape[1], -1)
    aff = np.eye(fh * fw)
    for dy, dx in get_pair_offsets(radius):
        ind_to = idx[dy:dy + ch, rf + dx:rf + dx + cw].reshape(-1)
        a = torch.exp(-(f[:, ind_from] - f[:, ind_to]).abs().mean(0))
        aff[ind_from, ind_to] = a.numpy()
        aff[ind_to, ind_from] = a.numpy()
    trans = _numpy_transition(aff, beta)
    for _ in range(logt):
        trans = trans @ trans
    rw = full.reshape(num_classes, -1).numpy() @ trans
    rw = torch.from_numpy(rw.reshape(1, num_classes, fh, fw))
    rw = F.interpolate(rw, (ph, pw), mode='bilinear', align_corners=False)
    rw = rw[0, :, :h, :w]
    return rw.argmax(0).numpy(), rw


def test_random_walk_equals_official_maths():
    rng = np.random.default_rng(0)
    h, w = 90, 101  # padded to 96 x 104 -> 12 x 13 cells
    cams = rng.random((3, h, w)).astype(np.float32)
    cams[0, :40] *= 0.2
    labels = [15, 3, 8]  # unsorted on purpose
    feat = torch.randn(
        1,
        6,
        12,
        13,
        dtype=torch.float64,
        generator=torch.Generator().manual_seed(0))
    ref_label, ref_scores = _official_random_walk(
        cams.astype(np.float64),
        labels,
        feat,
        21,
        alpha=6,
        beta=8,
        logt=3,
        radius=5)
    for method in ('dense', 'sparse'):
        label, scores, class_ids = random_walk(
            cams,
            labels,
            features=feat.float(),
            alpha=6,
            beta=8,
            logt=3,
            method=method,
            return_scores=True)
        assert class_ids.tolist() == [0, 3, 8, 15]
        torch.testing.assert_close(
            scores.double(), ref_scores[[0, 3, 8, 15]], rtol=1e-4, atol=1e-7)
        agree = (label.numpy() == ref_label).mean()
        assert agree > 0.999, (method, agree)
    assert set(np.unique(label.numpy())) <= {0, 3, 8, 15}
    assert label.shape == (h, w) and label.dtype == torch.int64


def test_random_walk_affinity_forms_agree():
    rng = np.random.default_rng(1)
    cams = rng.random((2, 50, 60)).astype(np.float32)
    feat = torch.randn(1, 4, 7, 8)  # small map: radius shrinks to 3
    lab_f = random_walk(cams, [2, 5], features=feat, logt=2)
    aff = pair_affinity(feat, 3)
    lab_p = random_walk(cams, [2, 5], affinity=aff[0], logt=2, method='sparse')
    lab_d = random_walk(
        cams, [2, 5], affinity=pairs_to_dense(aff, 7, 8, 3), logt=2)
    assert torch.equal(lab_f, lab_p) and torch.equal(lab_f, lab_d)
    # no foreground class: everything is background
    none = random_walk(np.zeros((0, 50, 60)), [], features=feat)
    assert none.shape == (50, 60) and (none == 0).all()


def test_random_walk_errors():
    feat = torch.randn(1, 4, 7, 8)
    cams = np.random.rand(1, 50, 60)
    with pytest.raises(ValueError, match='exactly one'):
        random_walk(cams, [1])
    with pytest.raises(ValueError, match='padded'):
        random_walk(np.random.rand(1, 90, 60), [1], features=feat)
    with pytest.raises(ValueError, match='distinct class'):
        random_walk(cams, [0], features=feat)
    with pytest.raises(ValueError, match='method'):
        random_walk(cams, [1], features=feat, method='foo')


# ----------------------------------------------------------------- tool


def _load_tool():
    path = osp.join(REPO, 'tools', 'infer_random_walk.py')
    spec = importlib.util.spec_from_file_location('infer_random_walk', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOOL_CONFIG = """
custom_imports = dict(imports=['mmseam'], allow_failed_imports=False)
default_scope = 'mmseg'
model = dict(
    type='AffinityNet',
    backbone=dict(type='ResNetV1c', depth=18, strides=(1, 2, 1, 1),
                  dilations=(1, 1, 2, 4), out_indices=(0, 1, 2, 3)),
    in_channels=(128, 256, 512), proj_channels=(8, 8, 16), out_channels=24,
    data_preprocessor=dict(
        type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], bgr_to_rgb=True, size=(96, 96)))
test_dataloader = dict(dataset=dict(
    type='BaseSegDataset', data_root='{root}', ann_file='list.txt',
    data_prefix=dict(img_path='JPEGImages'), img_suffix='.jpg',
    metainfo=dict(classes=('background', 'a', 'b', 'c'),
                  palette=[[0, 0, 0], [128, 0, 0], [0, 128, 0],
                           [128, 128, 0]])))
"""


def test_infer_random_walk_tool(tmp_path, monkeypatch, capsys):
    import mmcv
    from mmseg.registry import MODELS
    root = tmp_path / 'voc'
    (root / 'JPEGImages').mkdir(parents=True)
    rng = np.random.default_rng(0)
    ids = ['img_a', 'img_b', 'img_c']
    for i, img_id in enumerate(ids):
        h, w = 70 + 8 * i, 90 - 5 * i
        img = rng.integers(0, 255, (h, w, 3)).astype(np.uint8)
        mmcv.imwrite(img, str(root / 'JPEGImages' / f'{img_id}.jpg'))
        cams = rng.random((2, h, w)).astype(np.float32)
        save_cam(str(tmp_path / 'cams' / f'{img_id}.npz'), cams, [3, 1])
    (root / 'list.txt').write_text('\n'.join(ids) + '\n')
    cfg_path = tmp_path / 'aff_cfg.py'
    cfg_path.write_text(TOOL_CONFIG.replace('{root}', str(root)))
    from mmengine.config import Config
    cfg = Config.fromfile(str(cfg_path))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    ckpt = tmp_path / 'aff.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)

    tool = _load_tool()
    out_dir = tmp_path / 'rw'
    argv = [
        str(cfg_path),
        str(ckpt), '--cam-dir',
        str(tmp_path / 'cams'), '--out-dir',
        str(out_dir), '--device', 'cpu', '--logt', '2'
    ]
    # rank 1 of 2 handles every second id
    monkeypatch.setattr(tool, 'get_dist_info', lambda: (1, 2))
    res = tool.main(argv)
    assert res['written'] == 1
    assert sorted(p.name for p in out_dir.iterdir()) == ['img_b.png']
    monkeypatch.setattr(tool, 'get_dist_info', lambda: (0, 1))
    res = tool.main(argv)
    assert (res['written'], res['skipped']) == (2, 1)
    assert sorted(p.name for p in out_dir.iterdir()) == [
        'img_a.png', 'img_b.png', 'img_c.png'
    ]  # no temporary files left
    # the PNG equals random_walk_with_model on the same inputs
    model.eval()
    img = mmcv.imread(str(root / 'JPEGImages' / 'img_c.jpg'))
    cams = np.load(tmp_path / 'cams' / 'img_c.npz')['cams'].astype(np.float32)
    expected = random_walk_with_model(
        model, img, cams, [3, 1], alpha=6, beta=8, logt=2)
    np.testing.assert_array_equal(
        load_label_png(str(out_dir / 'img_c.png')), expected.numpy())
    # resumable: nothing left to do; the CRF variant runs too
    assert tool.main(argv)['written'] == 0
    res = tool.main(argv + ['--overwrite', '--crf', '--preset', 'psa'])
    assert res['written'] == 3
    assert set(np.unique(load_label_png(str(out_dir /
                                            'img_a.png')))) <= {0, 1, 3}
    with pytest.raises(FileNotFoundError, match='cam-dir'):
        tool.main(argv[:3] + [str(tmp_path / 'nope')] + argv[4:])

    # --affinity-check: the affinities and the CRF pair labels scored
    # against the masks (two of the three images have one), as
    # evaluate_affinity scores them
    from mmseam.apis import save_crf_scores
    from mmseam.apis.affinity_check import evaluate_affinity
    (tmp_path / 'masks').mkdir()
    images = {}
    for img_id in ids:
        path = str(root / 'JPEGImages' / f'{img_id}.jpg')
        images[img_id] = path
        h, w = mmcv.imread(path).shape[:2]
        for name in ('la', 'ha'):
            scores = rng.random((3, h, w)).astype(np.float32)
            save_crf_scores(str(tmp_path / name / f'{img_id}.npz'), scores,
                            [0, 1, 3])
        if img_id != 'img_b':
            mask = np.full((h, w), 3, np.uint8)
            mask[:h // 2] = 1
            mask[:, :w // 3] = 0
            Image.fromarray(mask).save(tmp_path / 'masks' / f'{img_id}.png')
    crf_dirs = [str(tmp_path / 'la'), str(tmp_path / 'ha')]
    res = tool.main(argv + ['--affinity-check', str(tmp_path / 'masks'),
                            '--crf-dirs'] + crf_dirs)
    with open(out_dir / 'affinity_check.json') as f:
        saved = json.load(f)
    direct = evaluate_affinity(model, images, str(tmp_path / 'masks'),
                               *crf_dirs)
    assert saved == res['affinity_check'] == json.loads(json.dumps(direct))
    assert saved['images'] == 2 and saved['counts']['neg'] > 0
    assert 'boundary pairs cut' in capsys.readouterr().out
