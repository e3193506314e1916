# CAM baseline: the EfficientNet-Lite0 SEAM config with PCM, min-pool, ER
# and ECR off (one view, classification loss only).
_base_ = ['./seam_efficientnet-lite0_1xb8-12e_synthvoc-224x224.py']
model = dict(
    neck=None,
    equivariant_transform=None,
    loss_minpool=None,
    loss_er=None,
    loss_ecr=None,
    test_cfg=dict(cam_source='cam', bg_threshold=0.18))
