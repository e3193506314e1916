# Stage-2 schedule for CPU runs on the synthetic data set: SGD lr 0.01,
# momentum 0.9, weight decay 5e-4, decode head at 10x, poly 0.9, 6 epochs.
optim_wrapper = dict(
    type='NonFiniteGuardOptimWrapper',  # a NaN/Inf loss stops training
    action='raise',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(
        custom_keys={'decode_head': dict(lr_mult=10.0)},
        bias_lr_mult=2.0,
        bias_decay_mult=0.0))
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
        type='CheckpointHook', by_epoch=True, interval=1,
        max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
randomness = dict(seed=0)
