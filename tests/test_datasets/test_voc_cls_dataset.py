# Copyright (c) mmseam contributors. All rights reserved.
import os
import os.path as osp

import mmseam  # noqa: F401
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

from mmseam.datasets import DatasetError, VOCClsDataset

init_default_scope('mmseg')

SPLIT = 'ImageSets/Segmentation/train.txt'


def hot(*indices, n=20):
    out = np.zeros(n, dtype=np.float32)
    out[list(indices)] = 1
    return out


EXPECTED = {
    '2007_000001': hot(7, 11),  # cat, dog
    '2007_000002': hot(14),  # person
    '2008_000003': hot(0, 19),  # aeroplane, tvmonitor (difficult)
}


def build(root, **kwargs):
    cfg = dict(type='VOCClsDataset', data_root=root, ann_file=SPLIT)
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def labels_by_id(ds):
    return {ds[i]['img_id']: ds[i]['img_labels'] for i in range(len(ds))}


def test_xml_labels_exact(voc_root):
    ds = build(voc_root)
    assert isinstance(ds, VOCClsDataset)
    assert len(ds) == 3
    assert len(ds.metainfo['classes']) == 21
    got = labels_by_id(ds)
    assert set(got) == set(EXPECTED)
    for img_id, expected in EXPECTED.items():
        assert got[img_id].dtype == np.float32
        assert got[img_id].shape == (20, )
        np.testing.assert_array_equal(got[img_id], expected)
    info = ds.get_data_info(0)
    assert info['img_path'] == osp.join(voc_root, 'JPEGImages',
                                        '2007_000001.jpg')
    assert info['seg_map_path'] == osp.join(voc_root, 'SegmentationClass',
                                            '2007_000001.png')
    assert info['seg_fields'] == []
    assert info['label_map'] is None
    assert info['reduce_zero_label'] is False


def test_xml_ignore_difficult(voc_root):
    got = labels_by_id(build(voc_root, ignore_difficult=True))
    np.testing.assert_array_equal(got['2008_000003'], hot(0))
    # 'cat' also appears as a non-difficult object -> kept.
    np.testing.assert_array_equal(got['2007_000001'], hot(7, 11))


def test_without_seg_map(voc_root):
    ds = build(voc_root, with_seg_map=False)
    assert 'seg_map_path' not in ds.get_data_info(0)


def test_mask_labels(voc_root):
    ds = build(
        voc_root,
        label_source='mask',
        with_seg_map=False,
        mask_dir='SegmentationClassAug')
    got = labels_by_id(ds)
    np.testing.assert_array_equal(got['2007_000001'], hot(7, 11))
    np.testing.assert_array_equal(got['2007_000002'], hot(14))
    np.testing.assert_array_equal(got['2008_000003'], hot(0, 19))


@pytest.mark.parametrize('int_keys', [False, True])
def test_npy_labels(voc_root, tmp_path, int_keys):
    table = {}
    for img_id, vec in EXPECTED.items():
        key = int(img_id.replace('_', '')) if int_keys else img_id
        table[key] = vec
    table['2007_000002'] = hot(3, 4)  # differs from XML on purpose
    if int_keys:
        table.pop(2007000002)
    path = str(tmp_path / 'cls_labels.npy')
    np.save(path, table)
    got = labels_by_id(
        build(voc_root, label_source='npy', cls_label_file=path))
    np.testing.assert_array_equal(got['2007_000001'], hot(7, 11))
    np.testing.assert_array_equal(got['2007_000002'], hot(3, 4))
    np.testing.assert_array_equal(got['2008_000003'], hot(0, 19))


def test_npy_relative_to_data_root(voc_root):
    np.save(osp.join(voc_root, 'cls.npy'), dict(EXPECTED))
    got = labels_by_id(
        build(voc_root, label_source='npy', cls_label_file='cls.npy'))
    np.testing.assert_array_equal(got['2007_000002'], hot(14))


def test_psa_split_format(voc_root):
    path = osp.join(voc_root, 'psa.txt')
    with open(path, 'w') as f:
        f.write('/JPEGImages/2007_000002.jpg '
                '/SegmentationClassAug/2007_000002.png\n\n')
    ds = build(voc_root, ann_file='psa.txt')
    assert len(ds) == 1
    assert ds[0]['img_id'] == '2007_000002'


def test_replacement_class_list(voc_factory):
    items = {
        'a': dict(objects=[('square', 0)], mask_values=[2]),
        'b': dict(objects=[('disc', 0), ('square', 0)], mask_values=[1, 2]),
    }
    root = voc_factory(items)
    metainfo = dict(
        classes=('background', 'disc', 'square'),
        palette=[[0, 0, 0], [1, 1, 1], [2, 2, 2]])
    for source in ('xml', 'mask'):
        ds = build(root, metainfo=metainfo, label_source=source)
        assert ds.metainfo['classes'] == metainfo['classes']
        assert ds.metainfo['palette'] == metainfo['palette']
        assert ds.label_map is None
        got = labels_by_id(ds)
        np.testing.assert_array_equal(got['a'], hot(1, n=2))
        np.testing.assert_array_equal(got['b'], hot(0, 1, n=2))


def test_subset_class_list_remaps(voc_root):
    # A subset of the VOC classes keeps mmseg's label_map semantics.
    metainfo = dict(classes=('background', 'cat', 'dog', 'person'))
    # 2008_000003 has no cat/dog/person -> no label -> error.
    with pytest.raises(DatasetError) as err:
        build(voc_root, metainfo=metainfo)
    assert '2008_000003' in str(err.value)
    assert 'metainfo' in str(err.value)
    with open(osp.join(voc_root, SPLIT), 'w') as f:
        f.write('2007_000001\n2007_000002\n')
    for source in ('xml', 'mask'):
        ds = build(voc_root, metainfo=metainfo, label_source=source)
        assert ds.label_map[8] == 1 and ds.label_map[12] == 2
        assert ds.label_map[15] == 3 and ds.label_map[1] == 255
        assert ds.metainfo['palette'] == [[0, 0, 0], [64, 0, 0], [64, 0, 128],
                                          [192, 128, 128]]
        got = labels_by_id(ds)
        np.testing.assert_array_equal(got['2007_000001'], hot(0, 1, n=3))
        np.testing.assert_array_equal(got['2007_000002'], hot(2, n=3))


# ----------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------
def test_missing_data_root(tmp_path):
    root = str(tmp_path / 'nowhere')
    with pytest.raises(DatasetError) as err:
        build(root)
    msg = str(err.value)
    assert root in msg and 'data_root' in msg
    assert 'make_synthetic_voc.py' in msg


def test_missing_split_list(voc_root):
    with pytest.raises(DatasetError, match='missing_split.txt'):
        build(voc_root, ann_file='missing_split.txt')
    with pytest.raises(DatasetError, match='train_aug'):
        os.remove(osp.join(voc_root, 'ImageSets/Segmentation/train_aug.txt'))
        build(voc_root, ann_file='ImageSets/Segmentation/train_aug.txt')


def test_split_names_missing_image(voc_root):
    with open(osp.join(voc_root, SPLIT), 'a') as f:
        f.write('2009_999999\n')
    with pytest.raises(DatasetError) as err:
        build(voc_root)
    assert '2009_999999.jpg' in str(err.value)
    assert 'remove the id' in str(err.value)


def test_empty_and_corrupt_image(voc_root):
    path = osp.join(voc_root, 'JPEGImages', '2007_000002.jpg')
    with open(path, 'wb'):
        pass
    with pytest.raises(DatasetError, match=r'2007_000002\.jpg is empty'):
        build(voc_root)
    with open(path, 'wb') as f:
        f.write(b'\xff\xd8\xff\xe0 definitely not a jpeg')
    # the header is read at build time; check_images decodes everything
    with pytest.raises(
            DatasetError, match=r'2007_000002\.jpg is not a readable image'):
        build(voc_root)
    build(voc_root, check_image_headers=False)
    with pytest.raises(DatasetError, match=r'2007_000002\.jpg cannot be'):
        build(voc_root, check_images=True)


def test_missing_xml(voc_root):
    os.remove(osp.join(voc_root, 'Annotations', '2007_000002.xml'))
    with pytest.raises(DatasetError, match=r'2007_000002\.xml'):
        build(voc_root)


def test_malformed_xml(voc_root):
    with open(osp.join(voc_root, 'Annotations', '2007_000002.xml'), 'w') as f:
        f.write('<annotation><object><name>cat</name></annotation>')
    with pytest.raises(DatasetError) as err:
        build(voc_root)
    assert '2007_000002.xml is not valid XML' in str(err.value)
    assert 'mismatched tag' in str(err.value)


def test_unknown_class_name(voc_factory):
    root = voc_factory({'x1': dict(objects=[('unicorn', 0)], mask_values=[1])})
    with pytest.raises(DatasetError) as err:
        build(root)
    msg = str(err.value)
    assert 'x1.xml' in msg and "'unicorn'" in msg and 'tvmonitor' in msg


def test_image_without_labels(voc_factory):
    root = voc_factory({
        'ok': dict(objects=[('cat', 0)], mask_values=[8]),
        'empty': dict(objects=[], mask_values=[]),
    })
    with pytest.raises(DatasetError) as err:
        build(root)
    msg = str(err.value)
    assert 'empty.jpg' in msg and 'remove it from the split' in msg
    assert 'ok.jpg' not in msg
    with pytest.raises(DatasetError, match='empty.jpg'):
        build(root, label_source='mask')


def test_missing_mask(voc_root):
    os.remove(osp.join(voc_root, 'SegmentationClass', '2007_000002.png'))
    with pytest.raises(DatasetError, match=r'2007_000002\.png'):
        build(voc_root)
    build(voc_root, with_seg_map=False)


def test_npy_errors(voc_root, tmp_path):
    with pytest.raises(DatasetError, match='cls_label_file'):
        build(voc_root, label_source='npy')
    with pytest.raises(DatasetError, match='nope.npy'):
        build(voc_root, label_source='npy', cls_label_file='nope.npy')
    path = str(tmp_path / 'short.npy')
    np.save(path, {'2007_000001': hot(1)})
    with pytest.raises(DatasetError) as err:
        build(voc_root, label_source='npy', cls_label_file=path)
    assert '2007_000002' in str(err.value) and 'short.npy' in str(err.value)


def test_bad_mask_value(voc_factory):
    root = voc_factory({'m': dict(objects=[('cat', 0)], mask_values=[42])})
    with pytest.raises(DatasetError, match=r'm\.png contains the values'):
        build(root, label_source='mask')


def test_problems_are_collected(voc_root):
    with open(osp.join(voc_root, SPLIT), 'a') as f:
        f.write(''.join(f'gone_{i}\n' for i in range(12)))
    with pytest.raises(DatasetError) as err:
        build(voc_root)
    msg = str(err.value)
    assert '12 problem(s)' in msg and 'and 2 more' in msg
    assert 'gone_0.jpg' in msg


def test_bad_label_source(voc_root):
    with pytest.raises(DatasetError, match='label_source'):
        build(voc_root, label_source='json')
