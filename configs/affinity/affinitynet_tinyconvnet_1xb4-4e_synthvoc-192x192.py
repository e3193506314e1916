# AffinityNet at 192 px, batch 4 (`synthetic-small` pipeline preset, 160
# training images: the demo's number of steps).
_base_ = ['./affinitynet_tinyconvnet_1xb8-4e_synthvoc-224x224.py']
crop_size = (192, 192)
crf_root = 'work_dirs/demo_small/seam_cams/crf'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='LoadCRFScores',
        la_dir=crf_root + '/crf_4',
        ha_dir=crf_root + '/crf_24'),
    dict(
        type='ColorJitter',
        brightness=0.3,
        contrast=0.3,
        saturation=0.3,
        hue=0.1),
    dict(type='AffinityRandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='AffinityLabelFromCRF', stride=8),
    dict(type='ExtractAffinityLabels', radius=5),
    dict(type='PackAffinityInputs'),
]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
model = dict(data_preprocessor=dict(size=crop_size))
