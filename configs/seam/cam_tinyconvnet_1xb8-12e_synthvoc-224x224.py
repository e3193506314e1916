# Plain CAM baseline for the synthetic SEAM demo: the SEAM config with PCM,
# min-pool, ER and ECR off and a single view (classification loss only).
# Same backbone, initialisation, optimiser and schedule as SEAM.
_base_ = ['./seam_tinyconvnet_1xb8-12e_synthvoc-224x224.py']
model = dict(
    neck=None,
    equivariant_transform=None,
    loss_minpool=None,
    loss_er=None,
    loss_ecr=None,
    # the plain CAM's best background threshold on the demo data is lower
    # than the PCM's (0.19 vs 0.25, README "Quick start")
    test_cfg=dict(cam_source='cam', bg_threshold=0.19))
