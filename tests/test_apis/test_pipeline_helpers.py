# Copyright (c) mmseam contributors. All rights reserved.
"""Helpers of the pipeline (mmseam.apis.pipeline): background power,
--cfg-options, the synthetic-set, model and pretraining checks, presets."""
import math
import os
import os.path as osp

import pytest

from mmseam.apis.pipeline import alpha_for_threshold, parse_opts


@pytest.mark.parametrize('t, alpha', [(0.2755, 4.0), (0.094, 24.0)])
def test_alpha_matches_official_pairs(t, alpha):
    # the official CRF powers 4 / 24 <-> thresholds 0.2755 / 0.094
    assert alpha_for_threshold(t) == pytest.approx(alpha, abs=0.1)


@pytest.mark.parametrize('t', [0.05, 0.094, 0.15, 0.26, 0.2755, 0.4, 0.6])
def test_alpha_puts_the_crossing_at_t(t):
    a = alpha_for_threshold(t)
    # background (1 - m)^alpha equals the CAM score m exactly at m = t
    assert (1 - t)**a == pytest.approx(t, rel=1e-9)
    # and wins below t, loses above
    assert (1 - 0.9 * t)**a > 0.9 * t
    assert (1 - 1.1 * t)**a < 1.1 * t


def test_alpha_monotone_and_clamped():
    ts = [0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8]
    alphas = [alpha_for_threshold(t) for t in ts]
    assert all(a > b for a, b in zip(alphas, alphas[1:]))
    assert alpha_for_threshold(0.5) == pytest.approx(1.0)
    # out-of-range thresholds are clamped to [0.01, 0.95]: finite powers
    assert alpha_for_threshold(0.0) == alpha_for_threshold(0.01)
    assert alpha_for_threshold(1.0) == alpha_for_threshold(0.95)
    assert math.isfinite(alpha_for_threshold(-3))


def test_parse_opts_types():
    opts = parse_opts([
        'train_dataloader.batch_size=4', 'optim_wrapper.optimizer.lr=0.01',
        'model.test_cfg.flip=True', 'work_dir=work_dirs/x',
        'model.test_cfg.scales=[0.5,1.0]', 'a.b=(1,2)', 'c=None'
    ])
    assert opts == {
        'train_dataloader.batch_size': 4,
        'optim_wrapper.optimizer.lr': 0.01,
        'model.test_cfg.flip': True,
        'work_dir': 'work_dirs/x',
        'model.test_cfg.scales': [0.5, 1.0],
        'a.b': (1, 2),
        'c': None
    }
    assert type(opts['train_dataloader.batch_size']) is int
    assert type(opts['optim_wrapper.optimizer.lr']) is float
    assert opts['model.test_cfg.flip'] is True
    assert parse_opts([]) == {}
    assert parse_opts(()) == {}


def test_stale_synthetic_set_is_refused(tmp_path):
    """A synthetic set from another generator version or size is refused
    before any training, naming the file and the fix."""
    import argparse
    import json

    from mmseam.apis.pipeline import Pipeline
    root = tmp_path / 'syn'
    root.mkdir()
    meta = dict(format_version=1, generator=dict(num_train=160))
    (root / 'metainfo.json').write_text(json.dumps(meta))
    args = argparse.Namespace(preset='synthetic', work_dir=str(tmp_path / 'w'),
                              data_root=str(root), stop_after=None)
    pipe = Pipeline(args)
    with pytest.raises(RuntimeError,
                       match=r'metainfo.json.*format_version 1 != 2.*Delete'):
        pipe.check_synthetic_data({})
    meta['format_version'] = 2
    (root / 'metainfo.json').write_text(json.dumps(meta))
    pipe.check_synthetic_data({})  # --data-root: any size
    with pytest.raises(RuntimeError, match='num_train 160 != 320'):
        pipe.check_synthetic_data(dict(num_train=320))


def test_scene_family_and_seed_of_an_existing_set_are_checked(tmp_path):
    """``--scene`` and ``--seed`` must match the set already in the data
    root (its results would belong to other data), with the fix named."""
    import argparse
    import json

    from mmseam.apis.pipeline import Pipeline
    from mmseam.datasets.synthetic import SCENE_FAMILIES, _scene_options
    root = tmp_path / 'syn'
    root.mkdir()
    gen = {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in _scene_options({}).items()
    }
    meta = dict(format_version=2, generator=dict(gen, seed=0))
    (root / 'metainfo.json').write_text(json.dumps(meta))

    def prepare(**kw):
        Pipeline(argparse.Namespace(
            preset='synthetic-small', work_dir=str(tmp_path / 'w'),
            data_root=str(root), stop_after=None, **kw)).prepare_data()

    prepare()
    prepare(scene='default', seed=0)
    with pytest.raises(RuntimeError, match=r'seed 0 != 1.*Delete'):
        prepare(seed=1)
    lo, hi = SCENE_FAMILIES['touching']['object_radius']
    with pytest.raises(RuntimeError,
                       match=rf'object_radius \[0.22, 0.32\] != \[{lo}, '
                       rf'{hi}\]'):
        prepare(scene='touching')


def test_pretraining_check_reports_per_class_ap(tmp_path, capsys,
                                                monkeypatch):
    """The pipeline scores the pretraining classifier per class on the label
    split (max pooling, as the pretraining config trains it), saves the APs
    under the checkpoint's name, returns the classes below 0.9 and reuses
    the saved numbers for the same checkpoint file."""
    import argparse
    import json

    import numpy as np
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from mmseam.apis import class_average_precision, image_label_scores
    from mmseam.datasets.synthetic import (SYNTHETIC_METAINFO,
                                           make_synthetic_voc)
    from mmseam.apis.pipeline import PRESETS, Pipeline, package_file
    from mmseam.apis.pipeline import training
    init_default_scope('mmseg')
    root = str(tmp_path / 'syn')
    make_synthetic_voc(root, seed=2, num_train=6, num_val=1, image_size=64)
    cfg_path = PRESETS['synthetic']['pretrain']
    cfg = Config.fromfile(package_file(cfg_path))
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    ckpt = str(tmp_path / 'epoch_3.pth')
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(dataset_meta=SYNTHETIC_METAINFO)), ckpt)
    args = argparse.Namespace(
        preset='synthetic', work_dir=str(tmp_path / 'w'), stop_after=None,
        data_root=root, device='cpu')
    pipe = Pipeline(args)
    weak = pipe.check_pretraining(cfg_path, ckpt)

    dataset, _ = pipe.label_dataset(cfg_path)
    assert len(dataset) == 6
    model.eval()
    expected = class_average_precision(
        *image_label_scores(model, dataset, pool='max'))
    saved = json.loads((tmp_path / 'w' / 'results.json').read_text())
    entry = saved['results']['pretrain_ap']['epoch_3.pth']
    names = ('plus', 'ring', 'triangle', 'bars', 'hourglass')
    assert tuple(entry['per_class']) == names
    got = np.array([entry['per_class'][n] for n in names])
    np.testing.assert_allclose(got, expected, atol=6e-5, equal_nan=True)
    # an untrained classifier ranks some class badly
    assert weak == [n for n, v in zip(names, expected) if v < 0.9]
    assert weak
    out = capsys.readouterr().out
    assert 'pretrain: image-label AP per class of epoch_3.pth on the train ' \
        'images: ' + ', '.join(f'{n} {v:.2f}' for n, v in zip(
            names, got)) in out

    # the same checkpoint file again: the saved numbers, no model run
    def no_model(*args, **kwargs):
        raise AssertionError('the saved APs should have been reused')

    monkeypatch.setattr(training.TrainingSteps, 'score_classifier', no_model)
    assert Pipeline(args).check_pretraining(cfg_path, ckpt) == weak
    assert 'epoch_3.pth' in capsys.readouterr().out


def test_pretraining_trains_on_while_a_class_is_unlearned(tmp_path, capsys):
    """With ``pretrain_extend``: 15 epochs, then 5 more at a time while a
    class is below AP 0.9, up to 30; a warning names the classes still
    unlearned at the end. Without (the synthetic preset): 15 epochs, the
    unlearned classes logged."""
    import argparse

    from mmseam.apis.pipeline import Pipeline
    args = argparse.Namespace(
        preset='synthetic', work_dir=str(tmp_path / 'w'), stop_after=None,
        data_root=str(tmp_path / 'syn'))

    def run(weak_after, grow=dict(step=5, max_epochs=30)):
        pipe = Pipeline(args)
        pipe.p['pretrain_extend'] = grow
        calls = []

        def train(name, cfg, opts=(), epochs=None):
            calls.append((name, epochs))
            assert 'default_hooks.checkpoint.max_keep_ckpts=-1' in opts
            return f'epoch_{epochs}.pth'

        pipe.train = train
        pipe.check_pretraining = lambda cfg, ckpt: weak_after.get(
            int(ckpt[6:-4]), [])
        return pipe.pretrain(['x.data_root=d']), calls

    ckpt, calls = run({15: ['bars'], 20: ['bars']})
    assert ckpt == 'epoch_25.pth'
    assert calls == [('pretrain', 15), ('pretrain', 20), ('pretrain', 25)]
    out = capsys.readouterr().out
    assert 'bars not learned yet: training on to epoch 20' in out
    assert 'WARNING' not in out
    ckpt, calls = run({15: [], 20: ['bars']})
    assert ckpt == 'epoch_15.pth' and calls == [('pretrain', 15)]
    always = {e: ['plus', 'bars'] for e in (15, 20, 25, 30)}
    ckpt, calls = run(always)
    assert ckpt == 'epoch_30.pth' and [e for _, e in calls] == [
        15, 20, 25, 30]
    assert 'WARNING: the pretraining run has not learned plus, bars ' \
        '(AP < 0.9)' in capsys.readouterr().out
    # the synthetic preset does not train on: one run, the classes logged
    assert Pipeline(args).p['pretrain_extend'] is None
    ckpt, calls = run(always, grow=None)
    assert ckpt == 'epoch_15.pth' and calls == [('pretrain', 15)]
    out = capsys.readouterr().out
    assert 'pretrain: not learned by the stand-in: plus, bars (AP < 0.9)' \
        in out and 'WARNING' not in out


def test_work_dir_of_another_model_is_refused(tmp_path):
    """A training step's work dir remembers its model config: the same
    model (another init checkpoint path included) is reused; another model,
    or checkpoints without the fingerprint (an older mmseam), are refused
    with the fix."""
    from mmengine.config import ConfigDict

    from mmseam.apis.pipeline import check_same_model, model_fingerprint
    work_dir = str(tmp_path / 'w' / 'seam')

    def model(channels, ckpt='a.pth'):
        return ConfigDict(
            type='SEAM',
            backbone=dict(
                type='TinyConvNet',
                channels=channels,
                init_cfg=dict(type='Pretrained', checkpoint=ckpt)))

    check_same_model('seam', work_dir, model((32, 64)), 'seam.py')
    with open(osp.join(work_dir, 'model_cfg.sha1')) as f:
        assert f.read() == model_fingerprint(model((32, 64), ckpt='x'))
    check_same_model('seam', work_dir, model((32, 64), ckpt='b.pth'),
                     'seam.py')
    with pytest.raises(RuntimeError, match=r'seam: .*seam was trained with '
                       r'another model config.*delete .*seam'):
        check_same_model('seam', work_dir, model((32, 64, 128)), 'seam.py')
    old = str(tmp_path / 'w' / 'cam')
    os.makedirs(old)
    open(osp.join(old, 'epoch_8.pth'), 'wb').close()
    with pytest.raises(RuntimeError, match='without model_cfg.sha1'):
        check_same_model('cam', old, model((32, 64)), 'cam.py')


def test_last_step_and_work_dir_come_from_the_preset(tmp_path, monkeypatch):
    """``--stop-after`` defaults to the preset's last step (stage 2 for both
    synthetic presets); a later step than a recipe has configs for is
    refused before anything runs; the work dir defaults to the preset's."""
    import argparse

    from mmseam.apis.pipeline import PRESETS, Pipeline
    monkeypatch.chdir(tmp_path)

    def pipe(preset, stop_after=None):
        return Pipeline(
            argparse.Namespace(
                preset=preset, work_dir=None, data_root=None,
                stop_after=stop_after))

    assert pipe('synthetic').stop == 'stage2'
    assert pipe('synthetic').work == str(tmp_path / 'work_dirs' / 'demo')
    assert pipe('synthetic', 'crf').stop == 'crf'
    small = pipe('synthetic-small')
    assert small.stop == 'stage2'
    assert small.work == str(tmp_path / 'work_dirs' / 'demo_small')
    assert pipe('synthetic-small', 'rw').stop == 'rw'
    # a recipe without the later configs
    monkeypatch.setitem(
        PRESETS, 'synthetic-small',
        dict(PRESETS['synthetic-small'], affinity=None, stage2=None,
             stop_after='crf'))
    with pytest.raises(ValueError, match=r'--stop-after stage2: the '
                       r'synthetic-small preset has configs up to the crf '
                       r'step only; pass --stop-after crf'):
        pipe('synthetic-small', 'stage2')
    with pytest.raises(ValueError, match='up to the crf step only'):
        pipe('synthetic-small', 'rw')
