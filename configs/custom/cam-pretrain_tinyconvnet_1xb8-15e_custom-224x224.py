# Classifier pretraining on your own data (the stand-in for ImageNet weights
# of a small backbone): a CAM classifier from scratch, global max pooling,
# Adam lr 1e-3, 15 epochs. Same data block as the SEAM config; its backbone
# initialises the SEAM and CAM-baseline runs.
_base_ = ['./seam_tinyconvnet_1xb8-12e_custom-224x224.py']
model = dict(
    cls_pool='max',
    neck=None,
    equivariant_transform=None,
    loss_minpool=None,
    loss_er=None,
    loss_ecr=None,
    backbone=dict(init_cfg=None),
    test_cfg=dict(cam_source='cam'))
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
