# Stage 2 on the synthetic data set: DeepLab-v1 LargeFOV on a narrow
# ResNetV1c-18-d8, trained on pseudo labels of the training images,
# validated on the held-out images. Set the pseudo-label folder (absolute)
# with train_dataloader.dataset.data_prefix.seg_map_path=DIR.
# `--tta`: the official stage-2 test (logits averaged over the views, a
# one-iteration dense CRF) with flips at the training scale (docs/pipeline.md,
# "Stage 2").
_base_ = [
    '../_base_/models/deeplabv1-largefov_resnet38d.py',
    '../_base_/datasets/synthetic_voc_cls.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/deeplabv1_sgd-poly_6e.py',
]
crop_size = (224, 224)
pseudo_label_dir = 'SegmentationClassPseudo'
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        _delete_=True,
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
        # the classifier pretraining's weights: checkpoint=PATH
        init_cfg=dict(
            type='Pretrained', checkpoint=None, prefix='backbone.')),
    decode_head=dict(
        in_channels=256, channels=128, num_classes=6, norm_cfg=norm_cfg))
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
        # missing or out-of-range label PNGs are reported before training
        pseudo_labels=True,
        check_masks=True,
        ann_file='ImageSets/Segmentation/train.txt',
        with_seg_map=True,
        pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(ann_file='ImageSets/Segmentation/val.txt'))
test_dataloader = val_dataloader
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[[
            dict(type='RandomFlip', prob=0., direction='horizontal'),
            dict(type='RandomFlip', prob=1., direction='horizontal')
        ], [dict(type='LoadAnnotations')], [dict(type='PackSegInputs')]])
]
tta_model = dict(type='CRFSegTTAModel', merge='logits', crf='stage2_test')
