# PASCAL VOC 2012 + SBD with image-level labels: train on train_aug (labels
# from the XML files), validate CAMs on train (1,464 images, fine masks).
dataset_type = 'VOCClsDataset'
data_root = 'data/VOCdevkit/VOC2012'
crop_size = (448, 448)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    # long side uniform in {448, ..., 768}, aspect kept
    dict(
        type='RandomResize',
        scale=(768, 768),
        ratio_range=(448 / 768, 769 / 768),
        keep_ratio=True,
        interpolation='bicubic',
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='ColorJitter',
        brightness=0.3,
        contrast=0.3,
        saturation=0.3,
        hue=0.1),
    # smaller sides padded with the mean (0 after normalisation)
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
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
        ann_file='ImageSets/Segmentation/train_aug.txt',
        label_source='xml',
        with_seg_map=False,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/train.txt',
        label_source='xml',
        with_seg_map=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
