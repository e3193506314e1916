# SEAM on your own data (docs/custom_dataset.md): the data set block is
# ./custom_dataset.py, the model TinyConvNet (CPU-sized, from
# ../_base_/models/seam_tinyconvnet.py). Train the classifier pretraining
# (./cam-pretrain_tinyconvnet_1xb8-15e_custom-224x224.py) first; its
# backbone initialises this run:
#   python tools/train.py \
#       configs/custom/cam-pretrain_tinyconvnet_1xb8-15e_custom-224x224.py
#   python tools/train.py \
#       configs/custom/seam_tinyconvnet_1xb8-12e_custom-224x224.py
_base_ = [
    '../_base_/models/seam_tinyconvnet.py',
    './custom_dataset.py',
    'mmseg::_base_/default_runtime.py',
]
crop_size = {{_base_.crop_size}}
model = dict(
    num_classes={{_base_.num_classes}},
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/'
            'cam-pretrain_tinyconvnet_1xb8-15e_custom-224x224/epoch_15.pth',
            prefix='backbone.')),
    # bg_threshold: the background score of the pseudo labels; replace it
    # by the best threshold of the validation (CAMSweepMetric) or of
    # tools/eval_pseudo_labels.py. Without masks it is used as it is.
    test_cfg=dict(
        cam_source='pcm', scales=(0.5, 1.0, 1.5), flip=True,
        bg_threshold=0.25))
optim_wrapper = dict(
    type='NonFiniteGuardOptimWrapper',
    action='raise',
    optimizer=dict(type='Adam', lr=6e-4),
    paramwise_cfg=dict(
        custom_keys={
            'classifier': dict(lr_mult=10.0),
            'neck': dict(lr_mult=10.0),
        }))
max_epochs = 12
param_scheduler = [
    dict(
        type='ConstantLR',
        factor=1.0,
        by_epoch=True,
        begin=0,
        end=max_epochs)
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=True),
    # a checkpoint every epoch, two kept: --resume continues a killed run
    checkpoint=dict(
        type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2,
        save_last=True))
randomness = dict(seed=0)
