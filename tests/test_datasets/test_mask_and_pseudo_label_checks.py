# Copyright (c) mmseam contributors. All rights reserved.
"""Bad masks and incomplete pseudo-label folders are reported while the data
set is built (before training), naming the file and the fix."""
import os
import os.path as osp

import mmseam  # noqa: F401
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS
from PIL import Image

from mmseam.datasets import DatasetError

init_default_scope('mmseg')

SPLIT = 'ImageSets/Segmentation/train.txt'
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def build(root, **kwargs):
    cfg = dict(type='VOCClsDataset', data_root=root, ann_file=SPLIT)
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def test_mask_value_outside_class_range(voc_root):
    path = osp.join(voc_root, 'SegmentationClass', '2007_000002.png')
    mask = np.array(Image.open(path))
    mask[5, 5] = 42  # VOC has 21 classes; 255 (ignore) is fine
    Image.fromarray(mask).save(path)
    build(voc_root)  # masks are only decoded with check_masks=True
    with pytest.raises(DatasetError) as err:
        build(voc_root, check_masks=True)
    msg = str(err.value)
    assert '1 problem(s)' in msg
    assert (f'mask {path} contains the values [42], outside the 21 classes '
            'of this dataset (0..20, 255 = ignore)') in msg
    assert 'fix the mask or the class list' in msg
    # with a 6-class list the VOC values 8, 12, 15, 20 are out of range too
    with pytest.raises(DatasetError, match=r'values \[15, 42\]'):
        build(
            voc_root,
            label_source='mask',
            metainfo=dict(
                classes=('bg', 'a', 'b', 'c', 'd', 'e'),
                palette=[[i, i, i] for i in range(6)]))


def test_mask_of_another_size(voc_root):
    path = osp.join(voc_root, 'SegmentationClass', '2008_000003.png')
    Image.fromarray(np.zeros((5, 7), np.uint8)).save(path)
    with pytest.raises(DatasetError) as err:
        build(voc_root, check_masks=True)
    assert (f'mask {path} has size (5, 7) but image') in str(err.value)
    assert 'original image size' in str(err.value)


def test_pseudo_label_folder_lacks_images(voc_root, tmp_path):
    pseudo = str(tmp_path / 'rw')
    os.makedirs(pseudo)
    Image.fromarray(np.zeros((12, 16), np.uint8)).save(
        osp.join(pseudo, '2007_000001.png'))
    kwargs = dict(
        data_prefix=dict(img_path='JPEGImages', seg_map_path=pseudo),
        pseudo_labels=True,
        check_masks=True)
    with pytest.raises(DatasetError) as err:
        build(voc_root, **kwargs)
    msg = str(err.value)
    assert '1 problem(s)' in msg  # one message for the whole folder
    assert (f'pseudo-label folder {pseudo} (data_prefix.seg_map_path) '
            'lacks the labels of 2 of the 3 images of the split (e.g. '
            '2007_000002, 2008_000003)') in msg
    assert 'run the pseudo-label inference on this split first' in msg
    assert 'tools/infer_cams.py' in msg
    # no folder at all
    kwargs['data_prefix'] = dict(
        img_path='JPEGImages', seg_map_path=str(tmp_path / 'nope'))
    with pytest.raises(DatasetError, match='nope .*does not exist'):
        build(voc_root, **kwargs)
    # complete folder -> fine
    for img_id in ('2007_000002', '2008_000003'):
        Image.fromarray(np.zeros((12, 16), np.uint8)).save(
            osp.join(pseudo, f'{img_id}.png'))
    kwargs['data_prefix'] = dict(img_path='JPEGImages', seg_map_path=pseudo)
    assert len(build(voc_root, **kwargs)) == 3


def test_stage2_config_reports_missing_pseudo_labels(synthetic_root,
                                                     tmp_path):
    """The real stage-2 config: its dataset is flagged as pseudo labels."""
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/deeplab/deeplabv1-largefov_r18-d8_1xb8-6e_'
                 'synthvoc-pseudo-224x224.py'))
    ds = cfg.train_dataloader.dataset
    ds.data_root = synthetic_root
    ds.data_prefix.seg_map_path = str(tmp_path / 'empty_rw')
    os.makedirs(ds.data_prefix.seg_map_path)
    with pytest.raises(DatasetError) as err:
        DATASETS.build(ds)
    msg = str(err.value)
    assert 'pseudo-label folder' in msg
    assert 'lacks the labels of 8 of the 8 images' in msg
    assert 'run the pseudo-label inference' in msg
