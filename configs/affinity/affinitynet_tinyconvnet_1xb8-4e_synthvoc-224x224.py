# AffinityNet for the synthetic CPU demo on TinyConvNet (the SEAM demo's
# eight-block backbone, started from the synthetic pretraining run).
# Everything else is the ResNetV1c-18 synthetic config: data, CRF-score
# labels, schedule.
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
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/demo/pretrain/epoch_15.pth',
            prefix='backbone.')),
    # two OS-8 blocks, the last plain one and the last dilated one (the
    # affinity taps must share one size)
    in_channels=(128, 128),
    proj_channels=(64, 128),
    out_channels=192,
    in_index=(5, 7))
