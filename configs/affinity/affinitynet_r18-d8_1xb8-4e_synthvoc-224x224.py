# AffinityNet on the synthetic data set on a narrow ResNetV1c-18-d8, 4 epochs
# (CRF folders: train_dataloader.dataset.pipeline.1.la_dir / ha_dir).
_base_ = ['./affinitynet_resnet38d_1xb8-8e_voc12aug-448x448.py']
data_root = 'data/synthetic_voc'
metainfo = dict(
    classes=('background', 'plus', 'ring', 'triangle', 'bars', 'hourglass'),
    palette=[[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128],
             [128, 0, 128]])
crop_size = (224, 224)
crf_root = 'work_dirs/demo/seam_cams/crf'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='LoadCRFScores',
        la_dir=crf_root + '/crf_4',
        ha_dir=crf_root + '/crf_24'),
    dict(
        type='ColorJitter',
        brightness=0.3,
        contrast=0.3,
        saturation=0.3,
        hue=0.1),
    dict(type='AffinityRandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='AffinityLabelFromCRF', stride=8),
    dict(type='ExtractAffinityLabels', radius=5),
    dict(type='PackAffinityInputs'),
]
train_dataloader = dict(
    num_workers=2,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='ImageSets/Segmentation/train.txt',
        pipeline=train_pipeline))
rw_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='ImageSets/Segmentation/train.txt'))
norm_cfg = dict(type='BN', requires_grad=False)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='ResNetV1c',
        depth=18,
        stem_channels=32,
        base_channels=32,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        contract_dilation=True,
        norm_cfg=norm_cfg,
        norm_eval=True,
        # the classifier pretraining's weights: checkpoint=PATH
        init_cfg=dict(
            type='Pretrained', checkpoint=None, prefix='backbone.')),
    in_channels=(64, 128, 256),
    proj_channels=(32, 64, 128),
    out_channels=224)
max_epochs = 4
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
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(interval=10),
    # a checkpoint every epoch, two kept: --resume continues a killed run
    checkpoint=dict(interval=1, max_keep_ckpts=2))
randomness = dict(seed=0)
