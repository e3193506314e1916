# SEAM on mmpretrain's ConvNeXt-T (ImageNet-1k, OpenMMLab model zoo). Not yet
# trained on VOC here: the values below are a starting point, not a measured
# recipe.
#
# Taps: stage outputs, each through its own LayerNorm
# (gap_before_final_norm=False keeps the maps): stage 2 (192 channels,
# output stride 8) and stage 3 (384, OS 16) feed the PCM (feats[0],
# feats[1]); stage 4 (768, OS 32, the checkpoint's final norm) feeds the
# classifier (feats[-1]). ConvNeXt has no dilated variant, so the CAM is at
# OS 32 (14 x 14 on 448 px crops); the PCM resizes its taps to that grid.
_base_ = ['./seam_resnet38d_1xb8-8e_voc12aug-448x448.py']
custom_imports = dict(
    imports=['mmseam', 'mmpretrain.models'], allow_failed_imports=False)
model = dict(
    in_channels=768,
    in_index=-1,
    backbone=dict(
        _delete_=True,
        type='mmpretrain.ConvNeXt',
        arch='tiny',
        out_indices=(1, 2, 3),
        gap_before_final_norm=False,
        drop_path_rate=0.1,
        # stem + stage 1 frozen, as SEAM freezes ResNet38d's first stage;
        # there are no BatchNorm statistics (LayerNorm), so no norm_eval
        frozen_stages=1,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'convnext/convnext-tiny_32xb128_in1k_20221207-998cf3e9.pth',
            prefix='backbone.')),
    neck=dict(in_channels=(192, 384), in_index=(0, 1)),
    # view 2 at 224 px (a 7 x 7 CAM, the grid divides it exactly); x0.3
    # gives 134 px and a 4 x 4 CAM covering 128 of them
    equivariant_transform=dict(scale_factor=0.5))
# AdamW with a linear warm-up and poly decay, the usual way to fine-tune a
# ConvNeXt; classifier and PCM at 10x, no weight decay on norms, biases and
# the layer scales.
optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        lr=1e-4,
        betas=(0.9, 0.999),
        weight_decay=0.05),
    paramwise_cfg=dict(
        _delete_=True,
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'classifier': dict(lr_mult=10.0),
            'neck': dict(lr_mult=10.0),
            '.gamma': dict(decay_mult=0.0),
        }))
max_epochs = 8
# the poly decay first, so `param_scheduler.0.end` still sets its length
param_scheduler = [
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True),
    dict(
        type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
        end=1500),
]
# The LayerNorms of the two PCM taps (backbone.norm1, norm2) get no gradient:
# the PCM reads its features detached, as SEAM's does. Distributed training
# must then be told that some parameters go unused.
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
