# Stage 2 as the official SEAM retrain (spec 1.7, SSC seamv1-pseudovoc):
# DeepLab-v1 LargeFOV on ResNet38d (ImageNet init, trainable BatchNorm),
# 2 GPUs x 5 images, 20k iterations, SGD momentum 0.9, lr 1e-3, wd 5e-4,
# new layers 10x, poly 0.9, crop 448, random scale 0.5-1.5, flip, colour
# jitter. Test: scales 0.5-1.75 x flip, logits averaged then softmax, and the
# official 1-iteration dense CRF (bilateral sxy 32) with `--tta`.
# Train labels: pseudo labels of train_aug (set data_prefix.seg_map_path).
_base_ = [
    'mmseg::_base_/datasets/pascal_voc12_aug.py',
    'mmseg::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmseam'], allow_failed_imports=False)
crop_size = (448, 448)
data_root = 'data/VOCdevkit/VOC2012'
pseudo_label_dir = 'SegmentationClassPseudo'  # relative to data_root or abs
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=crop_size)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNet38d',
        out_indices=(3, ),
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,  # official stage 2 trains BatchNorm
        init_cfg=dict(
            type='Pretrained',
            checkpoint='pretrained/resnet38d_ilsvrc_mmseam.pth',
            prefix='backbone.')),
    decode_head=dict(
        type='LargeFOVHead',
        in_channels=4096,
        in_index=0,
        channels=512,
        dilation=12,
        dropout_ratio=0.5,
        num_classes=21,
        norm_cfg=norm_cfg,
        align_corners=True,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(512, 512),
        ratio_range=(0.5, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=5,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        _delete_=True,
        type='VOCClsDataset',
        data_root=data_root,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path=pseudo_label_dir),
        # missing labels -> "run the pseudo-label inference"; every label
        # PNG is decoded and range-checked before training starts
        pseudo_labels=True,
        check_masks=True,
        ann_file='ImageSets/Segmentation/train_aug.txt',
        with_seg_map=True,
        pipeline=train_pipeline))
optim_wrapper = dict(
    type='NonFiniteGuardOptimWrapper',  # NaN/Inf loss -> stop, name term
    action='raise',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(
        custom_keys={'decode_head': dict(lr_mult=10.0)},
        bias_lr_mult=2.0,
        bias_decay_mult=0.0))
param_scheduler = [
    dict(
        type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=20000,
        by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=20000,
                 val_interval=2000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=2000,
        max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
# official test: 6 scales x flip, logits averaged, 1-iteration CRF
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[[
            dict(type='Resize', scale_factor=r, keep_ratio=True)
            for r in img_ratios
        ], [
            dict(type='RandomFlip', prob=0., direction='horizontal'),
            dict(type='RandomFlip', prob=1., direction='horizontal')
        ], [dict(type='LoadAnnotations')], [dict(type='PackSegInputs')]])
]
tta_model = dict(
    type='CRFSegTTAModel',
    merge='logits',
    crf=dict(t=1, gauss_sxy=3, gauss_compat=3, bi_sxy=32, bi_srgb=13,
             bi_compat=10))
