# Stage 2 at 192 px, batch 4 (`synthetic-small` pipeline preset, 160
# training images: the demo's number of steps).
_base_ = [
    './deeplabv1-largefov_tinyconvnet_1xb8-12e_synthvoc-pseudo-224x224.py'
]
crop_size = (192, 192)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(192, 192),
        ratio_range=(0.75, 1.25),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
model = dict(data_preprocessor=dict(size=crop_size))
