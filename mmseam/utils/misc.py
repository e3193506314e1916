# Copyright (c) mmseam contributors. All rights reserved.
"""Small helpers shared across mmseam: error-message locations, input
checks and the VOC colour map."""
import numpy as np
from torch import Tensor

__all__ = ['source_path', 'check_4d', 'voc_colormap']


def source_path(module_name: str) -> str:
    """Repository-relative path of an mmseam module, for error messages.

    Args:
        module_name (str): The module's ``__name__``, e.g.
            ``'mmseam.models.necks.pcm'``.

    Returns:
        str: e.g. ``'mmseam/models/necks/pcm.py'``.
    """
    return module_name.replace('.', '/') + '.py'


def check_4d(x: Tensor, name: str, where: str) -> None:
    """Raise a ``ValueError`` unless ``x`` is a 4D tensor (N, C, H, W).

    Args:
        x (Tensor): The input to check.
        name (str): What receives it (a class or function name), quoted in
            the message.
        where (str): The calling module's path (see :func:`source_path`).
    """
    if not isinstance(x, Tensor) or x.dim() != 4:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x)
        raise ValueError(
            f'{where}: `{name}` expects a 4D tensor of shape (N, C, H, W), '
            f'got {shape}; add the missing batch/channel dimension (e.g. '
            f'`x[None]`).')


def voc_colormap(num: int = 256) -> np.ndarray:
    """The Pascal VOC label colour map (bit-interleaved RGB per index).

    Args:
        num (int): Number of entries. Defaults to 256.

    Returns:
        np.ndarray: (num, 3) uint8 RGB colours; entry k is the VOC colour
        of label k (1 = (128, 0, 0), 255 = (224, 224, 192)).
    """
    cmap = np.zeros((num, 3), dtype=np.uint8)
    for label in range(num):
        value = label
        rgb = [0, 0, 0]
        for shift in range(7, -1, -1):
            for ch in range(3):
                rgb[ch] |= ((value >> ch) & 1) << shift
            value >>= 3
        cmap[label] = rgb
    return cmap
