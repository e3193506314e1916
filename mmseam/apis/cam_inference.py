# Copyright (c) mmseam contributors. All rights reserved.
"""Multi-scale + flip CAM inference over a data set (spec 1.4).

One plain function, :func:`infer_cams`, is used by ``tools/infer_cams.py``
and by :class:`~mmseam.engine.hooks.PseudoLabelHook`.

Per image: the model's chosen output (the PCM output by default) is computed
at every scale (the original and flipped copies of a scale run as one
batch), foreground channels are resized to the original size, flipped back,
summed, ReLU'd and min-max normalised per class; classes absent from the
image-level labels are zeroed. Outputs per image (atomic writes):

* ``<out_dir>/cams/<img_id>.npz``: float16 CAMs of the present classes and
  their class indices (see :mod:`mmseam.apis.cam_io`);
* ``<out_dir>/pseudo_labels/<img_id>.png``: argmax of
  ``[bg_threshold, CAMs]`` as a palette PNG.

Re-running skips images whose outputs exist (``overwrite=False``), so an
interrupted run resumes where it stopped. With ``torch.distributed``
initialised each rank takes every ``world_size``-th image.
"""
import contextlib
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.dist import barrier, get_dist_info
from mmengine.model import is_model_wrapper
from mmengine.utils import ProgressBar

from .cam_io import remove_stale_tmp, save_cam, save_label_png

__all__ = ['infer_cams', 'cam_output_paths', 'image_id_of', 'cams_to_label']


def image_id_of(data_sample) -> str:
    """The image id of a data sample: its ``img_id`` or file stem."""
    meta = data_sample.metainfo
    if meta.get('img_id'):
        return str(meta['img_id'])
    return osp.splitext(osp.basename(meta['img_path']))[0]


def cam_output_paths(out_dir: str, img_id: str) -> Dict[str, str]:
    """Where :func:`infer_cams` writes the outputs of one image."""
    return dict(
        cam=osp.join(out_dir, 'cams', f'{img_id}.npz'),
        png=osp.join(out_dir, 'pseudo_labels', f'{img_id}.png'))


def _dataset_ids(dataset) -> list:
    ids = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        ids.append(
            str(info.get('img_id')
                or osp.splitext(osp.basename(info['img_path']))[0]))
    return ids


@torch.no_grad()
def infer_cams(model,
               dataset,
               out_dir: str,
               scales: Sequence[float] = (0.5, 1.0, 1.5, 2.0),
               flip: bool = True,
               source: Optional[str] = None,
               bg_threshold: Optional[float] = None,
               write_cams: bool = True,
               write_pngs: bool = True,
               overwrite: bool = False,
               amp_dtype: Optional[torch.dtype] = None,
               num_workers: int = 0,
               palette: Optional[Sequence[Sequence[int]]] = None,
               show_progress: bool = True) -> dict:
    """Run multi-scale CAM inference over ``dataset`` and write the results.

    Args:
        model (SEAM): A SEAM segmentor (model wrappers are unwrapped).
        dataset (BaseDataset): Dataset whose pipeline yields
            ``dict(inputs=uint8 3 x H x W, data_samples=SegDataSample)``
            with ``img_labels`` (use ``PackSegClsInputs``), at the original
            image size (no resize in the pipeline).
        out_dir (str): Output folder (``cams/`` and ``pseudo_labels/``).
        scales (Sequence[float]): Input scales. Defaults to the official
            ``(0.5, 1.0, 1.5, 2.0)``.
        flip (bool): Add horizontally flipped passes. Defaults to True.
        source (str, optional): 'pcm' or 'cam'; defaults to the model's
            ``test_cfg.cam_source``.
        bg_threshold (float, optional): Background score of the PNG pseudo
            labels; defaults to the model's ``test_cfg.bg_threshold``.
        write_cams (bool): Write the ``.npz`` CAM files.
        write_pngs (bool): Write the PNG pseudo labels.
        overwrite (bool): Recompute images whose outputs exist.
        amp_dtype (torch.dtype, optional): e.g. ``torch.bfloat16`` to run
            the network under autocast (CAMs are summed in fp32).
        num_workers (int): DataLoader workers for image loading.
        palette (Sequence, optional): PNG palette; defaults to the dataset
            metainfo palette.
        show_progress (bool): Show a progress bar on rank 0.

    Returns:
        dict: ``written`` (images computed by this rank), ``skipped``
        (already finished), ``total`` (images in the data set).
    """
    if is_model_wrapper(model):
        model = model.module
    cfg = model.test_cfg
    source = source or cfg['cam_source']
    bg_threshold = cfg['bg_threshold'] if bg_threshold is None \
        else bg_threshold
    if palette is None:
        palette = dataset.metainfo.get('palette')
    rank, world_size = get_dist_info()
    ids = _dataset_ids(dataset)
    todo = []
    skipped = 0
    for idx in range(rank, len(ids), world_size):
        paths = cam_output_paths(out_dir, ids[idx])
        done = ((not write_cams or osp.isfile(paths['cam']))
                and (not write_pngs or osp.isfile(paths['png'])))
        if done and not overwrite:
            skipped += 1
        else:
            todo.append(idx)

    # a job killed during a write leaves `.<name>.<rand>.tmp` files
    mine = [ids[idx] for idx in range(rank, len(ids), world_size)]
    remove_stale_tmp(osp.join(out_dir, 'cams'), [f'{i}.npz' for i in mine])
    remove_stale_tmp(
        osp.join(out_dir, 'pseudo_labels'), [f'{i}.png' for i in mine])
    loader = torch.utils.data.DataLoader(
        torch.utils.data.Subset(dataset, todo),
        batch_size=1,
        num_workers=num_workers,
        collate_fn=pseudo_collate,
        shuffle=False)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    autocast = (
        torch.autocast(device.type, dtype=amp_dtype)
        if amp_dtype is not None else contextlib.nullcontext())
    bar = ProgressBar(len(todo)) if (show_progress and rank == 0
                                     and len(todo)) else None
    written = 0
    try:
        for data in loader:
            data = model.data_preprocessor(data, False)
            inputs, sample = data['inputs'], data['data_samples'][0]
            ori = tuple(sample.metainfo.get('ori_shape', inputs.shape[-2:]))
            with autocast:
                raw = model.multiscale_cam(
                    inputs,
                    scales=scales,
                    flip=flip,
                    out_size=ori[:2],
                    source=source,
                    resize_mode=cfg.get('resize_mode', 'bilinear'))
            cam = model.normalize_cam(raw.float())[0]
            if 'img_labels' not in sample:
                raise KeyError(
                    f'{sample.metainfo.get("img_path")}: no image-level '
                    f'labels in the data sample; CAM inference needs them to '
                    f'keep the present classes (use PackSegClsInputs).')
            present = torch.nonzero(
                sample.img_labels.flatten() > 0).flatten()
            # the PNG is derived from the same float16 values that are saved
            cams = cam[present].cpu().numpy().astype(np.float16)
            class_ids = (present + 1).cpu().numpy().astype(np.int64)
            paths = cam_output_paths(out_dir, image_id_of(sample))
            if write_cams:
                save_cam(paths['cam'], cams, class_ids)
            if write_pngs:
                save_label_png(
                    paths['png'],
                    cams_to_label(cams, class_ids, bg_threshold), palette)
            written += 1
            if bar is not None:
                bar.update()
    finally:
        model.train(was_training)
    if world_size > 1:
        barrier()
    return dict(written=written, skipped=skipped, total=len(ids))


def cams_to_label(cams: np.ndarray, class_ids: np.ndarray,
                  bg_threshold: float) -> np.ndarray:
    """Argmax of ``[bg_threshold, cams]`` mapped to class indices.

    Args:
        cams (np.ndarray): (K, H, W) CAMs of the present classes.
        class_ids (np.ndarray): (K,) their class indices.
        bg_threshold (float): Background score.

    Returns:
        np.ndarray: uint8 (H, W) label map (0 = background).
    """
    lut = np.concatenate([[0], class_ids]).astype(np.uint8)
    if cams.shape[0] == 0:
        return np.zeros(cams.shape[1:], np.uint8)
    bg = np.full((1, ) + cams.shape[1:], bg_threshold, dtype=np.float32)
    return lut[np.concatenate([bg, cams.astype(np.float32)]).argmax(0)]
