# Copyright (c) mmseam contributors. All rights reserved.
"""Validate a whole split of a config's data set before spending compute.

    python tools/check_dataset.py CONFIG [--dataloader train|val|test]
        [--split NAME|PATH] [--decode] [--data-root DIR]
        [--cfg-options k=v ...]

Checks every id of the split list: the image exists, its header reads
and a JPEG / PNG ends with its end marker (a truncated file; with
``--decode`` every image is decoded), its XML / label-file entry parses and
names known classes, it has at least one label, and its mask exists (with
``--decode``: decodes, holds only class indices or 255, has the image's
size). Works on both layouts of one's own data (``VOCClsDataset`` and
``ImageFolderClsDataset``, docs/custom_dataset.md). Prints a
summary table (images and mask pixels per class) and every problem, each
naming the file and the fix. Exit status 0 when the split is clean, 1 when
there are problems, 2 when the data set cannot be checked at all (missing
data root or split list). Nothing is written.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmseam  # noqa: E402,F401
import numpy as np  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from mmseam.datasets import DatasetError, VOCClsDataset  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Check every image, label and mask of a split')
    p.add_argument('config', help='config file')
    p.add_argument(
        '--dataloader',
        choices=['train', 'val', 'test'],
        default='train',
        help='whose dataset config to check (default: train)')
    p.add_argument(
        '--split',
        default=None,
        help="split list replacing the dataset's ann_file: a name ('val' -> "
        'ImageSets/Segmentation/val.txt under the data root; val.txt for '
        'ImageFolderClsDataset) or a path')
    p.add_argument(
        '--decode',
        action='store_true',
        help='decode every image and mask (slower): corrupt files, mask '
        'values outside the class range, mask/image size mismatches')
    p.add_argument('--data-root', default=None, help='override data_root')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args(argv)


def dataset_cfg(cfg: Config, loader: str, split: Optional[str],
                data_root: Optional[str]) -> dict:
    """The dataset config of ``<loader>_dataloader`` (pipeline dropped)."""
    key = f'{loader}_dataloader'
    if not cfg.get(key) or 'dataset' not in cfg[key]:
        raise KeyError(f'{cfg.filename}: no `{key}.dataset` to check; pick '
                       'another --dataloader.')
    ds = cfg[key]['dataset'].copy()
    if data_root is not None:
        ds['data_root'] = data_root
    if split:
        if osp.isfile(split) or split.endswith('.txt'):
            ds['ann_file'] = osp.abspath(split) if osp.isfile(split) \
                else split
        elif ds.get('type') == 'ImageFolderClsDataset':
            ds['ann_file'] = f'{split}.txt'
        else:
            ds['ann_file'] = osp.join('ImageSets', 'Segmentation',
                                      f'{split}.txt')
    ds['pipeline'] = []
    ds['lazy_init'] = True
    return ds


def _generic_scan(dataset, decode: bool) -> dict:
    """Checks for a data set that is not a VOCClsDataset."""
    from PIL import Image
    problems: List[str] = []
    try:
        dataset.full_init()
    except Exception as err:  # noqa: BLE001 - report whatever it is
        return dict(
            data_list=[],
            problems=[f'the data set cannot be loaded: {err}'],
            num_listed=0,
            class_images=None,
            class_pixels=None)
    classes = dataset.metainfo.get('classes') or ()
    pixels = np.zeros(len(classes), np.int64) if decode and classes else None
    ok = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        bad = None
        for key in ('img_path', 'seg_map_path'):
            path = info.get(key)
            if path is None:
                continue
            if not osp.isfile(path):
                bad = f'{path} does not exist; add it or remove its id.'
            elif decode:
                try:
                    with Image.open(path) as im:
                        arr = np.asarray(im)
                except Exception as err:  # noqa: BLE001
                    bad = f'{path} cannot be decoded ({err}).'
                else:
                    if key == 'seg_map_path' and pixels is not None:
                        values = np.unique(arr)
                        out = [
                            int(v) for v in values if len(classes) <= v < 255
                        ]
                        if out:
                            bad = (f'mask {path} contains the values {out}, '
                                   f'outside the {len(classes)} classes.')
                        else:
                            pixels += np.bincount(
                                arr.ravel().astype(np.int64),
                                minlength=256)[:len(classes)]
            if bad:
                break
        if bad:
            problems.append(bad)
        else:
            ok.append(info)
    return dict(
        data_list=ok,
        problems=problems,
        num_listed=len(dataset),
        class_images=None,
        class_pixels=pixels)


def format_summary(result: dict, classes, header: str) -> str:
    """The summary table and the problem list as text."""
    lines = [header, '']
    images, pixels = result['class_images'], result['class_pixels']
    if classes and (images is not None or pixels is not None):
        width = max(len('class'), *(len(c) for c in classes))
        lines.append(f'| {"class":<{width}} | images | mask pixels |')
        lines.append(f'|{"-" * (width + 2)}|--------|-------------|')
        for k, name in enumerate(classes):
            img = '-' if images is None or (k == 0 and pixels is None) \
                else str(int(images[k]))
            pix = '-' if pixels is None else str(int(pixels[k]))
            lines.append(f'| {name:<{width}} | {img:>6} | {pix:>11} |')
        lines.append('')
    problems = result['problems']
    listed = result['num_listed']
    lines.append(f'images listed: {listed}, ok: {len(result["data_list"])}, '
                 f'problems: {len(problems)}')
    if problems:
        lines.append('')
        lines.append(f'{len(problems)} problem(s):')
        lines += [f'  - {p}' for p in problems]
    else:
        lines.append('OK: no problem found.')
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        print(f'error: config file {args.config!r} does not exist',
              file=sys.stderr)
        return 2
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import DATASETS
    try:
        ds_cfg = dataset_cfg(cfg, args.dataloader, args.split, args.data_root)
        dataset = DATASETS.build(ds_cfg)
        if isinstance(dataset, VOCClsDataset):
            result = dataset.scan(
                check_images=args.decode, check_masks=args.decode)
        else:
            result = _generic_scan(dataset, args.decode)
    except (DatasetError, KeyError) as err:
        print(f'error: {args.config}: {err}', file=sys.stderr)
        return 2
    checks = 'files exist, labels parse'
    if args.decode:
        checks += ', images and masks decode, mask values and sizes'
    header = (f'Dataset check of {args.config} '
              f'({args.dataloader}_dataloader.dataset, '
              f'{type(dataset).__name__})\n'
              f'  data root : {dataset.data_root}\n'
              f'  split list: {dataset.ann_file}\n'
              f'  checks    : {checks}')
    print(format_summary(result, dataset.metainfo.get('classes'), header))
    return 1 if result['problems'] else 0


if __name__ == '__main__':
    sys.exit(main())
