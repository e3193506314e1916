# Stage 2: stock MMSegmentation DeepLabV3+ R101-d8 trained on pseudo labels.
# The training set is VOC train_aug (10,582 images) whose segmentation maps
# are read from the pseudo-label folder (e.g. the random-walk PNGs, or
# work_dirs/<seam run>/pseudo_labels/final/pseudo_labels); validation uses
# the real VOC val ground truth, as usual.
# Point it at your pseudo labels with an ABSOLUTE path (a relative one is
# taken relative to data_root):
#   python tools/train.py THIS_CONFIG --cfg-options \
#     train_dataloader.dataset.data_prefix.seg_map_path=$PWD/work_dirs/voc/rw
_base_ = 'mmseg::deeplabv3plus/deeplabv3plus_r101-d8_4xb4-20k_voc12aug-512x512.py'
custom_imports = dict(imports=['mmseam'], allow_failed_imports=False)
data_root = 'data/VOCdevkit/VOC2012'
# Folder of <id>.png pseudo labels covering every image of train_aug
# (relative to data_root, or absolute). A missing label is reported, naming
# the file, before training starts.
pseudo_label_dir = 'SegmentationClassPseudo'
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
# NaN/Inf loss or gradient -> stop naming the iteration and the loss term
optim_wrapper = dict(type='NonFiniteGuardOptimWrapper', action='raise')
