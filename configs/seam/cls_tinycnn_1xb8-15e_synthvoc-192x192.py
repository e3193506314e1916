# Pretraining stand-in of the test-sized run (`synthetic-small` preset of
# tools/run_pipeline.py): cls_tinycnn_1xb16-15e_synthvoc-224x224.py on 192 px
# images and crops, batch 8 (160 training images: the demo's number of
# steps).
_base_ = ['./cls_tinycnn_1xb16-15e_synthvoc-224x224.py']
crop_size = (192, 192)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    # long side uniform in {165, ..., 219} (x 6/7 to x 8/7, as for 224 px)
    dict(
        type='RandomResize',
        scale=(219, 219),
        ratio_range=(165 / 219, 220 / 219),
        keep_ratio=True,
        interpolation='bicubic',
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomCropPad',
        crop_size=crop_size,
        pad_val=(103.53, 116.28, 123.675),
        seg_pad_val=255),
    dict(type='PackSegClsInputs')
]
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
model = dict(data_preprocessor=dict(size=crop_size))
