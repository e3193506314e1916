# Copyright (c) mmseam contributors. All rights reserved.
import importlib.util
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

import mmseam  # noqa: F401
from mmseam.apis import save_cam, save_label_png
from mmseam.evaluation import evaluate_pseudo_labels

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'eval_pseudo_labels.py')

GT = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 255, 255], [2, 2, 2, 2]])
PRED = np.array([[0, 1, 1, 1], [0, 0, 1, 1], [2, 0, 2, 2], [2, 2, 2, 0]])


def load_tool():
    spec = importlib.util.spec_from_file_location('eval_pl_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def voc(tmp_path):
    """A VOC-like root with 2 train images, CAMs, PNGs and a metainfo."""
    root = tmp_path / 'VOC2012'
    (root / 'ImageSets' / 'Segmentation').mkdir(parents=True)
    (root / 'ImageSets' / 'Segmentation' / 'train.txt').write_text('a\nb\n')
    rng = np.random.RandomState(0)
    for img_id in ('a', 'b'):
        save_label_png(root / 'SegmentationClass' / f'{img_id}.png', GT, None)
        save_label_png(tmp_path / 'png' / f'{img_id}.png', PRED, None)
        cams = rng.rand(2, 4, 4).astype(np.float32)
        save_cam(tmp_path / 'cam' / f'{img_id}.npz', cams, [1, 2])
    meta = tmp_path / 'meta.json'
    meta.write_text(json.dumps(dict(classes=['background', 'cat', 'dog'])))
    return tmp_path, root, meta


def test_cam_dir_curve_and_json(voc, capsys):
    tmp_path, root, meta = voc
    out_json = tmp_path / 'res' / 'cam.json'
    tool = load_tool()
    res = tool.main([
        '--cam-dir',
        str(tmp_path / 'cam'), '--data-root',
        str(root), '--classes',
        str(meta), '--curve', '--out-json',
        str(out_json)
    ])
    ref = evaluate_pseudo_labels(
        str(tmp_path / 'cam'),
        str(root / 'SegmentationClass'), ['a', 'b'],
        num_classes=3,
        type='cam',
        logger='silent')
    assert res['mIoU'] == ref['mIoU']
    assert res['best_bg_threshold'] == ref['best_bg_threshold']
    out = capsys.readouterr().out
    assert 'mIoU vs background threshold' in out
    assert 't=0.59' in out
    assert f'best background threshold: {ref["best_bg_threshold"]:.2f}' in out
    assert '|    dog     |' in out  # per-class table with the class names
    saved = json.loads(out_json.read_text())
    assert saved['type'] == 'cam' and saved['num_images'] == 2
    assert saved['mIoU'] == ref['mIoU']
    assert saved['best_bg_threshold'] == ref['best_bg_threshold']
    assert len(saved['curve']) == 60
    assert saved['curve'][0][0] == 0.0
    assert list(saved['IoU']) == ['background', 'cat', 'dog']
    np.testing.assert_allclose(list(saved['IoU'].values()), ref['IoU'])


def test_png_dir_hand_made(voc, capsys):
    tmp_path, root, meta = voc
    tool = load_tool()
    res = tool.main([
        '--png-dir',
        str(tmp_path / 'png'), '--data-root',
        str(root), '--metainfo',
        str(meta)
    ])
    np.testing.assert_allclose(res['IoU'], [50.0, 80.0, 66.67])
    assert res['mIoU'] == pytest.approx(65.56)
    assert 'mIoU: 65.56' in capsys.readouterr().out


def test_bg_threshold_split_and_default_classes(voc, tmp_path):
    tmp_path, root, meta = voc
    split = tmp_path / 'only_a.txt'
    split.write_text('a\n')
    tool = load_tool()
    res = tool.main([
        '--cam-dir',
        str(tmp_path / 'cam'), '--gt-dir',
        str(root / 'SegmentationClass'), '--split',
        str(split), '--bg-threshold', '0.255', '--thresholds', '0.1', '0.2'
    ])
    # default classes: PASCAL VOC metainfo of mmseg
    from mmseg.datasets import PascalVOCDataset
    assert len(res['IoU']) == len(PascalVOCDataset.METAINFO['classes'])
    ref = evaluate_pseudo_labels(
        str(tmp_path / 'cam'),
        str(root / 'SegmentationClass'), ['a'],
        num_classes=len(res['IoU']),
        type='cam',
        thresholds=[0.1, 0.2, 0.255],
        bg_threshold=0.255,
        logger='silent')
    assert res['mIoU_at_bg_threshold'] == ref['mIoU_at_bg_threshold']
    assert [t for t, _ in res['curve']] == [0.1, 0.2, 0.255]


def test_missing_prediction_names_file(voc):
    tmp_path, root, meta = voc
    (root / 'ImageSets' / 'Segmentation' / 'train.txt').write_text('a\nb\nc\n')
    tool = load_tool()
    with pytest.raises(FileNotFoundError, match=r'c\.npz.*run inference'):
        tool.main([
            '--cam-dir',
            str(tmp_path / 'cam'), '--data-root',
            str(root), '--classes',
            str(meta)
        ])
    # from the command line: exit status 1 and a one-line message
    proc = subprocess.run([
        sys.executable, TOOL, '--png-dir',
        str(tmp_path / 'png'), '--data-root',
        str(root), '--classes',
        str(meta)
    ],
                          capture_output=True,
                          text=True,
                          cwd=REPO)
    assert proc.returncode == 1
    assert 'c.png' in proc.stderr and 'run inference' in proc.stderr
