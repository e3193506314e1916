# Copyright (c) mmseam contributors. All rights reserved.
"""Show CAMs and pseudo labels next to the images as one grid PNG.

    python tools/visualize_cams.py --img-dir DATA/JPEGImages \\
        --cam-dir OUT/cams --label-dir OUT/pseudo_labels \\
        [--gt-dir DATA/SegmentationClass] \\
        [--ids ID [ID ...] | --split-file DATA/.../train.txt] [--num 8] \\
        [--metainfo DATA/metainfo.json | CONFIG] [--alpha 0.5] \\
        --out grid.png

One row per image, columns ``image | GT | CAM | pseudo label``: the ground
truth (only with ``--gt-dir``) in the dataset palette, the per-pixel maximum
of the image's CAMs (``<cam-dir>/<id>.npz`` written by
``tools/infer_cams.py``) as a jet heat map over the image, and the pseudo
label (``<label-dir>/<id>.png``) blended over the image. Without ``--ids``
the first ``--num`` ids of ``--split-file`` (or, without it, of the label /
CAM folder in sorted order) are shown.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402

from mmseam.apis.cam_io import (load_cam, load_label_png,  # noqa: E402
                                load_metainfo)
from mmseam.apis.visualize import (cam_heatmap, colorize_label,  # noqa: E402
                                   load_rgb, overlay, save_grid)

IMG_EXTS = ('.jpg', '.jpeg', '.png', '.bmp')


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options (``argv`` defaults to ``sys.argv[1:]``)."""
    p = argparse.ArgumentParser(
        description='Grid of images, GT, CAM heat maps and pseudo labels')
    p.add_argument('--img-dir', required=True, help='folder of the images')
    p.add_argument('--cam-dir', help='folder of <id>.npz CAM files')
    p.add_argument('--label-dir', help='folder of <id>.png pseudo labels')
    p.add_argument('--gt-dir', help='folder of <id>.png ground-truth masks')
    sel = p.add_mutually_exclusive_group()
    sel.add_argument('--ids', nargs='+', help='image ids to show')
    sel.add_argument(
        '--split-file', help='split list (one id per line); first --num')
    p.add_argument(
        '--num',
        type=int,
        default=8,
        help='rows when picking ids from --split-file or the output folder')
    p.add_argument('--out', required=True, help='output PNG')
    p.add_argument(
        '--metainfo',
        help='json with "classes"/"palette" or a config; default VOC colours')
    p.add_argument('--alpha', type=float, default=0.5, help='overlay opacity')
    args = p.parse_args(argv)
    if not args.cam_dir and not args.label_dir:
        p.error('give --cam-dir and/or --label-dir (nothing to show)')
    if args.num < 1:
        p.error(f'--num must be >= 1, got {args.num}')
    return args


def _check_dir(path: Optional[str], flag: str) -> None:
    if path is not None and not osp.isdir(path):
        raise FileNotFoundError(f'{flag} {path!r} is not a folder; pass the '
                                'folder that holds the files.')


def select_ids(ids: Optional[Sequence[str]], split_file: Optional[str],
               num: int, fallback_dir: str, ext: str) -> List[str]:
    """The ids to show.

    Args:
        ids (Sequence[str], optional): Explicit ids (all are used).
        split_file (str, optional): Split list; its first ``num`` ids.
        num (int): Number of ids taken from the split file or folder.
        fallback_dir (str): Folder whose sorted ``*<ext>`` stems are used
            when neither ``ids`` nor ``split_file`` is given.
        ext (str): File extension in ``fallback_dir`` (``.png``/``.npz``).

    Returns:
        list[str]: Image ids.
    """
    if ids:
        return list(ids)
    if split_file:
        if not osp.isfile(split_file):
            raise FileNotFoundError(
                f'--split-file {split_file!r} does not exist.')
        with open(split_file) as f:
            found = [line.split()[0] for line in f if line.strip()]
    else:
        found = sorted(
            osp.splitext(n)[0] for n in os.listdir(fallback_dir)
            if n.endswith(ext) and not n.startswith('.'))
    if not found:
        raise ValueError(f'no image ids found in '
                         f'{split_file or fallback_dir}; pass --ids.')
    return found[:num]


def find_image(img_dir: str, img_id: str) -> str:
    """Path of ``<img_dir>/<img_id>.<jpg|jpeg|png|bmp>``."""
    for ext in IMG_EXTS:
        path = osp.join(img_dir, img_id + ext)
        if osp.isfile(path):
            return path
    raise FileNotFoundError(f'no image for id {img_id!r} in {img_dir} '
                            f'(tried {", ".join(IMG_EXTS)}); check --img-dir.')


def _file(folder: str, img_id: str, ext: str, hint: str) -> str:
    path = osp.join(folder, img_id + ext)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} does not exist; {hint}')
    return path


def _check_size(what: np.ndarray, img: np.ndarray, path: str) -> None:
    if what.shape[-2:] != img.shape[:2]:
        raise ValueError(
            f'{path} has size {what.shape[-2:]} but its image is '
            f'{img.shape[:2]}; CAMs and labels must be at the original image '
            'size (check --img-dir).')


def build_rows(ids: Sequence[str],
               img_dir: str,
               cam_dir: Optional[str] = None,
               label_dir: Optional[str] = None,
               gt_dir: Optional[str] = None,
               palette: Optional[Sequence[Sequence[int]]] = None,
               classes: Optional[Sequence[str]] = None,
               alpha: float = 0.5
               ) -> Tuple[List[List[np.ndarray]], List[str], List[str]]:
    """The grid cells, column titles and row titles.

    Args:
        ids (Sequence[str]): Image ids, one row each.
        img_dir (str): Image folder.
        cam_dir (str, optional): CAM ``.npz`` folder (CAM column).
        label_dir (str, optional): Pseudo-label PNG folder (label column).
        gt_dir (str, optional): Ground-truth PNG folder (GT column); a
            missing GT file gives a grey cell.
        palette (Sequence, optional): RGB per class; VOC colours if None.
        classes (Sequence[str], optional): Class names for the row titles.
        alpha (float): Opacity of the heat map and the label overlay.

    Returns:
        tuple: ``rows`` (``rows[r][c]`` uint8 (H_r, W_r, 3)), column titles
        and row titles (id and the CAM classes).
    """
    titles = ['image']
    if gt_dir:
        titles.append('ground truth')
    if cam_dir:
        titles.append('CAM')
    if label_dir:
        titles.append('pseudo label')
    rows, row_titles = [], []
    for img_id in ids:
        img = load_rgb(find_image(img_dir, img_id))
        row, title = [img], img_id
        if gt_dir:
            path = osp.join(gt_dir, img_id + '.png')
            if osp.isfile(path):
                gt = load_label_png(path)
                _check_size(gt, img, path)
                row.append(colorize_label(gt, palette))
            else:
                row.append(np.full_like(img, 128))
        if cam_dir:
            path = _file(cam_dir, img_id, '.npz',
                         'run tools/infer_cams.py or check --cam-dir.')
            cams, labels = load_cam(path)
            _check_size(cams, img, path)
            row.append(cam_heatmap(img, cams, alpha))
            names = [
                classes[c] if classes and c < len(classes) else str(c)
                for c in labels.tolist()
            ]
            title += '\n' + ','.join(names)
        if label_dir:
            path = _file(label_dir, img_id, '.png',
                         'run tools/infer_cams.py or check --label-dir.')
            label = load_label_png(path)
            _check_size(label, img, path)
            row.append(overlay(img, colorize_label(label, palette), alpha))
        rows.append(row)
        row_titles.append(title)
    return rows, titles, row_titles


def main(argv=None) -> str:
    """Write the grid PNG.

    Args:
        argv (list[str], optional): Command-line arguments.

    Returns:
        str: The output path; the PNG is ``220 * columns`` x ``220 * rows``
        pixels (see :func:`mmseam.apis.visualize.save_grid`).
    """
    args = parse_args(argv)
    for path, flag in ((args.img_dir, '--img-dir'), (args.cam_dir,
                                                     '--cam-dir'),
                       (args.label_dir, '--label-dir'), (args.gt_dir,
                                                         '--gt-dir')):
        _check_dir(path, flag)
    meta = load_metainfo(args.metainfo) if args.metainfo else {}
    fallback, ext = (args.label_dir, '.png') if args.label_dir else (
        args.cam_dir, '.npz')
    ids = select_ids(args.ids, args.split_file, args.num, fallback, ext)
    rows, titles, row_titles = build_rows(
        ids,
        args.img_dir,
        cam_dir=args.cam_dir,
        label_dir=args.label_dir,
        gt_dir=args.gt_dir,
        palette=meta.get('palette'),
        classes=meta.get('classes'),
        alpha=args.alpha)
    save_grid(rows, args.out, col_titles=titles, row_titles=row_titles)
    print(f'{len(ids)} images -> {args.out}')
    return args.out


if __name__ == '__main__':
    main()
