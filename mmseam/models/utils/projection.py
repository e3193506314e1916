# Copyright (c) mmseam contributors. All rights reserved.
"""The feature projections + fusion shared by the PCM and AffinityNet."""
from typing import Sequence, Tuple

import torch.nn as nn

__all__ = ['build_projections', 'official_projection_init']


def build_projections(in_channels: Sequence[int],
                      proj_channels: Sequence[int], fuse_in: int,
                      out_channels: int) -> Tuple[nn.ModuleList, nn.Conv2d]:
    """Bias-free 1x1 projections of backbone features and the 1x1 fusion of
    their concatenation into an embedding.

    Args:
        in_channels (Sequence[int]): Channels of each backbone feature.
        proj_channels (Sequence[int]): Channels each is projected to.
        fuse_in (int): Channels entering the fusion (the projections plus
            whatever else the caller concatenates, e.g. the image).
        out_channels (int): Embedding channels.

    Returns:
        tuple: ``proj`` (``nn.ModuleList`` of ``Conv2d`` (N, C_i, H, W) ->
        (N, P_i, H, W)) and ``fuse`` (``Conv2d`` (N, fuse_in, H, W) -> (N,
        out_channels, H, W)).
    """
    proj = nn.ModuleList([
        nn.Conv2d(c_in, c_out, 1, bias=False)
        for c_in, c_out in zip(in_channels, proj_channels)
    ])
    return proj, nn.Conv2d(fuse_in, out_channels, 1, bias=False)


def official_projection_init(proj: nn.ModuleList, fuse: nn.Conv2d) -> None:
    """The official initialisation: Kaiming-normal projections, Xavier-
    uniform fusion with gain 4."""
    for conv in proj:
        nn.init.kaiming_normal_(conv.weight)
    nn.init.xavier_uniform_(fuse.weight, gain=4)
