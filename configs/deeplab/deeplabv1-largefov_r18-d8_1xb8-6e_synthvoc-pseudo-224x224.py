# Stage 2 for the synthetic CPU demo: DeepLab-v1 LargeFOV (as the official
# SEAM retrain) on the small ResNetV1c-18-d8, initialised from the synthetic
# pretraining run, trained on pseudo labels of the training images and
# validated on the held-out val images with their real masks.
# Set the pseudo-label folder (absolute path) and the backbone checkpoint:
#   train_dataloader.dataset.data_prefix.seg_map_path=$PWD/.../rw
#   model.backbone.init_cfg.checkpoint=.../pretrain/epoch_N.pth
_base_ = [
    '../_base_/datasets/synthetic_voc_cls.py',
    'mmseg::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmseam'], allow_failed_imports=False)
crop_size = (224, 224)
pseudo_label_dir = 'SegmentationClassPseudo'
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=crop_size),
    backbone=dict(
        type='ResNetV1c',
        depth=18,
        stem_channels=32,
        base_channels=32,
        num_stages=4,
        out_indices=(3, ),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        contract_dilation=True,
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/cam-pretrain_r18-d8_1xb8-12e_synthvoc-224x224/epoch_12.pth',
            prefix='backbone.')),
    decode_head=dict(
        type='LargeFOVHead',
        in_channels=256,
        in_index=0,
        channels=128,
        dilation=12,
        dropout_ratio=0.5,
        num_classes=6,
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
        scale=(224, 224),
        ratio_range=(0.75, 1.25),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    dataset=dict(
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path=pseudo_label_dir),
        # missing labels -> "run the pseudo-label inference"; every label
        # PNG is decoded and range-checked before training starts
        pseudo_labels=True,
        check_masks=True,
        ann_file='ImageSets/Segmentation/train.txt',
        with_seg_map=True,
        pipeline=train_pipeline))
# validation: held-out images with real masks
val_dataloader = dict(dataset=dict(ann_file='ImageSets/Segmentation/val.txt'))
test_dataloader = val_dataloader
optim_wrapper = dict(
    type='NonFiniteGuardOptimWrapper',  # NaN/Inf loss -> stop, name term
    action='raise',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(
        custom_keys={'decode_head': dict(lr_mult=10.0)},
        bias_lr_mult=2.0,
        bias_decay_mult=0.0))
max_epochs = 6
param_scheduler = [
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True)
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        # every epoch, two kept: a killed run resumes from the last epoch
        type='CheckpointHook', by_epoch=True, interval=1,
        max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
randomness = dict(seed=0)
