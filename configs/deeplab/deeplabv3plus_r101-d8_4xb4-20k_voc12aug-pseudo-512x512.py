# Stage 2 with MMSegmentation's DeepLabV3+ R101-d8 on pseudo labels of VOC
# train_aug (train_dataloader.dataset.data_prefix.seg_map_path=DIR).
_base_ = ('mmseg::deeplabv3plus/'
          'deeplabv3plus_r101-d8_4xb4-20k_voc12aug-512x512.py')
custom_imports = dict(imports=['mmseam'], allow_failed_imports=False)
data_root = 'data/VOCdevkit/VOC2012'
pseudo_label_dir = 'SegmentationClassPseudo'  # relative to data_root or abs
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='VOCClsDataset',
        data_root=data_root,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path=pseudo_label_dir),
        pseudo_labels=True,  # missing labels -> "run the inference"
        check_masks=True,  # decode + range-check every label up front
        ann_file='ImageSets/Segmentation/train_aug.txt',
        with_seg_map=True,
        pipeline={{_base_.train_pipeline}}))
# a NaN/Inf loss or gradient stops training
optim_wrapper = dict(type='NonFiniteGuardOptimWrapper', action='raise')
