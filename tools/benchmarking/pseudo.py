# Copyright (c) mmseam contributors. All rights reserved.
"""``--what pseudo``: pseudo labels for a whole split, end to end."""
import os
import os.path as osp
import tempfile
from typing import List, Optional, Tuple

import numpy as np
import torch
from mmengine.config import Config

from .configs import build_model, set_cudnn
from .env import sync
from .inputs import cycle_sizes, make_labels, smooth_image


class _ImageFolderSplit(torch.utils.data.Dataset):
    """JPEG files + random image labels, shaped like the CAM inference
    dataset (``PackSegClsInputs`` output at the original size)."""

    def __init__(self, paths: List[str], labels: torch.Tensor):
        self.paths = paths
        self.labels = labels
        self.metainfo = dict(palette=None)

    def __len__(self) -> int:
        return len(self.paths)

    def get_data_info(self, idx: int) -> dict:
        path = self.paths[idx]
        return dict(
            img_path=path, img_id=osp.splitext(osp.basename(path))[0])

    def __getitem__(self, idx: int) -> dict:
        from mmseg.structures import SegDataSample
        from PIL import Image
        with Image.open(self.paths[idx]) as im:
            img = np.array(im.convert('RGB'))[..., ::-1]  # BGR as mmcv
        h, w = img.shape[:2]
        sample = SegDataSample(
            metainfo=dict(
                img_path=self.paths[idx],
                ori_shape=(h, w),
                img_shape=(h, w)))
        sample.set_data(dict(img_labels=self.labels[idx]))
        inputs = torch.from_numpy(np.ascontiguousarray(
            img.transpose(2, 0, 1)))
        return dict(inputs=inputs, data_samples=sample)


def write_split(args, num_fg: int, workdir: str):
    """``--num-images`` smooth JPEG images in ``workdir/images`` (kept when
    present) and their dataset: all of ``--img-size``, or with
    ``--size-cycle K`` the K sizes of :func:`cycle_sizes` in turn (image i
    has size i mod K, a split of mixed sizes in no particular order)."""
    from PIL import Image
    sizes = cycle_sizes(args.img_size, getattr(args, 'size_cycle', 1))
    img_dir = osp.join(workdir, 'images')
    os.makedirs(img_dir, exist_ok=True)
    paths = []
    for i in range(args.num_images):
        h, w = sizes[i % len(sizes)]
        path = osp.join(img_dir, f'img_{i:05d}_{h}x{w}.jpg')
        if not osp.isfile(path):
            Image.fromarray(smooth_image(h, w, args.seed + i)).save(
                path, quality=90)
        paths.append(path)
    labels = make_labels(args.num_images, num_fg, args.seed)
    return img_dir, _ImageFolderSplit(paths, labels)


def pseudo_step_fn(cfg: Config, args, device: torch.device,
                   amp: Optional[str], overlap: bool, workdir: str):
    """Pseudo labels + CRF of a whole split with ``infer_cams`` (without
    the CRF with ``--no-crf``; grouped by image size with
    ``--bucket-by-size``)."""
    from mmseam.apis import CRFConfig, infer_cams, refine_split
    set_cudnn(cfg, device)
    model = build_model(cfg, device, args.seed)
    model.eval()
    if amp:
        model.test_cfg['amp_dtype'] = amp
    img_dir, dataset = write_split(args, model.num_classes - 1, workdir)
    workers = args.workers or max(len(os.sched_getaffinity(0)) - 2, 1)
    crf = None if getattr(args, 'no_crf', False) else CRFConfig(
        alphas=(4, 24))
    bucket = bool(getattr(args, 'bucket_by_size', False))
    out = osp.join(workdir, 'overlap' if overlap else 'two_step')
    common = dict(
        scales=args.scales,
        flip=not args.no_flip,
        overwrite=True,
        num_workers=2,
        batch_size=args.batch,
        bucket_by_size=bucket,
        show_progress=False)
    # warm-up (cudnn autotuning, allocator, compiles) on two images or one
    # of each size, untimed
    n_warm = max(2, getattr(args, 'size_cycle', 1))
    warm = _ImageFolderSplit(dataset.paths[:n_warm], dataset.labels[:n_warm])
    infer_cams(model, warm, osp.join(workdir, 'warmup'),
               **dict(common, num_workers=0))

    def step():
        if crf is None:
            infer_cams(model, dataset, out, **common)
        elif overlap:
            infer_cams(
                model,
                dataset,
                out,
                crf=crf,
                crf_workers=workers,
                **common)
        else:
            infer_cams(model, dataset, out, **common)
            refine_split([dataset.get_data_info(i)['img_id']
                          for i in range(len(dataset))],
                         cam_dir=osp.join(out, 'cams'),
                         img_dir=img_dir,
                         out_dir=osp.join(out, 'crf'),
                         alphas=crf.alphas,
                         crf_cfg=crf,
                         workers=workers,
                         overwrite=True,
                         progress=False)
        sync(device)

    return step, args.num_images, dict(
        channels_last=bool(getattr(model, 'channels_last', False)),
        amp=model.test_cfg.get('amp_dtype'),
        crf_workers=workers,
        overlap=overlap,
        crf=crf is not None,
        bucket_by_size=bucket,
        size_cycle=getattr(args, 'size_cycle', 1),
        num_images=args.num_images)


def plan(bench, cfg: Config, args,
         device: torch.device) -> List[Tuple[str, str]]:
    """Queue the pseudo modes on ``bench`` (their images in a temporary
    folder that ``bench`` removes); returns the ratio pairs."""
    workdir = tempfile.mkdtemp(prefix='mmseam_bench_pseudo_')
    bench.cleanups.append(workdir)
    amp = ('bfloat16' if args.amp else None) or cfg.model.get(
        'test_cfg', {}).get('amp_dtype')
    if not args.compare_strict:
        bench.add('config', lambda: pseudo_step_fn(cfg, args, device, amp,
                                                   True, workdir))
        return []
    bench.add('two_step', lambda: pseudo_step_fn(cfg, args, device, amp,
                                                 False, workdir))
    bench.add('fast', lambda: pseudo_step_fn(cfg, args, device, amp, True,
                                             workdir))
    return [('fast', 'two_step')]
