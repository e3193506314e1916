# Copyright (c) mmseam contributors. All rights reserved.
"""Where one pseudo-label image's time goes, stage by stage.

    python -m tools.benchmarking.stages CONFIG [--checkpoint CKPT]
        [--num-images N] [--img-size H W] [--repeats R] [--threads T]
        [--device cpu|cuda] [--work-dir DIR]

Runs, image by image and one stage after the other, what
``tools/infer_cams.py --crf`` does for an image: JPEG decode, data
preprocessor, network passes (4 scales x flip), the resize of the passes'
maps to the image (:meth:`SEAM._to_image`, timed inside the network call),
normalisation + host copy, CAM npz and PNG writes, then the dense CRF for
alphas 4 and 24 split into the CAM unaries, the kernels (the bilateral
lattice), per alpha the background unary + mean field, and the CRF npz /
PNG writes. For comparison it also times ``crf_separate``: one CRF object
per alpha (:func:`mmseam.apis.crf_with_alpha` per alpha, the results are
the same). With ``--img-size`` the images are smooth random JPEGs of that
size with 1-3 random classes; without it the train split of a synthetic
VOC data set (:func:`mmseam.datasets.make_synthetic_voc`, 224 x 224) with
the classes of its masks. Random weights unless ``--checkpoint``.

Prints one JSON line per repeat with the seconds per image of every stage
(mean over the images) and a final line with each stage's median over the
repeats, its spread (max - min) and its share of the total.
"""
import argparse
import contextlib
import json
import os
import os.path as osp
import sys
import tempfile
import time
from collections import defaultdict
from typing import Dict, List, Tuple

import numpy as np
import torch

ALPHAS = (4, 24)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('--checkpoint', default=None)
    p.add_argument('--num-images', type=int, default=40)
    p.add_argument(
        '--img-size', type=int, nargs=2, default=None, metavar=('H', 'W'))
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    p.add_argument(
        '--work-dir', default=None, help='default: a temporary folder')
    p.add_argument('--seed', type=int, default=0)
    return p.parse_args(argv)


def make_images(args, num_fg: int,
                work_dir: str) -> List[Tuple[str, np.ndarray]]:
    """``(jpeg path, present class ids)`` of the images to profile."""
    from PIL import Image

    from .inputs import make_labels, smooth_image
    if args.img_size:
        h, w = args.img_size
        img_dir = osp.join(work_dir, f'jpeg_{h}x{w}')
        os.makedirs(img_dir, exist_ok=True)
        labels = make_labels(args.num_images, num_fg, args.seed).numpy()
        out = []
        for i in range(args.num_images):
            path = osp.join(img_dir, f'img_{i:05d}.jpg')
            if not osp.isfile(path):
                Image.fromarray(smooth_image(h, w, args.seed + i)).save(
                    path, quality=90)
            out.append((path, np.flatnonzero(labels[i]) + 1))
        return out
    from mmseam.datasets import make_synthetic_voc
    root = osp.join(work_dir, 'synthvoc')
    if not osp.isdir(osp.join(root, 'JPEGImages')):
        make_synthetic_voc(
            root, seed=args.seed, num_train=args.num_images, num_val=0)
    with open(osp.join(root, 'ImageSets', 'Segmentation', 'train.txt')) as f:
        ids = f.read().split()[:args.num_images]
    out = []
    for img_id in ids:
        with Image.open(osp.join(root, 'SegmentationClass',
                                 f'{img_id}.png')) as im:
            gt = np.unique(np.array(im))
        present = gt[(gt > 0) & (gt < 255) & (gt < num_fg + 1)]
        out.append((osp.join(root, 'JPEGImages', f'{img_id}.jpg'),
                    present.astype(np.int64)))
    return out


class _Clock:
    """Seconds per named stage, summed over the images."""

    def __init__(self, device: torch.device):
        self.device = device
        self.sums: Dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def __call__(self, name: str):
        if self.device.type == 'cuda':
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        yield
        if self.device.type == 'cuda':
            torch.cuda.synchronize()
        self.sums[name] += time.perf_counter() - t0


def profile_once(model, images, out_dir: str, device: torch.device,
                 cam_kwargs: dict) -> Dict[str, float]:
    """Seconds per image of every stage over ``images``."""
    from mmseg.structures import SegDataSample
    from PIL import Image

    from mmseam.apis import (CRFConfig, crf_with_alpha, save_cam,
                             save_crf_scores, save_label_png)
    from mmseam.apis.cam_inference import cams_to_label
    from mmseam.apis.crf import _dense_crf, crf_output_dirs
    from mmseam.models.segmentors.seam import SEAM
    clock = _Clock(device)
    crf_kw = CRFConfig().crf_kwargs()
    to_image = SEAM._to_image

    def timed_to_image(*a, **k):
        with clock('resize'):
            return to_image(*a, **k)

    num_classes = model.num_classes
    SEAM._to_image = staticmethod(timed_to_image)
    try:
        for path, present in images:
            img_id = osp.splitext(osp.basename(path))[0]
            with clock('decode'):
                with Image.open(path) as im:
                    rgb = np.array(im.convert('RGB'))
                inputs = torch.from_numpy(
                    np.ascontiguousarray(rgb[..., ::-1].transpose(2, 0, 1)))
            h, w = rgb.shape[:2]
            sample = SegDataSample(
                metainfo=dict(img_path=path, ori_shape=(h, w),
                              img_shape=(h, w)))
            with clock('preprocess'):
                data = model.data_preprocessor(
                    dict(inputs=[inputs], data_samples=[sample]), False)
            t_resize = clock.sums['resize']
            with clock('network_and_resize'):
                raw = model.multiscale_cam(
                    data['inputs'], out_size=(h, w), **cam_kwargs)
            with clock('normalize_copy'):
                cams_all = model.normalize_cam(
                    raw.float()).half().cpu().numpy()[0]
            clock.sums['network'] += clock.sums.pop('network_and_resize') \
                - (clock.sums['resize'] - t_resize)
            present = present[present < num_classes]
            cams = cams_all[present - 1]
            with clock('cam_npz_write'):
                save_cam(osp.join(out_dir, 'cams', f'{img_id}.npz'), cams,
                         present)
            with clock('cam_png_write'):
                save_label_png(
                    osp.join(out_dir, 'pseudo_labels', f'{img_id}.png'),
                    cams_to_label(cams, present, 0.26), None)
            cams32 = cams.astype(np.float32)
            full = np.concatenate([[0], present]).astype(np.int64)
            k = len(present)
            with clock('crf_cam_unary'):
                unary = np.empty((1 + k, h * w), np.float32)
                unary[1:] = -np.log(np.clip(cams32, 1e-5, 1.0)).reshape(
                    k, -1)
                inv_max = 1 - cams32.max(axis=0)
            with clock('crf_kernels'):
                run = _dense_crf(rgb, 1 + k, **crf_kw)
            for alpha in ALPHAS:
                with clock(f'crf_{alpha}_bg_unary'):
                    bg = np.power(inv_max, np.float32(alpha)).astype(
                        np.float32)
                    unary[0] = -np.log(np.clip(bg, 1e-5, 1.0)).reshape(-1)
                with clock(f'crf_{alpha}_meanfield'):
                    scores = run(unary)
                score_dir, png_dir = crf_output_dirs(
                    osp.join(out_dir, 'crf'), alpha)
                with clock('crf_npz_write'):
                    save_crf_scores(
                        osp.join(score_dir, f'{img_id}.npz'), scores, full)
                with clock('crf_png_write'):
                    save_label_png(
                        osp.join(png_dir, f'{img_id}.png'),
                        full[np.argmax(scores, axis=0)], None)
            with clock('crf_separate'):
                for alpha in ALPHAS:
                    crf_with_alpha(rgb, cams32, present, alpha, **crf_kw)
    finally:
        SEAM._to_image = staticmethod(to_image)
    return {k: v / len(images) for k, v in clock.sums.items()}


def summarise(rounds: List[Dict[str, float]]) -> dict:
    """Median and spread of every stage over the repeats."""
    names = list(rounds[0])
    med = {n: float(np.median([r[n] for r in rounds])) for n in names}
    total = sum(v for n, v in med.items() if n != 'crf_separate')
    crf_shared = sum(v for n, v in med.items()
                     if n.startswith('crf_') and n != 'crf_separate'
                     and not n.endswith('_write'))
    return dict(
        median_s=med,
        spread_s={
            n: float(max(r[n] for r in rounds) - min(r[n] for r in rounds))
            for n in names
        },
        share={n: med[n] / total
               for n in names if n != 'crf_separate'},
        total_s=total,
        img_per_s=1 / total,
        crf_compute_shared_s=crf_shared)


def main(argv=None) -> dict:
    args = parse_args(argv)
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))
    import mmseam  # noqa: F401

    from .configs import build_model, load_config
    from .env import device_name, git_commit, git_dirty
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cfg = load_config(args.config)
    model = build_model(cfg, device, args.seed)
    if args.checkpoint:
        from mmengine.runner import load_checkpoint
        load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.eval()
    work_dir = args.work_dir or tempfile.mkdtemp(prefix='mmseam_stages_')
    images = make_images(args, model.num_classes - 1, work_dir)
    test_cfg = model.test_cfg
    cam_kwargs = dict(
        scales=(0.5, 1.0, 1.5, 2.0),
        flip=True,
        source=test_cfg.get('cam_source', 'pcm'),
        resize_mode=test_cfg.get('resize_mode', 'bilinear'))
    rounds = []
    with torch.no_grad():
        # warm-up on one image (allocator, first-call overheads)
        profile_once(model, images[:1], osp.join(work_dir, 'warmup'),
                     device, cam_kwargs)
        for r in range(args.repeats):
            rounds.append(
                profile_once(model, images, osp.join(work_dir, 'out'),
                             device, cam_kwargs))
            print(json.dumps(dict(repeat=r, sec_per_image=rounds[-1])),
                  flush=True)
    h, w = args.img_size or (224, 224)
    res = dict(
        what='pseudo_stages',
        config=args.config,
        checkpoint=args.checkpoint,
        num_images=len(images),
        img_size=[h, w],
        repeats=args.repeats,
        threads=torch.get_num_threads(),
        **summarise(rounds),
        device=device.type,
        device_name=device_name(device),
        torch=torch.__version__,
        commit=git_commit(),
        git_dirty=git_dirty())
    print(json.dumps(res), flush=True)
    return res


if __name__ == '__main__':
    main()
