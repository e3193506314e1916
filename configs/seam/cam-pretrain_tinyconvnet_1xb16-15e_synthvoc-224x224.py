# Stand-in for ImageNet pretraining on the synthetic data set: a plain CAM
# classifier on the eight-block TinyConvNet trained from scratch
# (classification loss only, global max pooling of the CAM, Adam). Its
# backbone initialises the SEAM, CAM-baseline, AffinityNet and stage-2 runs,
# the way the official recipe starts from ImageNet ResNet38. Max pooling is
# used here only: the class marks cover ~1 % of an image and GAP learns them
# far more slowly from scratch. In 15 epochs it learns some of the classes
# (image-label AP logged by tools/run_pipeline.py); the CAM baseline and
# SEAM learn the rest in their own schedule (README, "Known gaps").
_base_ = [
    '../_base_/models/seam_tinyconvnet.py',
    '../_base_/datasets/synthetic_voc_cls.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/seam_sgd-poly_8e.py',
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
    optimizer=dict(_delete_=True, type='Adam', lr=1e-3),
    paramwise_cfg=dict(_delete_=True))
max_epochs = 15
# constant learning rate (a no-op scheduler, so that `param_scheduler.0.end`
# overrides keep working as with the other configs)
param_scheduler = [
    dict(
        type='ConstantLR',
        factor=1.0,
        by_epoch=True,
        begin=0,
        end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(logger=dict(interval=10))
randomness = dict(seed=0)
