# Plain CAM baseline of the test-sized SEAM run
# (seam_tinyconvnet_1xb4-12e_synthvoc-192x192.py): PCM, min-pool, ER and ECR off,
# a single view (classification loss only); same backbone, initialisation,
# optimiser and schedule as SEAM.
_base_ = ['./seam_tinyconvnet_1xb4-12e_synthvoc-192x192.py']
model = dict(
    neck=None,
    equivariant_transform=None,
    loss_minpool=None,
    loss_er=None,
    loss_ecr=None,
    test_cfg=dict(cam_source='cam', bg_threshold=0.21))  # best in the run
