# AffinityNet (PSA) for SEAM's random walk, official recipe: ResNet38d from
# ImageNet, VOC train_aug, batch 8, 8 epochs, crop 448, targets from the la /
# ha CRF score maps of the SEAM CAMs (usage: configs/affinity/README.md).
_base_ = ['mmseg::_base_/default_runtime.py']
custom_imports = dict(imports=['mmseam'], allow_failed_imports=False)

crf_root = 'work_dirs/seam_resnet38d_1xb8-8e_voc12aug-448x448/crf'
la_dir = crf_root + '/crf_4'  # low alpha: confident foreground
ha_dir = crf_root + '/crf_24'  # high alpha: confident background
dataset_type = 'VOCClsDataset'
data_root = 'data/VOCdevkit/VOC2012'
crop_size = (448, 448)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCRFScores', la_dir=la_dir, ha_dir=ha_dir),
    dict(
        type='ColorJitter',
        brightness=0.3,
        contrast=0.3,
        saturation=0.3,
        hue=0.1),
    # image padded with 0 (black), scores with 0 (ignored cells)
    dict(type='AffinityRandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    # block-average the scores over 8x8 cells, then argmax (56 x 56 labels)
    dict(type='AffinityLabelFromCRF', stride=8),
    dict(type='ExtractAffinityLabels', radius=5),
    dict(type='PackAffinityInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=8,
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
# images of the random walk (tools/infer_random_walk.py sets the pipeline)
rw_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/train.txt',
        label_source='xml',
        with_seg_map=False,
        pipeline=[]))
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None

data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size=crop_size,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='AffinityNet',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNet38d',
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,  # conv1a and stage b2 frozen
        norm_eval=True,  # all BatchNorm frozen
        init_cfg=dict(
            type='Pretrained',
            # converted by tools/model_converters/seam_official_to_mmseam.py
            checkpoint='pretrained/resnet38d_ilsvrc_mmseam.pth',
            prefix='backbone.')),
    # 1x1 projections of stages 3-5 (`proj`), fused by `fuse`
    in_channels=(512, 1024, 4096),
    proj_channels=(64, 128, 256),
    out_channels=448,
    in_index=(1, 2, 3),
    radius=5,
    loss_aff=dict(
        type='AffinityLoss', bg_weight=0.25, fg_weight=0.25, neg_weight=0.5))

# momentum=5e-4 is the official recipe's; 0.9 for textbook SGD. A NaN/Inf
# loss or gradient stops training.
optim_wrapper = dict(
    type='NonFiniteGuardOptimWrapper',
    action='raise',
    optimizer=dict(type='SGD', lr=0.01, momentum=5e-4, weight_decay=5e-4),
    paramwise_cfg=dict(
        custom_keys={
            'proj.': dict(lr_mult=10.0),
            'fuse.': dict(lr_mult=10.0),
        },
        bias_lr_mult=2.0,
        bias_decay_mult=0.0,
        norm_decay_mult=0.0))
max_epochs = 8
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
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=True,
        interval=1,
        max_keep_ckpts=2,
        save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'))
auto_scale_lr = dict(enable=False, base_batch_size=8)
