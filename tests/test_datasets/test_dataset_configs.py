# Copyright (c) mmseam contributors. All rights reserved.
import copy
import os.path as osp
import xml.etree.ElementTree as ET

import mmseam  # noqa: F401
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS

from mmseam.datasets import SYNTHETIC_METAINFO, VOCClsDataset

init_default_scope('mmseg')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SYN_CFG = osp.join(REPO, 'configs/_base_/datasets/synthetic_voc_cls.py')
VOC_CFG = osp.join(REPO, 'configs/_base_/datasets/voc12aug_cls.py')


def dataset_cfg(cfg, key, data_root):
    ds = copy.deepcopy(cfg[key]['dataset'])
    ds['data_root'] = data_root
    return ds


def test_synthetic_config_values():
    cfg = Config.fromfile(SYN_CFG)
    assert cfg.data_root == 'data/synthetic_voc'
    assert tuple(cfg.metainfo['classes']) == SYNTHETIC_METAINFO['classes']
    assert cfg.metainfo['palette'] == SYNTHETIC_METAINFO['palette']
    assert cfg.crop_size == (224, 224)
    for key in ('train_dataloader', 'val_dataloader'):
        ds = cfg[key]['dataset']
        assert ds['type'] == 'VOCClsDataset'
        assert tuple(
            ds['metainfo']['classes']) == SYNTHETIC_METAINFO['classes']
    assert cfg.train_dataloader.dataset.with_seg_map is False
    assert cfg.val_dataloader.dataset.ann_file.endswith('train.txt')
    assert cfg.test_dataloader == cfg.val_dataloader
    assert cfg.val_evaluator.type == 'IoUMetric'


def test_synthetic_config_builds_and_runs(synthetic_root):
    cfg = Config.fromfile(SYN_CFG)
    train = DATASETS.build(
        dataset_cfg(cfg, 'train_dataloader', synthetic_root))
    assert isinstance(train, VOCClsDataset)
    assert len(train) == 8
    assert train.metainfo['classes'] == SYNTHETIC_METAINFO['classes']
    np.random.seed(0)
    sample = train[0]
    assert sample['inputs'].shape == (3, 224, 224)
    assert sample['inputs'].dtype == torch.float32
    labels = sample['data_samples'].img_labels
    assert labels.shape == (5, ) and labels.dtype == torch.float32
    # Labels equal the classes named in the XML file.
    img_id = sample['data_samples'].img_id
    root = ET.parse(osp.join(synthetic_root, 'Annotations',
                             img_id + '.xml')).getroot()
    names = {o.find('name').text for o in root.findall('object')}
    expected = torch.tensor(
        [float(c in names) for c in SYNTHETIC_METAINFO['classes'][1:]])
    assert torch.equal(labels, expected)
    assert 'gt_sem_seg' not in sample['data_samples']

    # A batch goes through the data preprocessor.
    batch = pseudo_collate([train[0], train[1]])
    preprocessor = MODELS.build(
        dict(
            type='SegDataPreProcessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True,
            size=cfg.crop_size,
            pad_val=0,
            seg_pad_val=255))
    data = preprocessor(batch, training=True)
    assert data['inputs'].shape == (2, 3, 224, 224)

    val = DATASETS.build(dataset_cfg(cfg, 'val_dataloader', synthetic_root))
    sample = val[0]
    assert sample['inputs'].shape == (3, 128, 128)
    gt = sample['data_samples'].gt_sem_seg.data
    assert gt.shape == (1, 128, 128)
    present = set(gt.unique().tolist()) - {0, 255}
    labels = sample['data_samples'].img_labels
    assert {i + 1 for i in torch.nonzero(labels).flatten().tolist()} == \
        present


def test_child_config_overrides_class_list(tmp_path, voc_factory):
    child = tmp_path / 'child.py'
    child.write_text(
        f'_base_ = [{SYN_CFG!r}]\n'
        "metainfo = dict(classes=('background', 'disc'), "
        'palette=[[0, 0, 0], [9, 9, 9]])\n'
        'train_dataloader = dict(dataset=dict(metainfo=metainfo))\n')
    cfg = Config.fromfile(str(child))
    ds_cfg = cfg.train_dataloader.dataset
    assert ds_cfg.metainfo.classes == ('background', 'disc')
    assert ds_cfg.metainfo.palette == [[0, 0, 0], [9, 9, 9]]
    root = voc_factory({'d1': dict(objects=[('disc', 0)], mask_values=[1])},
                       size=(40, 50))
    ds = DATASETS.build(dataset_cfg(cfg, 'train_dataloader', root))
    assert ds.metainfo['classes'] == ('background', 'disc')
    assert torch.equal(ds[0]['data_samples'].img_labels, torch.tensor([1.]))


def test_voc_config_values_and_pipeline(voc_factory):
    cfg = Config.fromfile(VOC_CFG)
    assert cfg.data_root == 'data/VOCdevkit/VOC2012'
    assert cfg.crop_size == (448, 448)
    assert cfg.train_dataloader.batch_size == 8
    train_ds = cfg.train_dataloader.dataset
    assert train_ds.ann_file == 'ImageSets/Segmentation/train_aug.txt'
    assert train_ds.label_source == 'xml' and train_ds.with_seg_map is False
    val_ds = cfg.val_dataloader.dataset
    assert val_ds.ann_file == 'ImageSets/Segmentation/train.txt'
    assert val_ds.data_prefix.seg_map_path == 'SegmentationClass'
    assert [t['type'] for t in cfg.train_pipeline] == [
        'LoadImageFromFile', 'RandomResize', 'RandomFlip', 'ColorJitter',
        'RandomCropPad', 'PackSegClsInputs'
    ]
    assert [t['type'] for t in cfg.test_pipeline
            ] == ['LoadImageFromFile', 'LoadAnnotations', 'PackSegClsInputs']
    root = voc_factory(size=(45, 60))
    train = DATASETS.build(dataset_cfg(cfg, 'train_dataloader', root))
    assert len(train.metainfo['classes']) == 21
    np.random.seed(0)
    sample = train[1]
    assert sample['inputs'].shape == (3, 448, 448)
    assert torch.equal(sample['data_samples'].img_labels,
                       torch.from_numpy(train.get_data_info(1)['img_labels']))
    val = DATASETS.build(dataset_cfg(cfg, 'val_dataloader', root))
    assert val[0]['data_samples'].gt_sem_seg.data.shape == (1, 45, 60)
