# Stand-in for ImageNet pretraining of the synthetic SEAM demo: a multi-label
# classifier (classification loss only, trainable BatchNorm) trained from
# scratch on the separate pretraining corpus of 96 px crops
# (mmseam.datasets.synthetic.make_synthetic_pretrain; scenes with seeds
# disjoint from the train/val sets). Its labels are the glyphs in view (five
# class marks, two decoys) and the hue bin and texture of the bodies in view,
# so the backbone learns the marks *and* what bodies look like against the
# clutter, as ImageNet features know objects beyond the target classes. Its
# backbone initialises the CAM baseline, SEAM and AffinityNet runs.
#   python -c "from mmseam.datasets.synthetic import make_synthetic_pretrain;\
#       make_synthetic_pretrain('data/synthetic_pretrain')"
_base_ = [
    '../_base_/models/seam_r18-d8.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/seam_sgd-poly_8e.py',
]
data_root = 'data/synthetic_pretrain'
# = PRETRAIN_CLASSES of mmseam.datasets.synthetic (also in metainfo.json)
classes = ('background', 'plus', 'ring', 'triangle', 'bars', 'hourglass',
           'dot', 'square', 'hue0', 'hue1', 'hue2', 'hue3', 'hue4', 'hue5',
           'hue6', 'hue7', 'plain', 'stripes', 'spots')
metainfo = dict(classes=classes, palette=[[0, 0, 0]] * len(classes))
crop_size = (96, 96)
model = dict(
    data_preprocessor=dict(size=crop_size),
    num_classes=len(classes),
    backbone=dict(norm_eval=False),
    neck=None,
    equivariant_transform=None,
    loss_minpool=None,
    loss_er=None,
    loss_ecr=None,
    test_cfg=dict(cam_source='cam'))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5),
    # no hue jitter: the hue bins are labels
    dict(
        type='ColorJitter',
        brightness=0.2,
        contrast=0.2,
        saturation=0.2,
        hue=0.0),
    dict(type='PackSegClsInputs')
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='VOCClsDataset',
        data_root=data_root,
        metainfo=metainfo,
        data_prefix=dict(img_path='JPEGImages', seg_map_path=''),
        ann_file='ImageSets/Segmentation/train_aug.txt',
        label_source='npy',
        cls_label_file='cls_labels.npy',
        with_seg_map=False,
        pipeline=train_pipeline))
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None
max_epochs = 2
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
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=1, max_keep_ckpts=2))
randomness = dict(seed=0)
