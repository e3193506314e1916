# Synthetic VOC-layout set (tools/dataset_converters/make_synthetic_voc.py
# --out data/synthetic_voc), image-level labels, 224 px crops. Trains on
# train_aug, validates CAMs on train (fine masks); val.txt is held out.
dataset_type = 'VOCClsDataset'
data_root = 'data/synthetic_voc'
metainfo = dict(
    classes=('background', 'plus', 'ring', 'triangle', 'bars', 'hourglass'),
    palette=[[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128],
             [128, 0, 128]])
crop_size = (224, 224)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    # long side uniform in {192, ..., 256}
    dict(
        type='RandomResize',
        scale=(256, 256),
        ratio_range=(192 / 256, 257 / 256),
        keep_ratio=True,
        interpolation='bicubic',
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    # no colour jitter: the classes differ by colour
    dict(
        type='RandomCropPad',
        crop_size=crop_size,
        pad_val=(103.53, 116.28, 123.675),
        seg_pad_val=255),
    dict(type='PackSegClsInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegClsInputs')
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
        ann_file='ImageSets/Segmentation/train_aug.txt',
        label_source='xml',
        with_seg_map=False,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/train.txt',
        label_source='xml',
        with_seg_map=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
