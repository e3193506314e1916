# SEAM on a small MMSegmentation ResNetV1c-18-d8 (OS 8), sized for CPU runs
# on the synthetic data set. Taps: 32/64/128/256 channels at OS 4/8/8/8.
custom_imports = dict(imports=['mmseam'], allow_failed_imports=False)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(224, 224))  # training crop; no padding happens at that size
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='SEAM',
    data_preprocessor=data_preprocessor,
    num_classes=6,  # = len(metainfo['classes']) of the synthetic data set
    in_channels=256,
    dropout_ratio=0.5,
    backbone=dict(
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
        norm_eval=True),
    neck=dict(
        type='PixelCorrelationModule',
        in_channels=(64, 128),
        proj_channels=(32, 64),
        out_channels=96,
        in_index=(1, 2)),
    # view 2 at 0.6 x 224 = 134 px (a 17 x 17 CAM at OS 8): the size the
    # official x0.3 gives its 448 px crops; x0.3 of 224 px leaves a 9 x 9 CAM
    # (README, "Known gaps")
    equivariant_transform=dict(type='RescaleTransform', scale_factor=0.6),
    loss_cls=dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0),
    loss_minpool=dict(type='MinPoolLoss', ratio=0.25, loss_weight=1.0),
    loss_er=dict(type='EquivariantRegLoss', loss_weight=1.0),
    # k of the top-k OHEM as in the official code, int(21 * h * w * 0.2),
    # whatever the number of classes: with 6 channels the per-channel
    # default would keep only the hardest entries of the present classes,
    # far stronger mining than the official loss ever does on VOC (README,
    # "Known gaps")
    loss_ecr=dict(
        type='EquivariantCrossRegLoss',
        topk_ratio=0.2,
        topk_channels=21,
        loss_weight=1.0),
    test_cfg=dict(
        cam_source='pcm', scales=(1.0, ), flip=False, bg_threshold=0.26))
