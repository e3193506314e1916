# Classifier pretraining on the synthetic data set, the stand-in for ImageNet
# weights: a CAM classifier from scratch with trainable BatchNorm, SGD.
_base_ = [
    '../_base_/models/seam_r18-d8.py',
    '../_base_/datasets/synthetic_voc_cls.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/seam_sgd-poly_8e.py',
]
model = dict(
    backbone=dict(norm_eval=False),
    neck=None,
    equivariant_transform=None,
    loss_minpool=None,
    loss_er=None,
    loss_ecr=None,
    test_cfg=dict(cam_source='cam'))
max_epochs = 12
optimizer = dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4)
optim_wrapper = dict(optimizer=optimizer, paramwise_cfg=dict(custom_keys={}))
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
default_hooks = dict(logger=dict(interval=10))
randomness = dict(seed=0)
