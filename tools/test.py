# Copyright (c) mmseam contributors. All rights reserved.
"""Test (evaluate) a checkpoint with an MMEngine config.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out DIR]
        [--show-dir DIR] [--cfg-options k=v ...] [--launcher ...]

For a SEAM config this measures the CAM pseudo-label mIoU with
MMSegmentation's ``IoUMetric`` (the model's ``pred_sem_seg`` is the CAM argmax
with the configured background threshold).
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmseam  # noqa: E402,F401
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from mmseam.engine import add_sanity_check_hooks  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test a mmseam model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs/metrics')
    parser.add_argument(
        '--out',
        type=str,
        help='write the predicted label maps (PNG) into this folder')
    parser.add_argument(
        '--show-dir', help='write painted prediction images into this dir')
    parser.add_argument(
        '--tta',
        action='store_true',
        help='test-time augmentation: use the config\'s tta_pipeline and '
        'tta_model (e.g. multi-scale + flip, optional CRF)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value pairs')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_cfg(args) -> Config:
    for path, what in ((args.config, 'config'), (args.checkpoint,
                                                 'checkpoint')):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what} file {path!r} does not exist')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    # fail fast on a class-count mismatch or a checkpoint that does not fit
    # (testing needs every weight of the model)
    add_sanity_check_hooks(cfg, min_shared_ratio=1.0)
    if args.show_dir:
        hooks = cfg.default_hooks
        if 'visualization' in hooks:
            hooks.visualization.draw = True
            hooks.visualization.interval = 1
        vis = cfg.visualizer
        vis['save_dir'] = args.show_dir
    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise ValueError(f'--tta needs `tta_model` and `tta_pipeline` in '
                             f'{args.config}')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = build_cfg(args)
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    metrics = runner.test()
    return metrics


if __name__ == '__main__':
    main()
