# Classifier pretraining on the synthetic data set, the stand-in for ImageNet
# weights: a CAM classifier from scratch with global max pooling, Adam
# lr 1e-3, 15 epochs. Its backbone initialises the later steps.
_base_ = [
    '../_base_/models/seam_tinyconvnet.py',
    '../_base_/datasets/synthetic_voc_cls.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/seam_adam_12e.py',
]
model = dict(
    cls_pool='max',
    neck=None,
    equivariant_transform=None,
    loss_minpool=None,
    loss_er=None,
    loss_ecr=None,
    test_cfg=dict(cam_source='cam'))
train_dataloader = dict(batch_size=16)
optim_wrapper = dict(
    optimizer=dict(lr=1e-3), paramwise_cfg=dict(_delete_=True))
max_epochs = 15
param_scheduler = [
    dict(
        type='ConstantLR',
        factor=1.0,
        by_epoch=True,
        begin=0,
        end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
