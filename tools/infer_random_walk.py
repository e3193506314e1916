# Copyright (c) mmseam contributors. All rights reserved.
"""AffinityNet random walk over a split: CAMs -> pseudo labels.

See docs/method.md, "AffinityNet and the random walk".

    python tools/infer_random_walk.py CONFIG CHECKPOINT --cam-dir DIR
        --out-dir DIR [--split train_aug] [--preset seam|psa]
        [--alpha A] [--beta B] [--logt T] [--method auto|dense|sparse]
        [--crf] [--overwrite] [--launcher none|pytorch|slurm|mpi]
        [--affinity-check MASK_DIR [--crf-dirs LA_DIR HA_DIR]]

Reads ``<cam-dir>/<id>.npz`` (``mmseam.apis.save_cam`` format; the official
``<id>.npy`` dict ``{fg index: (H, W)}`` is accepted too) and writes
``<out-dir>/<id>.png`` (palette PNG of class ids). Finished images are
skipped on a re-run (every PNG is written atomically), so a killed job just
continues. With ``torchrun --nproc_per_node=N ... --launcher pytorch``
every rank handles its own share of the ids.
"""
import argparse
import os
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmseam  # noqa: E402,F401
import numpy as np  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dist import barrier, get_dist_info  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from mmseam.apis.cam_io import (load_cam, remove_stale_tmp,  # noqa: E402
                                save_label_png)
from mmseam.apis.random_walk import (RW_PRESETS,  # noqa: E402
                                     random_walk_with_model)
from mmseam.utils import (destroy_dist, init_dist_any_device,  # noqa: E402
                          select_device)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Random-walk CAM refinement with a trained AffinityNet')
    p.add_argument('config', help='AffinityNet config')
    p.add_argument('checkpoint', help='AffinityNet checkpoint')
    p.add_argument('--cam-dir', required=True, help='folder of <id>.npz CAMs')
    p.add_argument('--out-dir', required=True, help='folder of output PNGs')
    p.add_argument(
        '--split',
        default=None,
        help="split list: a name ('train_aug' -> ImageSets/Segmentation/"
        "train_aug.txt under the data root) or a path; default: the "
        "split of the config's rw_dataloader (else test_dataloader)")
    p.add_argument(
        '--preset',
        choices=sorted(RW_PRESETS),
        default='seam',
        help='alpha/beta/logt preset: seam 6/8/6, psa 16/8/8')
    p.add_argument('--alpha', type=float, default=None)
    p.add_argument('--beta', type=float, default=None)
    p.add_argument('--logt', type=int, default=None)
    p.add_argument('--stride', type=int, default=8)
    p.add_argument(
        '--method',
        choices=['auto', 'dense', 'sparse'],
        default='auto',
        help='dense = official matrix squaring; sparse = banded steps')
    p.add_argument(
        '--dense-max-hw',
        type=int,
        default=None,
        help="'auto' random walk goes dense up to this many feature "
        'pixels (default: 1024 on the CPU, 8192 on a GPU)')
    p.add_argument(
        '--crf',
        action='store_true',
        help='refine the walked scores with a dense CRF (official t=1)')
    p.add_argument('--crf-t', type=int, default=1)
    p.add_argument('--overwrite', action='store_true')
    p.add_argument(
        '--affinity-check',
        metavar='MASK_DIR',
        default=None,
        help='also score the affinities against the ground-truth masks '
        '<MASK_DIR>/<id>.png (mmseam.apis.affinity_check); written to '
        '<out-dir>/affinity_check.json')
    p.add_argument(
        '--crf-dirs',
        nargs=2,
        metavar=('LA_DIR', 'HA_DIR'),
        default=None,
        help='with --affinity-check: the low/high-power CRF score folders '
        'AffinityNet learned from, whose pair labels are scored too')
    p.add_argument('--device', default=None)
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    p.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = p.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def split_dataset_cfg(cfg: Config, split=None) -> dict:
    """The random-walk dataset config without pipeline, optionally on a
    split: ``rw_dataloader.dataset`` (else ``test_dataloader.dataset``)."""
    loader = cfg.get('rw_dataloader') or cfg.get('test_dataloader')
    if not loader or 'dataset' not in loader:
        raise KeyError(f'{cfg.filename}: no `rw_dataloader.dataset` (or '
                       '`test_dataloader.dataset`) naming the images to '
                       'random-walk; add one to the config.')
    ds = loader['dataset'].copy()
    if split:
        if osp.isfile(split) or split.endswith('.txt'):
            ds['ann_file'] = split
        else:
            ds['ann_file'] = osp.join('ImageSets', 'Segmentation',
                                      f'{split}.txt')
    ds['pipeline'] = []
    return ds


def load_cams(cam_dir: str, img_id: str):
    """CAMs (K, H, W) float32 and class ids (K,) of one image."""
    path = osp.join(cam_dir, f'{img_id}.npz')
    if osp.isfile(path):
        return load_cam(path)
    npy = osp.join(cam_dir, f'{img_id}.npy')
    if osp.isfile(npy):  # official {fg index 0..: (H, W)} dict
        data = np.load(npy, allow_pickle=True).item()
        keys = sorted(data)
        cams = np.stack([np.asarray(data[k], np.float32) for k in keys])
        return cams, np.asarray(keys, np.int64) + 1
    raise FileNotFoundError(
        f'CAM file {path} does not exist; run tools/infer_cams.py on this '
        f'split first or fix --cam-dir.')


def image_ids(dataset) -> list:
    """(img_id, img_path) of every sample of a dataset."""
    items = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        img_id = info.get('img_id') or osp.splitext(
            osp.basename(info['img_path']))[0]
        items.append((str(img_id), info['img_path']))
    return items


def build_model(cfg: Config, checkpoint: str, device: str):
    """Build the AffinityNet and load its weights."""
    from mmengine.runner import load_checkpoint
    from mmseg.registry import MODELS
    model_cfg = cfg.model.copy()
    backbone = model_cfg.get('backbone')
    if isinstance(backbone, dict) and 'init_cfg' in backbone:
        backbone['init_cfg'] = None  # weights come from the checkpoint
    model = MODELS.build(model_cfg)
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    if not hasattr(model, 'predict_affinity'):
        raise TypeError(f'{cfg.filename}: model type {cfg.model.type!r} has '
                        'no predict_affinity(); use an AffinityNet config.')
    return model.to(device).eval()


def check_inputs(args) -> None:
    """Fail early on a missing config, checkpoint or CAM folder."""
    for path, what in ((args.config, 'config'), (args.checkpoint,
                                                 'checkpoint')):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what} file {path!r} does not exist')
    if not osp.isdir(args.cam_dir):
        raise FileNotFoundError(f'--cam-dir {args.cam_dir!r} does not exist; '
                                'run tools/infer_cams.py first.')


def walk_image(model, img_path: str, img_id: str, args,
               params: dict) -> np.ndarray:
    """The random-walk (and with ``--crf`` CRF-refined) label map of one
    image, (H, W) class ids."""
    import mmcv
    img = mmcv.imread(img_path)  # BGR uint8, as LoadImageFromFile
    if img is None:
        raise FileNotFoundError(f'image {img_path} cannot be read.')
    cams, labels = load_cams(args.cam_dir, img_id)
    out = random_walk_with_model(
        model,
        img,
        cams,
        labels,
        alpha=params['alpha'],
        beta=params['beta'],
        logt=int(params['logt']),
        stride=args.stride,
        method=args.method,
        dense_max_hw=args.dense_max_hw,
        return_scores=args.crf)
    if not args.crf:
        return out.cpu().numpy()
    from mmseam.apis.crf import crf_inference
    _, scores, class_ids = out
    rgb = np.ascontiguousarray(img[..., ::-1])
    scores = crf_inference(rgb, scores.cpu().numpy(), t=args.crf_t)
    return class_ids.cpu().numpy()[scores.argmax(0)]


def check_affinity(model, images: dict, args) -> dict:
    """Score the affinities (and the CRF pair labels) of ``images`` against
    their masks and write ``<out-dir>/affinity_check.json``."""
    import json

    from mmseam.apis import atomic_write
    from mmseam.apis.affinity_check import evaluate_affinity
    la_dir, ha_dir = args.crf_dirs or (None, None)
    res = evaluate_affinity(model, images, args.affinity_check, la_dir,
                            ha_dir, stride=args.stride)
    path = osp.join(args.out_dir, 'affinity_check.json')
    atomic_write(path, lambda f: f.write(json.dumps(res, indent=1).encode()))
    print(f'affinity check on {res["images"]} images: boundary pairs cut '
          f'{res["boundary_recall"]}, cut pairs on a boundary '
          f'{res["boundary_precision"]}, pairs within a region kept '
          f'{res["within_recall"]} ({path})')
    return res


def main(argv=None):
    args = parse_args(argv)
    check_inputs(args)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.launcher != 'none':
        init_dist_any_device(args.launcher)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import DATASETS
    rank, world = get_dist_info()
    device = select_device(args.device)
    params = dict(RW_PRESETS[args.preset])
    for key in ('alpha', 'beta', 'logt'):
        if getattr(args, key) is not None:
            params[key] = getattr(args, key)

    model = build_model(cfg, args.checkpoint, device)
    dataset = DATASETS.build(split_dataset_cfg(cfg, args.split))
    palette = dataset.metainfo.get('palette')
    items = image_ids(dataset)[rank::world]
    todo = [(i, p) for i, p in items if args.overwrite
            or not osp.isfile(osp.join(args.out_dir, f'{i}.png'))]
    os.makedirs(args.out_dir, exist_ok=True)
    # a job killed during a write leaves `.<name>.<rand>.tmp` files
    remove_stale_tmp(args.out_dir, [f'{i}.png' for i, _ in items])

    bar = None
    if rank == 0 and todo:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(len(todo))
    start = time.time()
    for img_id, img_path in todo:
        label = walk_image(model, img_path, img_id, args, params)
        save_label_png(
            osp.join(args.out_dir, f'{img_id}.png'), label.astype(np.uint8),
            palette)
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.file.write('\n')
    barrier()
    res = dict(
        written=len(todo),
        skipped=len(items) - len(todo),
        total_rank=len(items),
        seconds=time.time() - start)
    if rank == 0:
        print(f'random walk ({params}): {res["written"]} written, '
              f'{res["skipped"]} already done (rank 0 of {world}); outputs '
              f'in {args.out_dir}')
    if args.affinity_check and rank == 0:
        res['affinity_check'] = check_affinity(model, dict(items), args)
    if args.launcher != 'none':
        destroy_dist()
    return res


if __name__ == '__main__':
    main()
