# SEAM on TinyConvNet (8 plain conv-BN-ReLU blocks, 32/32/64/64/128/128/128/
# 128 channels, output stride 8, the last two dilated 2 and 3), the stand-in
# backbone for CPU runs on the synthetic data set: it learns the class marks
# from scratch within a few hundred iterations, where ResNetV1c-18-d8 stays
# at chance (README, "Known gaps"), and its receptive field (123 px)
# covers the objects (~100-140 px), as ResNet38's covers VOC objects (six
# blocks: 43 px, README "Known gaps").
# The PCM reads blocks 1 and 3 (OS 2 and 4, resampled to the CAM's OS 8) plus
# the image, so its affinity sees colour and texture.
custom_imports = dict(imports=['mmseam'], allow_failed_imports=False)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(224, 224))  # training crop; no padding happens at that size
model = dict(
    type='SEAM',
    data_preprocessor=data_preprocessor,
    num_classes=6,  # = len(metainfo['classes']) of the synthetic data set
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
