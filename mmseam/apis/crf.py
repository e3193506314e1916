# Copyright (c) mmseam contributors. All rights reserved.
"""Dense CRF refinement of CAMs (fully connected CRF, Kraehenbuehl 2011).

Reproduces SEAM's CRF step: for a background power ``alpha`` the score map
``[(1 - max_k cam_k) ** alpha, cam_1, ..., cam_K]`` (not renormalised) is
turned into unaries with ``unary_from_softmax`` and refined by a
``DenseCRF2D`` with a Gaussian (sxy 3, compat 3) and a bilateral (sxy 80,
srgb 13, compat 10) kernel for 10 mean-field iterations. SEAM runs it for a
low (``la = 4``) and a high (``ha = 24``) alpha; the two marginal maps feed
the AffinityNet label generation.

:func:`refine_split` runs the refinement over a split in parallel CPU worker
processes, resumable and with atomic writes. Per image the alphas share one
set of CRF kernels and the CAM channels' unaries
(:func:`crf_with_alphas`; the marginals are those of one CRF per alpha).
"""
import functools
import multiprocessing
import os
import os.path as osp
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from .cam_io import (load_cam, remove_stale_tmp, save_crf_scores,
                     save_label_png)

__all__ = [
    'CRFConfig', 'CRF_PRESETS', 'crf_inference', 'bg_alpha_scores',
    'crf_with_alpha', 'crf_with_alphas', 'crf_output_dirs', 'refine_image',
    'refine_split',
    'read_split_ids', 'refine_arrays', 'AsyncCRFRefiner'
]


@dataclass
class CRFConfig:
    """Dense CRF parameters.

    Args:
        t (int): Mean-field iterations. Defaults to 10.
        gauss_sxy (float): Spatial std of the Gaussian (smoothness) kernel.
            Defaults to 3.
        gauss_compat (float): Potts weight of the Gaussian kernel.
            Defaults to 3.
        bi_sxy (float): Spatial std of the bilateral (appearance) kernel.
            Defaults to 80.
        bi_srgb (float): Colour std of the bilateral kernel. Defaults to 13.
        bi_compat (float): Potts weight of the bilateral kernel.
            Defaults to 10.
        alphas (tuple[float]): Background powers to run, SEAM's low (la) and
            high (ha) alpha. Defaults to (4, 24).
    """
    t: int = 10
    gauss_sxy: float = 3
    gauss_compat: float = 3
    bi_sxy: float = 80
    bi_srgb: float = 13
    bi_compat: float = 10
    alphas: Tuple[float, ...] = field(default=(4, 24))

    @property
    def la(self) -> float:
        """Low alpha (the smallest in ``alphas``)."""
        return min(self.alphas)

    @property
    def ha(self) -> float:
        """High alpha (the largest in ``alphas``)."""
        return max(self.alphas)

    def crf_kwargs(self) -> dict:
        """Keyword arguments for :func:`crf_inference`."""
        kwargs = asdict(self)
        kwargs.pop('alphas')
        return kwargs

    @classmethod
    def preset(cls, name: str) -> 'CRFConfig':
        """A copy of a named preset (see :data:`CRF_PRESETS`).

        Args:
            name (str): ``'seam'`` (stage-1 pseudo labels: t=10, Gaussian
                3/3, bilateral 80/13/10, alphas 4/24) or ``'stage2_test'``
                (DeepLab test-time CRF: t=1, Gaussian 3/3, bilateral
                32/13/10).

        Returns:
            CRFConfig: The preset.
        """
        if name not in CRF_PRESETS:
            raise KeyError(f'unknown CRF preset {name!r}; choose one of '
                           f'{sorted(CRF_PRESETS)}.')
        return cls(**asdict(CRF_PRESETS[name]))


CRF_PRESETS: Dict[str, CRFConfig] = {
    'seam': CRFConfig(),
    'stage2_test': CRFConfig(t=1, bi_sxy=32, bi_srgb=13, bi_compat=10),
}


def crf_inference(img_rgb: np.ndarray,
                  probs: np.ndarray,
                  t: int = 10,
                  gauss_sxy: float = 3,
                  gauss_compat: float = 3,
                  bi_sxy: float = 80,
                  bi_srgb: float = 13,
                  bi_compat: float = 10) -> np.ndarray:
    """Refine class scores with a fully connected CRF.

    The scores are used as given: ``unary_from_softmax`` clips them to
    ``[1e-5, 1]`` and takes ``-log``; no other normalisation is applied.

    Args:
        img_rgb (np.ndarray): uint8 RGB image of shape (H, W, 3).
        probs (np.ndarray): Class scores of shape (K, H, W), K >= 1.
        t (int): Mean-field iterations. Defaults to 10.
        gauss_sxy (float): Gaussian kernel spatial std. Defaults to 3.
        gauss_compat (float): Gaussian kernel weight. Defaults to 3.
        bi_sxy (float): Bilateral kernel spatial std. Defaults to 80.
        bi_srgb (float): Bilateral kernel colour std. Defaults to 13.
        bi_compat (float): Bilateral kernel weight. Defaults to 10.

    Returns:
        np.ndarray: float32 marginals of shape (K, H, W); they sum to 1 over
        K at every pixel.
    """
    from pydensecrf.utils import unary_from_softmax

    probs = np.asarray(probs)
    h, w = _check_image(img_rgb)
    if probs.ndim != 3 or probs.shape[1:] != (h, w) or probs.shape[0] < 1:
        raise ValueError(f'probs must have shape (K, {h}, {w}) with K >= 1 '
                         f'to match the image, got {probs.shape}.')
    crf = _dense_crf(img_rgb, probs.shape[0], t, gauss_sxy, gauss_compat,
                     bi_sxy, bi_srgb, bi_compat)
    return crf(unary_from_softmax(probs))


def _check_image(img_rgb: np.ndarray) -> Tuple[int, int]:
    """``(H, W)`` of a uint8 (H, W, 3) RGB image (else ValueError)."""
    img_rgb = np.asarray(img_rgb)
    if img_rgb.ndim != 3 or img_rgb.shape[2] != 3 \
            or img_rgb.dtype != np.uint8:
        raise ValueError('img_rgb must be a uint8 array of shape (H, W, 3), '
                         f'got {img_rgb.dtype} {img_rgb.shape}.')
    return img_rgb.shape[:2]


def _dense_crf(img_rgb: np.ndarray, n_labels: int, t: int, gauss_sxy: float,
               gauss_compat: float, bi_sxy: float, bi_srgb: float,
               bi_compat: float):
    """A ``DenseCRF2D`` with SEAM's two kernels on ``img_rgb`` (H, W, 3),
    as a function ``(n_labels, H * W) unary -> (n_labels, H, W) float32
    marginals``.

    The kernels (the bilateral one builds a permutohedral lattice over the
    image, a sizeable part of one CRF) depend on the image only; the mean
    field starts from each new unary, so one object serves several unaries
    (SEAM's alpha powers) with the results of separate objects.
    """
    import pydensecrf.densecrf as dcrf
    h, w = np.asarray(img_rgb).shape[:2]
    crf = dcrf.DenseCRF2D(w, h, n_labels)
    crf.addPairwiseGaussian(sxy=gauss_sxy, compat=gauss_compat)
    crf.addPairwiseBilateral(
        sxy=bi_sxy,
        srgb=bi_srgb,
        rgbim=np.array(img_rgb, dtype=np.uint8, order='C', copy=True),
        compat=bi_compat)

    def run(unary: np.ndarray) -> np.ndarray:
        crf.setUnaryEnergy(np.ascontiguousarray(unary, dtype=np.float32))
        q = crf.inference(int(t))
        return np.asarray(q, dtype=np.float32).reshape((n_labels, h, w))

    return run


def bg_alpha_scores(cams: np.ndarray, alpha: float) -> np.ndarray:
    """Stack SEAM's alpha background score in front of the CAMs.

    Args:
        cams (np.ndarray): Normalised CAMs of shape (K, H, W) in [0, 1].
        alpha (float): Background power; larger alpha = less background.

    Returns:
        np.ndarray: float32 of shape (1 + K, H, W): channel 0 is
        ``(1 - max_k cams[k]) ** alpha`` (1 where K = 0), channels 1.. are
        ``cams``. Not renormalised.
    """
    cams = np.asarray(cams, dtype=np.float32)
    if cams.ndim != 3:
        raise ValueError(f'cams must have shape (K, H, W), got {cams.shape}.')
    if cams.shape[0] == 0:
        bg = np.ones((1, ) + cams.shape[1:], dtype=np.float32)
    else:
        bg = np.power(1 - cams.max(axis=0, keepdims=True), np.float32(alpha))
    return np.concatenate([bg.astype(np.float32), cams], axis=0)


def crf_with_alpha(img: np.ndarray, cams: np.ndarray, labels: Sequence[int],
                   alpha: float, **crf_kw) -> np.ndarray:
    """SEAM's CRF step for one background power.

    Args:
        img (np.ndarray): uint8 RGB image of shape (H, W, 3).
        cams (np.ndarray): Normalised CAMs of shape (K, H, W) in [0, 1].
        labels (Sequence[int]): Shape (K,), class ids of ``cams`` (checked
            against ``cams``; the output channel order follows them).
        alpha (float): Background power.
        **crf_kw: Passed to :func:`crf_inference` (``t``, ``gauss_sxy``,
            ``gauss_compat``, ``bi_sxy``, ``bi_srgb``, ``bi_compat``).

    Returns:
        np.ndarray: float32 CRF marginals of shape (1 + K, H, W) for
        ``[background, labels ...]``.
    """
    cams = np.asarray(cams, dtype=np.float32)
    if len(labels) != cams.shape[0]:
        raise ValueError(f'got {len(labels)} labels for {cams.shape[0]} '
                         'CAM channels.')
    scores = bg_alpha_scores(cams, alpha)
    if scores.shape[0] == 1:
        # nothing to compete with the background
        return np.ones_like(scores)
    return crf_inference(img, scores, **crf_kw)


def crf_with_alphas(img: np.ndarray, cams: np.ndarray,
                    labels: Sequence[int], alphas: Sequence[float],
                    **crf_kw) -> List[np.ndarray]:
    """:func:`crf_with_alpha` for several background powers of one image.

    Returns exactly ``[crf_with_alpha(img, cams, labels, a, **crf_kw) for a
    in alphas]`` with less work: the CRF kernels (their lattice) are built
    once for the image, and the unaries of the CAM channels,
    ``-log(clip(cams, 1e-5, 1))``, which do not depend on alpha, are
    computed once; only the background row ``-log(clip((1 - max_k
    cams_k) ** alpha, 1e-5, 1))`` is computed per alpha (as in
    :func:`bg_alpha_scores`, so the values are the same to the bit).

    Args:
        img (np.ndarray): uint8 RGB image of shape (H, W, 3).
        cams (np.ndarray): Normalised CAMs of shape (K, H, W) in [0, 1].
        labels (Sequence[int]): Shape (K,), class ids of ``cams``.
        alphas (Sequence[float]): Background powers.
        **crf_kw: As :func:`crf_with_alpha`.

    Returns:
        list[np.ndarray]: One float32 (1 + K, H, W) marginal map per alpha.
    """
    cams = np.asarray(cams, dtype=np.float32)
    if len(labels) != cams.shape[0]:
        raise ValueError(f'got {len(labels)} labels for {cams.shape[0]} '
                         'CAM channels.')
    if cams.ndim != 3:
        raise ValueError(f'cams must have shape (K, H, W), got {cams.shape}.')
    if cams.shape[0] == 0:
        ones = np.ones((1, ) + cams.shape[1:], dtype=np.float32)
        return [ones.copy() for _ in alphas]
    h, w = _check_image(img)
    if cams.shape[1:] != (h, w):
        raise ValueError(f'cams must have shape (K, {h}, {w}) to match the '
                         f'image, got {cams.shape}.')
    k = cams.shape[0]
    crf_kw = dict(CRFConfig().crf_kwargs(), **crf_kw)
    run = _dense_crf(img, 1 + k, **crf_kw)
    unary = np.empty((1 + k, h * w), dtype=np.float32)
    # unary_from_softmax: -log(clip(p, 1e-5, 1)) in float32, per element
    unary[1:] = -np.log(np.clip(cams, 1e-5, 1.0)).reshape(k, -1)
    inv_max = 1 - cams.max(axis=0)
    out = []
    for alpha in alphas:
        bg = np.power(inv_max, np.float32(alpha)).astype(np.float32)
        unary[0] = -np.log(np.clip(bg, 1e-5, 1.0)).reshape(-1)
        out.append(run(unary))
    return out


def crf_output_dirs(out_dir: str, alpha: float) -> Tuple[str, str]:
    """Folders of the CRF outputs for one alpha.

    Args:
        out_dir (str): Root output folder of :func:`refine_split`.
        alpha (float): Background power.

    Returns:
        tuple[str, str]: ``<out_dir>/crf_<alpha>`` (score npz files) and
        ``<out_dir>/crf_<alpha>_png`` (pseudo-label PNGs), with alpha
        formatted by ``'{:g}'`` (4 -> ``crf_4``, 0.5 -> ``crf_0.5``).
    """
    name = f'crf_{float(alpha):g}'
    return osp.join(out_dir, name), osp.join(out_dir, f'{name}_png')


def read_split_ids(split_file: str) -> list:
    """Read image ids from a split file.

    Lines are either an id (VOC ``ImageSets``), ``<img path> [<label
    path>]`` (the id is then the image file name without extension) or
    ``<id> <class> ...`` (a label file). The reader is the datasets' one,
    :func:`mmseam.datasets.read_split_ids`.

    Args:
        split_file (str): Path of the split file.

    Returns:
        list[str]: Image ids in file order.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file lists no id.
    """
    from mmseam.datasets.file_checks import read_split_ids as _read
    return _read(split_file)


def _outputs(img_id: str, out_dir: str, alphas: Sequence[float]) -> list:
    paths = []
    for alpha in alphas:
        score_dir, png_dir = crf_output_dirs(out_dir, alpha)
        paths.append((alpha, osp.join(score_dir, f'{img_id}.npz'),
                      osp.join(png_dir, f'{img_id}.png')))
    return paths


def refine_image(img_id: str,
                 cam_dir: str,
                 img_dir: str,
                 out_dir: str,
                 alphas: Sequence[float] = (4, 24),
                 palette: Optional[Sequence[Sequence[int]]] = None,
                 crf_cfg: Optional[CRFConfig] = None,
                 img_suffix: str = '.jpg',
                 overwrite: bool = False) -> bool:
    """CRF-refine the CAMs of one image for every alpha and save them.

    Writes ``<out_dir>/crf_<alpha>/<img_id>.npz`` (see
    :func:`mmseam.apis.save_crf_scores`) and
    ``<out_dir>/crf_<alpha>_png/<img_id>.png`` (argmax of the marginals
    mapped to class ids, palette PNG).

    Args:
        img_id (str): Image id.
        cam_dir (str): Folder of CAM files ``<img_id>.npz``.
        img_dir (str): Folder of images ``<img_id><img_suffix>``.
        out_dir (str): Output root.
        alphas (Sequence[float]): Background powers. Defaults to (4, 24).
        palette (Sequence[Sequence[int]], optional): PNG palette.
        crf_cfg (CRFConfig, optional): CRF parameters; defaults to the
            ``'seam'`` preset.
        img_suffix (str): Image file suffix. Defaults to '.jpg'.
        overwrite (bool): Recompute existing outputs. Defaults to False.

    Returns:
        bool: True if the image was processed, False if skipped because all
        its outputs already existed.
    """
    crf_cfg = crf_cfg or CRFConfig()
    todo = _missing_outputs(img_id, out_dir, alphas, overwrite)
    if not todo:
        return False
    cam_path = osp.join(cam_dir, f'{img_id}.npz')
    img_path = osp.join(img_dir, f'{img_id}{img_suffix}')
    cams, labels = load_cam(cam_path)
    _refine_and_save(
        _read_rgb(img_path, cam_path), cams, labels, todo, crf_cfg, palette,
        f'CAM {cam_path}', img_path)
    return True


def _missing_outputs(img_id: str, out_dir: str, alphas: Sequence[float],
                     overwrite: bool) -> list:
    """``(alpha, score_path, png_path)`` of the outputs still to write."""
    return [
        o for o in _outputs(img_id, out_dir, alphas)
        if overwrite or not (osp.isfile(o[1]) and osp.isfile(o[2]))
    ]


def _read_rgb(img_path: str, cam_what: str) -> np.ndarray:
    if not osp.isfile(img_path):
        raise FileNotFoundError(f'image {img_path} for {cam_what} does '
                                'not exist; check --img-dir/--img-suffix.')
    with Image.open(img_path) as im:
        return np.array(im.convert('RGB'), dtype=np.uint8)


def _refine_and_save(img: np.ndarray, cams: np.ndarray, labels: np.ndarray,
                     todo: list, crf_cfg: CRFConfig, palette,
                     cam_what: str, img_path: str) -> None:
    """CRF of one image's (K, H, W) CAMs for each missing output."""
    if cams.shape[1:] != img.shape[:2]:
        raise ValueError(f'{cam_what} has size {cams.shape[1:]} but '
                         f'image {img_path} has size {img.shape[:2]}; CAMs '
                         'must be saved at the original image size.')
    labels = np.asarray(labels)
    order = np.argsort(labels, kind='stable')
    cams, labels = cams[order], labels[order]
    full_labels = np.concatenate([[0], labels]).astype(np.int64)
    # one set of CRF kernels for every alpha (identical results)
    all_scores = crf_with_alphas(img, cams, labels, [o[0] for o in todo],
                                 **crf_cfg.crf_kwargs())
    for (alpha, score_path, png_path), scores in zip(todo, all_scores):
        save_crf_scores(score_path, scores, full_labels)
        pred = full_labels[np.argmax(scores, axis=0)]
        save_label_png(png_path, pred, palette)


def refine_arrays(img_id: str,
                  img_path: str,
                  cams: np.ndarray,
                  class_ids: np.ndarray,
                  out_dir: str,
                  alphas: Sequence[float] = (4, 24),
                  palette: Optional[Sequence[Sequence[int]]] = None,
                  crf_cfg: Optional[CRFConfig] = None,
                  overwrite: bool = False) -> bool:
    """:func:`refine_image` for CAMs already in memory.

    Writes exactly what :func:`refine_image` writes for the same (float16)
    CAM values; used by :class:`AsyncCRFRefiner` to refine CAMs straight
    from the inference loop without a round trip through the CAM file.

    Args:
        img_id (str): Image id (output file stem).
        img_path (str): Path of the original image.
        cams (np.ndarray): (K, H, W) normalised CAMs (as saved: float16).
        class_ids (np.ndarray): (K,) class indices of ``cams``.
        out_dir (str): Output root (``crf_<alpha>[_png]/`` below it).
        alphas, palette, crf_cfg, overwrite: As :func:`refine_image`.

    Returns:
        bool: True if processed, False if every output already existed.
    """
    todo = _missing_outputs(img_id, out_dir, alphas, overwrite)
    if not todo:
        return False
    _refine_and_save(
        _read_rgb(img_path, f'CAMs of {img_id}'), np.asarray(cams),
        np.asarray(class_ids), todo, crf_cfg or CRFConfig(), palette,
        f'CAMs of {img_id}', img_path)
    return True


class AsyncCRFRefiner:
    """Dense CRF in a pool of CPU worker processes, fed while the caller
    (e.g. GPU CAM inference) keeps working.

    ``submit`` hands one image's CAMs to the pool and returns at once,
    unless ``max_pending`` jobs are already queued, in which case it waits
    for the oldest (bounded memory). ``close`` waits for every job and
    re-raises the first worker error. With ``workers=0`` every job runs
    synchronously in this process.

    Args:
        out_dir (str): CRF output root (as :func:`refine_split`).
        alphas (Sequence[float]): Background powers. Defaults to (4, 24).
        palette (Sequence, optional): PNG palette.
        crf_cfg (CRFConfig, optional): CRF parameters (``'seam'`` preset).
        workers (int): Worker processes (0 = in-process).
        overwrite (bool): Recompute existing outputs.
        max_pending (int, optional): Jobs in flight before ``submit``
            blocks; defaults to ``2 * workers``.
        mp_context (str, optional): multiprocessing start method; defaults
            to the platform's (``fork`` on Linux). The workers never touch
            CUDA, so forking a process that holds a CUDA context is safe
            here, as it is for PyTorch's DataLoader workers.
    """

    def __init__(self,
                 out_dir: str,
                 alphas: Sequence[float] = (4, 24),
                 palette: Optional[Sequence[Sequence[int]]] = None,
                 crf_cfg: Optional[CRFConfig] = None,
                 workers: int = 0,
                 overwrite: bool = False,
                 max_pending: Optional[int] = None,
                 mp_context: Optional[str] = None):
        self.kwargs = dict(
            out_dir=out_dir,
            alphas=tuple(alphas),
            palette=palette,
            crf_cfg=crf_cfg or CRFConfig(),
            overwrite=overwrite)
        self.workers = int(workers)
        self.max_pending = max_pending or max(2 * self.workers, 1)
        self.pending = []
        self.processed = 0
        self.pool = None
        os.makedirs(out_dir, exist_ok=True)
        if self.workers > 0:
            ctx = multiprocessing.get_context(mp_context)
            self.pool = ctx.Pool(self.workers)

    def done(self, img_id: str) -> bool:
        """Whether every CRF output of ``img_id`` exists."""
        return not _missing_outputs(img_id, self.kwargs['out_dir'],
                                    self.kwargs['alphas'], False)

    def submit(self, img_id: str, img_path: str, cams: np.ndarray,
               class_ids: np.ndarray) -> None:
        """Queue the CRF of one image (see :func:`refine_arrays`)."""
        if self.pool is None:
            self.processed += int(
                refine_arrays(img_id, img_path, cams, class_ids,
                              **self.kwargs))
            return
        while len(self.pending) >= self.max_pending:
            self.processed += int(self.pending.pop(0).get())
        self.pending.append(
            self.pool.apply_async(
                refine_arrays, (img_id, img_path, cams, class_ids),
                self.kwargs))

    def close(self) -> int:
        """Wait for every queued job; returns the images processed."""
        try:
            while self.pending:
                self.processed += int(self.pending.pop(0).get())
        finally:
            self.terminate()
        return self.processed

    def terminate(self) -> None:
        """Stop the workers (queued jobs are dropped)."""
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None
            self.pending = []


def refine_split(ids: Sequence[str],
                 cam_dir: str,
                 img_dir: str,
                 out_dir: str,
                 alphas: Sequence[float] = (4, 24),
                 palette: Optional[Sequence[Sequence[int]]] = None,
                 crf_cfg: Optional[CRFConfig] = None,
                 workers: int = 1,
                 overwrite: bool = False,
                 img_suffix: str = '.jpg',
                 progress: bool = True) -> Dict[str, int]:
    """CRF-refine the CAMs of a whole split in parallel CPU workers.

    For each id and alpha writes ``<out_dir>/crf_<alpha>/<id>.npz`` and
    ``<out_dir>/crf_<alpha>_png/<id>.png`` (see :func:`refine_image`).
    Finished images are skipped unless ``overwrite``; every file is written
    atomically, so an interrupted run can simply be restarted.

    Args:
        ids (Sequence[str]): Image ids.
        cam_dir (str): Folder of CAM files ``<id>.npz``.
        img_dir (str): Folder of images ``<id><img_suffix>``.
        out_dir (str): Output root.
        alphas (Sequence[float]): Background powers. Defaults to (4, 24).
        palette (Sequence[Sequence[int]], optional): PNG palette (dataset
            metainfo ``palette``); None = VOC colour map.
        crf_cfg (CRFConfig, optional): CRF parameters; defaults to the
            ``'seam'`` preset.
        workers (int): Worker processes; <= 1 runs in this process.
            Defaults to 1.
        overwrite (bool): Recompute existing outputs. Defaults to False.
        img_suffix (str): Image file suffix. Defaults to '.jpg'.
        progress (bool): Show an MMEngine progress bar. Defaults to True.

    Returns:
        dict[str, int]: ``processed`` and ``skipped`` image counts.
    """
    ids = list(ids)
    missing = [
        osp.join(cam_dir, f'{i}.npz') for i in ids
        if not osp.isfile(osp.join(cam_dir, f'{i}.npz'))
    ]
    if missing:
        raise FileNotFoundError(
            f'{len(missing)} of {len(ids)} CAM files are missing, e.g. '
            f'{missing[:3]}; run CAM inference on this split first (or fix '
            '--cam-dir / the split file).')
    os.makedirs(out_dir, exist_ok=True)
    # a job killed during a write leaves `.<name>.<rand>.tmp` files
    for alpha in alphas:
        score_dir, png_dir = crf_output_dirs(out_dir, alpha)
        remove_stale_tmp(score_dir, [f'{i}.npz' for i in ids])
        remove_stale_tmp(png_dir, [f'{i}.png' for i in ids])
    job = functools.partial(
        refine_image,
        cam_dir=cam_dir,
        img_dir=img_dir,
        out_dir=out_dir,
        alphas=tuple(alphas),
        palette=palette,
        crf_cfg=crf_cfg or CRFConfig(),
        img_suffix=img_suffix,
        overwrite=overwrite)
    bar = None
    if progress and ids:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(len(ids))
    processed = 0
    if workers <= 1 or len(ids) <= 1:
        results = map(job, ids)
        for done in results:
            processed += int(done)
            if bar is not None:
                bar.update()
    else:
        with multiprocessing.Pool(min(workers, len(ids))) as pool:
            for done in pool.imap_unordered(job, ids):
                processed += int(done)
                if bar is not None:
                    bar.update()
    if bar is not None:
        bar.file.write('\n')
        bar.file.flush()
    return dict(processed=processed, skipped=len(ids) - processed)
