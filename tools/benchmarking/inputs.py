# Copyright (c) mmseam contributors. All rights reserved.
"""Synthetic inputs: labels, data samples, images, image sizes."""
from typing import List, Tuple

import numpy as np
import torch


def make_labels(n: int, num_fg: int, seed: int) -> torch.Tensor:
    """(n, num_fg) multi-hot labels with 1-3 present classes each."""
    rng = np.random.RandomState(seed)
    labels = np.zeros((n, num_fg), np.float32)
    for i in range(n):
        k = rng.randint(1, min(3, num_fg) + 1)
        labels[i, rng.choice(num_fg, k, replace=False)] = 1
    return torch.from_numpy(labels)


def make_samples(labels: torch.Tensor, size, device: torch.device) -> list:
    from mmseg.structures import SegDataSample
    samples = []
    for row in labels:
        s = SegDataSample(
            metainfo=dict(ori_shape=tuple(size), img_shape=tuple(size)))
        s.set_data(dict(img_labels=row.to(device)))
        samples.append(s)
    return samples


def smooth_image(h: int, w: int, seed: int) -> np.ndarray:
    """A uint8 RGB image with smooth regions (a natural-image stand-in)."""
    rng = np.random.RandomState(seed)
    low = torch.from_numpy(rng.rand(1, 3, 12, 16).astype(np.float32))
    img = torch.nn.functional.interpolate(
        low, (h, w), mode='bicubic', align_corners=False)[0]
    img = img + 0.03 * torch.from_numpy(
        rng.randn(3, h, w).astype(np.float32))
    img = (img.clamp(0, 1) * 255).round().byte()
    return np.ascontiguousarray(img.permute(1, 2, 0).numpy())


def cycle_sizes(size, k: int) -> List[Tuple[int, int]]:
    """``k`` image sizes for ``--size-cycle``: ``size`` and ``k - 1`` others
    with the same width and heights 16, 32, ... pixels smaller (VOC's
    images are mostly 500 wide with varying heights)."""
    h, w = size
    return [(max(h - 16 * i, 16), w) for i in range(k)]
