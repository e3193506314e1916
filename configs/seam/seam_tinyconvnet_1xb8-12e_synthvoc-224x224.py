# SEAM on the synthetic data set (`make demo`): the official losses on
# TinyConvNet with Adam and trainable BatchNorm (configs/seam/README.md).
_base_ = [
    '../_base_/models/seam_tinyconvnet.py',
    '../_base_/datasets/synthetic_voc_cls.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/seam_adam_12e.py',
]
model = dict(
    # the classifier pretraining's weights: checkpoint=PATH (the pipeline
    # passes it; model.backbone.init_cfg=None trains from scratch)
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=None,
                      prefix='backbone.')),
    test_cfg=dict(
        cam_source='pcm', scales=(0.5, 1.0, 1.5), flip=True,
        bg_threshold=0.25))
