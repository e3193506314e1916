# SEAM on ResNet38d (wide ResNet-38, output stride 8) from ImageNet weights.
custom_imports = dict(imports=['mmseam'], allow_failed_imports=False)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(448, 448))  # the training crop
model = dict(
    type='SEAM',
    data_preprocessor=data_preprocessor,
    num_classes=21,  # background + 20 VOC classes
    in_channels=4096,
    in_index=-1,
    dropout_ratio=0.5,
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
    neck=dict(
        type='PixelCorrelationModule',
        in_channels=(512, 1024),
        proj_channels=(64, 128),
        out_channels=192,
        in_index=(1, 2)),
    equivariant_transform=dict(type='RescaleTransform', scale_factor=0.3),
    loss_cls=dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0),
    loss_minpool=dict(type='MinPoolLoss', ratio=0.25, loss_weight=1.0),
    loss_er=dict(type='EquivariantRegLoss', loss_weight=1.0),
    loss_ecr=dict(
        type='EquivariantCrossRegLoss', topk_ratio=0.2, loss_weight=1.0),
    test_cfg=dict(
        cam_source='pcm', scales=(1.0, ), flip=False, bg_threshold=0.26))
