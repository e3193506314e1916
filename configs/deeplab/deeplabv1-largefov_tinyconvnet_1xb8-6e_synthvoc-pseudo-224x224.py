# Stage 2 of the synthetic CPU demo: DeepLab-v1 LargeFOV on TinyConvNet (the
# demo's eight-block backbone, started from the synthetic pretraining run),
# trained on pseudo labels. Everything else is the ResNetV1c-18 synthetic
# config.
_base_ = ['./deeplabv1-largefov_r18-d8_1xb8-6e_synthvoc-pseudo-224x224.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='TinyConvNet',
        channels=(32, 32, 64, 64, 128, 128, 128, 128),
        strides=(2, 1, 2, 1, 2, 1, 1, 1),
        dilations=(1, 1, 1, 1, 1, 1, 2, 3),
        out_indices=(7, ),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/demo/pretrain/epoch_15.pth',
            prefix='backbone.')),
    decode_head=dict(in_channels=128))
