# Copyright (c) mmseam contributors. All rights reserved.
"""configs/custom/ on a small generated data set with its own classes, in
both layouts: pretraining and SEAM training (a few iterations), CAM
inference, pseudo-label evaluation (or, without masks, its explanation) and
the CRF, the way docs/custom_dataset.md walks a newcomer through it."""
import os
import os.path as osp
import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch
from PIL import Image

import mmseam  # noqa: F401
from mmseam.apis import load_cam, load_label_png
from mmseam.apis.cam_io import voc_colormap
from tools import crf_refine, eval_pseudo_labels, infer_cams, train

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLASSES = ('background', 'car', 'tree', 'sign')
COLOURS = {1: (220, 40, 40), 2: (40, 180, 60), 3: (40, 70, 220)}
SEAM = 'seam_tinyconvnet_1xb8-12e_custom-224x224.py'
PRETRAIN = 'cam-pretrain_tinyconvnet_1xb8-15e_custom-224x224.py'
NUM_IMAGES, SIZE = 6, 64


@pytest.fixture(scope='module', autouse=True)
def single_thread():
    """Tiny convs: one thread avoids OpenMP stalls on a busy 2-core box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def scenes():
    """(id, image, mask, present classes): one or two coloured squares."""
    rng = np.random.default_rng(3)
    out = []
    for i in range(NUM_IMAGES):
        img = np.full((SIZE, SIZE, 3), 128, np.uint8)
        mask = np.zeros((SIZE, SIZE), np.uint8)
        present = sorted({1 + i % 3, 1 + (i * 2 + 1) % 3} if i % 2 else
                         {1 + i % 3})
        for k, cls in enumerate(present):
            y, x = rng.integers(4, 20), 4 + 30 * k + rng.integers(0, 6)
            img[y:y + 24, x:x + 24] = COLOURS[cls]
            mask[y:y + 24, x:x + 24] = cls
        out.append((f'shot_{i:02d}', img, mask, present))
    return out


def write_folder_layout(root):
    for sub in ('images', 'masks'):
        os.makedirs(osp.join(root, sub))
    lines = []
    for img_id, img, mask, present in scenes():
        Image.fromarray(img).save(osp.join(root, 'images', img_id + '.jpg'))
        Image.fromarray(mask).save(osp.join(root, 'masks', img_id + '.png'))
        lines.append(img_id + ' ' + ' '.join(CLASSES[c] for c in present))
    with open(osp.join(root, 'labels.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with open(osp.join(root, 'val.txt'), 'w') as f:
        f.write('shot_00\nshot_01\nshot_02\n')


def write_voc_layout(root):
    subs = ('JPEGImages', 'Annotations', 'SegmentationClass',
            'ImageSets/Segmentation')
    for sub in subs:
        os.makedirs(osp.join(root, sub))
    ids = []
    for img_id, img, mask, present in scenes():
        Image.fromarray(img).save(
            osp.join(root, 'JPEGImages', img_id + '.jpg'))
        Image.fromarray(mask).save(
            osp.join(root, 'SegmentationClass', img_id + '.png'))
        ann = ET.Element('annotation')
        for cls in present:
            obj = ET.SubElement(ann, 'object')
            ET.SubElement(obj, 'name').text = CLASSES[cls]
        ET.ElementTree(ann).write(
            osp.join(root, 'Annotations', img_id + '.xml'))
        ids.append(img_id)
    sets = osp.join(root, 'ImageSets', 'Segmentation')
    with open(osp.join(sets, 'train.txt'), 'w') as f:
        f.write('\n'.join(ids) + '\n')
    with open(osp.join(sets, 'val.txt'), 'w') as f:
        f.write('\n'.join(ids[:3]) + '\n')


def copy_configs(tmp, **edits):
    """Copy configs/custom (+ its model base) and edit the data block the
    way a user does: one `name = value` line each."""
    dst = osp.join(tmp, 'configs')
    shutil.copytree(
        osp.join(REPO, 'configs', 'custom'), osp.join(dst, 'custom'))
    os.makedirs(osp.join(dst, '_base_', 'models'))
    shutil.copy(
        osp.join(REPO, 'configs', '_base_', 'models', 'seam_tinyconvnet.py'),
        osp.join(dst, '_base_', 'models'))
    path = osp.join(dst, 'custom', 'custom_dataset.py')
    with open(path) as f:
        text = f.read()
    for name, value in edits.items():
        text, n = re.subn(rf'^{name} = .*$', f'{name} = {value!r}', text,
                          count=1, flags=re.M)
        assert n == 1, name
    with open(path, 'w') as f:
        f.write(text)
    return osp.join(dst, 'custom')


def quick(work_dir, has_masks, *extra):
    """tools/train.py arguments for a 1-epoch, 3-iteration run."""
    return [
        '--work-dir', work_dir, '--cfg-options', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1', 'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'model.test_cfg.scales=[1.0]', 'model.test_cfg.flip=False',
        'default_hooks.logger.interval=1', *extra
    ] + (['val_dataloader.num_workers=0'] if has_masks else [])


def labels_of(root, layout):
    if layout == 'folder':
        with open(osp.join(root, 'labels.txt')) as f:
            return {
                t[0]: {CLASSES.index(n)
                       for n in t[1:]}
                for t in (line.split() for line in f)
            }
    return {i: set(p) for i, _, _, p in scenes()}


def direct_miou(cam_dir, gt_dir, ids, t):
    """mIoU (%) of argmax([t, CAMs]) vs the masks, by a confusion matrix."""
    conf = np.zeros((4, 4), np.int64)
    for img_id in ids:
        cams, labels = load_cam(osp.join(cam_dir, img_id + '.npz'))
        gt = load_label_png(osp.join(gt_dir, img_id + '.png'))
        full = np.zeros((4, ) + gt.shape, np.float32)
        full[0] = np.float32(t)
        full[labels] = cams.astype(np.float32)
        pred = full.argmax(0)
        np.add.at(conf, (gt.ravel(), pred.ravel()), 1)
    inter = np.diag(conf)
    union = conf.sum(0) + conf.sum(1) - inter
    return float(np.nanmean(np.where(union > 0, inter / np.maximum(
        union, 1), np.nan))) * 100


@pytest.mark.parametrize('layout', ['folder', 'voc'])
def test_template_end_to_end(layout, tmp_path, capsys):
    root = str(tmp_path / 'my_data')
    (write_folder_layout if layout == 'folder' else write_voc_layout)(root)
    has_masks = layout == 'voc'  # the folder run goes without masks
    cfg_dir = copy_configs(
        str(tmp_path),
        data_root=root,
        layout=layout,
        classes=CLASSES,
        has_masks=has_masks)
    work = str(tmp_path / 'work')
    seam_cfg = osp.join(cfg_dir, SEAM)
    if layout == 'folder':  # pretraining, whose backbone starts SEAM
        train.main([osp.join(cfg_dir, PRETRAIN)] +
                   quick(osp.join(work, 'pretrain'), has_masks))
        init = osp.join(work, 'pretrain', 'epoch_1.pth')
        assert osp.isfile(init)
        runner = train.main([seam_cfg] + quick(
            osp.join(work, 'seam'), has_masks,
            f'model.backbone.init_cfg.checkpoint={init}'))
    else:
        runner = train.main([seam_cfg] + quick(
            osp.join(work, 'seam'), has_masks,
            'model.backbone.init_cfg=None'))
    assert runner.iter == NUM_IMAGES // 2
    assert runner.train_dataloader.dataset.metainfo['palette'] == \
        voc_colormap(4)
    log = capsys.readouterr().out
    if has_masks:  # validation swept the background threshold
        assert re.search(r'best background threshold \d\.\d\d \(swept '
                         r'0\.00-0\.(59|99)\)', log)
    ckpt = osp.join(work, 'seam', 'epoch_1.pth')

    out = str(tmp_path / 'pseudo')
    res = infer_cams.main([
        seam_cfg, ckpt, '--out-dir', out, '--scales', '1.0', '--no-flip',
        '--num-workers', '0'
    ])
    labels = labels_of(root, layout)
    assert res['written'] == res['total'] == NUM_IMAGES
    for img_id, present in labels.items():
        png = Image.open(osp.join(out, 'pseudo_labels', img_id + '.png'))
        assert png.size == (SIZE, SIZE)
        # only the image's own classes (or background) are ever predicted
        assert set(np.unique(np.asarray(png))) <= {0} | present
        assert png.getpalette()[:12] == sum(voc_colormap(4), [])
        _, cam_labels = load_cam(osp.join(out, 'cams', img_id + '.npz'))
        assert set(cam_labels.tolist()) == present

    cam_dir = osp.join(out, 'cams')
    if has_masks:
        gt_dir = osp.join(root, 'SegmentationClass')
        split = osp.join(root, 'ImageSets', 'Segmentation', 'val.txt')
        result = eval_pseudo_labels.main([
            '--cam-dir', cam_dir, '--gt-dir', gt_dir, '--split', split,
            '--classes', seam_cfg
        ])
        ids = ['shot_00', 'shot_01', 'shot_02']
        assert result['mIoU'] == pytest.approx(
            direct_miou(cam_dir, gt_dir, ids, result['best_bg_threshold']),
            abs=0.01)
        assert result['swept_range'][0] == 0.0
    else:  # no masks: nothing to score, says which threshold is used
        result = eval_pseudo_labels.main([
            '--cam-dir', cam_dir, '--data-root', root, '--split',
            osp.join(root, 'labels.txt'), '--classes', seam_cfg
        ])
        text = capsys.readouterr().out
        assert result == dict(scored=False, bg_threshold=0.25)
        assert 'no ground-truth masks' in text
        assert 'no background-threshold sweep possible' in text
        assert (f'background threshold 0.25 (model.test_cfg.bg_threshold '
                f'of {seam_cfg})') in text

    img_dir = osp.join(root, 'images' if layout == 'folder' else
                       'JPEGImages')
    split_file = osp.join(root, 'labels.txt') if layout == 'folder' else \
        osp.join(root, 'ImageSets', 'Segmentation', 'train.txt')
    crf_out = str(tmp_path / 'crf')
    summary = crf_refine.main([
        '--cam-dir', cam_dir, '--img-dir', img_dir, '--split-file',
        split_file, '--out-dir', crf_out, '--alphas', '4', '--workers', '1',
        '--metainfo', seam_cfg, '--no-progress'
    ])
    assert summary['processed'] == NUM_IMAGES
    for img_id, present in labels.items():
        crf_png = load_label_png(
            osp.join(crf_out, 'crf_4_png', img_id + '.png'))
        assert crf_png.shape == (SIZE, SIZE)
        assert set(np.unique(crf_png)) <= {0} | present
