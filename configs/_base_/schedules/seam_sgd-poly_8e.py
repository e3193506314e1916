# SEAM schedule on VOC: SGD lr 0.01, poly 0.9 per iteration, 8 epochs; new
# layers (classifier, PCM neck) at 10x. momentum=5e-4 is the official
# recipe's; set optim_wrapper.optimizer.momentum=0.9 for textbook SGD.
optimizer = dict(
    type='SGD', lr=0.01, momentum=5e-4, weight_decay=5e-4, fused=True)
# a NaN/Inf loss or gradient stops training (action='skip': drop the update)
optim_wrapper = dict(
    type='NonFiniteGuardOptimWrapper',
    action='raise',
    optimizer=optimizer,
    paramwise_cfg=dict(
        custom_keys={
            'classifier': dict(lr_mult=10.0),
            'neck': dict(lr_mult=10.0),
        },
        bias_lr_mult=2.0,
        bias_decay_mult=0.0,
        norm_decay_mult=0.0))
max_epochs = 8
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
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2,
        save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
