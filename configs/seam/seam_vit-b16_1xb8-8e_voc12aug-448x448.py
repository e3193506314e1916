# SEAM on mmpretrain's ViT-B/16 (ImageNet-21k pretrained, ImageNet-1k
# fine-tuned at 384 px, OpenMMLab model zoo), the backbone of transformer
# WSSS methods such as ToCo. Not yet trained on VOC here: the values below
# are a starting point, not a measured recipe.
#
# Taps (out_type='featmap': the patch tokens of a block reshaped to
# N x 768 x H/16 x W/16, the class token dropped): blocks 6 and 9 feed the
# PCM (feats[0], feats[1]); block 12, after the final LayerNorm
# (final_norm=True applies to the last block only), feeds the classifier
# (feats[-1]). Output stride 16: a 28 x 28 CAM on 448 px crops.
_base_ = ['./seam_resnet38d_1xb8-8e_voc12aug-448x448.py']
custom_imports = dict(
    imports=['mmseam', 'mmpretrain.models'], allow_failed_imports=False)
model = dict(
    # the checkpoint's normalisation (mean = std = 127.5); crops are padded
    # with the ImageNet mean (dataset base), -0.19 to -0.03 after it
    data_preprocessor=dict(mean=[127.5] * 3, std=[127.5] * 3),
    in_channels=768,
    in_index=-1,
    backbone=dict(
        _delete_=True,
        type='mmpretrain.VisionTransformer',
        arch='b',
        patch_size=16,
        img_size=448,  # the 384 px position embedding is resized on load
        out_indices=(5, 8, 11),
        out_type='featmap',
        with_cls_token=True,
        final_norm=True,
        drop_path_rate=0.1,
        # nothing frozen; frozen_stages=k would freeze the patch and
        # position embeddings, the class token and blocks 1..k (there are
        # no BatchNorm statistics, so there is no norm_eval)
        frozen_stages=-1,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'vit/finetune/vit-base-p16_in21k-pre-3rdparty_ft-64xb64_in1k-'
            '384_20210928-98e8652b.pth',
            prefix='backbone.')),
    neck=dict(in_channels=(768, 768), in_index=(0, 1)),
    # view 2 at 224 px = 14 x 14 patches exactly (x0.3 gives 134 px, which
    # the patch embedding pads to 144 px, shifting the CAM against view 1)
    equivariant_transform=dict(scale_factor=0.5))
# AdamW with a linear warm-up and poly decay, the usual way to fine-tune a
# ViT; classifier and PCM at 10x, no weight decay on norms, biases, the
# position embedding and the class token.
optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        lr=6e-5,
        betas=(0.9, 0.999),
        weight_decay=0.01),
    paramwise_cfg=dict(
        _delete_=True,
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'classifier': dict(lr_mult=10.0),
            'neck': dict(lr_mult=10.0),
            '.pos_embed': dict(decay_mult=0.0),
            '.cls_token': dict(decay_mult=0.0),
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
