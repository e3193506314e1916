# Synthetic WSSS set in VOC layout (mmseam.datasets.synthetic), sized for
# CPU runs. Generate it first:
#   python tools/dataset_converters/make_synthetic_voc.py \
#       --out data/synthetic_voc
# Train on train_aug (labels from the XML files), validate CAMs on the
# training images (train.txt, fine masks), like the official VOC protocol;
# val.txt holds unseen images (e.g. for stage 2).
# Needs mmseam imported (custom_imports in the model/runtime config).
dataset_type = 'VOCClsDataset'
data_root = 'data/synthetic_voc'
# Class list of the generator (SYNTHETIC_METAINFO, also in metainfo.json).
metainfo = dict(
    classes=('background', 'plus', 'ring', 'triangle', 'bars', 'hourglass'),
    palette=[[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128],
             [128, 0, 128]])
crop_size = (224, 224)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    # Long side uniform in {192, ..., 256} for 224 px images.
    dict(
        type='RandomResize',
        scale=(256, 256),
        ratio_range=(192 / 256, 257 / 256),
        keep_ratio=True,
        interpolation='bicubic',
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    # no colour jitter (the official recipe has ColorJitter(0.3, 0.3, 0.3,
    # 0.1)): the class marks differ by colour, and with brightness /
    # contrast / saturation 0.3 SEAM's PCM spread over the background and
    # lost 9-11 mIoU points (README "Known gaps", session 7)
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
