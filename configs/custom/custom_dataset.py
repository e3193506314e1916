# The data set block of the configs in this folder: the only file to edit
# for your own data (docs/custom_dataset.md). The SEAM, CAM-baseline and
# pretraining configs all read it, so the classes, paths and pipelines live
# in one place.
#
# layout='folder' (ImageFolderClsDataset):
#   <data_root>/images/<id>.jpg      your images (img_suffix)
#   <data_root>/labels.txt           `<id> <class> [<class> ...]` per line
#   <data_root>/masks/<id>.png       optional class-index PNGs
#   <data_root>/val.txt              ids of the images that have masks
# layout='voc' (VOCClsDataset): JPEGImages/, Annotations/<id>.xml,
#   SegmentationClass/<id>.png, ImageSets/Segmentation/{train,val}.txt
data_root = 'data/my_data'
layout = 'folder'
# background first, then your classes (names as in labels.txt / the XMLs)
classes = ('background', 'car', 'person', 'tree')
# one [r, g, b] per class for the pseudo-label PNGs; None: VOC colour map
palette = None
img_suffix = '.jpg'
# images to train on and to pseudo-label: '' = every image of labels.txt
# (folder layout); a split list otherwise
train_split = ''
# True when the images of val_split (a subset of the training images) have
# masks: training then scores the CAMs with the background-threshold sweep.
# False: no sweep is possible; the pseudo labels use the model's
# test_cfg.bg_threshold.
has_masks = True
val_split = 'val.txt'
crop_size = (224, 224)

num_classes = len(classes)
metainfo = dict(classes=classes, palette=palette)
if layout == 'voc':
    data_args = dict(
        type='VOCClsDataset',
        label_source='xml',
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'))
    train_split = train_split or 'ImageSets/Segmentation/train.txt'
    if val_split == 'val.txt':
        val_split = 'ImageSets/Segmentation/val.txt'
else:
    data_args = dict(
        type='ImageFolderClsDataset',
        label_file='labels.txt',
        label_source='file',
        data_prefix=dict(img_path='images', seg_map_path='masks'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    # long side uniform in 6/7 .. 8/7 of the crop
    dict(
        type='RandomResize',
        scale=(crop_size[0] * 8 // 7, crop_size[1] * 8 // 7),
        ratio_range=(0.75, 1.0),
        keep_ratio=True,
        interpolation='bicubic',
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    # the official colour jitter; drop it if colour tells your classes apart
    dict(
        type='ColorJitter',
        brightness=0.3,
        contrast=0.3,
        saturation=0.3,
        hue=0.1),
    dict(
        type='RandomCropPad',
        crop_size=crop_size,
        pad_val=(103.53, 116.28, 123.675),
        seg_pad_val=255),
    dict(type='PackSegClsInputs')
]
val_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegClsInputs')
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackSegClsInputs')]

train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        img_suffix=img_suffix,
        ann_file=train_split,
        with_seg_map=False,
        # a broken image stops training and names the file ('skip': train
        # without it, listed in the log)
        on_bad_image='raise',
        pipeline=train_pipeline,
        **data_args))
# the images that get CAMs and pseudo labels (tools/infer_cams.py): the
# training images
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        img_suffix=img_suffix,
        ann_file=train_split,
        with_seg_map=False,
        test_mode=True,  # a broken image always stops inference
        pipeline=test_pipeline,
        **data_args))
# tools/test.py needs masks: it scores the val split like the validation
test_evaluator = dict(type='CAMSweepMetric')
if has_masks:
    val_dataloader = dict(
        batch_size=1,
        num_workers=2,
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            data_root=data_root,
            metainfo=metainfo,
            img_suffix=img_suffix,
            ann_file=val_split,
            with_seg_map=True,
            test_mode=True,
            pipeline=val_pipeline,
            **data_args))
    # mIoU of the CAMs over the background thresholds 0.00-0.59 (extended
    # up to 0.99 when the best value is 0.59); put the best one into
    # model.test_cfg.bg_threshold of the SEAM config
    val_evaluator = dict(type='CAMSweepMetric')
    val_cfg = dict(type='ValLoop')
else:
    val_dataloader = None
    val_evaluator = None
    val_cfg = None
