# Copyright (c) mmseam contributors. All rights reserved.
"""Load: CAM inference (tools/infer_cams.py) over a split of many tiny
images runs in bounded memory. The resident set size of the job is sampled
from /proc/<pid>/status while it runs; after the warm-up it must not grow
with the number of images processed.

``MMSEAM_RSS_IMAGES`` sets the split size (default 2000; the table in
docs/reliability.md was measured with 3000)."""
import os
import os.path as osp
import sys
import time

import mmseam  # noqa: F401
import numpy as np
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from PIL import Image

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from reliability_utils import (CLASSES, PALETTE, REPO,  # noqa: E402
                               output, seam_train_cfg, start)

init_default_scope('mmseg')
NUM_IMAGES = int(os.environ.get('MMSEAM_RSS_IMAGES', 2000))
MAX_GROWTH_MB = 16  # after the first 20 % of the split
MAX_SLOPE_KB = 4  # per image, least-squares fit after the warm-up


def rss_mb(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    raise RuntimeError('no VmRSS')


def make_split(root, n):
    """``n`` 64 px images (8 distinct contents, hard links) with labels in a
    cls_labels.npy file."""
    img_dir = osp.join(root, 'JPEGImages')
    os.makedirs(osp.join(root, 'ImageSets', 'Segmentation'))
    os.makedirs(img_dir)
    rng = np.random.default_rng(0)
    sources = []
    for k in range(8):
        path = osp.join(root, f'src_{k}.jpg')
        Image.fromarray(rng.integers(0, 256, (64, 64, 3),
                                     dtype=np.uint8)).save(path)
        sources.append(path)
    ids, labels = [], {}
    for i in range(n):
        img_id = f'img_{i:05d}'
        os.link(sources[i % 8], osp.join(img_dir, f'{img_id}.jpg'))
        vec = np.zeros(len(CLASSES) - 1, np.float32)
        vec[[i % 5, (i * 3 + 1) % 5]] = 1
        labels[img_id] = vec
        ids.append(img_id)
    with open(osp.join(root, 'ImageSets/Segmentation/load.txt'), 'w') as f:
        f.write('\n'.join(ids) + '\n')
    np.save(osp.join(root, 'cls_labels.npy'), labels)


def test_cam_inference_memory_is_bounded(tmp_path):
    root = str(tmp_path / 'load')
    make_split(root, NUM_IMAGES)
    cfg = seam_train_cfg(root, str(tmp_path / 'unused'))
    cfg.test_dataloader.dataset = dict(
        type='VOCClsDataset',
        data_root=root,
        metainfo=dict(classes=CLASSES, palette=PALETTE),
        ann_file='ImageSets/Segmentation/load.txt',
        label_source='npy',
        cls_label_file='cls_labels.npy',
        with_seg_map=False,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='PackSegClsInputs')
        ])
    cfg_path = str(tmp_path / 'seam.py')
    cfg.dump(cfg_path)
    torch.manual_seed(0)
    ckpt = str(tmp_path / 'seam.pth')
    torch.save(
        dict(state_dict=MODELS.build(cfg.model).state_dict(), meta={}), ckpt)
    out = str(tmp_path / 'out')
    png_dir = osp.join(out, 'pseudo_labels')
    proc = start([
        sys.executable,
        osp.join(REPO, 'tools/infer_cams.py'), cfg_path, ckpt, '--out-dir',
        out, '--scales', '1.0', '--no-flip', '--num-workers', '0',
        '--device', 'cpu'
    ])
    samples = []  # (images written, RSS in MB)
    t0 = time.time()
    while proc.poll() is None:
        try:
            rss = rss_mb(proc.pid)
        except (FileNotFoundError, ProcessLookupError, RuntimeError):
            break
        done = len(os.listdir(png_dir)) if osp.isdir(png_dir) else 0
        samples.append((done, rss))
        time.sleep(0.05)
    log = output(proc)
    seconds = time.time() - t0
    assert proc.returncode == 0, log[-3000:]
    assert len(os.listdir(png_dir)) == NUM_IMAGES

    # the inference loop: from the first image written to the last one
    # (after it the interpreter shuts down, which is not per-image memory)
    run = np.array([s for s in samples if 0 < s[0] < NUM_IMAGES],
                   dtype=np.float64)
    warm = run[run[:, 0] >= 0.2 * NUM_IMAGES]
    assert len(warm) >= 10, samples  # enough samples to judge a trend
    growth = warm[:, 1].max() - warm[0, 1]
    slope_kb = np.polyfit(warm[:, 0], warm[:, 1], 1)[0] * 1024
    report = (f'CAM inference RSS over {NUM_IMAGES} images of 64 px '
              f'({seconds:.1f} s, {len(run)} samples): first image '
              f'{run[0, 1]:.1f} MB, at 20 % '
              f'{warm[0, 1]:.1f} MB, peak {run[:, 1].max():.1f} MB, at the '
              f'last image {run[-1, 1]:.1f} MB; growth after 20 % '
              f'{growth:.2f} MB, '
              f'fitted slope {slope_kb:.3f} kB/image')
    print('\n' + report)
    assert growth < MAX_GROWTH_MB, report
    assert abs(slope_kb) < MAX_SLOPE_KB, report
