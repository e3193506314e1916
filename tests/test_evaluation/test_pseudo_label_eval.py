# Copyright (c) mmseam contributors. All rights reserved.
import numpy as np
import pytest
import torch

import mmseam  # noqa: F401
from mmseam.apis import save_cam, save_label_png
from mmseam.evaluation import (DEFAULT_BG_THRESHOLDS, evaluate_pseudo_labels,
                               sweep_intersect_and_union)
from mmseg.evaluation.metrics import IoUMetric  # noqa: E402

# 4x4 hand-made case, 3 classes, two ignored pixels
GT = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 255, 255], [2, 2, 2, 2]])
PRED = np.array([[0, 1, 1, 1], [0, 0, 1, 1], [2, 0, 2, 2], [2, 2, 2, 0]])
# class 0: gt 4, pred 5, inter 3 -> 3/6;  class 1: gt 4, pred 5, inter 4 ->
# 4/5;  class 2: gt 6, pred 4, inter 4 -> 4/6;  aAcc 11/14
HAND_IOU = np.array([3 / 6, 4 / 5, 4 / 6]) * 100


def test_default_thresholds():
    assert len(DEFAULT_BG_THRESHOLDS) == 60
    assert DEFAULT_BG_THRESHOLDS[0] == 0.0
    assert DEFAULT_BG_THRESHOLDS[-1] == 0.59
    assert DEFAULT_BG_THRESHOLDS[26] == 0.26


def write_gt(gt_dir, ids, gts):
    for img_id, gt in zip(ids, gts):
        save_label_png(gt_dir / f'{img_id}.png', gt, None)


def test_png_hand_made_ious(tmp_path):
    write_gt(tmp_path / 'gt', ['a'], [GT])
    save_label_png(tmp_path / 'pred' / 'a.png', PRED, None)
    res = evaluate_pseudo_labels(
        str(tmp_path / 'pred'),
        str(tmp_path / 'gt'), ['a'],
        num_classes=3,
        type='png',
        logger='silent')
    np.testing.assert_allclose(res['IoU'], np.round(HAND_IOU, 2))
    assert res['mIoU'] == pytest.approx(np.round(HAND_IOU.mean(), 2))
    assert res['aAcc'] == pytest.approx(round(11 / 14 * 100, 2))
    # two copies of the image: same IoUs
    write_gt(tmp_path / 'gt', ['b'], [GT])
    save_label_png(tmp_path / 'pred' / 'b.png', PRED, None)
    res2 = evaluate_pseudo_labels(
        str(tmp_path / 'pred'),
        str(tmp_path / 'gt'), ['a', 'b'],
        num_classes=3,
        logger='silent')
    np.testing.assert_allclose(res2['IoU'], res['IoU'])


def analytic_curve():
    """gt 2x5: first 5 pixels background, last 5 class 1.

    CAM of class 1 = 0.045, 0.095, ..., 0.495 over the 10 pixels (half-way
    between thresholds, so float16 storage cannot move them across one);
    class 2 is present in the CAM file but all zero. At threshold j/100 the
    k = j // 5 lowest pixels are background:
    k <= 5 -> IoU1 = 5/(10-k), IoU0 = k/5;
    k >= 5 -> IoU1 = (10-k)/5, IoU0 = 5/k.
    Class 2 never appears (NaN, skipped like IoUMetric does).
    Best: k = 5, i.e. t = 0.25, mIoU 100.
    """
    curve = []
    for j in range(60):
        k = min(j // 5, 10)
        if k <= 5:
            iou1, iou0 = 5 / (10 - k), k / 5
        else:
            iou1, iou0 = (10 - k) / 5, 5 / k
        curve.append(round((iou0 + iou1) / 2 * 100, 2))
    return curve


def analytic_case():
    gt = np.array([[0] * 5, [1] * 5])
    cam1 = (0.05 * np.arange(1, 11) - 0.005).reshape(2, 5)
    cams = np.stack([cam1, np.zeros_like(cam1)]).astype(np.float32)
    return gt, cams


def test_cam_sweep_analytic(tmp_path):
    gt, cams = analytic_case()
    write_gt(tmp_path / 'gt', ['x'], [gt])
    save_cam(tmp_path / 'cam' / 'x.npz', cams, [1, 2])
    res = evaluate_pseudo_labels(
        str(tmp_path / 'cam'),
        str(tmp_path / 'gt'), ['x'],
        num_classes=3,
        type='cam',
        bg_threshold=0.1,
        logger='silent')
    expected = analytic_curve()
    assert [t for t, _ in res['curve']] == list(DEFAULT_BG_THRESHOLDS)
    np.testing.assert_allclose([m for _, m in res['curve']], expected)
    assert res['best_bg_threshold'] == 0.25
    assert res['mIoU'] == 100.0
    assert np.isnan(res['IoU'][2])
    # t = 0.10: k = 2 -> (2/5 + 5/8) / 2
    assert res['mIoU_at_bg_threshold'] == pytest.approx(
        round((0.4 + 0.625) / 2 * 100, 2))


def slow_sweep(fg_scores, fg_classes, gt, num_classes, thresholds):
    """Per-threshold argmax over the full score map + IoUMetric."""
    full = torch.zeros((num_classes, ) + tuple(gt.shape))
    full[fg_classes] = fg_scores
    rows = []
    for t in thresholds:
        full[0] = float(np.float32(t))
        rows.append(
            IoUMetric.intersect_and_union(
                full.argmax(0), gt, num_classes, 255))
    return tuple(torch.stack(r) for r in zip(*rows))


@pytest.mark.parametrize('num_classes,k', [(21, 3), (5, 4), (151, 2), (4, 0)])
def test_sweep_equals_slow_loop(num_classes, k):
    g = torch.Generator().manual_seed(num_classes + k)
    scores = torch.rand(k, 9, 11, generator=g)
    scores = torch.round(scores * 40) / 40  # ties with the thresholds
    gt = torch.randint(0, num_classes, (9, 11), generator=g)
    gt[0, :4] = 255
    fg = torch.sort(torch.randperm(num_classes - 1, generator=g)[:k])[0] + 1
    thresholds = list(DEFAULT_BG_THRESHOLDS)[::-1] + [0.9, 0.005]
    fast = sweep_intersect_and_union(
        scores, gt, num_classes, thresholds, fg_classes=fg)
    slow = slow_sweep(scores, fg, gt, num_classes, thresholds)
    for a, b in zip(fast, slow):
        assert a.shape == (len(thresholds), num_classes)
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_missing_files_are_named(tmp_path):
    gt, cams = analytic_case()
    write_gt(tmp_path / 'gt', ['x', 'y'], [gt, gt])
    save_cam(tmp_path / 'cam' / 'x.npz', cams, [1, 2])
    with pytest.raises(
            FileNotFoundError, match=r'y\.npz.*run inference on this split'):
        evaluate_pseudo_labels(
            str(tmp_path / 'cam'),
            str(tmp_path / 'gt'), ['x', 'y'],
            num_classes=3,
            type='cam',
            logger='silent')
    save_cam(tmp_path / 'cam' / 'z.npz', cams, [1, 2])
    with pytest.raises(FileNotFoundError, match=r'ground-truth.*z\.png'):
        evaluate_pseudo_labels(
            str(tmp_path / 'cam'),
            str(tmp_path / 'gt'), ['x', 'z'],
            num_classes=3,
            type='cam',
            logger='silent')


def test_size_and_arg_errors(tmp_path):
    gt, cams = analytic_case()
    write_gt(tmp_path / 'gt', ['x'], [gt])
    save_cam(tmp_path / 'cam' / 'x.npz', cams[:, :, :4], [1, 2])
    with pytest.raises(ValueError, match=r'x\.npz.*original image size'):
        evaluate_pseudo_labels(
            str(tmp_path / 'cam'),
            str(tmp_path / 'gt'), ['x'],
            num_classes=3,
            type='cam',
            logger='silent')
    with pytest.raises(ValueError, match="'png' or 'cam'"):
        evaluate_pseudo_labels('a', 'b', ['x'], 3, type='npy')
    save_cam(tmp_path / 'cam' / 'x.npz', cams, [1, 2])
    with pytest.raises(ValueError, match='not one of the swept'):
        evaluate_pseudo_labels(
            str(tmp_path / 'cam'),
            str(tmp_path / 'gt'), ['x'],
            num_classes=3,
            type='cam',
            bg_threshold=0.333,
            logger='silent')
