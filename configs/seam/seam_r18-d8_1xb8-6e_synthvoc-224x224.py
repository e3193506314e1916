# SEAM on the synthetic data set with the official schedule (SGD poly, frozen
# BatchNorm) on a narrow ResNetV1c-18-d8, 6 epochs.
_base_ = [
    '../_base_/models/seam_r18-d8.py',
    '../_base_/datasets/synthetic_voc_cls.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/seam_sgd-poly_8e.py',
]
norm_cfg = dict(type='BN', requires_grad=False)
model = dict(
    backbone=dict(
        norm_cfg=norm_cfg,
        norm_eval=True,
        # the classifier pretraining's weights: checkpoint=PATH
        init_cfg=dict(
            type='Pretrained', checkpoint=None, prefix='backbone.')),
    test_cfg=dict(
        cam_source='pcm', scales=(0.5, 1.0, 1.5), flip=True,
        bg_threshold=0.26))
max_epochs = 6
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
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=1, max_keep_ckpts=2))
randomness = dict(seed=0)
