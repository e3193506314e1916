# AffinityNet on the synthetic data set on TinyConvNet (the demo's backbone).
_base_ = ['./affinitynet_r18-d8_1xb8-4e_synthvoc-224x224.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='TinyConvNet',
        channels=(32, 32, 64, 64, 128, 128, 128, 128),
        strides=(2, 1, 2, 1, 2, 1, 1, 1),
        dilations=(1, 1, 1, 1, 1, 1, 2, 3),
        out_indices=(0, 1, 2, 3, 4, 5, 6, 7),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        # the classifier pretraining's weights: checkpoint=PATH
        init_cfg=dict(
            type='Pretrained', checkpoint=None, prefix='backbone.')),
    # the last plain and the last dilated block (output stride 8)
    in_channels=(128, 128),
    proj_channels=(64, 128),
    out_channels=192,
    in_index=(5, 7))
