# Copyright (c) mmseam contributors. All rights reserved.
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

import mmseam  # noqa: F401
from mmseam.apis import save_cam, save_label_png
from mmseam.evaluation import CAMSweepMetric, evaluate_pseudo_labels
from mmseg.registry import METRICS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402

init_default_scope('mmseg')

CLASSES = ('background', 'a', 'b', 'c')


def sample(logits, gt, img_path='x.jpg'):
    """A data sample as the evaluator hands it to ``process``."""
    ds = SegDataSample(metainfo=dict(img_path=img_path))
    ds.seg_logits = PixelData(data=torch.as_tensor(logits).float())
    ds.gt_sem_seg = PixelData(data=torch.as_tensor(gt).long()[None])
    return ds.to_dict()


def build(**kwargs):
    metric = METRICS.build(dict(type='CAMSweepMetric', **kwargs))
    metric.dataset_meta = dict(classes=CLASSES)
    return metric


def test_metric_analytic_and_channel0_ignored():
    gt = np.array([[0] * 5, [1] * 5])
    cam1 = (0.05 * np.arange(1, 11) - 0.005).reshape(2, 5)
    logits = np.zeros((4, 2, 5), np.float32)
    logits[0] = 0.99  # the model's bg score: must not be used
    logits[1] = cam1
    metric = build(bg_threshold=0.1, log_curve=False)
    metric.process({}, [sample(logits, gt)])
    res = metric.evaluate(1)
    assert res['best_bg_threshold'] == 0.25
    assert res['mIoU'] == 100.0
    assert res['aAcc'] == 100.0
    assert res['mIoU_at_bg_threshold'] == pytest.approx(
        round((0.4 + 0.625) / 2 * 100, 2))


def random_split(rng, n=3, h=6, w=7):
    items = []
    for i in range(n):
        present = np.sort(rng.choice([1, 2, 3], size=1 + i % 3, replace=False))
        cams = rng.rand(len(present), h, w).astype(np.float16)
        gt = rng.randint(0, 4, (h, w))
        gt[0, 0] = 255
        items.append((f'img{i}', present, cams.astype(np.float32), gt))
    return items


def test_metric_agrees_with_function_and_iou_metric(tmp_path):
    rng = np.random.RandomState(0)
    items = random_split(rng)
    metric = build(bg_threshold=0.3, log_curve=False)
    for img_id, present, cams, gt in items:
        logits = np.zeros((4, ) + gt.shape, np.float32)
        logits[0] = rng.rand(*gt.shape)  # junk background channel
        logits[present] = cams
        metric.process({}, [sample(logits, gt, f'{img_id}.jpg')])
        save_cam(tmp_path / 'cam' / f'{img_id}.npz', cams, present)
        save_label_png(tmp_path / 'gt' / f'{img_id}.png', gt, None)
    res = metric.evaluate(len(items))
    ref = evaluate_pseudo_labels(
        str(tmp_path / 'cam'),
        str(tmp_path / 'gt'), [i[0] for i in items],
        num_classes=4,
        type='cam',
        bg_threshold=0.3,
        logger='silent')
    assert res['mIoU'] == ref['mIoU']
    assert res['aAcc'] == ref['aAcc']
    assert res['best_bg_threshold'] == ref['best_bg_threshold']
    assert res['mIoU_at_bg_threshold'] == ref['mIoU_at_bg_threshold']
    assert ref['mIoU'] == max(m for _, m in ref['curve'])
    # at a fixed threshold both equal mmseg's IoUMetric on argmax([t, cams])
    iou_metric = METRICS.build(dict(type='IoUMetric'))
    iou_metric.dataset_meta = dict(classes=CLASSES)
    for _, present, cams, gt in items:
        full = np.zeros((4, ) + gt.shape, np.float32)
        full[0] = np.float32(0.3)
        full[present] = cams
        ds = SegDataSample()
        ds.pred_sem_seg = PixelData(
            data=torch.from_numpy(full.argmax(0))[None])
        ds.gt_sem_seg = PixelData(data=torch.from_numpy(gt)[None])
        iou_metric.process({}, [ds.to_dict()])
    iou_res = iou_metric.evaluate(len(items))
    assert iou_res['mIoU'] == res['mIoU_at_bg_threshold']


def test_metric_input_errors():
    metric = build()
    gt = np.zeros((2, 2), np.int64)
    with pytest.raises(ValueError, match=r'\(4, H, W\)'):
        metric.process({}, [sample(np.zeros((3, 2, 2)), gt)])
    with pytest.raises(ValueError, match='gt_sem_seg size'):
        metric.process({}, [sample(np.zeros((4, 2, 3)), gt)])
    ds = SegDataSample()
    ds.gt_sem_seg = PixelData(data=torch.zeros(1, 2, 2).long())
    with pytest.raises(KeyError, match='seg_logits'):
        metric.process({}, [ds.to_dict()])
    with pytest.raises(ValueError, match='must be one of the thresholds'):
        CAMSweepMetric(bg_threshold=0.255)
    with pytest.raises(ValueError, match='not be empty'):
        CAMSweepMetric(thresholds=[])
