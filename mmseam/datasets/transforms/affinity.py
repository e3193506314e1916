# Copyright (c) mmseam contributors. All rights reserved.
"""Transforms that build AffinityNet training targets from CRF score maps.

Official recipe (PSA / SEAM ``VOC12AffDataset``): load the low-alpha (la)
and high-alpha (ha) CRF score maps, crop / flip them jointly with the image,
block-average them over ``stride x stride`` cells, then per cell::

    label = argmax(la)            (255 where the la argmax is background)
    label = 0 where argmax(ha) is background
    label = 255 where every score < 1e-5 (crop padding)

and turn the label map into binary pair labels (bg-pos, fg-pos, neg) for
the 34 offsets within radius 5. A typical pipeline::

    dict(type='LoadImageFromFile'),
    dict(type='LoadCRFScores', la_dir=..., ha_dir=...),
    <colour jitter on the image>,
    dict(type='AffinityRandomCrop', crop_size=448),
    dict(type='RandomFlip', prob=0.5),
    dict(type='AffinityLabelFromCRF', stride=8),
    dict(type='ExtractAffinityLabels', radius=5),
    dict(type='PackAffinityInputs'),

The score maps are float ``seg_fields`` of shape (H, W, C), so mmseg /
mmcv geometric transforms that handle ``seg_fields`` (``RandomFlip``) move
them with the image.
"""
import os.path as osp
from typing import Sequence, Tuple, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS
from mmseg.structures import SegDataSample

from mmseam.utils.misc import source_path

__all__ = [
    'LoadCRFScores', 'AffinityRandomCrop', 'AffinityLabelFromCRF',
    'ExtractAffinityLabels', 'PackAffinityInputs', 'block_mean',
    'extract_affinity_labels'
]

_FILE = source_path(__name__)


def get_img_id(results: dict) -> str:
    """Image id of a sample: ``results['img_id']`` or the image file stem.

    Args:
        results (dict): Transform results with ``img_id`` or ``img_path``.

    Returns:
        str: The id, e.g. '2007_000032'.
    """
    if results.get('img_id') is not None:
        return str(results['img_id'])
    if results.get('img_path') is None:
        raise KeyError(f'{_FILE}: the sample has neither `img_id` nor '
                       f'`img_path`; load the image with LoadImageFromFile '
                       f'first.')
    return osp.splitext(osp.basename(results['img_path']))[0]


def read_crf_file(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """Load a CRF score file, sorted by class id.

    Supports the mmseam format ``<id>.npz`` (``scores`` (1+K, H, W),
    ``labels`` (1+K,) = [0, class ids...], see
    :func:`mmseam.apis.cam_io.load_crf_scores`) and the official SEAM / PSA
    ``<id>.npy`` pickled dict ``{0: bg, class_id: (H, W)}``.

    Args:
        path (str): Path of the ``.npz`` or ``.npy`` file.

    Returns:
        tuple[np.ndarray, np.ndarray]: Scores (1+K, H, W) float32 and class
        ids (1+K,) int64, sorted by class id, first = 0 (background).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{_FILE}: CRF score file {path} does not exist; run the CRF '
            f'stage (tools/crf_refine.py, la / ha alphas) for this split '
            f'first or fix `la_dir` / `ha_dir`.')
    if path.endswith('.npy'):
        data = np.load(path, allow_pickle=True).item()
        if not isinstance(data, dict) or not data:
            raise ValueError(f'{_FILE}: {path} must hold a non-empty dict '
                             f'{{class_id: (H, W) scores}}.')
        labels = np.array(sorted(int(k) for k in data), dtype=np.int64)
        scores = np.stack(
            [np.asarray(data[k], np.float32) for k in sorted(data)])
    else:
        from mmseam.apis.cam_io import load_crf_scores
        scores, labels = load_crf_scores(path)
        order = np.argsort(labels, kind='stable')
        scores, labels = scores[order], labels[order]
    if labels.size == 0 or labels[0] != 0 or len(set(
            labels.tolist())) != len(labels):
        raise ValueError(
            f'{_FILE}: {path}: labels must be unique and contain the '
            f'background 0, got {labels.tolist()}.')
    return scores.astype(np.float32), labels


@TRANSFORMS.register_module()
class LoadCRFScores(BaseTransform):
    """Load the low- and high-alpha CRF score maps of an image.

    Reads ``<la_dir>/<img_id><suffix>`` and ``<ha_dir>/<img_id><suffix>``
    (see :func:`read_crf_file`; ``suffix='auto'`` tries ``.npz`` then
    ``.npy``). Both maps are put on the channel list ``crf_labels`` = union
    of their class ids (a class missing in one file gets zeros there).

    Required Keys:

    - img_path or img_id
    - img (for the size check)

    Added Keys:

    - crf_la (np.float32): (H, W, C) low-alpha scores (confident fg)
    - crf_ha (np.float32): (H, W, C) high-alpha scores (confident bg)
    - crf_labels (np.int64): (C,) class id of each channel, [0, ...]
    - seg_fields (list): ``crf_la`` and ``crf_ha`` are appended

    Args:
        la_dir (str): Folder of the low-alpha CRF scores.
        ha_dir (str): Folder of the high-alpha CRF scores.
        suffix (str): File suffix, '.npz', '.npy' or 'auto'.
            Defaults to 'auto'.
    """

    def __init__(self, la_dir: str, ha_dir: str, suffix: str = 'auto') -> None:
        if suffix not in ('auto', '.npz', '.npy'):
            raise ValueError(f"{_FILE}: LoadCRFScores suffix must be 'auto', "
                             f"'.npz' or '.npy', got {suffix!r}.")
        self.la_dir = la_dir
        self.ha_dir = ha_dir
        self.suffix = suffix

    def _path(self, folder: str, img_id: str) -> str:
        if self.suffix != 'auto':
            return osp.join(folder, img_id + self.suffix)
        path = osp.join(folder, img_id + '.npz')
        if not osp.isfile(path) and osp.isfile(
                osp.join(folder, img_id + '.npy')):
            path = osp.join(folder, img_id + '.npy')
        return path

    def transform(self, results: dict) -> dict:
        """Load the two score maps.

        Args:
            results (dict): Result dict.

        Returns:
            dict: With ``crf_la``, ``crf_ha``, ``crf_labels`` added.
        """
        img_id = get_img_id(results)
        la_path = self._path(self.la_dir, img_id)
        ha_path = self._path(self.ha_dir, img_id)
        la, la_labels = read_crf_file(la_path)
        ha, ha_labels = read_crf_file(ha_path)
        if la.shape[1:] != ha.shape[1:]:
            raise ValueError(
                f'{_FILE}: {la_path} is {la.shape[1:]} but {ha_path} is '
                f'{ha.shape[1:]}; both CRF runs must be at the image size.')
        if 'img' in results and tuple(
                results['img'].shape[:2]) != la.shape[1:]:
            raise ValueError(
                f'{_FILE}: {la_path} is {la.shape[1:]} but the image is '
                f'{tuple(results["img"].shape[:2])}; the CRF scores must be '
                f'saved at the original image size (and loaded before any '
                f'resize/crop).')
        labels = np.union1d(la_labels, ha_labels).astype(np.int64)
        results['crf_la'] = self._to_channels(la, la_labels, labels)
        results['crf_ha'] = self._to_channels(ha, ha_labels, labels)
        results['crf_labels'] = labels
        seg_fields = results.setdefault('seg_fields', [])
        for key in ('crf_la', 'crf_ha'):
            if key not in seg_fields:
                seg_fields.append(key)
        return results

    @staticmethod
    def _to_channels(scores: np.ndarray, labels: np.ndarray,
                     all_labels: np.ndarray) -> np.ndarray:
        out = np.zeros(scores.shape[1:] + (len(all_labels), ), np.float32)
        out[...,
            np.searchsorted(all_labels, labels)] = scores.transpose(1, 2, 0)
        return out

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(la_dir={self.la_dir!r}, '
                f'ha_dir={self.ha_dir!r}, suffix={self.suffix!r})')


@TRANSFORMS.register_module()
class AffinityRandomCrop(BaseTransform):
    """Random crop to a fixed size with fill, as the official PSA / SEAM
    ``imutils.RandomCrop``.

    Along each axis: if the image is larger than the crop, a random window
    of the image is taken; if it is smaller, the whole image is placed at a
    random offset inside the crop, and the rest is filled. The image is
    filled with ``img_fill`` (official: 0 before normalisation), float
    ``seg_fields`` (score maps) with ``score_fill`` (0, so that
    :class:`AffinityLabelFromCRF` marks them as no-score) and integer
    ``seg_fields`` with ``seg_fill`` (255).

    Required Keys: img, seg_fields (optional)

    Modified Keys: img, img_shape, every key in seg_fields

    Added Keys: crop_bbox (image window ``[x1, y1, x2, y2]``)

    Args:
        crop_size (int | tuple[int, int]): Output size (h, w) or one int.
            Defaults to 448.
        img_fill (float): Fill value of the image. Defaults to 0.
        score_fill (float): Fill value of float seg fields. Defaults to 0.
        seg_fill (int): Fill value of integer seg fields. Defaults to 255.
    """

    def __init__(self,
                 crop_size: Union[int, Tuple[int, int]] = 448,
                 img_fill: float = 0,
                 score_fill: float = 0.,
                 seg_fill: int = 255) -> None:
        if isinstance(crop_size, int):
            crop_size = (crop_size, crop_size)
        crop_size = tuple(int(c) for c in crop_size)
        if len(crop_size) != 2 or min(crop_size) <= 0:
            raise ValueError(f'{_FILE}: AffinityRandomCrop crop_size must be '
                             f'a positive int or (h, w), got {crop_size}.')
        self.crop_size = crop_size
        self.img_fill = img_fill
        self.score_fill = score_fill
        self.seg_fill = seg_fill

    @staticmethod
    def _axis(size: int, crop: int) -> Tuple[int, int, int]:
        """Return (container start, image start, length) for one axis."""
        space = size - crop
        if space > 0:
            return 0, int(np.random.randint(space + 1)), crop
        return int(np.random.randint(-space + 1)), 0, size

    def _crop(self, arr: np.ndarray, box: Tuple[int, ...],
              fill: float) -> np.ndarray:
        ct, it, ch, cl, il, cw = box
        out = np.full(self.crop_size + arr.shape[2:], fill, dtype=arr.dtype)
        out[ct:ct + ch, cl:cl + cw] = arr[it:it + ch, il:il + cw]
        return out

    def transform(self, results: dict) -> dict:
        """Crop the image and all seg fields with the same window.

        Args:
            results (dict): Result dict.

        Returns:
            dict: The cropped results.
        """
        img = results['img']
        h, w = img.shape[:2]
        ct, it, ch = self._axis(h, self.crop_size[0])
        cl, il, cw = self._axis(w, self.crop_size[1])
        box = (ct, it, ch, cl, il, cw)
        results['img'] = self._crop(img, box, self.img_fill)
        for key in results.get('seg_fields', []):
            arr = results.get(key)
            if arr is None:
                continue
            if arr.shape[:2] != (h, w):
                raise ValueError(
                    f'{_FILE}: seg field `{key}` is {arr.shape[:2]} but the '
                    f'image is {(h, w)}; AffinityRandomCrop needs all seg '
                    f'fields at the image size.')
            fill = (
                self.score_fill
                if np.issubdtype(arr.dtype, np.floating) else self.seg_fill)
            results[key] = self._crop(arr, box, fill)
        results['img_shape'] = results['img'].shape[:2]
        results['crop_bbox'] = np.array([il, it, il + cw, it + ch])
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(crop_size={self.crop_size}, '
                f'img_fill={self.img_fill}, score_fill={self.score_fill}, '
                f'seg_fill={self.seg_fill})')


def block_mean(arr: np.ndarray, stride: int) -> np.ndarray:
    """Mean over non-overlapping ``stride x stride`` blocks.

    Like ``skimage.measure.block_reduce(arr, (s, s, 1), np.mean)`` (the
    official ``imutils.AvgPool2d``): the map is zero-padded at the bottom /
    right to a multiple of ``stride`` first.

    Args:
        arr (np.ndarray): (H, W) or (H, W, C) map.
        stride (int): Block size s.

    Returns:
        np.ndarray: (ceil(H/s), ceil(W/s)[, C]) block means (float32).
    """
    arr = np.asarray(arr, dtype=np.float32)
    if stride == 1:
        return arr
    h, w = arr.shape[:2]
    hp, wp = -(-h // stride), -(-w // stride)
    pad = [(0, hp * stride - h), (0, wp * stride - w)]
    pad += [(0, 0)] * (arr.ndim - 2)
    arr = np.pad(arr, pad)
    arr = arr.reshape((hp, stride, wp, stride) + arr.shape[2:])
    return arr.mean(axis=(1, 3))


@TRANSFORMS.register_module()
class AffinityLabelFromCRF(BaseTransform):
    """Per-cell labels from the la / ha CRF score maps (official maths).

    Both score maps are block-averaged over ``stride x stride`` cells
    (:func:`block_mean`), then per cell::

        label = crf_labels[argmax(la)]; 255 where argmax(la) is background
        label = 0 where argmax(ha) is background
        label = 255 where max(la, ha) < score_eps   (no score / padding)

    Required Keys: crf_la, crf_ha (H, W, C), crf_labels (C,)

    Added Keys: aff_label (np.int64, (ceil(H/stride), ceil(W/stride)))

    Args:
        stride (int): Output stride of the network (cell size).
            Defaults to 8.
        ignore_index (int): Label of uncertain / padded cells.
            Defaults to 255.
        score_eps (float): Cells whose scores are all below it are ignored.
            Defaults to 1e-5.
        drop_scores (bool): Remove ``crf_la``/``crf_ha`` afterwards (and
            from ``seg_fields``). Defaults to True.
    """

    def __init__(self,
                 stride: int = 8,
                 ignore_index: int = 255,
                 score_eps: float = 1e-5,
                 drop_scores: bool = True) -> None:
        if stride < 1:
            raise ValueError(f'{_FILE}: AffinityLabelFromCRF stride must be '
                             f'>= 1, got {stride}.')
        self.stride = int(stride)
        self.ignore_index = ignore_index
        self.score_eps = score_eps
        self.drop_scores = drop_scores

    def transform(self, results: dict) -> dict:
        """Compute ``aff_label``.

        Args:
            results (dict): Result dict.

        Returns:
            dict: With ``aff_label`` added.
        """
        for key in ('crf_la', 'crf_ha', 'crf_labels'):
            if key not in results:
                raise KeyError(f'{_FILE}: `{key}` missing; put LoadCRFScores '
                               f'before AffinityLabelFromCRF.')
        la = block_mean(results['crf_la'], self.stride)
        ha = block_mean(results['crf_ha'], self.stride)
        labels = np.asarray(results['crf_labels'], dtype=np.int64)
        if la.shape != ha.shape or la.shape[-1] != labels.shape[0]:
            raise ValueError(
                f'{_FILE}: crf_la {la.shape}, crf_ha {ha.shape} and '
                f'crf_labels {labels.shape} do not match.')
        no_score = np.maximum(la.max(-1), ha.max(-1)) < self.score_eps
        la_arg = la.argmax(-1)
        ha_arg = ha.argmax(-1)
        label = labels[la_arg]
        label[la_arg == 0] = self.ignore_index
        label[ha_arg == 0] = 0
        label[no_score] = self.ignore_index
        results['aff_label'] = label
        if self.drop_scores:
            for key in ('crf_la', 'crf_ha'):
                results.pop(key, None)
                if key in results.get('seg_fields', []):
                    results['seg_fields'].remove(key)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(stride={self.stride}, '
                f'ignore_index={self.ignore_index}, '
                f'score_eps={self.score_eps}, '
                f'drop_scores={self.drop_scores})')


def extract_affinity_labels(
        label: np.ndarray,
        radius: int = 5,
        ignore_index: int = 255) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binary pair labels of a label map (official
    ``ExtractAffinityLabelInRadius``).

    For every pair (source i, target j = i + offset) of
    :func:`mmseam.models.segmentors.affinitynet.pair_regions`:
    ``bg_pos`` = both 0; ``fg_pos`` = same non-zero class, both valid;
    ``neg`` = different classes, both valid (``ignore_index`` is invalid).

    Args:
        label (np.ndarray): (h, w) integer label map.
        radius (int): Pair radius. Defaults to 5.
        ignore_index (int): Invalid label. Defaults to 255.

    Returns:
        tuple[np.ndarray]: ``bg_pos``, ``fg_pos``, ``neg``, each float32 of
        shape (P, h - r + 1, w - 2r + 2).
    """
    from mmseam.models.segmentors.affinitynet import pair_regions
    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f'{_FILE}: the label map must be 2D, got shape '
                         f'{label.shape}.')
    src, dsts = pair_regions(label.shape[0], label.shape[1], radius)
    lab_from = label[src][None]
    lab_to = np.stack([label[d] for d in dsts])
    valid = (lab_from != ignore_index) & (lab_to != ignore_index)
    pos = lab_from == lab_to
    bg_pos = pos & (lab_from == 0)
    fg_pos = pos & (lab_from != 0) & valid
    neg = ~pos & valid
    return (bg_pos.astype(np.float32), fg_pos.astype(np.float32),
            neg.astype(np.float32))


@TRANSFORMS.register_module()
class ExtractAffinityLabels(BaseTransform):
    """Binary pair labels from ``aff_label`` (see
    :func:`extract_affinity_labels`).

    Required Keys: aff_label (h, w)

    Added Keys: aff_bg_pos, aff_fg_pos, aff_neg (np.float32, each
    (P, h - r + 1, w - 2r + 2), P = 34 for r = 5)

    Args:
        radius (int): Pair radius. Defaults to 5.
        ignore_index (int): Invalid label. Defaults to 255.
    """

    def __init__(self, radius: int = 5, ignore_index: int = 255) -> None:
        if radius < 2:
            raise ValueError(f'{_FILE}: ExtractAffinityLabels radius must be '
                             f'>= 2, got {radius}.')
        self.radius = int(radius)
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        """Add the three pair-label maps.

        Args:
            results (dict): Result dict.

        Returns:
            dict: With ``aff_bg_pos``, ``aff_fg_pos``, ``aff_neg``.
        """
        if 'aff_label' not in results:
            raise KeyError(f'{_FILE}: `aff_label` missing; put '
                           f'AffinityLabelFromCRF before '
                           f'ExtractAffinityLabels.')
        bg_pos, fg_pos, neg = extract_affinity_labels(results['aff_label'],
                                                      self.radius,
                                                      self.ignore_index)
        results['aff_bg_pos'] = bg_pos
        results['aff_fg_pos'] = fg_pos
        results['aff_neg'] = neg
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(radius={self.radius}, '
                f'ignore_index={self.ignore_index})')


@TRANSFORMS.register_module()
class PackAffinityInputs(BaseTransform):
    """Pack the image and the affinity targets.

    Required Keys: img, aff_bg_pos, aff_fg_pos, aff_neg

    Output: ``inputs`` (uint8 tensor (3, H, W)) and ``data_samples``
    (:obj:`SegDataSample`) with the data fields ``aff_bg_pos``,
    ``aff_fg_pos``, ``aff_neg`` (float32 (P, h', w')), ``aff_label``
    (int64 (h, w), if present) and ``img_labels`` (if present), and the
    ``meta_keys`` as metainfo.

    Args:
        meta_keys (Sequence[str]): Meta keys to pack.
    """

    def __init__(
        self,
        meta_keys: Sequence[str] = ('img_path', 'ori_shape', 'img_shape',
                                    'crop_bbox', 'flip', 'flip_direction')
    ) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack.

        Args:
            results (dict): Result dict.

        Returns:
            dict: ``inputs`` and ``data_samples``.
        """
        img = results['img']
        if img.ndim < 3:
            img = img[..., None]
        img = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = SegDataSample()
        data = {}
        for key in ('aff_bg_pos', 'aff_fg_pos', 'aff_neg'):
            if key not in results:
                raise KeyError(f'{_FILE}: `{key}` missing; put '
                               f'ExtractAffinityLabels before '
                               f'PackAffinityInputs.')
            data[key] = torch.from_numpy(
                np.ascontiguousarray(results[key], dtype=np.float32))
        if 'aff_label' in results:
            data['aff_label'] = torch.from_numpy(
                np.asarray(results['aff_label'], dtype=np.int64))
        if results.get('img_labels') is not None:
            data['img_labels'] = torch.from_numpy(
                np.asarray(results['img_labels'], dtype=np.float32))
        sample.set_data(data)
        sample.set_metainfo(
            {k: results[k]
             for k in self.meta_keys if k in results})
        return dict(inputs=img, data_samples=sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
