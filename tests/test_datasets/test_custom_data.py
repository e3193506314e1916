# Copyright (c) mmseam contributors. All rights reserved.
"""Own data: the plain layout (ImageFolderClsDataset), the shared split /
label-file readers, palettes for new class lists, broken images."""
import io
import os
import os.path as osp

import mmseam  # noqa: F401
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS
from PIL import Image

from mmseam.apis import read_split_ids as crf_read_split_ids
from mmseam.apis.cam_io import voc_colormap
from mmseam.datasets import (BadImageError, DatasetError,
                             ImageFolderClsDataset, VOCClsDataset,
                             image_file_problem, read_label_file)
from mmseam.datasets.file_checks import read_split_ids

init_default_scope('mmseg')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLASSES = ('background', 'car', 'tree', 'sign')
# id -> (classes in the label file, mask values)
ITEMS = {
    'street_01': (['car'], [1]),
    'street_02': (['tree', 'sign'], [2, 3]),
    'street_03': (['car', 'sign'], [1, 3]),
}


def write_plain(root, items=ITEMS, size=(12, 16), suffix='.jpg'):
    """images/<id><suffix>, masks/<id>.png and labels.txt under ``root``."""
    os.makedirs(osp.join(root, 'images'))
    os.makedirs(osp.join(root, 'masks'))
    rng = np.random.default_rng(0)
    lines = ['# id  classes']
    for img_id, (names, values) in items.items():
        img = rng.integers(0, 256, size=size + (3, ), dtype=np.uint8)
        Image.fromarray(img).save(osp.join(root, 'images', img_id + suffix))
        mask = np.zeros(size, np.uint8)
        for i, v in enumerate(values):
            mask[:, 2 + 3 * i:4 + 3 * i] = v
        Image.fromarray(mask).save(osp.join(root, 'masks', img_id + '.png'))
        lines.append(f'{img_id} ' + ' '.join(names))
    with open(osp.join(root, 'labels.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return root


def build_plain(root, **kwargs):
    cfg = dict(
        type='ImageFolderClsDataset',
        data_root=root,
        metainfo=dict(classes=CLASSES))
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def hot(*indices):
    out = np.zeros(len(CLASSES) - 1, np.float32)
    out[[i - 1 for i in indices]] = 1
    return out


def test_read_split_ids_formats(tmp_path):
    split = tmp_path / 'split.txt'
    split.write_text('# a comment\n2007_000032\n\n'
                     '/JPEGImages/b.jpg /SegmentationClassAug/b.png\n'
                     'c.png car tree\nd, car\nimg.v2\ne.JPEG\n')
    expected = ['2007_000032', 'b', 'c', 'd', 'img.v2', 'e']
    assert read_split_ids(str(split)) == expected
    assert crf_read_split_ids(str(split)) == expected  # one reader
    assert read_split_ids(str(split), '.v2')[4] == 'img'
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        read_split_ids(str(tmp_path / 'nope.txt'))
    (tmp_path / 'empty.txt').write_text('\n# nothing\n')
    with pytest.raises(DatasetError, match='lists no image ids'):
        read_split_ids(str(tmp_path / 'empty.txt'))


def test_read_label_file_and_errors(tmp_path):
    path = tmp_path / 'labels.txt'
    path.write_text('a car tree\nb.jpg,sign\n c , tree , car \n')
    assert read_label_file(str(path), CLASSES) == {
        'a': [1, 2],
        'b': [3],
        'c': [1, 2]
    }
    for text, message in [
        ('a car\nb bus\n', r"line 2: \['bus'\] not in the foreground"),
        ('a\n', "line 1: image 'a' has no class"),
        ('a car\na tree\n', "line 2: image 'a' is listed twice"),
        ('a background\n', r"\['background'\] not in the foreground"),
    ]:
        path.write_text(text)
        with pytest.raises(DatasetError, match=message) as err:
            read_label_file(str(path), CLASSES)
        assert str(path) in str(err.value)


def test_plain_layout_labels_from_file(tmp_path):
    root = write_plain(str(tmp_path / 'data'))
    ds = build_plain(root)
    assert isinstance(ds, ImageFolderClsDataset)
    assert isinstance(ds, VOCClsDataset)
    assert [ds.get_data_info(i)['img_id'] for i in range(len(ds))] == \
        list(ITEMS)
    np.testing.assert_array_equal(ds.get_data_info(1)['img_labels'],
                                  hot(2, 3))
    np.testing.assert_array_equal(ds.get_data_info(2)['img_labels'],
                                  hot(1, 3))
    assert 'seg_map_path' not in ds.get_data_info(0)  # masks are optional
    assert ds.get_data_info(0)['img_path'] == osp.join(
        root, 'images', 'street_01.jpg')
    # a split list selects images; masks attached with with_seg_map
    with open(osp.join(root, 'val.txt'), 'w') as f:
        f.write('street_03\nstreet_01\n')
    ds = build_plain(root, ann_file='val.txt', with_seg_map=True)
    assert [ds.get_data_info(i)['img_id'] for i in range(2)] == \
        ['street_03', 'street_01']
    assert ds.get_data_info(0)['seg_map_path'] == osp.join(
        root, 'masks', 'street_03.png')
    # an image missing from the label file is named
    with open(osp.join(root, 'val.txt'), 'a') as f:
        f.write('street_09\n')
    Image.new('RGB', (16, 12)).save(osp.join(root, 'images',
                                             'street_09.jpg'))
    with pytest.raises(DatasetError, match="'street_09' has no line in the "
                       'label file'):
        build_plain(root, ann_file='val.txt')


def test_plain_layout_labels_from_masks(tmp_path):
    root = write_plain(str(tmp_path / 'data'), suffix='.png')
    os.remove(osp.join(root, 'labels.txt'))
    ds = build_plain(root, label_source='mask', img_suffix='.png')
    assert [ds.get_data_info(i)['img_id'] for i in range(3)] == \
        sorted(ITEMS)
    for i, (names, values) in enumerate(ITEMS.values()):
        np.testing.assert_array_equal(ds.get_data_info(i)['img_labels'],
                                      hot(*values))
    with pytest.raises(DatasetError, match='labels.txt.*does not exist'):
        build_plain(root, img_suffix='.png')


def test_new_classes_get_a_palette_and_mismatch_is_named(tmp_path):
    root = write_plain(str(tmp_path / 'data'))
    assert build_plain(root).metainfo['palette'] == voc_colormap(4)
    many = ('background', ) + tuple(f'c{i}' for i in range(30))
    assert VOCClsDataset._complete_metainfo(
        dict(classes=many))['palette'] == voc_colormap(31)
    assert build_plain(
        root, metainfo=dict(classes=CLASSES,
                            palette=None)).metainfo['palette'] == \
        voc_colormap(4)
    given = [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]]
    assert build_plain(
        root, metainfo=dict(classes=CLASSES,
                            palette=given)).metainfo['palette'] == given
    with pytest.raises(DatasetError) as err:
        build_plain(root, metainfo=dict(classes=CLASSES, palette=given[:3]))
    msg = str(err.value)
    assert 'metainfo.palette has 3 colours' in msg
    assert 'metainfo.classes has 4 classes' in msg
    assert '_delete_=True' in msg


def test_child_config_changing_classes(tmp_path):
    """A child of the synthetic data config that changes the class list."""
    base = osp.join(REPO, 'configs', '_base_', 'datasets',
                    'synthetic_voc_cls.py')
    root = write_plain(str(tmp_path / 'data'))
    keep = tmp_path / 'keep_palette.py'
    keep.write_text(f'_base_ = [{base!r}]\n'
                    f'metainfo = dict(classes={CLASSES!r})\n'
                    'train_dataloader = dict(dataset=dict(metainfo=metainfo))'
                    '\n')
    cfg = Config.fromfile(str(keep))
    ds_cfg = dict(cfg.train_dataloader.dataset, type='ImageFolderClsDataset',
                  data_root=root, data_prefix=dict(img_path='images'),
                  ann_file='', label_source='file', with_seg_map=False,
                  pipeline=[])
    with pytest.raises(DatasetError, match='palette has 6 colours but '
                       'metainfo.classes has 4 classes'):
        DATASETS.build(ds_cfg)
    fixed = tmp_path / 'new_classes.py'
    fixed.write_text(f'_base_ = [{base!r}]\n'
                     f'metainfo = dict(_delete_=True, classes={CLASSES!r})\n'
                     'train_dataloader = dict(dataset=dict(metainfo=metainfo))'
                     '\n')
    cfg = Config.fromfile(str(fixed))
    ds_cfg = dict(cfg.train_dataloader.dataset, type='ImageFolderClsDataset',
                  data_root=root, data_prefix=dict(img_path='images'),
                  ann_file='', label_source='file', with_seg_map=False,
                  pipeline=[])
    ds = DATASETS.build(ds_cfg)
    assert ds.metainfo['classes'] == CLASSES
    assert ds.metainfo['palette'] == voc_colormap(4)


def jpeg_bytes(size=(32, 32)):
    rng = np.random.default_rng(1)
    img = Image.fromarray(rng.integers(0, 256, size + (3, ), np.uint8))
    buf = io.BytesIO()
    img.save(buf, format='JPEG', quality=90)
    assert buf.getvalue().endswith(b'\xff\xd9')
    return buf.getvalue()


def test_truncated_images_caught_at_build(tmp_path):
    root = write_plain(str(tmp_path / 'data'))
    path = osp.join(root, 'images', 'street_02.jpg')
    data = jpeg_bytes()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    assert 'is truncated or corrupt' in image_file_problem(path)
    with pytest.raises(DatasetError) as err:
        build_plain(root)
    assert f'image {path} is truncated or corrupt' in str(err.value)
    # trailing zero padding after the end marker is fine
    with open(path, 'wb') as f:
        f.write(data + b'\x00' * 8)
    assert image_file_problem(path) is None
    # a truncated PNG: header fine, IEND and part of the data missing
    png = osp.join(root, 'street.png')
    rng = np.random.default_rng(2)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), np.uint8)).save(png)
    with open(png, 'rb') as f:
        png_data = f.read()
    with open(png, 'wb') as f:
        f.write(png_data[:len(png_data) * 3 // 4])
    assert 'is truncated or corrupt (PNG' in image_file_problem(png)


def corrupt_but_well_formed(path):
    """A JPEG whose header and end marker are fine, its data is not."""
    data = jpeg_bytes()
    with open(path, 'wb') as f:
        f.write(data[:400] + b'\x00' * (len(data) - 402) + b'\xff\xd9')


def test_bad_image_when_loaded_raise_or_skip(tmp_path):
    root = write_plain(str(tmp_path / 'data'))
    path = osp.join(root, 'images', 'street_02.jpg')
    corrupt_but_well_formed(path)
    assert image_file_problem(path) is None  # passes the cheap check
    pipeline = [dict(type='LoadImageFromFile')]
    ds = build_plain(root, pipeline=pipeline)
    assert ds[0]['img'].shape == (12, 16, 3)
    with pytest.raises(BadImageError) as err:
        ds[1]
    msg = str(err.value)
    assert f'image {path} cannot be loaded' in msg
    label_file = osp.join(root, 'labels.txt')
    assert f'remove it from the label file {label_file}' in msg
    assert "on_bad_image='skip'" in msg and 'check_dataset.py' in msg
    # skip: another sample is loaded and the file is listed
    ds = build_plain(root, pipeline=pipeline, on_bad_image='skip')
    out = ds[1]
    assert out['img_path'] != path and out['img'].shape == (12, 16, 3)
    assert ds.skipped_images == [path]
    # no skipping at test time: an image without output is an error
    ds = build_plain(
        root, pipeline=pipeline, on_bad_image='skip', test_mode=True)
    with pytest.raises(BadImageError, match='street_02.jpg'):
        ds[1]
    with pytest.raises(DatasetError, match='on_bad_image'):
        build_plain(root, on_bad_image='ignore')
    # check_images (tools/check_dataset.py --decode) finds it at build
    with pytest.raises(DatasetError, match='street_02.jpg cannot be decoded'):
        build_plain(root, check_images=True)
