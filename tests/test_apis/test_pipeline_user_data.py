# Copyright (c) mmseam contributors. All rights reserved.
"""``tools/run_pipeline.py`` on a user's data set and configs: a plain
image-folder layout with its own class names, the user's CAM and SEAM
configs named in a pipeline config file, one epoch per training, up to the
CRF. With masks the pseudo labels are scored per class of the user's list;
without, the SEAM config's background threshold is used and the table
says so."""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import numpy as np
from PIL import Image

from mmseam.apis.pipeline import alpha_for_threshold, package_file
from mmseam.datasets.synthetic import make_synthetic_voc

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# the generator's five shapes under the user's names
CLASSES = ('background', 'cross', 'donut', 'wedge', 'stripes', 'sandglass')


def make_user_set(tmp_path) -> str:
    """The synthetic images in the plain layout: images/, masks/,
    labels.txt (the user's class names), train.txt."""
    syn, root = str(tmp_path / 'syn'), tmp_path / 'user_data'
    make_synthetic_voc(syn, seed=3, num_train=6, num_val=1, image_size=64)
    with open(osp.join(syn, 'ImageSets', 'Segmentation', 'train.txt')) as f:
        ids = f.read().split()
    os.makedirs(root / 'images')
    os.makedirs(root / 'masks')
    lines = []
    for i in ids:
        shutil.copy(osp.join(syn, 'JPEGImages', f'{i}.jpg'), root / 'images')
        mask = osp.join(syn, 'SegmentationClass', f'{i}.png')
        shutil.copy(mask, root / 'masks')
        present = sorted(set(np.unique(np.asarray(Image.open(mask)))) -
                         {0, 255})
        lines.append(' '.join([i] + [CLASSES[c] for c in present]))
    (root / 'labels.txt').write_text('\n'.join(lines) + '\n')
    (root / 'train.txt').write_text('\n'.join(ids) + '\n')
    return str(root)


def user_config(tmp_path, name: str, base: str) -> str:
    """A user's config: a shipped one on the plain layout and classes."""
    dataset = dict(
        type='ImageFolderClsDataset',
        data_root='unused',  # the pipeline passes --data-root
        metainfo=dict(classes=CLASSES),
        data_prefix=dict(img_path='images', seg_map_path='masks'),
        ann_file='train.txt',
        label_source='file',
        label_file='labels.txt')
    # from scratch, single-scale CAMs, no loader workers: test-sized
    text = (f'_base_ = [{package_file(base)!r}]\n'
            'model = dict(backbone=dict(init_cfg=None), '
            'test_cfg=dict(scales=(1.0, ), flip=False))\n')
    for loader, masks, batch in (('train', False, 3), ('test', True, 1)):
        ds = dict(dataset, with_seg_map=masks)
        text += (f'{loader}_dataloader = dict(batch_size={batch}, '
                 f'num_workers=0, persistent_workers=False, dataset={ds!r})'
                 '\n')
    text += 'val_dataloader = test_dataloader\n'
    path = tmp_path / f'{name}.py'
    path.write_text(text)
    return str(path)


def run_tool(*args, cwd):
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools/run_pipeline.py'), *args],
        cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return proc.stdout


def test_pipeline_on_user_data_and_configs(tmp_path):
    root = make_user_set(tmp_path)
    user_config(tmp_path, 'my_seam',
                'configs/seam/seam_tinyconvnet_1xb8-12e_synthvoc-224x224.py')
    user_config(tmp_path, 'my_cam',
                'configs/seam/cam_tinyconvnet_1xb8-12e_synthvoc-224x224.py')
    # relative paths: relative to the current directory
    (tmp_path / 'my_pipeline.py').write_text(
        "data_root = 'user_data'\nwork_dir = 'w'\n"
        "cam_config = 'my_cam.py'\nseam_config = 'my_seam.py'\n"
        "label_split = 'train.txt'\nepochs = dict(cam=1, seam=1)\n"
        'crf_workers = 1\n')
    work = str(tmp_path / 'w')
    out = run_tool('--pipeline-config', 'my_pipeline.py', '--figure-rows',
                   '2', cwd=str(tmp_path))
    with open(osp.join(work, 'results.json')) as f:
        saved = json.load(f)
    assert saved['classes'] == list(CLASSES)
    res = saved['results']
    assert sorted(res) == ['cam_cam', 'seam_cam', 'seam_crf']
    for step in res:
        iou = res[step]['IoU']
        assert tuple(iou) == CLASSES, (step, iou)
        seen = [v for v in iou.values() if v == v]
        assert abs(res[step]['mIoU'] - sum(seen) / len(seen)) < 0.011
    for name in ('cam', 'seam'):
        assert osp.isfile(osp.join(work, name, 'epoch_1.pth'))
        with open(osp.join(work, name, 'model_cfg.sha1')) as f:
            assert len(f.read()) == 40
    with open(osp.join(work, 'results.md')) as f:
        table = f.read()
    assert f'| {res["seam_crf"]["mIoU"]:.2f} | train.txt |' in table
    # image | GT | CAM baseline | SEAM CAM | pseudo label; 2 rows
    fig = np.asarray(Image.open(osp.join(work, 'figure.png')))
    assert fig.shape[:2] == (2 * 220, 5 * 220)
    assert 'classes cross, donut, wedge, stripes, sandglass' in out

    # without masks: the trainings and CAMs are reused, nothing is scored,
    # the CRF uses the SEAM config's threshold
    shutil.rmtree(osp.join(root, 'masks'))
    out = run_tool('--pipeline-config', 'my_pipeline.py', '--figure-rows',
                   '2', cwd=str(tmp_path))
    assert 'cam: done already' in out and 'seam: done already' in out
    assert "no background threshold sweep; the config's bg_threshold " \
        '0.25' in out
    with open(osp.join(work, 'results.json')) as f:
        saved = json.load(f)
    res = saved['results']
    assert saved['classes'] == list(CLASSES)
    assert res['seam_cam'] == dict(
        mIoU=None, bg_threshold=0.25, threshold_from='config', IoU=None)
    assert res['cam_cam']['bg_threshold'] == 0.19
    alpha = round(alpha_for_threshold(0.25), 2)
    assert res['seam_crf'] == dict(mIoU=None, IoU=None, alpha=alpha)
    pseudo = osp.join(work, 'seam_cams', 'crf', f'crf_{alpha}_png')
    assert len(os.listdir(pseudo)) == 6, os.listdir(osp.dirname(pseudo))
    with open(osp.join(work, 'results.md')) as f:
        table = f.read()
    assert '| SEAM (PCM output, config bg threshold) | n/a | train.txt | ' \
        'bg thr 0.25 (config) |' in table
    assert 'No masks for the scored images' in table
    assert 'Classes: ' + ', '.join(CLASSES) in table
    fig = np.asarray(Image.open(osp.join(work, 'figure.png')))
    assert fig.shape[:2] == (2 * 220, 4 * 220)  # no ground-truth column
