# Copyright (c) mmseam contributors. All rights reserved.
"""The whole weakly supervised pipeline, one step after another.

    python tools/run_pipeline.py --preset synthetic --work-dir work_dirs/demo

Steps (each skipped when its outputs exist, so an interrupted run resumes):

1. data: generate the synthetic VOC-layout set (synthetic presets only);
2. pretrain: a plain CAM classifier (synthetic stand-in for ImageNet),
   scored per class (image-label AP on the label split) and, where the
   preset asks (``pretrain_extend``), trained on while a class is not
   learned yet;
3. cam / seam: train the CAM baseline and SEAM (same backbone + schedule);
4. infer: multi-scale + flip CAMs of the training images for both;
5. crf: dense CRF of the SEAM CAMs (the power matching the best background
   threshold, and the low/high powers AffinityNet learns from);
6. affinity: train AffinityNet on the CRF labels, random-walk the CAMs;
7. stage2: train DeepLab-v1 LargeFOV on the random-walk pseudo labels and
   validate it on held-out images with real masks;
8. report: a results table (``results.md``/``results.json``) and a figure
   (``figure.png``: image | ground truth | CAM | pseudo label | stage 2).

``--stop-after crf`` (or ``rw``) ends the chain after that step: the pseudo
labels and the table of their scores, without the later trainings. The
``synthetic-small`` preset is the same recipe at test size (the suite runs
it to check the measured claim); ``--scene`` and ``--seed`` pick the scene
family and the seed of a generated synthetic set.

The ``voc`` preset runs the same chain with the real VOC configs
(ResNet38d, ``data/VOCdevkit/VOC2012``); it needs a GPU machine and the
converted ImageNet ResNet38 weights (docs/pipeline.md).

Your own data set and configs run the same chain::

    python tools/run_pipeline.py --data-root data/my_data \
        --seam-config my_seam.py [--cam-config ...] [--pretrain-config ...] \
        [--affinity-config ...] [--stage2-config ...]
    python tools/run_pipeline.py --pipeline-config my_pipeline.py

Without masks for the scored images, the SEAM config's ``bg_threshold``
replaces the threshold sweep and nothing is scored (docs/pipeline.md).
The steps are :class:`mmseam.apis.pipeline.Pipeline`.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmseam.apis.pipeline import LAST_STEPS, PRESETS, Pipeline  # noqa: E402
from mmseam.datasets.synthetic import SCENE_FAMILIES  # noqa: E402

__all__ = ['parse_args', 'main']


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument(
        '--preset',
        choices=sorted(PRESETS),
        default=None,
        help='the recipe (default: synthetic, unless --pipeline-config or '
        'stage configs are given; with them, the base they override)')
    own = p.add_argument_group(
        'your own data and configs (docs/pipeline.md)',
        'a pipeline config file and/or flags (the flags win); the SEAM '
        'config and --data-root are required, the other stages optional')
    own.add_argument(
        '--pipeline-config',
        metavar='FILE',
        help='python/yaml/json file setting data_root, work_dir, '
        '<stage>_config, label_split, eval_split, epochs, crf_workers, '
        'infer_workers')
    for stage in ('pretrain', 'cam', 'seam', 'affinity', 'stage2'):
        own.add_argument(
            f'--{stage}-config', dest=f'{stage}_config', metavar='CONFIG')
    own.add_argument(
        '--label-split',
        help='images to pseudo-label: a name (train -> ImageSets/'
        'Segmentation/train.txt) or a .txt file under the data root; '
        'default: the SEAM config\'s test split')
    own.add_argument(
        '--eval-split',
        help='images whose pseudo labels are scored against their masks '
        '(default: the label split); without masks the SEAM config\'s '
        'bg_threshold is used and nothing is scored')
    p.add_argument(
        '--work-dir',
        default=None,
        help='default: the preset\'s (work_dirs/demo for synthetic)')
    p.add_argument(
        '--data-root', default=None, help='default: the recipe\'s')
    p.add_argument(
        '--seed',
        type=int,
        default=None,
        help='seed of the generated synthetic set (default 0); checked '
        'against an existing one')
    p.add_argument(
        '--scene',
        choices=sorted(SCENE_FAMILIES),
        default=None,
        help='scene family of the generated synthetic set (default: '
        'default; docs/synthetic_data.md, "Scene families")')
    p.add_argument('--device', default='cpu')
    p.add_argument(
        '--amp',
        action='store_true',
        help='bf16 CAM inference (the default on a CPU with native bf16)')
    p.add_argument(
        '--fp32-cams',
        action='store_true',
        help='fp32 CAM inference on a CPU with native bf16 too')
    p.add_argument(
        '--crf-alphas', type=float, nargs=2, default=(4.0, 24.0),
        metavar=('LA', 'HA'))
    p.add_argument('--skip-affinity', action='store_true')
    p.add_argument(
        '--stop-after',
        choices=LAST_STEPS,
        default=None,
        help='last step: crf or rw end with the pseudo labels and their '
        'scores (no stage 2); default: the recipe\'s last (stage2 for the '
        'presets)')
    p.add_argument('--figure-rows', type=int, default=4)
    p.add_argument(
        '--train-options',
        nargs='+',
        metavar='KEY=VALUE',
        help='extra --cfg-options for every training run (e.g. '
        'train_cfg.max_epochs=1 param_scheduler.0.end=1 for a smoke test)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    Pipeline(args).run()


if __name__ == '__main__':
    main()
