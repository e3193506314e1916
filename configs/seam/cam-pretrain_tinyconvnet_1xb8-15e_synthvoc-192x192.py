# Classifier pretraining at 192 px, batch 8 (`synthetic-small` pipeline
# preset, 160 training images).
_base_ = [
    './cam-pretrain_tinyconvnet_1xb16-15e_synthvoc-224x224.py',
    '../_base_/datasets/synthetic_voc_cls_192x192.py'
]
crop_size = {{_base_.synthvoc_192.crop_size}}
train_pipeline = {{_base_.synthvoc_192.pipeline}}
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
model = dict(data_preprocessor=dict(size=crop_size))
