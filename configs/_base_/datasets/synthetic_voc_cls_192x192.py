# The training pipeline of the synthetic set at 192 px (the test-sized
# `synthetic-small` preset of tools/run_pipeline.py): the same augmentation
# as synthetic_voc_cls.py, scaled from 224 to 192 px. Its names differ from
# the dataset base's, so a config can list it next to a full config as a
# second base and take the pipeline as {{_base_.synthvoc_192.pipeline}}.
synthvoc_192 = dict(
    crop_size=(192, 192),
    pipeline=[
        dict(type='LoadImageFromFile'),
        # long side uniform in {165, ..., 219} (x 6/7 to x 8/7, as for 224)
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
