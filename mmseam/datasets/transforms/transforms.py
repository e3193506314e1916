# Copyright (c) mmseam contributors. All rights reserved.
"""Training augmentations of the official SEAM pipeline."""
from numbers import Number
from typing import Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmseg.registry import TRANSFORMS

__all__ = ['ColorJitter', 'RandomCropPad']

_Factor = Union[float, Tuple[float, float]]


def _factor_range(value: _Factor,
                  name: str,
                  center: float = 1.0,
                  bound: Tuple[float, float] = (0.0, float('inf')),
                  clip_first: bool = True) -> Optional[Tuple[float, float]]:
    """Turn a torchvision-style jitter argument into a ``(min, max)`` range.

    Args:
        value (float | tuple[float, float]): ``v`` means
            ``[center - v, center + v]``; a pair is used as is.
        name (str): Argument name, for error messages.
        center (float): Centre of the range. Defaults to 1.
        bound (tuple[float, float]): Allowed interval.
        clip_first (bool): Clip the lower end at ``bound[0]``.

    Returns:
        tuple[float, float] | None: The range, or None for "no-op".
    """
    if isinstance(value, Number):
        if value < 0:
            raise ValueError(f'{name}={value} must be non-negative.')
        lo, hi = center - float(value), center + float(value)
        if clip_first:
            lo = max(lo, 0.0)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        lo, hi = float(value[0]), float(value[1])
    else:
        raise TypeError(f'{name} must be a number or a (min, max) pair, got '
                        f'{value!r}.')
    if not bound[0] <= lo <= hi <= bound[1]:
        raise ValueError(f'{name} range ({lo}, {hi}) must lie in {bound}.')
    if lo == hi == center:
        return None
    return lo, hi


@TRANSFORMS.register_module()
class ColorJitter(BaseTransform):
    """Randomly change brightness, contrast, saturation and hue.

    Same semantics as ``torchvision.transforms.ColorJitter`` (the official
    SEAM augmentation): the four adjustments are applied in a random order,
    each with a factor drawn uniformly from its range; a zero argument
    disables the adjustment. ``uint8`` images go through the PIL code path
    of torchvision (exactly what the official code does on PIL images);
    float images (values in [0, 255]) go through the tensor path. The image
    stays BGR. Random numbers come from ``np.random`` like the other mmcv
    transforms, so seeding is handled by MMEngine.

    Required keys: ``img`` (H x W x 3, BGR). Modified keys: ``img``.

    Args:
        brightness (float | tuple[float, float]): ``b`` -> factor in
            ``[max(0, 1 - b), 1 + b]``. Defaults to 0.3.
        contrast (float | tuple[float, float]): As brightness.
            Defaults to 0.3.
        saturation (float | tuple[float, float]): As brightness.
            Defaults to 0.3.
        hue (float | tuple[float, float]): ``h`` -> shift in ``[-h, h]``,
            ``0 <= h <= 0.5``. Defaults to 0.1.
    """

    def __init__(self,
                 brightness: _Factor = 0.3,
                 contrast: _Factor = 0.3,
                 saturation: _Factor = 0.3,
                 hue: _Factor = 0.1) -> None:
        self.brightness = _factor_range(brightness, 'brightness')
        self.contrast = _factor_range(contrast, 'contrast')
        self.saturation = _factor_range(saturation, 'saturation')
        self.hue = _factor_range(
            hue, 'hue', center=0.0, bound=(-0.5, 0.5), clip_first=False)

    @cache_randomness
    def _sample_params(self) -> Tuple[np.ndarray, list]:
        """Draw the op order and the four factors (None = disabled)."""
        order = np.random.permutation(4)
        factors = [
            None if rng is None else float(np.random.uniform(rng[0], rng[1]))
            for rng in (self.brightness, self.contrast, self.saturation,
                        self.hue)
        ]
        return order, factors

    @staticmethod
    def _apply(img, order: np.ndarray, factors: list):
        import torchvision.transforms.functional as F
        ops = (F.adjust_brightness, F.adjust_contrast, F.adjust_saturation,
               F.adjust_hue)
        for idx in order:
            if factors[idx] is not None:
                img = ops[idx](img, factors[idx])
        return img

    def transform(self, results: dict) -> dict:
        """Jitter ``results['img']``.

        Args:
            results (dict): Result dict with ``img`` (H x W x 3, BGR).

        Returns:
            dict: The result dict with the jittered image (same dtype).
        """
        order, factors = self._sample_params()
        if all(f is None for f in factors):
            return results
        img = results['img']
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError('ColorJitter expects an H x W x 3 BGR image, got '
                             f'shape {img.shape}.')
        rgb = np.ascontiguousarray(img[..., ::-1])
        if img.dtype == np.uint8:
            from PIL import Image
            out = np.asarray(self._apply(Image.fromarray(rgb), order, factors))
        else:
            import torch
            tensor = torch.from_numpy(rgb.astype(np.float32)).permute(2, 0,
                                                                      1) / 255.
            tensor = self._apply(tensor.clamp(0, 1), order, factors)
            out = (tensor.permute(1, 2, 0).numpy() * 255.).astype(img.dtype)
        results['img'] = np.ascontiguousarray(out[..., ::-1])
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(brightness={self.brightness}, '
                f'contrast={self.contrast}, saturation={self.saturation}, '
                f'hue={self.hue})')


@TRANSFORMS.register_module()
class RandomCropPad(BaseTransform):
    """Random crop that pads small images, as the official ``RandomCrop``.

    For each axis: if the image is larger than the crop, a window at a
    uniformly random offset is cut; if it is smaller, the whole image is
    placed at a uniformly random offset inside a container of crop size
    filled with ``pad_val``. The output image is always ``float32`` of shape
    ``crop_size + (C,)``. With ``pad_val`` = the BGR ImageNet mean, the fill
    becomes exactly 0 after ``SegDataPreProcessor`` normalisation (the
    official code pads with zeros after normalising). Segmentation maps in
    ``seg_fields`` get the same window and are filled with ``seg_pad_val``.

    Required keys: ``img``; optional ``gt_seg_map`` / ``seg_fields``.
    Modified keys: ``img``, ``img_shape``, the seg fields.
    Added keys: ``crop_pad_bbox`` = (img_top, img_left, cont_top, cont_left,
    h, w): the copied ``h x w`` window starts at ``(img_top, img_left)`` in
    the input and at ``(cont_top, cont_left)`` in the output.

    Args:
        crop_size (int | tuple[int, int]): Output (h, w). Defaults to
            (448, 448).
        pad_val (float | Sequence[float]): Image fill, per channel (BGR).
            Defaults to (103.53, 116.28, 123.675).
        seg_pad_val (int): Segmentation fill. Defaults to 255.
    """

    def __init__(self,
                 crop_size: Union[int, Tuple[int, int]] = (448, 448),
                 pad_val: Union[float,
                                Sequence[float]] = (103.53, 116.28, 123.675),
                 seg_pad_val: int = 255) -> None:
        if isinstance(crop_size, int):
            crop_size = (crop_size, crop_size)
        crop_size = tuple(int(s) for s in crop_size)
        if len(crop_size) != 2 or min(crop_size) <= 0:
            raise ValueError(
                f'crop_size must be a positive (h, w) pair, got {crop_size}.')
        self.crop_size = crop_size
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    @staticmethod
    def _axis(size: int, crop: int) -> Tuple[int, int]:
        """Offsets (in image, in container) along one axis."""
        space = size - crop
        if space > 0:
            return int(np.random.randint(space + 1)), 0
        return 0, int(np.random.randint(-space + 1))

    @cache_randomness
    def _sample_offsets(self, h: int, w: int) -> Tuple[int, int, int, int]:
        img_top, cont_top = self._axis(h, self.crop_size[0])
        img_left, cont_left = self._axis(w, self.crop_size[1])
        return img_top, img_left, cont_top, cont_left

    def _paste(self, arr: np.ndarray, fill, dtype, offsets: tuple, ch: int,
               cw: int) -> np.ndarray:
        img_top, img_left, cont_top, cont_left = offsets
        out = np.empty(self.crop_size + arr.shape[2:], dtype=dtype)
        out[...] = fill
        out[cont_top:cont_top + ch, cont_left:cont_left + cw] = \
            arr[img_top:img_top + ch, img_left:img_left + cw]
        return out

    def transform(self, results: dict) -> dict:
        """Crop / pad the image and the segmentation maps.

        Args:
            results (dict): Result dict with ``img`` (H x W x C).

        Returns:
            dict: Result dict with a float32 ``img`` of shape
            ``crop_size + (C,)``.
        """
        img = results['img']
        h, w = img.shape[:2]
        ch, cw = min(self.crop_size[0], h), min(self.crop_size[1], w)
        offsets = self._sample_offsets(h, w)
        fill = np.asarray(self.pad_val, dtype=np.float32)
        if img.ndim == 3 and fill.size not in (1, img.shape[2]):
            raise ValueError(f'pad_val {self.pad_val} does not match the '
                             f'{img.shape[2]} image channels.')
        if img.ndim == 2:
            fill = fill.reshape(-1)[0]
        results['img'] = self._paste(img, fill, np.float32, offsets, ch, cw)
        for key in results.get('seg_fields', []):
            seg = results[key]
            results[key] = self._paste(seg, self.seg_pad_val, seg.dtype,
                                       offsets, ch, cw)
        results['img_shape'] = self.crop_size
        results['crop_pad_bbox'] = offsets + (ch, cw)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(crop_size={self.crop_size}, '
                f'pad_val={self.pad_val}, seg_pad_val={self.seg_pad_val})')
