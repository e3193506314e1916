# Copyright (c) mmseam contributors. All rights reserved.
"""Multi-scale + flip CAM inference over a split (docs/method.md).

    python tools/infer_cams.py CONFIG CHECKPOINT --out-dir DIR
        [--split train] [--scales 0.5 1.0 1.5 2.0] [--no-flip]
        [--bg-threshold 0.26] [--source pcm|cam] [--amp bf16|fp16]
        [--batch-size N] [--bucket-by-size] [--crf [ALPHA ...]]
        [--crf-workers W]
        [--overwrite] [--launcher none|pytorch|slurm|mpi]

Writes ``DIR/cams/<id>.npz`` and ``DIR/pseudo_labels/<id>.png``. Finished
images are skipped on a re-run, so a killed job just continues. Run it with
``torchrun --nproc_per_node=N tools/infer_cams.py ... --launcher pytorch``
to shard the split over GPUs/processes.

``--batch-size N`` runs up to N same-size images as one batch per scale.
``--bucket-by-size`` runs the split grouped by image size (sizes read from
the file headers; the config's ``model.test_cfg.bucket_by_size`` when not
given): same-size images batch together and a compiled network sees each
size in one stretch; every output is the same as in split order.
``--crf`` (default alphas 4 24, SEAM's la/ha) also runs the dense CRF in
``--crf-workers`` CPU processes while the network computes the next images
(GPU inference and CRF overlap) and writes what ``tools/crf_refine.py``
writes, under ``DIR/crf`` (``--crf-out-dir``).
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmseam  # noqa: E402,F401
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dist import get_dist_info  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from mmseam.apis import infer_cams  # noqa: E402
from mmseam.utils import (destroy_dist, init_dist_any_device,  # noqa: E402
                          select_device)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Multi-scale CAM inference')
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--out-dir', required=True)
    p.add_argument(
        '--split',
        default=None,
        help="split list: a name ('train' -> ImageSets/Segmentation/"
        "train.txt under the data root) or a path; default: the config's "
        'test split')
    p.add_argument(
        '--scales', type=float, nargs='+', default=[0.5, 1.0, 1.5, 2.0])
    p.add_argument('--no-flip', action='store_true')
    p.add_argument('--bg-threshold', type=float, default=None)
    p.add_argument('--source', choices=['pcm', 'cam'], default=None)
    p.add_argument('--amp', choices=['bf16', 'fp16'], default=None)
    p.add_argument('--overwrite', action='store_true')
    p.add_argument('--num-workers', type=int, default=2)
    p.add_argument(
        '--batch-size',
        type=int,
        default=1,
        help='same-size images run as one batch per scale')
    p.add_argument(
        '--bucket-by-size',
        action='store_true',
        default=None,
        help='run the images grouped by (H, W) from their file headers '
        "(default: the config's model.test_cfg.bucket_by_size)")
    p.add_argument(
        '--crf',
        type=float,
        nargs='*',
        default=None,
        metavar='ALPHA',
        help='also run the dense CRF for these background powers '
        '(no value: SEAM la/ha 4 24), overlapped with the inference')
    p.add_argument(
        '--crf-workers',
        type=int,
        default=min(8,
                    os.cpu_count() or 1),
        help='CPU processes for the CRF')
    p.add_argument('--crf-out-dir', default=None, help='default: DIR/crf')
    p.add_argument(
        '--crf-preset',
        default='seam',
        help='CRF parameter preset (mmseam.apis.CRF_PRESETS)')
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


def split_dataset_cfg(cfg: Config, split=None):
    """The test dataset config, optionally on another split list."""
    ds = cfg.test_dataloader.dataset.copy()
    if split:
        if osp.isfile(split) or split.endswith('.txt'):
            ds['ann_file'] = split
        else:
            ds['ann_file'] = osp.join('ImageSets', 'Segmentation',
                                      f'{split}.txt')
    return ds


def build_model(cfg: Config, checkpoint: str, device: str):
    """Build the segmentor of ``cfg`` and load ``checkpoint`` (eval mode).

    ``mmseg.apis.init_model`` needs ``model.decode_head`` when the checkpoint
    carries no ``dataset_meta`` (plain ``state_dict`` files, converted
    weights), which SEAM does not have; the classes come from the data set
    here anyway.
    """
    from mmengine.runner.checkpoint import (_load_checkpoint,
                                            _load_checkpoint_to_model)
    from mmseg.registry import MODELS

    from mmseam.engine import check_checkpoint_fits
    cfg.model.pretrained = None
    cfg.model.train_cfg = None
    model = MODELS.build(cfg.model)
    ckpt = _load_checkpoint(checkpoint, map_location='cpu')
    # every weight must come from the checkpoint (mmengine only warns)
    check_checkpoint_fits(model, ckpt, f'checkpoint {checkpoint}')
    _load_checkpoint_to_model(model, ckpt)
    model.cfg = cfg
    return model.to(device).eval()


def main(argv=None):
    args = parse_args(argv)
    for path, what in ((args.config, 'config'), (args.checkpoint,
                                                 'checkpoint')):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what} file {path!r} does not exist')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.launcher != 'none':
        init_dist_any_device(args.launcher)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import DATASETS
    rank, world = get_dist_info()
    device = select_device(args.device)
    model = build_model(cfg, args.checkpoint, device)
    dataset = DATASETS.build(split_dataset_cfg(cfg, args.split))
    amp = dict(bf16=torch.bfloat16, fp16=torch.float16).get(args.amp)
    crf = None
    if args.crf is not None:
        from dataclasses import replace

        from mmseam.apis import CRFConfig
        crf = CRFConfig.preset(args.crf_preset)
        if args.crf:
            crf = replace(crf, alphas=tuple(args.crf))
    res = infer_cams(
        model,
        dataset,
        args.out_dir,
        scales=args.scales,
        flip=not args.no_flip,
        source=args.source,
        bg_threshold=args.bg_threshold,
        overwrite=args.overwrite,
        amp_dtype=amp,
        num_workers=args.num_workers,
        batch_size=args.batch_size,
        crf=crf,
        crf_out_dir=args.crf_out_dir,
        crf_workers=args.crf_workers,
        bucket_by_size=args.bucket_by_size)
    if rank == 0:
        print(f'\nCAM inference: {res["written"]} written, {res["skipped"]} '
              f'already done (rank 0 of {world}), {res["total"]} images; '
              f'outputs in {args.out_dir}')
        if crf is not None:
            print(f'CRF (alphas {crf.alphas}): {res["crf_processed"]} images '
                  f'refined; outputs in '
                  f'{args.crf_out_dir or osp.join(args.out_dir, "crf")}')
    if args.launcher != 'none':
        destroy_dist()
    return res


if __name__ == '__main__':
    main()
