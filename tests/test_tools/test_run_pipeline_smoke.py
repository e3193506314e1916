# Copyright (c) mmseam contributors. All rights reserved.
"""``tools/run_pipeline.py`` end to end on a tiny synthetic set (one epoch
per training): every step runs, the report is written, every stage starts
from the pretraining stand-in, whose per-class AP is saved, and a rerun
finds every step done."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mmseam.datasets.synthetic import make_synthetic_voc

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STEPS = ('cam_cam', 'seam_cam', 'seam_crf', 'seam_rw', 'stage2_val')


def run_pipeline(*args):
    cmd = [
        sys.executable,
        osp.join(REPO, 'tools/run_pipeline.py'), *args
    ]
    proc = subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return proc.stdout


def test_pipeline_end_to_end_and_rerun(tmp_path):
    root, work = str(tmp_path / 'syn'), str(tmp_path / 'w')
    make_synthetic_voc(root, seed=1, num_train=8, num_val=2, image_size=96)
    args = ('--work-dir', work, '--data-root', root, '--figure-rows', '2',
            '--train-options', 'train_cfg.max_epochs=1',
            'param_scheduler.0.end=1')
    out = run_pipeline(*args)
    with open(osp.join(work, 'results.json')) as f:
        saved = json.load(f)
    res = saved['results']
    assert sorted(res) == sorted(STEPS + ('pretrain_ap', 'stage2_labels',
                                          'affinity_pairs'))
    # stage 2 tested on one view and with the config's flips + CRF
    assert res['stage2_val']['test'] == 'tta'
    assert 0 <= res['stage2_val']['mIoU_single_scale'] <= 100
    # AffinityNet's pairs and its CRF pair labels against the masks
    pairs = res['affinity_pairs']
    assert pairs['images'] == 8
    for key in ('within_recall', 'label_positive_precision'):
        assert 0 <= pairs[key] <= 1, pairs
    # the labels stage 2 learned from: the random walk's when it keeps the
    # confident CRF pixels, else the CRF's (the log says which)
    choice = res['stage2_labels']
    assert choice['source'] == ('rw' if choice['seed_agreement'] >= 0.97
                                else 'crf')
    assert 'labels: the random walk keeps' in out
    ap = res['pretrain_ap']['epoch_1.pth']['per_class']
    assert list(ap) == ['plus', 'ring', 'triangle', 'bars', 'hourglass']
    assert all(0 <= v <= 1 for v in ap.values() if v == v), ap
    for step in STEPS:
        assert 0 <= res[step]['mIoU'] <= 100, (step, res[step])
    for step in ('cam_cam', 'seam_cam', 'seam_crf', 'seam_rw'):
        iou = res[step]['IoU']  # per class; mIoU = their mean
        assert list(iou)[0] == 'background' and len(iou) == 6
        seen = [v for v in iou.values() if v == v]
        assert res[step]['mIoU'] == pytest.approx(
            sum(seen) / len(seen), abs=0.011)
    trained = ('pretrain', 'cam', 'seam', 'affinity', 'stage2')
    for name in trained:
        assert osp.isfile(osp.join(work, name, 'epoch_1.pth'))
        assert saved['seconds'][f'train_{name}'] > 0
    # CAM and SEAM load the pretraining run's backbone, AffinityNet and
    # stage 2 SEAM's (the preset's downstream_init), each once
    pre_ckpt = osp.join(work, 'pretrain', 'epoch_1.pth')
    seam_ckpt = osp.join(work, 'seam', 'epoch_1.pth')
    for name in trained:
        with open(osp.join(work, f'{name}.log')) as f:
            log = f.read()
        loads = [
            line.split('path: ')[-1].strip() for line in log.splitlines()
            if line.startswith('Loads checkpoint by local backend')
        ]
        want = {'pretrain': [], 'cam': [pre_ckpt], 'seam': [pre_ckpt]}.get(
            name, [seam_ckpt])
        assert loads == want, (name, loads)
    # a CAM file per training image
    for sub in ('cam_cams/cams', 'seam_cams/cams'):
        files = os.listdir(osp.join(work, sub))
        assert len([n for n in files if n.endswith('.npz')]) == 8
    with open(osp.join(work, 'results.md')) as f:
        table = f.read()
    for step in STEPS:
        assert f'{res[step]["mIoU"]:.2f}' in table, (step, table)
    # image | GT | CAM baseline | SEAM CAM | pseudo label | stage 2, 2 rows,
    # 2.2 inch cells at 100 dpi
    fig = np.asarray(Image.open(osp.join(work, 'figure.png')))
    assert fig.shape[:2] == (2 * 220, 6 * 220)
    assert 'stage2: val mIoU' in out

    # a rerun: every training step is found done, the scores are the same
    # (compared as JSON text: a class absent from the images has IoU NaN)
    out = run_pipeline(*args)
    for name in trained:
        assert f'{name}: done already' in out, out[-2000:]
    with open(osp.join(work, 'results.json')) as f:
        again = json.load(f)['results']
    assert json.dumps(again, sort_keys=True) == json.dumps(
        res, sort_keys=True)
