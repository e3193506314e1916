# Copyright (c) mmseam contributors. All rights reserved.
"""CAMs and a pseudo label for one image, and a figure of them.

:func:`inference_cams` runs a SEAM classifier (built with
``mmseg.apis.init_model`` after ``import mmseam``) on one image: the
multi-scale (+ flip) CAMs of every foreground class at the image size,
normalised per class as :func:`~mmseam.apis.infer_cams` does, the image-level
class probabilities (the CAM branch pooled as in training,
:meth:`SEAM.image_scores`), the classes shown (given, or predicted: the
probability above ``test_cfg.cls_threshold``, else the top class) and the
pseudo label, the argmax of ``[bg_threshold, CAMs of those classes]``.
:func:`render_cams` draws image | one heat map per class | pseudo label as a
PNG. ``demo/image_demo.py`` is the command-line front end.
"""
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.model import is_model_wrapper

from .cam_inference import cams_to_label
from .visualize import cam_heatmap, colorize_label, load_rgb, save_grid

__all__ = ['CAMInferenceResult', 'inference_cams', 'render_cams']

ImageType = Union[str, np.ndarray]


@dataclass
class CAMInferenceResult:
    """What :func:`inference_cams` computes for one image.

    Attributes:
        img (np.ndarray): uint8 (H, W, 3) RGB image.
        cams (np.ndarray): float32 (C-1, H, W) normalised CAMs in [0, 1] of
            every foreground class; ``cams[c - 1]`` is class ``c``.
        scores (np.ndarray): float32 (C-1,) image-level probabilities.
        class_ids (np.ndarray): int64 (K,) the classes shown and labelled
            (indices into ``class_names``, >= 1).
        label (np.ndarray): uint8 (H, W) pseudo label: argmax of
            ``[bg_threshold, cams[class_ids - 1]]`` mapped to class ids.
        class_names (tuple[str]): C names, background first.
        bg_threshold (float): Background score of ``label``.
        cam_source (str): 'pcm' (PCM output) or 'cam' (CAM branch).
        predicted (bool): Whether ``class_ids`` are the predicted classes
            (True) or were given (False).
    """
    img: np.ndarray
    cams: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    label: np.ndarray
    class_names: Tuple[str, ...]
    bg_threshold: float
    cam_source: str
    predicted: bool


def _read_image(img: ImageType) -> np.ndarray:
    """uint8 (H, W, 3) BGR from a path or an array (BGR, grey or BGRA)."""
    if isinstance(img, str):
        if not osp.isfile(img):
            raise FileNotFoundError(f'image file {img} does not exist.')
        return np.ascontiguousarray(load_rgb(img)[..., ::-1])
    arr = np.asarray(img)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(
            f'img must be an image path or an (H, W), (H, W, 3) or '
            f'(H, W, 4) array, got shape {arr.shape}.')
    if arr.dtype != np.uint8:
        raise ValueError(f'img array must be uint8 (0-255), got {arr.dtype}.')
    return np.ascontiguousarray(arr[..., :3])


def _class_names(model, num_classes: int) -> Tuple[str, ...]:
    meta = getattr(model, 'dataset_meta', None) or {}
    names = meta.get('classes')
    if names is not None and len(names) == num_classes:
        return tuple(str(n) for n in names)
    return ('background', ) + tuple(
        f'class_{c}' for c in range(1, num_classes))


def _resolve_classes(classes: Sequence[Union[str, int]],
                     names: Tuple[str, ...]) -> np.ndarray:
    """Class names or indices -> int64 indices in [1, C-1], in order."""
    ids = []
    for c in classes:
        if isinstance(c, str) and not c.isdigit():
            if c not in names[1:]:
                raise ValueError(
                    f'unknown class {c!r}; the model knows the foreground '
                    f'classes {list(names[1:])} (or their indices 1-'
                    f'{len(names) - 1}).')
            idx = names.index(c)
        else:
            idx = int(c)
            if not 1 <= idx < len(names):
                raise ValueError(
                    f'class index {idx} is out of range: foreground classes '
                    f'are 1-{len(names) - 1} ({list(names[1:])}); the '
                    f'background (0) has no CAM.')
        if idx not in ids:
            ids.append(idx)
    if not ids:
        raise ValueError('classes is empty; pass None to show the '
                         'predicted classes.')
    return np.array(ids, dtype=np.int64)


@torch.no_grad()
def inference_cams(model,
                   img: ImageType,
                   classes: Optional[Sequence[Union[str, int]]] = None,
                   cam_source: Optional[str] = None,
                   scales: Optional[Sequence[float]] = None,
                   flip: Optional[bool] = None,
                   bg_threshold: Optional[float] = None
                   ) -> CAMInferenceResult:
    """CAMs, image-level scores and pseudo label of one image.

    Args:
        model (SEAM): A SEAM segmentor, e.g. from ``mmseg.apis.init_model``
            (import mmseam first); model wrappers are unwrapped. Its
            ``test_cfg`` gives the defaults below.
        img (str | np.ndarray): Image path, or a uint8 (H, W, 3) array in
            BGR order (as ``mmcv.imread`` and ``mmseg.apis.inference_model``
            take it).
        classes (Sequence[str | int], optional): Classes to show and label
            (names from ``model.dataset_meta['classes']`` or indices >= 1).
            None: the predicted classes (probability above
            ``test_cfg.cls_threshold``, default 0.5, else the top class).
        cam_source (str, optional): 'pcm' or 'cam'; defaults to
            ``test_cfg.cam_source``.
        scales (Sequence[float], optional): Defaults to
            ``test_cfg.scales``.
        flip (bool, optional): Defaults to ``test_cfg.flip``.
        bg_threshold (float, optional): Defaults to
            ``test_cfg.bg_threshold``.

    Returns:
        CAMInferenceResult: The CAMs of all foreground classes at the image
        size, the scores, the classes used and the label map.
    """
    from mmseg.structures import SegDataSample
    if is_model_wrapper(model):
        model = model.module
    cfg = model.test_cfg
    cam_source = cam_source or cfg['cam_source']
    if cam_source not in ('pcm', 'cam'):
        raise ValueError(f"cam_source={cam_source!r}; use 'pcm' or 'cam'.")
    if cam_source == 'pcm' and model.neck is None:
        raise ValueError("cam_source='pcm' needs a model with a PCM neck; "
                         "this model has none, use cam_source='cam'.")
    scales = tuple(cfg['scales'] if scales is None else scales)
    flip = cfg['flip'] if flip is None else flip
    bg_threshold = cfg['bg_threshold'] if bg_threshold is None \
        else bg_threshold
    names = _class_names(model, model.num_classes)

    bgr = _read_image(img)
    h, w = bgr.shape[:2]
    sample = SegDataSample(metainfo=dict(ori_shape=(h, w), img_shape=(h, w)))
    data = dict(
        inputs=[torch.from_numpy(bgr.transpose(2, 0, 1).copy())],
        data_samples=[sample])
    was_training = model.training
    model.eval()
    try:
        inputs = model.data_preprocessor(data, False)['inputs']
        raw = model.multiscale_cam(
            inputs,
            scales=scales,
            flip=flip,
            out_size=(h, w),
            source=cam_source,
            resize_mode=cfg.get('resize_mode', 'bilinear'))
        cams = model.normalize_cam(raw.float())[0]
        scores = model.image_scores(inputs)
    finally:
        model.train(was_training)
    if classes is None:
        present = model.predicted_labels(scores, cfg['cls_threshold'])[0]
        class_ids = (torch.nonzero(present).flatten() + 1).cpu().numpy()
    else:
        class_ids = _resolve_classes(classes, names)
    cams = cams.cpu().numpy().astype(np.float32)
    label = cams_to_label(cams[class_ids - 1], class_ids, bg_threshold)
    return CAMInferenceResult(
        img=np.ascontiguousarray(bgr[..., ::-1]),
        cams=cams,
        scores=scores[0].cpu().numpy().astype(np.float32),
        class_ids=class_ids.astype(np.int64),
        label=label,
        class_names=names,
        bg_threshold=float(bg_threshold),
        cam_source=cam_source,
        predicted=classes is None)


def render_cams(result: CAMInferenceResult,
                out_file: Optional[str] = None,
                palette: Optional[Sequence[Sequence[int]]] = None,
                alpha: float = 0.5,
                cell: float = 2.2) -> Tuple[List[np.ndarray], List[str]]:
    """Draw image | a CAM heat map per class | pseudo label in one row.

    Heat maps are :func:`~mmseam.apis.cam_heatmap` overlays (jet) of one
    class each; the label uses ``palette`` (VOC colours by default). The
    PNG, written atomically with :func:`~mmseam.apis.save_grid`, is
    ``round(100 * cell)`` pixels wide per panel: ``2 + K`` panels for ``K``
    classes.

    Args:
        result (CAMInferenceResult): From :func:`inference_cams`.
        out_file (str, optional): PNG path; None draws nothing to disk.
        palette (Sequence, optional): RGB per class index.
        alpha (float): Heat-map opacity. Defaults to 0.5.
        cell (float): Panel size in inches at 100 dpi. Defaults to 2.2.

    Returns:
        tuple[list[np.ndarray], list[str]]: The uint8 (H, W, 3) panels and
        their titles.
    """
    panels = [result.img]
    titles = ['image']
    for c in result.class_ids:
        panels.append(cam_heatmap(result.img, result.cams[c - 1:c], alpha))
        titles.append(f'{result.class_names[c]} '
                      f'(p={result.scores[c - 1]:.2f})')
    panels.append(colorize_label(result.label, palette))
    titles.append(f'pseudo label (bg {result.bg_threshold:g})')
    if out_file is not None:
        save_grid([panels], out_file, col_titles=titles, cell=cell)
    return panels, titles
