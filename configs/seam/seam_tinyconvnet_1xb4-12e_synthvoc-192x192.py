# SEAM on the synthetic data set at 192 px, batch 4 (`synthetic-small`
# pipeline preset, 160 training images).
_base_ = [
    './seam_tinyconvnet_1xb8-12e_synthvoc-224x224.py',
    '../_base_/datasets/synthetic_voc_cls_192x192.py'
]
crop_size = {{_base_.synthvoc_192.crop_size}}
train_pipeline = {{_base_.synthvoc_192.pipeline}}
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
model = dict(
    data_preprocessor=dict(size=crop_size),
    test_cfg=dict(bg_threshold=0.24))
