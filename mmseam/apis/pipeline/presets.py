# Copyright (c) mmseam contributors. All rights reserved.
"""The pipeline's recipes (presets) and where their files live.

A recipe is a dict with the configs of each stage (paths relative to the
repository, e.g. ``configs/seam/...``; None skips the stage), the data root
and work dir, the splits, the epochs of each training and the worker counts.
"""
import os.path as osp
from typing import Optional

#: The steps ``--stop-after`` can name, in order.
LAST_STEPS = ('crf', 'rw', 'stage2')

#: The stages that train a model, in order, and their recipe keys.
TRAIN_STAGES = ('pretrain', 'cam', 'seam', 'affinity', 'stage2')

#: Where AffinityNet and stage 2 start: the pretraining's weights (the
#: official way: the same ImageNet weights as stage 1) or SEAM's trained
#: backbone.
DOWNSTREAM_INITS = ('pretrain', 'seam')

_PKG_DIR = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

PRESETS = dict(
    synthetic=dict(
        data_root='data/synthetic_voc',
        work_dir='work_dirs/demo',
        pretrain='configs/seam/cam-pretrain_tinyconvnet_1xb16-15e_synthvoc-'
        '224x224.py',
        cam='configs/seam/cam_tinyconvnet_1xb8-12e_synthvoc-224x224.py',
        seam='configs/seam/seam_tinyconvnet_1xb8-12e_synthvoc-224x224.py',
        affinity='configs/affinity/affinitynet_tinyconvnet_1xb8-4e_synthvoc-'
        '224x224.py',
        stage2='configs/deeplab/deeplabv1-largefov_tinyconvnet_1xb8-12e_'
        'synthvoc-pseudo-224x224.py',
        # AffinityNet and stage 2 start from SEAM's backbone (trained on
        # image labels only); the pretraining stand-in misses classes
        # (docs/pipeline.md, "Stage 2")
        downstream_init='seam',
        label_split='train',  # images that get pseudo labels
        eval_split='train',  # images whose pseudo labels are scored
        # data set and schedule sized for ~20 minutes on 2 CPU cores
        data=dict(num_train=320, num_val=60, image_size=224),
        epochs=dict(pretrain=15, cam=12, seam=12, affinity=3, stage2=12),
        # the pretraining's per-class AP is logged; it does not train on
        # while a class is unlearned (e.g. dict(step=5, max_epochs=30)
        # would): the eight-block CAM baseline and SEAM learn every class
        # in their own schedule
        pretrain_extend=None,
        crf_workers=2,
        infer_workers=0,
        # random-walk background power: the one matching the SEAM CAMs' best
        # threshold (as for the CRF); the official alpha 6 crosses at 0.24
        # and turns these CAMs (best threshold ~0.01) into background
        rw_alpha='match'),
    voc=dict(
        data_root='data/VOCdevkit/VOC2012',
        work_dir='work_dirs/voc',
        pretrain=None,  # ImageNet ResNet38 (converted) is the pretraining
        cam='configs/seam/cam_resnet38d_1xb8-8e_voc12aug-448x448.py',
        seam='configs/seam/seam_resnet38d_1xb8-8e_voc12aug-448x448.py',
        affinity='configs/affinity/affinitynet_resnet38d_1xb8-8e_voc12aug-'
        '448x448.py',
        stage2='configs/deeplab/deeplabv1-largefov_resnet38d_2xb5-20k_'
        'voc12aug-pseudo-448x448.py',
        label_split='train_aug',
        eval_split='train',  # 1,464 images with fine masks (official)
        data=None,
        epochs={},  # the configs' own schedules
        downstream_init='pretrain',  # ImageNet ResNet38, as the official code
        pretrain_extend=None,
        crf_workers=8,
        infer_workers=4,
        rw_alpha=None),  # the official SEAM preset (alpha 6)
)
# The synthetic recipe at test size: 192 px images and crops, 160 training
# images at half the batch (the demo's number of steps at less than half its
# compute). The suite runs it to check the measured claim
# (tests/test_tools/test_run_pipeline_claim.py); tools/scene_study.py runs it
# on every scene family and seed.
PRESETS['synthetic-small'] = dict(
    PRESETS['synthetic'],
    data_root='data/synthetic_voc_small',
    work_dir='work_dirs/demo_small',
    pretrain='configs/seam/cam-pretrain_tinyconvnet_1xb8-15e_synthvoc-'
    '192x192.py',
    cam='configs/seam/cam_tinyconvnet_1xb4-12e_synthvoc-192x192.py',
    seam='configs/seam/seam_tinyconvnet_1xb4-12e_synthvoc-192x192.py',
    affinity='configs/affinity/affinitynet_tinyconvnet_1xb4-4e_synthvoc-'
    '192x192.py',
    stage2='configs/deeplab/deeplabv1-largefov_tinyconvnet_1xb4-12e_'
    'synthvoc-pseudo-192x192.py',
    data=dict(num_train=160, num_val=40, image_size=192))


def repo_root() -> Optional[str]:
    """The repository root of a source checkout, None for an installed
    package (no ``configs/`` and ``tools/`` next to the ``mmseam``
    package)."""
    root = osp.dirname(_PKG_DIR)
    if osp.isdir(osp.join(root, 'configs')) and osp.isdir(
            osp.join(root, 'tools')):
        return root
    return None


def package_file(rel_path: str) -> str:
    """Absolute path of a file shipped with mmseam, e.g.
    ``configs/seam/<name>.py`` or ``tools/train.py``.

    Looked up in the source checkout first, then under ``mmseam/.mim``
    (where an installed package keeps its configs and tools). A path with
    the ``mmseam::`` prefix names a config (``mmseam::seam/<name>.py``).

    Args:
        rel_path (str): Path relative to the repository root.

    Returns:
        str: The absolute path of an existing file.

    Raises:
        FileNotFoundError: When neither location holds the file.
    """
    if rel_path.startswith('mmseam::'):
        rel_path = 'configs/' + rel_path[len('mmseam::'):]
    root = repo_root()
    candidates = ([osp.join(root, rel_path)] if root else []) + [
        osp.join(_PKG_DIR, '.mim', rel_path)
    ]
    for path in candidates:
        if osp.isfile(path):
            return path
    raise FileNotFoundError(
        f'{rel_path} is neither in the source checkout nor under '
        f'{osp.join(_PKG_DIR, ".mim")}; reinstall mmseam (pip install -e . '
        'in the repository).')
