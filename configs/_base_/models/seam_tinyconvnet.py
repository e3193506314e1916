# SEAM on TinyConvNet (eight conv-BN-ReLU blocks, output stride 8, receptive
# field 123 px) for CPU runs on the synthetic data set. The PCM reads blocks
# 1 and 3 and the image.
custom_imports = dict(imports=['mmseam'], allow_failed_imports=False)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(224, 224))  # the training crop
model = dict(
    type='SEAM',
    data_preprocessor=data_preprocessor,
    num_classes=6,  # background + 5 synthetic classes
    in_channels=128,
    dropout_ratio=0.0,
    backbone=dict(
        type='TinyConvNet',
        channels=(32, 32, 64, 64, 128, 128, 128, 128),
        strides=(2, 1, 2, 1, 2, 1, 1, 1),
        dilations=(1, 1, 1, 1, 1, 1, 2, 3),
        out_indices=(0, 1, 2, 3, 4, 5, 6, 7),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False),
    neck=dict(
        type='PixelCorrelationModule',
        in_channels=(32, 64),
        proj_channels=(32, 64),
        out_channels=96,
        in_index=(1, 3)),
    # view 2 at 134 px of a 224 px crop, as x0.3 of a 448 px crop
    equivariant_transform=dict(type='RescaleTransform', scale_factor=0.6),
    loss_cls=dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0),
    loss_minpool=dict(type='MinPoolLoss', ratio=0.25, loss_weight=1.0),
    loss_er=dict(type='EquivariantRegLoss', loss_weight=1.0),
    loss_ecr=dict(
        type='EquivariantCrossRegLoss',
        topk_ratio=0.2,
        loss_weight=1.0),
    test_cfg=dict(
        cam_source='pcm', scales=(1.0, ), flip=False, bg_threshold=0.26))
