# Copyright (c) mmseam contributors. All rights reserved.
"""Spatial transforms ``A`` for SEAM's equivariant regularisation.

SEAM (Wang et al., CVPR 2020, https://arxiv.org/abs/2004.04581) compares
``F(A(I))`` with ``A(F(I))``. Every transform here maps a batch
``x`` of shape (N, C, H, W) to ``A(x)`` (:meth:`forward`) and maps a tensor
given in the transformed frame back to the original frame of size
``(H, W)`` (:meth:`inverse`). All transforms are deterministic, batched and
differentiable; none of them synchronises with the device.

The official SEAM code only uses :class:`RescaleTransform` with
``scale_factor=0.3`` and ``align_corners=True``; the other transforms are
the affine variants discussed in the paper.
"""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from mmseam.utils.misc import check_4d, source_path

__all__ = [
    'BaseEquivariantTransform', 'RescaleTransform', 'FlipTransform',
    'RotationTransform', 'TranslationTransform'
]

_FILE = source_path(__name__)
_Shift = Sequence[Union[int, float]]


def _as_size(size: Union[int, Sequence[int]], name: str) -> Tuple[int, int]:
    if isinstance(size, int):
        size = (size, size)
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(
            f'{_FILE}: {name} must be a positive (H, W) pair, got {size}.')
    return size


class BaseEquivariantTransform:
    """Base class of the equivariant transforms.

    Subclasses implement :meth:`forward` and :meth:`inverse`; calling the
    object is the same as calling :meth:`forward`.
    """

    def __call__(self, x: Tensor) -> Tensor:
        return self.forward(x)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the transform.

        Args:
            x (Tensor): Input of shape (N, C, H, W).

        Returns:
            Tensor: Transformed tensor of shape (N, C, H', W').
        """
        raise NotImplementedError  # abstract: subclasses implement it

    def inverse(self,
                y: Tensor,
                size: Optional[Sequence[int]] = None) -> Tensor:
        """Map a tensor from the transformed frame back to the original one.

        Args:
            y (Tensor): Tensor in the transformed frame, (N, C, H', W').
            size (Sequence[int], optional): Original spatial size (H, W).

        Returns:
            Tensor: Tensor of shape (N, C, H, W).
        """
        raise NotImplementedError  # abstract: subclasses implement it

    @staticmethod
    def _check_output(out: Tensor, size: Optional[Sequence[int]],
                      cls_name: str) -> Tensor:
        if size is not None:
            size = _as_size(size, f'{cls_name}.inverse `size`')
            if tuple(out.shape[-2:]) != size:
                raise ValueError(
                    f'{_FILE}: {cls_name}.inverse produced spatial size '
                    f'{tuple(out.shape[-2:])} but `size`={size} was '
                    f'requested; pass the size of the tensor given to '
                    f'`forward`.')
        return out

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in vars(self).items())
        return f'{self.__class__.__name__}({args})'


@MODELS.register_module()
class RescaleTransform(BaseEquivariantTransform):
    """Rescale by a factor (the transform used by the official SEAM code).

    :meth:`forward` is exactly ``F.interpolate(x, scale_factor=scale_factor,
    mode=mode, align_corners=align_corners)``, so the output size is
    ``floor(H * scale_factor) x floor(W * scale_factor)`` (448 -> 134 for
    0.3). :meth:`inverse` interpolates back to the given ``size`` with the
    same mode. With ``mode='bilinear'`` and ``align_corners=True`` both
    directions reproduce functions that are linear in the pixel index
    exactly.

    Args:
        scale_factor (float): Rescale factor. Defaults to 0.3.
        align_corners (bool): ``align_corners`` of the interpolation; ignored
            (``None`` is passed) for ``'nearest'``/``'area'`` modes.
            Defaults to True.
        mode (str): Interpolation mode. Defaults to 'bilinear'.
    """

    def __init__(self,
                 scale_factor: float = 0.3,
                 align_corners: bool = True,
                 mode: str = 'bilinear') -> None:
        if not scale_factor > 0:
            raise ValueError(
                f'{_FILE}: RescaleTransform `scale_factor` must be > 0, got '
                f'{scale_factor}; SEAM uses 0.3.')
        self.scale_factor = float(scale_factor)
        self.align_corners = align_corners
        self.mode = mode

    def _align(self) -> Optional[bool]:
        if self.mode in ('linear', 'bilinear', 'bicubic', 'trilinear'):
            return self.align_corners
        return None

    def forward(self, x: Tensor) -> Tensor:
        """Rescale.

        Args:
            x (Tensor): Input of shape (N, C, H, W).

        Returns:
            Tensor: Shape (N, C, floor(H * s), floor(W * s)).
        """
        check_4d(x, 'RescaleTransform.forward', _FILE)
        return F.interpolate(
            x,
            scale_factor=self.scale_factor,
            mode=self.mode,
            align_corners=self._align())

    def inverse(self,
                y: Tensor,
                size: Optional[Sequence[int]] = None) -> Tensor:
        """Interpolate back to the original size.

        Args:
            y (Tensor): Rescaled tensor of shape (N, C, h, w).
            size (Sequence[int]): Original size (H, W). Required.

        Returns:
            Tensor: Shape (N, C, H, W).
        """
        check_4d(y, 'RescaleTransform.inverse', _FILE)
        if size is None:
            raise ValueError(
                f'{_FILE}: RescaleTransform.inverse needs `size` (the (H, W) '
                f'of the tensor given to `forward`), because rescaling '
                f'rounds the output size down.')
        size = _as_size(size, 'RescaleTransform.inverse `size`')
        return F.interpolate(
            y, size=size, mode=self.mode, align_corners=self._align())


@MODELS.register_module()
class FlipTransform(BaseEquivariantTransform):
    """Horizontal or vertical flip (its own inverse).

    Args:
        direction (str): 'horizontal' (flip W) or 'vertical' (flip H).
            Defaults to 'horizontal'.
    """

    def __init__(self, direction: str = 'horizontal') -> None:
        if direction not in ('horizontal', 'vertical'):
            raise ValueError(
                f'{_FILE}: FlipTransform `direction` must be "horizontal" or '
                f'"vertical", got {direction!r}.')
        self.direction = direction

    def _dims(self) -> Tuple[int]:
        return (-1, ) if self.direction == 'horizontal' else (-2, )

    def forward(self, x: Tensor) -> Tensor:
        """Flip.

        Args:
            x (Tensor): Input of shape (N, C, H, W).

        Returns:
            Tensor: Flipped tensor of shape (N, C, H, W).
        """
        check_4d(x, 'FlipTransform.forward', _FILE)
        return torch.flip(x, self._dims())

    def inverse(self,
                y: Tensor,
                size: Optional[Sequence[int]] = None) -> Tensor:
        """Flip back.

        Args:
            y (Tensor): Flipped tensor of shape (N, C, H, W).
            size (Sequence[int], optional): Original size (H, W), only
                checked.

        Returns:
            Tensor: Shape (N, C, H, W).
        """
        check_4d(y, 'FlipTransform.inverse', _FILE)
        return self._check_output(
            torch.flip(y, self._dims()), size, 'FlipTransform')


@MODELS.register_module()
class RotationTransform(BaseEquivariantTransform):
    """Rotation by ``k * 90`` degrees (``torch.rot90`` over H, W).

    For odd ``k`` the output has shape (N, C, W, H).

    Args:
        k (int): Number of quarter turns (counter-clockwise when displayed
            with row 0 at the top). Defaults to 1.
    """

    def __init__(self, k: int = 1) -> None:
        if int(k) != k:
            raise ValueError(
                f'{_FILE}: RotationTransform `k` must be an integer number '
                f'of quarter turns, got {k!r}.')
        self.k = int(k)

    def forward(self, x: Tensor) -> Tensor:
        """Rotate.

        Args:
            x (Tensor): Input of shape (N, C, H, W).

        Returns:
            Tensor: Shape (N, C, H, W) for even k, (N, C, W, H) for odd k.
        """
        check_4d(x, 'RotationTransform.forward', _FILE)
        return torch.rot90(x, self.k, dims=(-2, -1))

    def inverse(self,
                y: Tensor,
                size: Optional[Sequence[int]] = None) -> Tensor:
        """Rotate back by ``-k * 90`` degrees.

        Args:
            y (Tensor): Rotated tensor.
            size (Sequence[int], optional): Original size (H, W), only
                checked.

        Returns:
            Tensor: Shape (N, C, H, W).
        """
        check_4d(y, 'RotationTransform.inverse', _FILE)
        return self._check_output(
            torch.rot90(y, -self.k, dims=(-2, -1)), size, 'RotationTransform')


@MODELS.register_module()
class TranslationTransform(BaseEquivariantTransform):
    """Integer translation with zero fill.

    ``forward`` moves content by ``(dy, dx)`` pixels:
    ``out[..., i + dy, j + dx] = x[..., i, j]`` where the target is inside
    the frame, and everything else is 0. ``inverse`` moves it back
    (``out[..., i, j] = y[..., i + dy, j + dx]``), again with zero fill.
    Pixels that leave the frame are lost, so
    ``inverse(forward(x)) == x * valid_mask(size)`` exactly, where
    :meth:`valid_mask` marks the original-frame pixels that stay in frame.
    The output has the input's size.

    Args:
        shift (Sequence[int | float]): ``(dy, dx)``. An ``int`` is a number
            of pixels; a ``float`` is a fraction of the size (H for dy, W
            for dx) in (-1, 1), rounded to the nearest pixel (Python
            ``round``, ties to even). Positive values move content down /
            right. Defaults to (0.1, 0.1).
    """

    def __init__(self, shift: _Shift = (0.1, 0.1)) -> None:
        shift = tuple(shift)
        if len(shift) != 2:
            raise ValueError(
                f'{_FILE}: TranslationTransform `shift` must be (dy, dx), '
                f'got {shift!r}.')
        for s in shift:
            if isinstance(s, bool) or not isinstance(s, (int, float)):
                raise ValueError(
                    f'{_FILE}: TranslationTransform `shift` entries must be '
                    f'int (pixels) or float (fraction of the size), got '
                    f'{shift!r}.')
            if isinstance(s, float) and not -1 < s < 1:
                raise ValueError(
                    f'{_FILE}: TranslationTransform fractional `shift` must '
                    f'lie in (-1, 1), got {shift!r}; use ints for pixels.')
        self.shift = shift

    def pixel_shift(self, size: Sequence[int]) -> Tuple[int, int]:
        """The shift in pixels for a frame of size (H, W).

        Args:
            size (Sequence[int]): Spatial size (H, W).

        Returns:
            tuple[int, int]: ``(dy, dx)`` in pixels.
        """
        size = _as_size(size, 'TranslationTransform `size`')
        out = []
        for s, length in zip(self.shift, size):
            out.append(int(round(s * length)) if isinstance(s, float) else s)
        return tuple(out)

    @staticmethod
    def _shift(x: Tensor, dy: int, dx: int) -> Tensor:
        """``out[..., i + dy, j + dx] = x[..., i, j]`` with zero fill."""
        h, w = x.shape[-2:]
        out = torch.zeros_like(x)
        if abs(dy) >= h or abs(dx) >= w:
            return out
        src_y = slice(max(0, -dy), h - max(0, dy))
        dst_y = slice(max(0, dy), h - max(0, -dy))
        src_x = slice(max(0, -dx), w - max(0, dx))
        dst_x = slice(max(0, dx), w - max(0, -dx))
        out[..., dst_y, dst_x] = x[..., src_y, src_x]
        return out

    def forward(self, x: Tensor) -> Tensor:
        """Translate by ``(dy, dx)``.

        Args:
            x (Tensor): Input of shape (N, C, H, W).

        Returns:
            Tensor: Translated tensor of shape (N, C, H, W).
        """
        check_4d(x, 'TranslationTransform.forward', _FILE)
        dy, dx = self.pixel_shift(x.shape[-2:])
        return self._shift(x, dy, dx)

    def inverse(self,
                y: Tensor,
                size: Optional[Sequence[int]] = None) -> Tensor:
        """Translate back by ``(-dy, -dx)``.

        Args:
            y (Tensor): Translated tensor of shape (N, C, H, W).
            size (Sequence[int], optional): Original size (H, W), only
                checked.

        Returns:
            Tensor: Shape (N, C, H, W); zero outside :meth:`valid_mask`.
        """
        check_4d(y, 'TranslationTransform.inverse', _FILE)
        dy, dx = self.pixel_shift(y.shape[-2:])
        return self._check_output(
            self._shift(y, -dy, -dx), size, 'TranslationTransform')

    def valid_mask(
            self,
            size: Sequence[int],
            device: Optional[Union[str, torch.device]] = None) -> Tensor:
        """Original-frame pixels that stay inside the frame.

        Args:
            size (Sequence[int]): Spatial size (H, W).
            device (str | torch.device, optional): Device of the mask.

        Returns:
            Tensor: Bool mask of shape (1, 1, H, W), True where
            ``inverse(forward(x)) == x``.
        """
        h, w = _as_size(size, 'TranslationTransform.valid_mask `size`')
        dy, dx = self.pixel_shift((h, w))
        ones = torch.ones((1, 1, h, w), dtype=torch.bool, device=device)
        return self._shift(self._shift(ones, dy, dx), -dy, -dx)
