# SEAM on the synthetic data set (CPU demo, `make demo`): the official loss
# recipe (spec 1.3: PCM, min-pool, ER and ECR, new layers at 10x the
# backbone's learning rate) on the eight-block TinyConvNet, started from the
# synthetic pretraining run (cam-pretrain_tinyconvnet_1xb16-15e_synthvoc-224x224.py), the
# stand-in for ImageNet weights. Departures from the ResNet38 recipe, all
# measured on this data (README, "Known gaps"):
# - Adam (lr 6e-4, constant) instead of SGD-poly and trainable BatchNorm, to
#   train a small network in minutes on 2 CPU cores;
# - ER weight 0.25: the official per-class strength (the official ER is a
#   mean over VOC's 20 foreground channels, ours over 5, so each present
#   class weighs 4x less there), as topk_channels=21 keeps the ECR's;
# - no colour jitter in the training pipeline (dataset base config): the
#   class marks differ by colour, and the jittered PCM spread over the
#   background.
# Two settings keep the official geometry on 224 px crops (base model
# config): rescale x0.6 (view 2 at 134 px, as x0.3 of 448) and the ECR's
# top-k counted over 21 channels, as the official code does.
# Train the pretraining config first, then e.g.
#   python tools/train.py \
#       configs/seam/seam_tinyconvnet_1xb8-12e_synthvoc-224x224.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=PRETRAIN.pth
_base_ = [
    '../_base_/models/seam_tinyconvnet.py',
    '../_base_/datasets/synthetic_voc_cls.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/seam_sgd-poly_8e.py',
]
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/demo/pretrain/epoch_15.pth',
            prefix='backbone.')),
    loss_er=dict(loss_weight=0.25),
    test_cfg=dict(
        cam_source='pcm', scales=(0.5, 1.0, 1.5), flip=True,
        bg_threshold=0.25))  # the best on the demo data (README)
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='Adam', lr=6e-4),
    paramwise_cfg=dict(
        _delete_=True,
        custom_keys={
            'classifier': dict(lr_mult=10.0),
            'neck': dict(lr_mult=10.0),
        }))
max_epochs = 12
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
default_hooks = dict(
    logger=dict(interval=10),
    # a checkpoint every epoch, two kept: a killed run resumes (--resume)
    # from the last epoch (mmengine deletes the oldest before writing)
    checkpoint=dict(interval=1, max_keep_ckpts=2))
randomness = dict(seed=0)
