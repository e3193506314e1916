# Copyright (c) mmseam contributors. All rights reserved.
"""mIoU of CAMs or pseudo labels against ground-truth masks.

SEAM measures pseudo-label quality on the 1,464 VOC ``train`` images with
the fine ``SegmentationClass`` masks. CAM files are scored with the
background-threshold sweep (0.00 .. 0.59, the best threshold is reported;
when the best value is 0.59, the upper edge, the sweep is extended up to
``--extend-to``, 0.99 by default, and the output names the range swept);
label PNGs (CRF / random-walk outputs) are scored directly::

    python tools/eval_pseudo_labels.py --cam-dir work_dirs/seam/cams \\
        --data-root data/VOCdevkit/VOC2012 --curve
    python tools/eval_pseudo_labels.py --png-dir work_dirs/seam/crf/crf_4_png

A split without ground-truth masks (``--gt-dir`` missing or empty) cannot be
scored: the tool says so, names the background threshold the pseudo labels
use (``model.test_cfg.bg_threshold`` of ``--classes CONFIG``) and exits 0.
"""
import argparse
import json
import os.path as osp
import sys

import numpy as np

import mmseam  # noqa: F401  (stubs mmcv._ext before mmseg is imported)
from mmseam.apis import load_metainfo, read_split_ids
from mmseam.evaluation import (DEFAULT_BG_THRESHOLDS, DEFAULT_SWEEP_LIMIT,
                               evaluate_pseudo_labels)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Evaluate CAM files (background-threshold sweep) or '
        'pseudo-label PNGs against ground-truth label PNGs.')
    pred = parser.add_mutually_exclusive_group(required=True)
    pred.add_argument('--cam-dir', help='folder of <id>.npz CAM files')
    pred.add_argument('--png-dir', help='folder of <id>.png pseudo labels')
    parser.add_argument(
        '--data-root',
        default='data/VOCdevkit/VOC2012',
        help='dataset root (VOC2012 folder)')
    parser.add_argument(
        '--gt-dir',
        default=None,
        help='ground-truth label PNGs (default <data-root>/SegmentationClass)')
    parser.add_argument(
        '--split',
        default='ImageSets/Segmentation/train.txt',
        help='split file; relative paths that do not exist are taken '
        'relative to --data-root')
    parser.add_argument(
        '--classes',
        '--metainfo',
        dest='classes',
        default=None,
        help='config or metainfo json with the class names (default: '
        'PASCAL VOC classes)')
    parser.add_argument(
        '--curve',
        action='store_true',
        help='print the whole mIoU-vs-threshold curve (CAMs)')
    parser.add_argument(
        '--thresholds',
        type=float,
        nargs='+',
        default=None,
        help='background thresholds to sweep (default 0.00 .. 0.59)')
    parser.add_argument(
        '--extend-to',
        type=float,
        default=DEFAULT_SWEEP_LIMIT,
        help='when the best threshold is the upper edge of the sweep, '
        'extend the sweep (same step) up to this value (default 0.99)')
    parser.add_argument(
        '--no-extend',
        action='store_true',
        help='never extend the sweep (warn at its edge instead)')
    parser.add_argument(
        '--bg-threshold',
        type=float,
        default=None,
        help='also report the mIoU at this threshold (CAMs)')
    parser.add_argument(
        '--ignore-index', type=int, default=255, help='ignored GT value')
    parser.add_argument(
        '--out-json', default=None, help='write the results to this json')
    return parser.parse_args(argv)


def _class_names(path):
    if path is not None:
        return list(load_metainfo(path)['classes'])
    from mmseg.datasets import PascalVOCDataset
    return list(PascalVOCDataset.METAINFO['classes'])


def _config_bg_threshold(path):
    """``model.test_cfg.bg_threshold`` of a config, or None."""
    if path is None or path.endswith('.json'):
        return None
    from mmengine.config import Config
    test_cfg = Config.fromfile(path).get('model', {}).get('test_cfg') or {}
    return test_cfg.get('bg_threshold')


def _has_gt(gt_dir, ids):
    """Whether ``gt_dir`` holds the mask of any id of the split."""
    return osp.isdir(gt_dir) and any(
        osp.isfile(osp.join(gt_dir, f'{i}.png')) for i in ids)


def _no_gt_result(args, gt_dir, ids):
    """Explain that a split without masks cannot be scored."""
    bg = args.bg_threshold
    source = '--bg-threshold'
    if bg is None:
        bg = _config_bg_threshold(args.classes)
        source = f'model.test_cfg.bg_threshold of {args.classes}'
    used = (f'the pseudo labels use the background threshold {bg:.2f} '
            f'({source})') if bg is not None else (
                'the pseudo labels use the config\'s '
                'model.test_cfg.bg_threshold (pass the config with --classes '
                'to print it)')
    print(f'no ground-truth masks for the {len(ids)} images of the split in '
          f'{gt_dir}: nothing to score and no background-threshold sweep '
          f'possible; {used}. Give masks of some images (--gt-dir) to '
          'measure the mIoU and pick the threshold.')
    return dict(scored=False, bg_threshold=bg)


def main(argv=None):
    args = parse_args(argv)
    split = args.split
    if not osp.isabs(split) and not osp.isfile(split):
        split = osp.join(args.data_root, split)
    gt_dir = args.gt_dir or osp.join(args.data_root, 'SegmentationClass')
    class_names = _class_names(args.classes)
    thresholds = list(args.thresholds or DEFAULT_BG_THRESHOLDS)
    if args.bg_threshold is not None and not np.isclose(
            thresholds, args.bg_threshold, rtol=0, atol=1e-6).any():
        thresholds = sorted(thresholds + [args.bg_threshold])
    ids = read_split_ids(split)
    kind = 'cam' if args.cam_dir else 'png'
    pred_dir = args.cam_dir or args.png_dir
    if not _has_gt(gt_dir, ids):
        return _no_gt_result(args, gt_dir, ids)
    print(f'evaluating {len(ids)} {kind} predictions in {pred_dir} against '
          f'{gt_dir} ({split})')
    result = evaluate_pseudo_labels(
        pred_dir,
        gt_dir,
        ids,
        num_classes=len(class_names),
        type=kind,
        thresholds=thresholds,
        bg_threshold=args.bg_threshold,
        extend_to=None if args.no_extend else args.extend_to,
        class_names=class_names,
        ignore_index=args.ignore_index,
        log_curve=args.curve)
    if kind == 'cam':
        low, high = result['swept_range']
        print(f'best background threshold: {result["best_bg_threshold"]:.2f}'
              f'  mIoU: {result["mIoU"]:.2f}  (swept {low:.2f}-{high:.2f}'
              + (', extended at the upper edge' if result['sweep_extended']
                 else '') + ')')
    else:
        print(f'mIoU: {result["mIoU"]:.2f}')
    if args.out_json:
        out = dict(
            type=kind,
            pred_dir=pred_dir,
            gt_dir=gt_dir,
            split=split,
            num_images=len(ids),
            mIoU=result['mIoU'],
            aAcc=result['aAcc'],
            IoU={
                c: (None if np.isnan(v) else float(v))
                for c, v in zip(class_names, result['IoU'])
            })
        for key in ('best_bg_threshold', 'mIoU_at_bg_threshold',
                    'swept_range', 'sweep_extended'):
            if key in result:
                out[key] = result[key]
        if 'curve' in result:
            out['curve'] = [[t, None if np.isnan(m) else m]
                            for t, m in result['curve']]
        from mmseam.apis import atomic_write
        text = json.dumps(out, indent=2).encode()
        atomic_write(args.out_json, lambda f: f.write(text))
        print(f'results written to {args.out_json}')
    return result


if __name__ == '__main__':
    try:
        main()
    except (FileNotFoundError, ValueError, KeyError, OSError) as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(1)
