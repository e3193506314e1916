# Stage 2 on the synthetic data set on TinyConvNet (the demo's backbone).
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
        # the classifier pretraining's weights: checkpoint=PATH
        init_cfg=dict(
            type='Pretrained', checkpoint=None, prefix='backbone.')),
    decode_head=dict(in_channels=128))
