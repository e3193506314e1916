# Training pipeline of synthetic_voc_cls.py scaled to 192 px. Its names
# differ from the dataset base's, so a config lists it as a second base and
# reads {{_base_.synthvoc_192.pipeline}}.
synthvoc_192 = dict(
    crop_size=(192, 192),
    pipeline=[
        dict(type='LoadImageFromFile'),
        # long side uniform in {165, ..., 219}
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
            crop_size=(192, 192),
            pad_val=(103.53, 116.28, 123.675),
            seg_pad_val=255),
        dict(type='PackSegClsInputs')
    ])
