# Stage 2 as the official SEAM retrain: DeepLab-v1 LargeFOV on ResNet38d,
# pseudo labels of VOC train_aug, 2 GPUs x 5 images, 20k iterations, crop 448.
# `--tta`: scales 0.5-1.75 x flip, logits averaged, one-iteration dense CRF.
_base_ = [
    '../_base_/models/deeplabv1-largefov_resnet38d.py',
    'mmseg::_base_/datasets/pascal_voc12_aug.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/deeplabv1_sgd-poly_20k.py',
]
crop_size = (448, 448)
data_root = 'data/VOCdevkit/VOC2012'
pseudo_label_dir = 'SegmentationClassPseudo'  # relative to data_root or abs
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
        # missing or out-of-range label PNGs are reported before training
        pseudo_labels=True,
        check_masks=True,
        ann_file='ImageSets/Segmentation/train_aug.txt',
        with_seg_map=True,
        pipeline=train_pipeline))
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
