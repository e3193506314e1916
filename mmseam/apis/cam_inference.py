# Copyright (c) mmseam contributors. All rights reserved.
"""Multi-scale + flip CAM inference over a data set.

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

Throughput options: ``batch_size`` runs up to that many images of the same
size as one batch per scale (images are grouped as they arrive; the maths
per image is unchanged), and ``crf`` hands each image's CAMs to a pool of
CPU worker processes running the dense CRF (:class:`AsyncCRFRefiner`) while
the network goes on with the next images, so CAM inference on a GPU and the
CRF overlap. ``bucket_by_size`` runs the images grouped by size (read from
the file headers, :func:`size_bucket_order`), so that same-size images batch
together and a compiled network (CUDA graphs, static shapes) sees each size
in one stretch on a split of mixed sizes; the outputs are those of the split
order.
"""
import contextlib
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.dist import barrier, get_dist_info
from mmengine.model import is_model_wrapper
from mmengine.utils import ProgressBar

from .cam_io import load_cam, remove_stale_tmp, save_cam, save_label_png
from .crf import AsyncCRFRefiner, CRFConfig, crf_output_dirs

__all__ = [
    'infer_cams', 'cam_output_paths', 'image_id_of', 'cams_to_label',
    'read_image_sizes', 'size_bucket_order', 'default_cam_amp',
    'cpu_has_native_bf16'
]


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


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 / AMX, as
    oneDNN reports it); elsewhere bf16 autocast is emulated."""
    try:
        return bool(torch.backends.mkldnn.is_available()
                    and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def default_cam_amp(device: str,
                    amp: bool = False,
                    fp32: bool = False) -> Optional[torch.dtype]:
    """The autocast dtype of the pipeline's CAM inference.

    bf16 on CUDA when ``amp`` is asked for; on a CPU bf16 by default where
    it is native (:func:`cpu_has_native_bf16`: there it runs the synthetic
    demo's inference 1.4x faster with the same pseudo-label mIoU to 0.02,
    docs/benchmarks.md), fp32 elsewhere or with ``fp32``.

    Args:
        device (str): 'cpu', 'cuda' or 'cuda:N'.
        amp (bool): bf16 asked for (``--amp``).
        fp32 (bool): fp32 asked for (``--fp32-cams``); wins over ``amp``.

    Returns:
        torch.dtype | None: ``torch.bfloat16`` or None (fp32).
    """
    if fp32:
        return None
    if str(device).startswith('cuda'):
        return torch.bfloat16 if amp else None
    return torch.bfloat16 if (amp or cpu_has_native_bf16()) else None


def read_image_sizes(paths: Sequence[str]) -> List[Tuple[int, int]]:
    """``(H, W)`` of image files, from their headers (no decoding).

    Args:
        paths (Sequence[str]): Image files (any format PIL reads).

    Returns:
        list[tuple[int, int]]: One (height, width) per file, as stored (an
        EXIF rotation is not applied).

    Raises:
        FileNotFoundError: A file does not exist.
    """
    from PIL import Image
    sizes = []
    for path in paths:
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'image {path} does not exist; check the data root and the '
                'split file.')
        with Image.open(path) as im:
            w, h = im.size
        sizes.append((int(h), int(w)))
    return sizes


def size_bucket_order(sizes: Sequence[Tuple[int, int]]) -> List[int]:
    """Positions of ``sizes`` grouped by size, stable.

    The groups come in the order of their first image, the images of a
    group in their original order: ``[(2, 3), (4, 5), (2, 3), (1, 1)]``
    gives ``[0, 2, 1, 3]``.

    Args:
        sizes (Sequence[tuple[int, int]]): (H, W) per image, N entries.

    Returns:
        list[int]: A permutation of ``range(N)``.
    """
    groups: Dict[Tuple[int, int], List[int]] = {}
    for pos, size in enumerate(sizes):
        groups.setdefault(tuple(size), []).append(pos)
    return [pos for members in groups.values() for pos in members]


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
               show_progress: bool = True,
               batch_size: int = 1,
               crf: Optional[CRFConfig] = None,
               crf_out_dir: Optional[str] = None,
               crf_workers: int = 0,
               bucket_by_size: Optional[bool] = None) -> dict:
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
        batch_size (int): Images of the same size run as one N x 3 x H x W
            batch per scale (N <= batch_size; 2N with flips). Defaults to 1.
        crf (CRFConfig, optional): Also run the dense CRF of every image
            (its ``alphas``, e.g. SEAM's la/ha 4 and 24) on the float16
            CAMs as saved, writing what ``tools/crf_refine.py`` writes.
        crf_out_dir (str, optional): CRF output root; defaults to
            ``<out_dir>/crf``.
        crf_workers (int): CPU processes for the CRF; they run while the
            network computes the next images (0 = in this process, after
            each batch).
        bucket_by_size (bool, optional): Run the images to compute grouped
            by (H, W) (:func:`size_bucket_order` of the sizes in the file
            headers) instead of in split order: same-size images batch
            together and each size runs in one stretch (compiled networks
            reuse their graph). Each image's outputs are the same; the
            sizes only order the work. Defaults to the model's
            ``test_cfg.bucket_by_size`` (False when unset).

    Returns:
        dict: ``written`` (images computed by this rank), ``skipped``
        (already finished), ``total`` (images in the data set), and with
        ``crf``: ``crf_processed`` (images CRF-refined by this rank).
    """
    if is_model_wrapper(model):
        model = model.module
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}.')
    cfg = model.test_cfg
    bg_threshold = cfg['bg_threshold'] if bg_threshold is None \
        else bg_threshold
    if palette is None:
        palette = dataset.metainfo.get('palette')
    if crf is not None and crf_out_dir is None:
        crf_out_dir = osp.join(out_dir, 'crf')
    rank, world_size = get_dist_info()
    ids = _dataset_ids(dataset)
    mine = list(range(rank, len(ids), world_size))
    _remove_stale(out_dir, [ids[idx] for idx in mine], crf, crf_out_dir)
    refiner = None if crf is None else AsyncCRFRefiner(
        crf_out_dir,
        alphas=crf.alphas,
        palette=palette,
        crf_cfg=crf,
        workers=crf_workers,
        overwrite=overwrite)
    todo, crf_only, skipped = _split_work(
        mine, ids, out_dir, refiner, overwrite, write_cams, write_pngs)
    if bucket_by_size is None:
        bucket_by_size = bool(cfg.get('bucket_by_size', False))
    if bucket_by_size and todo:
        sizes = read_image_sizes(
            [dataset.get_data_info(idx)['img_path'] for idx in todo])
        todo = [todo[pos] for pos in size_bucket_order(sizes)]
    writer = _CamWriter(
        model,
        out_dir,
        dict(
            scales=scales,
            flip=flip,
            source=source or cfg['cam_source'],
            resize_mode=cfg.get('resize_mode', 'bilinear')),
        amp_dtype=amp_dtype,
        bg_threshold=bg_threshold,
        palette=palette,
        write_cams=write_cams,
        write_pngs=write_pngs,
        refiner=refiner)
    was_training = model.training
    model.eval()
    total_work = len(todo) + len(crf_only)
    bar = ProgressBar(total_work) if (show_progress and rank == 0
                                      and total_work) else None
    try:
        _refine_saved_cams(crf_only, ids, dataset, out_dir, refiner, bar)
        loader = torch.utils.data.DataLoader(
            torch.utils.data.Subset(dataset, todo),
            batch_size=1,
            num_workers=num_workers,
            collate_fn=pseudo_collate,
            shuffle=False)
        for batch in _same_size_batches(loader, batch_size,
                                        bucket_by_size):
            writer.run_batch(batch, bar)
        res = dict(written=writer.written, skipped=skipped, total=len(ids))
        if refiner is not None:
            res['crf_processed'] = refiner.close()
    finally:
        if refiner is not None:
            refiner.terminate()
        model.train(was_training)
    if world_size > 1:
        barrier()
    return res


def _remove_stale(out_dir: str, img_ids: List[str], crf: Optional[CRFConfig],
                  crf_out_dir: Optional[str]) -> None:
    """Remove the ``.<name>.<rand>.tmp`` files a job killed during a write
    left for these images (CAMs, PNGs and, with ``crf``, CRF outputs)."""
    remove_stale_tmp(osp.join(out_dir, 'cams'), [f'{i}.npz' for i in img_ids])
    remove_stale_tmp(
        osp.join(out_dir, 'pseudo_labels'), [f'{i}.png' for i in img_ids])
    if crf is None:
        return
    for alpha in crf.alphas:
        for folder, ext in zip(crf_output_dirs(crf_out_dir, alpha),
                               ('npz', 'png')):
            remove_stale_tmp(folder, [f'{i}.{ext}' for i in img_ids])


def _split_work(mine: List[int], ids: List[str], out_dir: str,
                refiner: Optional[AsyncCRFRefiner], overwrite: bool,
                write_cams: bool,
                write_pngs: bool) -> Tuple[List[int], List[int], int]:
    """``(todo, crf_only, skipped)``: the dataset indices to run through the
    network, those whose saved CAMs only miss the CRF, and the count of
    finished images."""
    todo, crf_only, skipped = [], [], 0
    for idx in mine:
        paths = cam_output_paths(out_dir, ids[idx])
        net_done = not overwrite and (
            (not write_cams or osp.isfile(paths['cam']))
            and (not write_pngs or osp.isfile(paths['png'])))
        crf_done = refiner is None or (not overwrite
                                       and refiner.done(ids[idx]))
        if net_done and crf_done:
            skipped += 1
        elif net_done and write_cams:
            crf_only.append(idx)
        else:
            todo.append(idx)
    return todo, crf_only, skipped


def _refine_saved_cams(crf_only: List[int], ids: List[str], dataset,
                       out_dir: str, refiner: Optional[AsyncCRFRefiner],
                       bar: Optional[ProgressBar]) -> None:
    """Submit the CRF of images whose CAMs exist but not their CRF, from
    the CAM files."""
    for idx in crf_only:
        cams, class_ids = load_cam(cam_output_paths(out_dir,
                                                    ids[idx])['cam'])
        refiner.submit(ids[idx], dataset.get_data_info(idx)['img_path'],
                       cams, class_ids)
        if bar is not None:
            bar.update()


def _same_size_batches(loader,
                       batch_size: int,
                       bucketed: bool = False) -> Iterator[list]:
    """Group the loader's one-image batches into batches of up to
    ``batch_size`` images of the same size (input and original shape).
    ``bucketed``: the images come grouped by size, so a group's last,
    partial batch runs as soon as the next size starts."""
    buffers = {}  # same-size images waiting for a full batch
    for data in loader:
        key = (tuple(data['inputs'][0].shape),
               tuple(data['data_samples'][0].metainfo.get('ori_shape',
                                                          ()))[:2])
        if bucketed:
            for other in [k for k in buffers if k != key]:
                yield buffers.pop(other)
        buffers.setdefault(key, []).append(data)
        if len(buffers[key]) >= batch_size:
            yield buffers.pop(key)
        elif sum(map(len, buffers.values())) > 4 * batch_size:
            # many sizes in flight: run the fullest group now
            yield buffers.pop(max(buffers, key=lambda k: len(buffers[k])))
    for key in list(buffers):
        yield buffers.pop(key)


class _CamWriter:
    """Runs the network on batches of same-size images and writes each
    image's CAMs, PNG pseudo label and (with a refiner) CRF job.

    Args:
        model (SEAM): The segmentor, in eval mode.
        out_dir (str): Output folder.
        cam_kwargs (dict): ``scales``, ``flip``, ``source`` and
            ``resize_mode`` of ``model.multiscale_cam``.
        amp_dtype (torch.dtype, optional): Autocast dtype of the network.
        bg_threshold (float): Background score of the PNGs.
        palette (Sequence, optional): PNG palette.
        write_cams (bool): Write the ``.npz`` CAM files.
        write_pngs (bool): Write the PNG pseudo labels.
        refiner (AsyncCRFRefiner, optional): Receives every image's CAMs.
    """

    def __init__(self, model, out_dir: str, cam_kwargs: dict,
                 amp_dtype: Optional[torch.dtype], bg_threshold: float,
                 palette: Optional[Sequence[Sequence[int]]],
                 write_cams: bool, write_pngs: bool,
                 refiner: Optional[AsyncCRFRefiner]) -> None:
        self.model = model
        self.out_dir = out_dir
        self.cam_kwargs = cam_kwargs
        self.autocast = (
            torch.autocast(
                next(model.parameters()).device.type, dtype=amp_dtype)
            if amp_dtype is not None else contextlib.nullcontext())
        self.bg_threshold = bg_threshold
        self.palette = palette
        self.write_cams = write_cams
        self.write_pngs = write_pngs
        self.refiner = refiner
        self.written = 0

    def network_cams(self, batch: list) -> Tuple[list, np.ndarray,
                                                 np.ndarray]:
        """``(samples, cams, labels)`` of a batch: normalised float16 CAMs
        (N, C - 1, H, W) at the original size and multi-hot labels."""
        model = self.model
        data = dict(
            inputs=[d['inputs'][0] for d in batch],
            data_samples=[d['data_samples'][0] for d in batch])
        data = model.data_preprocessor(data, False)
        inputs, samples = data['inputs'], data['data_samples']
        ori = tuple(samples[0].metainfo.get('ori_shape', inputs.shape[-2:]))
        for sample in samples:
            if 'img_labels' not in sample:
                raise KeyError(
                    f'{sample.metainfo.get("img_path")}: no image-level '
                    f'labels in the data sample; CAM inference needs them '
                    f'to keep the present classes (use PackSegClsInputs).')
        labels = torch.stack([s.img_labels.flatten()
                              for s in samples]).cpu().numpy()
        with self.autocast:
            raw = model.multiscale_cam(
                inputs, out_size=ori[:2], **self.cam_kwargs)
        # one device -> host copy per batch; float16 as saved
        cams = model.normalize_cam(raw.float()).half().cpu().numpy()
        return samples, cams, labels

    def run_batch(self, batch: list, bar: Optional[ProgressBar]) -> None:
        """Compute and write the outputs of every image of ``batch``."""
        samples, cams_all, labels = self.network_cams(batch)
        for i, sample in enumerate(samples):
            present = np.flatnonzero(labels[i] > 0)
            # the PNG is derived from the same float16 values that are saved
            cams = cams_all[i, present]
            class_ids = (present + 1).astype(np.int64)
            img_id = image_id_of(sample)
            paths = cam_output_paths(self.out_dir, img_id)
            if self.write_cams:
                save_cam(paths['cam'], cams, class_ids)
            if self.write_pngs:
                save_label_png(
                    paths['png'],
                    cams_to_label(cams, class_ids, self.bg_threshold),
                    self.palette)
            if self.refiner is not None:
                self.refiner.submit(img_id, sample.metainfo['img_path'],
                                    cams, class_ids)
            self.written += 1
            if bar is not None:
                bar.update()


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
