# Copyright (c) mmseam contributors. All rights reserved.
"""tools/infer_cams.py end to end on a dumped tiny SEAM config."""
import io
import os
import os.path as osp

import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar

import mmseam  # noqa: F401
from mmseam.apis import cam_inference, cam_output_paths, infer_cams
from mmseam.datasets.synthetic import make_synthetic_voc
from test_engine.test_seam_runner import seam_cfg
from tools import infer_cams as tool

init_default_scope('mmseg')


@pytest.fixture(scope='module', autouse=True)
def single_thread():
    """Tiny convs: one thread avoids OpenMP stalls on a busy 2-core box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def read_ids(data_root, split):
    with open(osp.join(data_root, 'ImageSets', 'Segmentation',
                       f'{split}.txt')) as f:
        return [line.strip() for line in f if line.strip()]


def snapshot(out):
    files = {}
    for root, _, names in os.walk(out):
        for name in names:
            with open(osp.join(root, name), 'rb') as f:
                files[osp.relpath(osp.join(root, name), out)] = f.read()
    return files


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """A synthetic set, a dumped config and a plain-state-dict checkpoint."""
    from mmseg.registry import MODELS
    tmp = tmp_path_factory.mktemp('tool')
    data_root = str(tmp / 'voc')
    make_synthetic_voc(data_root, seed=7, num_train=3, num_val=2,
                       image_size=64)
    cfg = seam_cfg(data_root, str(tmp / 'work'), hook=False)
    cfg.test_dataloader.dataset.pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='PackSegClsInputs')
    ]
    cfg.test_dataloader.dataset.with_seg_map = False
    cfg_path = str(tmp / 'cfg.py')
    cfg.dump(cfg_path)
    torch.manual_seed(1)
    model = MODELS.build(cfg.model)
    ckpt = str(tmp / 'seam.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    return dict(
        data_root=data_root, cfg=cfg, cfg_path=cfg_path, ckpt=ckpt,
        model=model)


@pytest.fixture
def progress(monkeypatch):
    """Record the progress bars infer_cams opens (text into a buffer)."""
    bars, buf = [], io.StringIO()

    class Recording(ProgressBar):

        def __init__(self, task_num, **kwargs):
            kwargs['file'] = buf
            super().__init__(task_num, **kwargs)
            bars.append(self)

    monkeypatch.setattr(cam_inference, 'ProgressBar', Recording)
    return bars, buf


def test_end_to_end_matches_api_and_resumes(setup, tmp_path, progress,
                                            capsys):
    bars, buf = progress
    out = str(tmp_path / 'out')
    ids = read_ids(setup['data_root'], 'train')  # the config's test split
    res = tool.main([
        setup['cfg_path'], setup['ckpt'], '--out-dir', out, '--scales',
        '1.0', '0.5', '--num-workers', '0', '--bg-threshold', '0.3'
    ])
    assert res == dict(written=len(ids), skipped=0, total=len(ids))
    for img_id in ids:
        for path in cam_output_paths(out, img_id).values():
            assert osp.isfile(path), path
    # progress: one bar over the images, run to completion
    assert len(bars) == 1 and bars[0].completed == len(ids)
    assert f'{len(ids)}/{len(ids)}' in buf.getvalue()
    assert f'{len(ids)} written' in capsys.readouterr().out

    # same bytes as the API with the checkpoint's weights
    model = setup['model'].eval()
    ref = str(tmp_path / 'ref')
    from mmseg.registry import DATASETS
    infer_cams(
        model,
        DATASETS.build(setup['cfg'].test_dataloader.dataset),
        ref,
        scales=(1.0, 0.5),
        flip=True,
        bg_threshold=0.3,
        show_progress=False)
    assert snapshot(out) == snapshot(ref)

    # re-run: all skipped, no bar; --overwrite: all again
    res = tool.main([
        setup['cfg_path'], setup['ckpt'], '--out-dir', out, '--scales',
        '1.0', '0.5', '--num-workers', '0', '--bg-threshold', '0.3'
    ])
    assert res == dict(written=0, skipped=len(ids), total=len(ids))
    assert len(bars) == 1
    res = tool.main([
        setup['cfg_path'], setup['ckpt'], '--out-dir', out, '--scales',
        '1.0', '0.5', '--num-workers', '0', '--bg-threshold', '0.3',
        '--overwrite'
    ])
    assert res['written'] == len(ids)
    assert snapshot(out) == snapshot(ref)


def test_split_name_and_path(setup, tmp_path):
    out = str(tmp_path / 'val')
    val_ids = read_ids(setup['data_root'], 'val')
    res = tool.main([
        setup['cfg_path'], setup['ckpt'], '--out-dir', out, '--split', 'val',
        '--scales', '0.5', '--no-flip', '--num-workers', '0', '--source',
        'cam'
    ])
    assert res['total'] == len(val_ids) == 2
    assert sorted(os.listdir(osp.join(out, 'cams'))) == sorted(
        f'{i}.npz' for i in val_ids)

    # a split file given by path (a subset of the training images)
    subset = tmp_path / 'subset.txt'
    first = read_ids(setup['data_root'], 'train')[:1]
    subset.write_text(first[0] + '\n')
    out = str(tmp_path / 'subset')
    res = tool.main([
        setup['cfg_path'], setup['ckpt'], '--out-dir', out, '--split',
        str(subset), '--scales', '0.5', '--no-flip', '--num-workers', '0'
    ])
    assert res == dict(written=1, skipped=0, total=1)
    assert os.listdir(osp.join(out, 'pseudo_labels')) == [f'{first[0]}.png']

    # name -> ImageSets/Segmentation/<name>.txt, path kept as is
    cfg = setup['cfg']
    ds = tool.split_dataset_cfg(cfg, 'train_aug')
    assert ds['ann_file'] == osp.join('ImageSets', 'Segmentation',
                                      'train_aug.txt')
    assert tool.split_dataset_cfg(cfg, str(subset))['ann_file'] == str(subset)
    assert tool.split_dataset_cfg(cfg, None)['ann_file'] == \
        cfg.test_dataloader.dataset.ann_file


def test_missing_files_are_clear_errors(setup, tmp_path):
    out = str(tmp_path / 'out')
    with pytest.raises(FileNotFoundError, match=r'config file .*nope\.py'):
        tool.main([str(tmp_path / 'nope.py'), setup['ckpt'], '--out-dir', out])
    with pytest.raises(
            FileNotFoundError, match=r'checkpoint file .*nope\.pth'):
        tool.main(
            [setup['cfg_path'],
             str(tmp_path / 'nope.pth'), '--out-dir', out])
    with pytest.raises(SystemExit):  # --out-dir is required
        tool.parse_args([setup['cfg_path'], setup['ckpt']])
    assert not osp.exists(out)


def test_crf_and_batch_options(setup, tmp_path, capsys):
    """``--crf 4 24 --crf-workers 2 --batch-size 4``: the CRF outputs are
    byte for byte those of tools/crf_refine.py on the saved CAMs."""
    from tools import crf_refine
    out = str(tmp_path / 'out')
    ids = read_ids(setup['data_root'], 'train')
    res = tool.main([
        setup['cfg_path'], setup['ckpt'], '--out-dir', out, '--scales',
        '1.0', '0.5', '--num-workers', '0', '--batch-size', '4', '--crf',
        '4', '24', '--crf-workers', '2'
    ])
    assert res['written'] == len(ids) and res['crf_processed'] == len(ids)
    assert f'{len(ids)} images refined' in capsys.readouterr().out
    ref = str(tmp_path / 'two_step')
    split = osp.join(setup['data_root'], 'ImageSets', 'Segmentation',
                     'train.txt')
    crf_refine.main([
        '--cam-dir',
        osp.join(out, 'cams'), '--img-dir',
        osp.join(setup['data_root'], 'JPEGImages'), '--split-file', split,
        '--out-dir', ref, '--workers', '1', '--no-progress', '--metainfo',
        setup['cfg_path']
    ])
    got = snapshot(osp.join(out, 'crf'))
    assert len(got) == 4 * len(ids)
    assert got == snapshot(ref)
