# DeepLab-v1 LargeFOV (dilated 3x3 conv, two 1x1 convs) on ResNet38d from
# ImageNet weights, trainable BatchNorm: SEAM's stage-2 network.
custom_imports = dict(imports=['mmseam'], allow_failed_imports=False)
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(448, 448))
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNet38d',
        out_indices=(3, ),
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
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
