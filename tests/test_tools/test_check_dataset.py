# Copyright (c) mmseam contributors. All rights reserved.
"""tools/check_dataset.py: a clean split passes with exact per-class counts;
every kind of broken file is listed by name and the exit status is 1."""
import importlib.util
import os
import os.path as osp
import re
import xml.etree.ElementTree as ET

import mmseam  # noqa: F401
import numpy as np
import pytest
from PIL import Image

from mmseam.datasets.synthetic import SYNTHETIC_CLASSES, make_synthetic_voc

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs/seam/seam_r18-d8_1xb8-6e_synthvoc-224x224.py')


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location(
        'check_dataset_tool', osp.join(REPO, 'tools', 'check_dataset.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def root(tmp_path):
    out = str(tmp_path / 'voc')
    make_synthetic_voc(out, seed=5, num_train=6, num_val=2, image_size=64)
    return out


def table(text):
    """{class: (images, pixels)} from the printed summary table."""
    rows = {}
    for line in text.splitlines():
        m = re.match(r'\| (\w+) +\| +(\S+) \| +(\S+) \|$', line)
        if m and m.group(1) != 'class':
            rows[m.group(1)] = (m.group(2), m.group(3))
    return rows


def test_clean_split_exact_counts(tool, root, capsys):
    ids = [
        ln.strip() for ln in open(
            osp.join(root, 'ImageSets/Segmentation/train.txt'))
    ]
    # expected counts computed straight from the files
    images = {c: 0 for c in SYNTHETIC_CLASSES}
    pixels = np.zeros(len(SYNTHETIC_CLASSES), np.int64)
    for img_id in ids:
        names = {
            o.find('name').text
            for o in ET.parse(osp.join(root, 'Annotations', f'{img_id}.xml')
                              ).getroot().findall('object')
        }
        for name in names:
            images[name] += 1
        mask = np.array(
            Image.open(osp.join(root, 'SegmentationClass', f'{img_id}.png')))
        pixels += np.bincount(mask.ravel(), minlength=256)[:6]
    code = tool.main([
        CONFIG, '--dataloader', 'val', '--data-root', root, '--decode'
    ])
    out = capsys.readouterr().out
    assert code == 0, out
    rows = table(out)
    assert rows['background'] == (str(len(ids)), str(pixels[0]))
    for k, name in enumerate(SYNTHETIC_CLASSES[1:], 1):
        assert rows[name] == (str(images[name]), str(pixels[k])), name
    assert f'images listed: {len(ids)}, ok: {len(ids)}, problems: 0' in out
    assert 'OK: no problem found.' in out
    # --split picks another list; the train loader has no masks
    code = tool.main([CONFIG, '--split', 'val', '--data-root', root])
    out = capsys.readouterr().out
    assert code == 0 and 'val.txt' in out and 'images listed: 2' in out


def test_every_problem_is_listed(tool, root, capsys):
    ids = [
        ln.strip() for ln in open(
            osp.join(root, 'ImageSets/Segmentation/train.txt'))
    ]
    jpg = osp.join(root, 'JPEGImages', '{}.jpg')
    os.remove(jpg.format(ids[0]))  # missing image
    with open(jpg.format(ids[1]), 'wb') as f:  # corrupt image
        f.write(b'\xff\xd8\xff\xe0 not a jpeg at all')
    with open(osp.join(root, 'Annotations', f'{ids[2]}.xml'), 'w') as f:
        f.write('<annotation><object><name>ring</name></annotation>')
    mask_path = osp.join(root, 'SegmentationClass', f'{ids[3]}.png')
    mask = np.array(Image.open(mask_path))
    mask[0, 0] = 9  # 6 classes: 9 is out of range
    Image.fromarray(mask).save(mask_path)
    with open(osp.join(root, 'ImageSets/Segmentation/train.txt'), 'a') as f:
        f.write('not_there\n')  # split list names a missing image

    argv = [CONFIG, '--dataloader', 'val', '--data-root', root]
    code = tool.main(argv)
    out = capsys.readouterr().out
    assert code == 1
    # without --decode: files, image headers and XML (not the mask values)
    assert 'problems: 4' in out
    assert f'image {jpg.format(ids[1])} is not a readable image' in out
    code = tool.main(argv + ['--decode'])
    out = capsys.readouterr().out
    assert code == 1
    assert f'images listed: {len(ids) + 1}, ok: {len(ids) - 4}, ' \
        'problems: 5' in out
    assert f'image {jpg.format(ids[0])} (id {ids[0]!r}' in out
    assert f'image {jpg.format(ids[1])} cannot be decoded' in out
    assert f'{ids[2]}.xml is not valid XML' in out
    assert f'mask {mask_path} contains the values [9], outside the 6 ' \
        'classes' in out
    assert "not_there.jpg (id 'not_there'" in out


def test_cannot_check(tool, tmp_path, capsys):
    code = tool.main([CONFIG, '--data-root', str(tmp_path / 'nowhere')])
    err = capsys.readouterr().err
    assert code == 2
    assert 'nowhere' in err and 'does not exist' in err
    assert tool.main([str(tmp_path / 'no_cfg.py')]) == 2


def test_own_data_folder_layout(tool, tmp_path, capsys):
    """The configs/custom template on a folder-layout set: a truncated JPEG
    is named without --decode; a palette of the wrong length names both
    metainfo keys and the config file."""
    from test_tools.test_custom_data_template import (CLASSES, copy_configs,
                                                      write_folder_layout)
    root = str(tmp_path / 'data')
    write_folder_layout(root)
    cfg_dir = copy_configs(
        str(tmp_path), data_root=root, layout='folder', classes=CLASSES)
    config = osp.join(cfg_dir, 'seam_tinyconvnet_1xb8-12e_custom-224x224.py')
    assert tool.main([config, '--decode']) == 0
    out = capsys.readouterr().out
    assert 'images listed: 6, ok: 6, problems: 0' in out
    assert tool.main([config, '--dataloader', 'val', '--split', 'val']) == 0
    assert 'images listed: 3, ok: 3' in capsys.readouterr().out
    jpg = osp.join(root, 'images', 'shot_04.jpg')
    with open(jpg, 'rb') as f:
        data = f.read()
    with open(jpg, 'wb') as f:
        f.write(data[:len(data) - 100])
    assert tool.main([config]) == 1
    out = capsys.readouterr().out
    assert f'image {jpg} is truncated or corrupt (JPEG' in out
    assert 'images listed: 6, ok: 5, problems: 1' in out
    cfg_dir = copy_configs(
        str(tmp_path / 'bad'),
        data_root=root,
        classes=CLASSES,
        palette=[[0, 0, 0], [255, 0, 0]])
    config = osp.join(cfg_dir, 'seam_tinyconvnet_1xb8-12e_custom-224x224.py')
    assert tool.main([config]) == 2
    err = capsys.readouterr().err
    assert config in err
    assert 'metainfo.palette has 2 colours but metainfo.classes has 4' in err
