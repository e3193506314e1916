# Copyright (c) mmseam contributors. All rights reserved.
"""Dense-CRF refinement of saved CAMs (SEAM's la/ha CRF step).

Example::

    python tools/crf_refine.py \\
        --cam-dir work_dirs/seam/cams \\
        --img-dir data/VOCdevkit/VOC2012/JPEGImages \\
        --split-file data/VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt \\
        --out-dir work_dirs/seam/crf --alphas 4 24 --workers 8

writes ``<out-dir>/crf_4/<id>.npz`` / ``crf_24/<id>.npz`` (CRF marginals)
and ``<out-dir>/crf_4_png/<id>.png`` / ``crf_24_png/<id>.png`` (argmax
pseudo labels). Finished images are skipped, so an interrupted run can be
restarted with the same command.
"""
import argparse
import os
import sys
from dataclasses import replace

import mmseam  # noqa: F401  (stubs mmcv._ext before mmseg is imported)
from mmseam.apis import (CRF_PRESETS, CRFConfig, load_metainfo, read_split_ids,
                         refine_split)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Refine CAM files with a dense CRF for each background '
        'power alpha (SEAM la/ha) and write CRF scores and pseudo labels.')
    parser.add_argument(
        '--cam-dir', required=True, help='folder of <id>.npz CAM files')
    parser.add_argument(
        '--img-dir', required=True, help='folder of the original images')
    parser.add_argument(
        '--split-file',
        required=True,
        help='text file listing the image ids to refine')
    parser.add_argument('--out-dir', required=True, help='output root')
    parser.add_argument(
        '--alphas',
        type=float,
        nargs='+',
        default=[4, 24],
        help='background powers (SEAM: la=4, ha=24)')
    parser.add_argument(
        '--workers',
        type=int,
        default=min(8,
                    os.cpu_count() or 1),
        help='CPU worker processes')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='recompute outputs that already exist')
    parser.add_argument(
        '--metainfo',
        '--classes',
        dest='metainfo',
        default=None,
        help='config or metainfo json giving the dataset palette for the '
        'PNGs (default: VOC colour map)')
    parser.add_argument(
        '--img-suffix', default='.jpg', help='image file suffix')
    parser.add_argument(
        '--preset',
        default='seam',
        choices=sorted(CRF_PRESETS),
        help='CRF parameter preset')
    for name in ('t', 'gauss-sxy', 'gauss-compat', 'bi-sxy', 'bi-srgb',
                 'bi-compat'):
        parser.add_argument(
            f'--{name}',
            type=int if name == 't' else float,
            default=None,
            help='override the preset value')
    parser.add_argument(
        '--no-progress', action='store_true', help='hide the progress bar')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = CRFConfig.preset(args.preset)
    overrides = {
        k: getattr(args, k)
        for k in ('t', 'gauss_sxy', 'gauss_compat', 'bi_sxy', 'bi_srgb',
                  'bi_compat') if getattr(args, k) is not None
    }
    cfg = replace(cfg, alphas=tuple(args.alphas), **overrides)
    palette = None
    if args.metainfo is not None:
        palette = load_metainfo(args.metainfo)['palette']
    ids = read_split_ids(args.split_file)
    print(f'CRF refinement of {len(ids)} images with {cfg}', flush=True)
    summary = refine_split(
        ids,
        cam_dir=args.cam_dir,
        img_dir=args.img_dir,
        out_dir=args.out_dir,
        alphas=cfg.alphas,
        palette=palette,
        crf_cfg=cfg,
        workers=args.workers,
        overwrite=args.overwrite,
        img_suffix=args.img_suffix,
        progress=not args.no_progress)
    print(f'done: {summary["processed"]} processed, {summary["skipped"]} '
          f'skipped (already finished); outputs in {args.out_dir}')
    return summary


if __name__ == '__main__':
    try:
        main()
    except (FileNotFoundError, ValueError, KeyError, OSError) as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(1)
