# Plain CAM baseline for the synthetic SEAM demo: the SEAM config with PCM,
# min-pool, ER and ECR off and a single view (classification loss only).
# Same backbone, initialisation, optimiser and schedule as SEAM.
_base_ = ['./seam_tinycnn_1xb8-8e_synthvoc-224x224.py']
model = dict(
    neck=None,
    equivariant_transform=None,
    loss_minpool=None,
    loss_er=None,
    loss_ecr=None,
    test_cfg=dict(cam_source='cam'))
