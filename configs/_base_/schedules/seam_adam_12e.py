# SEAM schedule for CPU runs on the synthetic data set: Adam lr 6e-4,
# constant, 12 epochs; new layers (classifier, PCM neck) at 10x.
# a NaN/Inf loss or gradient stops training (action='skip': drop the update)
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
# a no-op scheduler, so that `param_scheduler.0.end` can be overridden
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
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # a checkpoint every epoch, two kept: --resume continues a killed run
    checkpoint=dict(
        type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2,
        save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
randomness = dict(seed=0)
