# Copyright (c) mmseam contributors. All rights reserved.
"""CAM heat maps and label overlays as image grids (PNG)."""
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
from PIL import Image

from mmseam.utils.misc import voc_colormap
from .cam_io import atomic_write

__all__ = ['cam_heatmap', 'colorize_label', 'overlay', 'save_grid', 'load_rgb']


def cam_heatmap(img_rgb: np.ndarray, cams: np.ndarray,
                alpha: float = 0.5) -> np.ndarray:
    """Overlay the per-pixel maximum of CAMs on an image as a jet heat map.

    Args:
        img_rgb (np.ndarray): uint8 (H, W, 3) image.
        cams (np.ndarray): (K, H, W) CAMs in [0, 1] (K may be 0).
        alpha (float): Heat-map opacity. Defaults to 0.5.

    Returns:
        np.ndarray: uint8 (H, W, 3).
    """
    import matplotlib
    heat = cams.max(0) if len(cams) else np.zeros(img_rgb.shape[:2])
    colour = matplotlib.colormaps['jet'](np.clip(heat, 0, 1))[..., :3] * 255
    return overlay(img_rgb, colour, alpha)


def colorize_label(label: np.ndarray,
                   palette: Optional[Sequence[Sequence[int]]] = None
                   ) -> np.ndarray:
    """Colour a label map with a palette (VOC colours by default).

    Args:
        label (np.ndarray): (H, W) class indices (255 = ignore, white).
        palette (Sequence, optional): RGB per class.

    Returns:
        np.ndarray: uint8 (H, W, 3).
    """
    full = voc_colormap(256)
    if palette is not None:
        full[:len(palette)] = np.array(palette, dtype=np.uint8)
    full[255] = (255, 255, 255)
    return full[np.asarray(label, dtype=np.uint8)]


def overlay(img_rgb: np.ndarray, colour: np.ndarray,
            alpha: float) -> np.ndarray:
    """Alpha-blend ``colour`` over ``img_rgb`` (both H x W x 3)."""
    out = (1 - alpha) * img_rgb.astype(np.float32) + alpha * colour
    return np.clip(out, 0, 255).astype(np.uint8)


def save_grid(rows: List[List[np.ndarray]],
              out_path: str,
              col_titles: Optional[Sequence[str]] = None,
              row_titles: Optional[Sequence[str]] = None,
              cell: float = 2.2) -> str:
    """Save a grid of RGB images as one PNG (atomically).

    Args:
        rows (list[list[np.ndarray]]): ``rows[r][c]`` uint8 (H, W, 3).
        out_path (str): Output PNG path.
        col_titles (Sequence[str], optional): Column headings.
        row_titles (Sequence[str], optional): Row labels.
        cell (float): Size of one cell in inches. Defaults to 2.2.

    Returns:
        str: ``out_path``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(
        n_rows,
        n_cols,
        figsize=(cell * n_cols, cell * n_rows),
        squeeze=False)
    for r, row in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.axis('off')
            if c < len(row):
                ax.imshow(row[c])
            if r == 0 and col_titles and c < len(col_titles):
                ax.set_title(col_titles[c], fontsize=9)
            if c == 0 and row_titles and r < len(row_titles):
                ax.text(
                    -0.05,
                    0.5,
                    row_titles[r],
                    rotation=90,
                    va='center',
                    ha='right',
                    fontsize=8,
                    transform=ax.transAxes)
    fig.tight_layout()
    ext = osp.splitext(out_path)[1].lstrip('.') or 'png'
    atomic_write(out_path, lambda f: fig.savefig(f, format=ext, dpi=100))
    plt.close(fig)
    return out_path


def load_rgb(path: str) -> np.ndarray:
    """Read an image file as uint8 RGB (H, W, 3)."""
    with Image.open(path) as img:
        return np.array(img.convert('RGB'))
