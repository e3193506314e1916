# SEAM on the synthetic data set (CPU demo), following the official recipe
# (spec 1.3) on a small ResNetV1c-18-d8: PCM, min-pool, ER and ECR with all
# weights 1, frozen BatchNorm, SGD poly with the backbone at 1x and the new
# layers (classifier, PCM neck) at 10x.
#
# The backbone starts from the synthetic pretraining run
# (cls_r18-d8_1xb8-6e_synthvoc-224x224.py), the stand-in for the official
# ImageNet weights. Train the pretraining config first, then e.g.
#   python tools/train.py configs/seam/seam_r18-d8_1xb8-6e_synthvoc-224x224.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=PRETRAIN.pth
# (`pretrained_ckpt` below is a plain config variable: overriding it alone
# does not reach the already-built model dict, override the key above.)
_base_ = [
    '../_base_/models/seam_r18-d8.py',
    '../_base_/datasets/synthetic_voc_cls.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/seam_sgd-poly_8e.py',
]
pretrained_ckpt = 'work_dirs/cam-pretrain_r18-d8_1xb8-12e_synthvoc-224x224/epoch_12.pth'
norm_cfg = dict(type='BN', requires_grad=False)
model = dict(
    backbone=dict(
        norm_cfg=norm_cfg,
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained_ckpt,
            prefix='backbone.')),
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
    logger=dict(interval=10),
    # a checkpoint every epoch, two kept: a killed run resumes (--resume)
    # from the last epoch (mmengine deletes the oldest before writing)
    checkpoint=dict(interval=1, max_keep_ckpts=2))
randomness = dict(seed=0)
