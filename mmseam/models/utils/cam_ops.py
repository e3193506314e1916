# Copyright (c) mmseam contributors. All rights reserved.
"""Element-wise CAM operations used by SEAM's training losses.

Both helpers are pure tensor functions (no host-device synchronisation, no
in-place modification of their input) and work on batched 4D maps.
"""
import torch
import torch.nn.functional as F
from torch import Tensor

from mmseam.utils.misc import check_4d, source_path

__all__ = ['max_norm', 'max_onehot']

_FILE = source_path(__name__)


def max_norm(cam: Tensor, eps: float = 1e-5) -> Tensor:
    """Per-(sample, channel) min-max normalisation of a CAM (official SEAM).

    Reproduces ``max_norm`` of the official ``tool/visualization.py`` for 4D
    tensors: ``p = relu(cam)`` then, for every ``(n, c)`` over ``H x W``,
    ``relu(p - min(p) - eps) / (max(p) - min(p) + eps)``. Values lie in
    ``[0, 1)``; constant channels become all zeros. Differentiable (the min
    and max are part of the graph, as in the official code).

    Args:
        cam (Tensor): CAM of shape (N, C, H, W).
        eps (float): Stabiliser. Defaults to 1e-5.

    Returns:
        Tensor: Normalised CAM of shape (N, C, H, W).
    """
    check_4d(cam, 'max_norm', _FILE)
    p = F.relu(cam)
    flat = p.flatten(2)
    # max/min with indices (as the official code): their backward scatters
    # one value per (n, c); amax/amin would build a dense tie mask over
    # every pixel in the backward pass.
    max_v = flat.max(dim=-1)[0][..., None, None]
    min_v = flat.min(dim=-1)[0][..., None, None]
    return F.relu(p - min_v - eps) / (max_v - min_v + eps)


def max_onehot(cam: Tensor) -> Tensor:
    """Keep only the per-pixel maximal foreground value (official SEAM).

    Reproduces ``max_onehot`` of the official ``train_SEAM.py``: channel 0
    (background) is kept unchanged; the maximum is taken over the foreground
    channels ``1:`` only, and every foreground value different from that
    per-pixel maximum is set to 0. Kept values are not binarised; ties keep
    all tied channels. Unlike the official function, the input is not
    modified in place (a new tensor is returned).

    Args:
        cam (Tensor): Map of shape (N, C, H, W), C >= 2, channel 0 being the
            background.

    Returns:
        Tensor: Map of shape (N, C, H, W).
    """
    check_4d(cam, 'max_onehot', _FILE)
    if cam.size(1) < 2:
        raise ValueError(
            f'mmseam/models/utils/cam_ops.py: `max_onehot` needs a '
            f'background channel plus at least one foreground channel, got '
            f'{cam.size(1)} channel(s); pass the full (N, 1 + num_fg, H, W) '
            f'map.')
    bg, fg = cam[:, :1], cam[:, 1:]
    fg_max = fg.amax(dim=1, keepdim=True)
    fg = torch.where(fg == fg_max, fg, torch.zeros_like(fg))
    return torch.cat([bg, fg], dim=1)
