# Copyright (c) mmseam contributors. All rights reserved.
"""Tiny on-disk VOC trees built in tmp dirs for the dataset tests."""
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

# id -> list of (object name, difficult) and the mask class values.
DEFAULT_ITEMS = {
    '2007_000001':
    dict(objects=[('cat', 0), ('dog', 0), ('cat', 1)], mask_values=[8, 12]),
    '2007_000002':
    dict(objects=[('person', 0)], mask_values=[15]),
    '2008_000003':
    dict(objects=[('aeroplane', 0), ('tvmonitor', 1)], mask_values=[1, 20]),
}


def write_xml(path: str, objects) -> None:
    """Write a minimal VOC XML with the given (name, difficult) objects."""
    parts = ['<annotation>', '<filename>x.jpg</filename>']
    for name, difficult in objects:
        parts.append(
            f'<object><name>{name}</name><difficult>{difficult}</difficult>'
            '<part><name>head</name></part>'
            '<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>4</xmax>'
            '<ymax>4</ymax></bndbox></object>')
    parts.append('</annotation>')
    with open(path, 'w') as f:
        f.write('\n'.join(parts))


def write_mask(path: str, values, size=(12, 16)) -> None:
    """Write a palette-free 'L' PNG with one stripe per value (+255)."""
    mask = np.zeros(size, dtype=np.uint8)
    for i, v in enumerate(values):
        mask[:, 2 + 3 * i:4 + 3 * i] = v
    mask[0, :] = 255
    Image.fromarray(mask).save(path)


def build_voc_tree(root: str, items=None, size=(12, 16)) -> str:
    """Create a VOC 2012 style tree under ``root`` and return it."""
    items = DEFAULT_ITEMS if items is None else items
    for sub in ('JPEGImages', 'Annotations', 'SegmentationClass',
                'SegmentationClassAug', 'ImageSets/Segmentation'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    rng = np.random.default_rng(0)
    for img_id, item in items.items():
        img = rng.integers(0, 256, size=size + (3, ), dtype=np.uint8)
        Image.fromarray(img).save(
            osp.join(root, 'JPEGImages', img_id + '.jpg'))
        write_xml(
            osp.join(root, 'Annotations', img_id + '.xml'), item['objects'])
        for sub in ('SegmentationClass', 'SegmentationClassAug'):
            write_mask(
                osp.join(root, sub, img_id + '.png'), item['mask_values'],
                size)
    for split in ('train', 'train_aug', 'val'):
        with open(
                osp.join(root, 'ImageSets/Segmentation', split + '.txt'),
                'w') as f:
            f.write(''.join(i + '\n' for i in items))
    return root


@pytest.fixture
def voc_root(tmp_path) -> str:
    """A 3-image VOC tree (see ``DEFAULT_ITEMS``)."""
    return build_voc_tree(str(tmp_path / 'VOC2012'))


@pytest.fixture
def voc_factory(tmp_path):
    """Build VOC trees with custom items: ``voc_factory(items, name)``."""

    def _make(items=None, name='VOC2012', size=(12, 16)):
        return build_voc_tree(str(tmp_path / name), items, size)

    return _make


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory) -> str:
    """A small synthetic dataset (8 train / 4 val, 128 px), built once."""
    from mmseam.datasets.synthetic import make_synthetic_voc
    out = str(tmp_path_factory.mktemp('syn') / 'synthetic_voc')
    make_synthetic_voc(out, seed=0, num_train=8, num_val=4, image_size=128)
    return out
