# SEAM recipe on MMSegmentation's ResNetV1c-50-d8 from ImageNet weights.
_base_ = ['./seam_resnet38d_1xb8-8e_voc12aug-448x448.py']
norm_cfg = dict(type='BN', requires_grad=False)
model = dict(
    in_channels=2048,
    backbone=dict(
        _delete_=True,
        type='ResNetV1c',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        frozen_stages=1,
        norm_cfg=norm_cfg,
        norm_eval=True,
        contract_dilation=True,
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://resnet50_v1c')),
    neck=dict(in_channels=(512, 1024)))
