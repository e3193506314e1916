# Copyright (c) mmseam contributors. All rights reserved.
"""A sweep whose best value is its upper edge (0.59) is extended to 0.99.

Hand-built case: 8 background pixels with class-1 CAM values 0.105,
0.205, 0.305, 0.405, 0.505, 0.585, 0.705, 0.795 and 5 class-1 pixels at
0.9. A pixel is foreground iff its
CAM is > t, so every background pixel is right from t = 0.80 on (until 0.9)
and the mIoU climbs all the way through the official 0.00-0.59 sweep.
"""
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

import mmseam  # noqa: F401
from mmseam.apis import save_cam, save_label_png
from mmseam.evaluation import (DEFAULT_BG_THRESHOLDS, evaluate_pseudo_labels,
                               sweep_grid)
from mmseg.registry import METRICS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BG_CAMS = [0.105, 0.205, 0.305, 0.405, 0.505, 0.585, 0.705, 0.795]
GT = np.array([[0] * 8 + [1] * 5])
CAM = np.array([BG_CAMS + [0.9] * 5], np.float32)
# at t = 0.59 (and 0.70): 6 of the 8 background pixels right (IoU 6/8), 2
# wrong -> class 1 predicted on 7 pixels, 5 right (IoU 5/7)
MIOU_AT_059 = pytest.approx(round((6 / 8 + 5 / 7) / 2 * 100, 2), abs=1e-4)


def write_case(root):
    save_label_png(root / 'gt' / 'x.png', GT, None)
    save_cam(root / 'cam' / 'x.npz', CAM[None], [1])
    (root / 'split.txt').write_text('x\n')


def test_sweep_grid():
    grid, num_base = sweep_grid(DEFAULT_BG_THRESHOLDS)
    assert num_base == 60
    assert grid[:60] == list(DEFAULT_BG_THRESHOLDS)
    assert grid[60:] == pytest.approx(np.arange(60, 100) / 100)
    assert sweep_grid([0.1, 0.3, 0.5], 0.9) == ([0.1, 0.3, 0.5, 0.7, 0.9], 3)
    assert sweep_grid(DEFAULT_BG_THRESHOLDS, None)[0] == \
        list(DEFAULT_BG_THRESHOLDS)


def test_function_extends_at_upper_edge(tmp_path, capsys):
    write_case(tmp_path)
    kwargs = dict(num_classes=2, type='cam', log_curve=False)
    res = evaluate_pseudo_labels(
        str(tmp_path / 'cam'), str(tmp_path / 'gt'), ['x'], **kwargs)
    out = capsys.readouterr().out
    assert res['best_bg_threshold'] == pytest.approx(0.80)
    assert res['mIoU'] == 100.0
    assert res['sweep_extended'] is True
    assert res['swept_range'] == (0.0, pytest.approx(0.99))
    assert len(res['curve']) == 100
    assert dict(res['curve'])[0.59] == MIOU_AT_059
    assert 'upper edge of the sweep 0.00-0.59' in out
    assert 'extended the sweep to 0.99; best now 0.80' in out
    # no extension: the edge value with a warning naming the fix
    res = evaluate_pseudo_labels(
        str(tmp_path / 'cam'),
        str(tmp_path / 'gt'), ['x'],
        extend_to=None,
        **kwargs)
    out = capsys.readouterr().out
    assert res['best_bg_threshold'] == 0.59
    assert res['mIoU'] == MIOU_AT_059
    assert res['sweep_extended'] is False
    assert res['swept_range'] == (0.0, 0.59)
    assert 'may lie above it' in out and '--extend-to' in out


def test_no_extension_when_best_is_inside(tmp_path, capsys):
    save_label_png(tmp_path / 'gt' / 'x.png', GT, None)
    save_cam(tmp_path / 'cam' / 'x.npz', (CAM * 0.5)[None], [1])
    res = evaluate_pseudo_labels(
        str(tmp_path / 'cam'),
        str(tmp_path / 'gt'), ['x'],
        num_classes=2,
        type='cam',
        log_curve=False)
    # CAMs halved: background <= 0.3975, class 1 at 0.45 -> first perfect
    # threshold 0.40, inside the official sweep
    assert res['best_bg_threshold'] == 0.40
    assert res['mIoU'] == 100.0
    assert res['swept_range'] == (0.0, 0.59)
    assert not res['sweep_extended']
    assert 'upper edge' not in capsys.readouterr().out


def test_metric_extends_at_upper_edge():
    init_default_scope('mmseg')
    metric = METRICS.build(
        dict(type='CAMSweepMetric', bg_threshold=0.7, log_curve=False))
    metric.dataset_meta = dict(classes=('background', 'road'))
    ds = SegDataSample(metainfo=dict(img_path='x.jpg'))
    ds.seg_logits = PixelData(
        data=torch.from_numpy(np.stack([np.zeros_like(CAM), CAM])))
    ds.gt_sem_seg = PixelData(data=torch.from_numpy(GT)[None])
    metric.process({}, [ds.to_dict()])
    res = metric.evaluate(1)
    assert res['best_bg_threshold'] == pytest.approx(0.80)
    assert res['mIoU'] == 100.0
    assert res['bg_sweep_min'] == 0.0
    assert res['bg_sweep_max'] == pytest.approx(0.99)
    # t = 0.70: as at 0.59 (no CAM value in between)
    assert res['mIoU_at_bg_threshold'] == MIOU_AT_059


def test_tool_reports_range(tmp_path, capsys):
    write_case(tmp_path)
    spec = importlib.util.spec_from_file_location(
        'eval_pl_tool_ext', osp.join(REPO, 'tools', 'eval_pseudo_labels.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    meta = tmp_path / 'meta.json'
    meta.write_text(json.dumps(dict(classes=['background', 'road'])))
    out_json = tmp_path / 'res.json'
    tool.main([
        '--cam-dir', str(tmp_path / 'cam'), '--gt-dir',
        str(tmp_path / 'gt'), '--split',
        str(tmp_path / 'split.txt'), '--classes',
        str(meta), '--out-json',
        str(out_json)
    ])
    out = capsys.readouterr().out
    assert 'best background threshold: 0.80' in out
    assert '(swept 0.00-0.99, extended at the upper edge)' in out
    saved = json.loads(out_json.read_text())
    assert saved['swept_range'] == [0.0, pytest.approx(0.99)]
    assert saved['sweep_extended'] is True
    tool.main([
        '--cam-dir', str(tmp_path / 'cam'), '--gt-dir',
        str(tmp_path / 'gt'), '--split',
        str(tmp_path / 'split.txt'), '--classes',
        str(meta), '--no-extend'
    ])
    assert '0.59  mIoU: 73.21  (swept 0.00-0.59)' in capsys.readouterr().out
