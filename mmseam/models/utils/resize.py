# Copyright (c) mmseam contributors. All rights reserved.
"""Bilinear resizing as two small matrix products.

``F.interpolate(x, size, mode='bilinear')`` is separable: every output row
mixes two input rows and every output column two input columns, with the
same weights for all channels. Written as ``A_h @ x @ A_w^T`` with the
(out, in) interpolation matrices ``A_h``, ``A_w`` (two non-zeros a row), the
forward pass is two batched matrix products and, above all, so is the
backward pass: PyTorch's own bilinear backward scatters gradients with
atomic adds, which was 3.5 ms of a 57 ms SEAM training step on an H100
(docs/benchmarks.md, profile of the compiled step).
"""
from contextlib import nullcontext
from functools import lru_cache
from typing import Tuple

import torch
from torch import Tensor

__all__ = [
    'autocast_off', 'bilinear_resize', 'interp_matrix', 'resize_chain_matrix'
]


@lru_cache(maxsize=64)
def _interp_matrix_cpu(n_in: int, n_out: int,
                       align_corners: bool) -> Tensor:
    # The source coordinate and weights as PyTorch's kernels compute them
    # (fp32 scale, fp32 source index; area_pixel_compute_source_index).
    y = torch.arange(n_out, dtype=torch.float32)
    if align_corners:
        scale = torch.tensor(
            (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0,
            dtype=torch.float32)
        src = y * scale
    else:
        scale = torch.tensor(n_in / n_out, dtype=torch.float32)
        src = ((y + 0.5) * scale - 0.5).clamp_(min=0)
    i0 = src.floor().long().clamp_(max=n_in - 1)
    i1 = (i0 + 1).clamp_(max=n_in - 1)
    lam1 = src - i0.float()
    lam0 = 1 - lam1
    mat = torch.zeros(n_out, n_in, dtype=torch.float32)
    rows = torch.arange(n_out)
    mat.index_put_((rows, i0), lam0, accumulate=True)
    mat.index_put_((rows, i1), lam1, accumulate=True)
    return mat


@lru_cache(maxsize=64)
def interp_matrix(n_in: int, n_out: int, align_corners: bool,
                  device: torch.device,
                  dtype: torch.dtype = torch.float32) -> Tensor:
    """The (n_out, n_in) 1D linear-interpolation matrix of ``F.interpolate``.

    Row ``y`` holds the weights ``1 - l`` and ``l`` of the two source
    samples ``floor(s)`` and ``floor(s) + 1`` (clamped to the edge) with
    ``s = y (n_in - 1) / (n_out - 1)`` (``align_corners=True``) or
    ``s = max((y + 0.5) n_in / n_out - 0.5, 0)`` (``False``, output size
    given); rows sum to 1. Cached per (sizes, device, dtype): a training
    step copies nothing to the device after the first.
    """
    return _interp_matrix_cpu(int(n_in), int(n_out), bool(align_corners)).to(
        device=device, dtype=dtype)


def bilinear_resize(x: Tensor, size: Tuple[int, int],
                    align_corners: bool) -> Tensor:
    """``F.interpolate(x, size, mode='bilinear', align_corners=...)``.

    The same values up to floating-point rounding (a few ulp), computed as
    ``A_h @ x @ A_w^T`` in ``x``'s dtype with autocast off.

    Args:
        x (Tensor): Maps of shape (N, C, h, w), floating point.
        size (tuple[int, int]): Output size (H, W).
        align_corners (bool): As in ``F.interpolate``.

    Returns:
        Tensor: Shape (N, C, H, W), same dtype as ``x``.
    """
    h, w = x.shape[-2:]
    out_h, out_w = (int(s) for s in size)
    a_h = interp_matrix(h, out_h, align_corners, x.device, x.dtype)
    a_w = interp_matrix(w, out_w, align_corners, x.device, x.dtype)
    with autocast_off(x):
        return torch.matmul(a_h, torch.matmul(x, a_w.t()))


def autocast_off(x: Tensor):
    """A context without autocast on ``x``'s device type (a null context
    when autocast is not active there), for resize products that must stay
    in ``x``'s dtype."""
    dev = x.device.type
    off = dev in ('cpu', 'cuda') and torch.is_autocast_enabled(dev)
    return torch.autocast(dev, enabled=False) if off else nullcontext()


@lru_cache(maxsize=64)
def resize_chain_matrix(n_in: int, n_mid: int, n_out: int,
                        device: torch.device,
                        dtype: torch.dtype = torch.float32) -> Tensor:
    """(n_out, n_in) matrix of two resizes in a row, as one linear map.

    ``F.interpolate`` to ``n_mid`` with ``align_corners=True`` (the network
    output brought to its input size), then to ``n_out`` with
    ``align_corners=False`` (that map brought to the image size), as the
    official multi-scale inference does. Resizing is linear, so the chain is
    the product of the two :func:`interp_matrix` matrices (formed in
    float64): the same result up to rounding, without the ``n_mid``-sized
    intermediate (at scale 2, twice the image in every channel).
    """
    first = _interp_matrix_cpu(int(n_in), int(n_mid), True).double()
    second = _interp_matrix_cpu(int(n_mid), int(n_out), False).double()
    return (second @ first).to(device=device, dtype=dtype)
