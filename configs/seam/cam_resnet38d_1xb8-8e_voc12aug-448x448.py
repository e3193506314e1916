# CAM baseline: the SEAM recipe with PCM, min-pool, ER and ECR off (one view,
# classification loss only).
_base_ = ['./seam_resnet38d_1xb8-8e_voc12aug-448x448.py']
model = dict(
    neck=None,
    equivariant_transform=None,
    loss_minpool=None,
    loss_er=None,
    loss_ecr=None,
    test_cfg=dict(cam_source='cam'))
