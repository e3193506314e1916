# Copyright (c) mmseam contributors. All rights reserved.
"""Generate the synthetic weakly supervised segmentation set (VOC layout).

Example::

    python tools/dataset_converters/make_synthetic_voc.py \
        --out data/synthetic_voc --seed 0
    python tools/dataset_converters/make_synthetic_voc.py \
        --out data/synthvoc_typical --scene body_class_bias=0.7 \
        num_objects='(1, 3)'
    python tools/dataset_converters/make_synthetic_voc.py \
        --out data/synthvoc_touching --family touching

See :mod:`mmseam.datasets.synthetic` for what the images contain.
"""
import argparse
import ast
import sys

from mmseam.datasets.synthetic import SCENE_FAMILIES, make_synthetic_voc


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write a synthetic WSSS dataset in Pascal VOC 2012 '
        'layout (JPEGImages, Annotations, SegmentationClass[Aug], '
        'ImageSets/Segmentation, metainfo.json).')
    parser.add_argument(
        '--out', required=True, help='output folder (the data_root)')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--num-train', type=int, default=300, help='training images')
    parser.add_argument(
        '--num-val', type=int, default=80, help='validation images')
    parser.add_argument(
        '--size', type=int, default=224, help='image side length in pixels')
    parser.add_argument(
        '--force',
        action='store_true',
        help='replace the output folder if it is not empty')
    parser.add_argument(
        '--family',
        choices=sorted(SCENE_FAMILIES),
        default='default',
        help='scene family (SCENE_FAMILIES); --scene options override its '
        'values')
    parser.add_argument(
        '--scene',
        nargs='+',
        default=[],
        metavar='KEY=VALUE',
        help='scene options of render_sample (e.g. body_class_bias=0.7 '
        "num_objects='(1, 3)' mark_colors=contrast); values are Python "
        'literals, anything else is a string')
    return parser.parse_args(argv)


def parse_scene(items) -> dict:
    """``['k=v', ...]`` -> ``{k: literal(v)}`` (strings stay strings)."""
    out = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise ValueError(f'--scene expects KEY=VALUE, got {item!r}.')
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        summary = make_synthetic_voc(
            args.out,
            seed=args.seed,
            num_train=args.num_train,
            num_val=args.num_val,
            image_size=args.size,
            force=args.force,
            **dict(SCENE_FAMILIES[args.family], **parse_scene(args.scene)))
    except (FileExistsError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    print(f'Wrote {summary["num_images"]["train"]} train + '
          f'{summary["num_images"]["val"]} val images '
          f'({summary["image_size"]} px, seed {summary["seed"]}) to '
          f'{summary["out_dir"]} in {summary["seconds"]:.1f} s.')
    print(f'classes: {", ".join(summary["metainfo"]["classes"][1:])}; '
          f'{summary["mean_objects"]:.2f} objects/image; foreground '
          f'{100 * summary["fg_fraction"]:.1f}% of pixels.')
    for split, counts in summary['class_image_counts'].items():
        text = ', '.join(f'{k}={v}' for k, v in counts.items())
        print(f'images per class ({split}): {text}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
