# Stage 2 on the synthetic data set on TinyConvNet (the demo's backbone):
# Adam 6e-4 with poly decay, 12 epochs (docs/pipeline.md, "Stage 2").
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
        # the backbone of SEAM (or of the pretraining): checkpoint=PATH
        init_cfg=dict(
            type='Pretrained', checkpoint=None, prefix='backbone.')),
    decode_head=dict(in_channels=128))
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='Adam', lr=6e-4),
    paramwise_cfg=dict(_delete_=True))
max_epochs = 12
param_scheduler = [
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
