# Copyright (c) mmseam contributors. All rights reserved.
"""A small, honest weakly supervised segmentation problem in VOC layout.

Every image shows 1-3 *objects* on a cluttered background. An object is a
large *body* plus a small class-specific *mark* (a glyph) inside it:

- the body's look (shape family, colour, texture) is drawn independently of
  the class, from the same distribution for every class;
- only the mark's shape tells the classes apart (marks share their colours);
- 3-6 *distractor* bodies with the same look but no class mark (half of them
  carry a decoy glyph that is not a class) lie in the background, so bodies
  cannot be told from the background by saliency alone.

A classifier therefore only needs the mark, and its class activation map
covers the mark and misses most of the body, while the body is one region of
uniform colour/texture that pixel affinity can recover. The ground-truth
mask labels the whole visible body (mark included) with the object's class;
distractors are background.

:func:`make_synthetic_voc` writes the Pascal VOC 2012 layout (``JPEGImages``,
``Annotations`` XML, ``SegmentationClass`` and ``SegmentationClassAug``
palette PNGs with a thin 255 band on label boundaries,
``ImageSets/Segmentation/{train,val,train_aug}.txt``) plus
``metainfo.json``. Output is byte-identical for a given seed and arguments.
"""
import colorsys
import inspect
import json
import os
import os.path as osp
import shutil
import tempfile
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image
from scipy import ndimage

from mmseam.utils.misc import voc_colormap

__all__ = [
    'SYNTHETIC_CLASSES', 'SYNTHETIC_PALETTE', 'DECOY_GLYPHS',
    'SYNTHETIC_METAINFO', 'SYNTHETIC_V1_SCENE', 'SCENE_FAMILIES',
    'CLASS_MARK_COLORS',
    'glyph_mask', 'voc_colormap', 'render_sample',
    'make_synthetic_voc'
]

#: Class list of the synthetic set; index 0 is the background. Each
#: foreground class is named after its mark.
SYNTHETIC_CLASSES = ('background', 'plus', 'ring', 'triangle', 'bars',
                     'hourglass')
#: Palette (RGB) of the classes: the first VOC colours.
SYNTHETIC_PALETTE = [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0],
                     [0, 0, 128], [128, 0, 128]]
#: Glyphs drawn on some distractor bodies; they belong to no class.
DECOY_GLYPHS = ('dot', 'square')
SYNTHETIC_METAINFO = dict(classes=SYNTHETIC_CLASSES, palette=SYNTHETIC_PALETTE)

_FORMAT_VERSION = 2  # 2: class-coloured marks, larger objects
#: Scene options that reproduce format version 1 byte for byte (grey glyph
#: marks on 1-3 smaller objects, 3-6 distractors, half with decoy glyphs):
#: ``make_synthetic_voc(out, **SYNTHETIC_V1_SCENE)``.
SYNTHETIC_V1_SCENE = dict(
    num_objects=(1, 3),
    num_distractors=(3, 6),
    decoy_prob=0.5,
    distinct_hues=False,
    background_saturation=1.0,
    mark_colors='contrast',
    body_saturation=(0.35, 0.9),
    object_radius=(0.15, 0.23),
    distractor_radius=(0.09, 0.22))
_SPLIT_CODES = {'train': 1, 'val': 2}
#: Scene families that differ in kind from the default scene, for checking
#: that one recipe holds across data (docs/synthetic_data.md, "Scene
#: families"): ``make_synthetic_voc(out, **SCENE_FAMILIES[name])``.
#:
#: - ``default``: the demo's scene (1-2 large objects, 1-3 small
#:   distractors, every body its own hue, class-coloured marks).
#: - ``lookalike``: 2-4 distractors as large as the objects, sharing their
#:   hues, half of them with a decoy glyph; marks in near-black/white ink,
#:   so only a mark's shape names the class and a body alone says nothing.
#: - ``touching``: 2-3 large objects and at most one distractor, so bodies
#:   of different classes overlap and touch.
#: - ``scale``: object radii from 0.1 to 0.4 of the image, smaller and
#:   larger than the backbone's receptive field.
SCENE_FAMILIES = dict(
    default=dict(),
    lookalike=dict(
        num_distractors=(2, 4),
        distractor_radius=(0.18, 0.3),
        distinct_hues=False,
        decoy_prob=0.5,
        mark_colors='contrast'),
    touching=dict(
        num_objects=(2, 3),
        num_distractors=(0, 1),
        object_radius=(0.27, 0.35)),
    scale=dict(object_radius=(0.1, 0.4)))
_GLYPH_SIZE = (0.085, 0.1)
_MIN_VISIBLE = 0.6  # an object keeps at least this much of its body
#: Body look (shape family, texture) that an object of each class takes with
#: probability ``body_class_bias``: plus, ring, triangle, bars, hourglass.
CLASS_BODY_LOOKS = (('ellipse', 'stripes'), ('roundrect', 'spots'),
                    ('blob', 'plain'), ('ellipse', 'spots'),
                    ('roundrect', 'stripes'))
#: Ink of the class marks with ``mark_colors='class'``: one saturated colour
#: per class (HSV hues 0, 0.17, 0.33, 0.6, 0.83 at full saturation/value).
CLASS_MARK_COLORS = tuple(
    tuple(int(round(255 * v)) for v in colorsys.hsv_to_rgb(h, 1.0, 1.0))
    for h in (0.0, 0.17, 0.33, 0.6, 0.83))


def glyph_mask(name: str, size: int) -> np.ndarray:
    """Binary mask of a glyph (class mark or decoy).

    Args:
        name (str): One of ``SYNTHETIC_CLASSES[1:]`` or ``DECOY_GLYPHS``.
        size (int): Side length in pixels.

    Returns:
        np.ndarray: (size, size) bool mask.
    """
    coords = (np.arange(size, dtype=np.float64) + 0.5) / size * 2 - 1
    y, x = np.meshgrid(coords, coords, indexing='ij')
    ax, ay = np.abs(x), np.abs(y)
    if name == 'plus':
        mask = ((ax < 0.25) & (ay < 0.9)) | ((ay < 0.25) & (ax < 0.9))
    elif name == 'ring':
        r = np.hypot(x, y)
        mask = (r > 0.5) & (r < 0.92)
    elif name == 'triangle':
        mask = (y > -0.85) & (y < 0.8) & (ax < (y + 0.85) / 1.65 * 0.92)
    elif name == 'bars':
        mask = (ax > 0.18) & (ax < 0.62) & (ay < 0.88)
    elif name == 'hourglass':
        mask = (ax <= ay * 0.95) & (ay < 0.88)
    elif name == 'dot':
        mask = np.hypot(x, y) < 0.55
    elif name == 'square':
        mask = np.maximum(ax, ay) < 0.55
    else:
        raise ValueError(f'unknown glyph {name!r}; use one of '
                         f'{SYNTHETIC_CLASSES[1:] + DECOY_GLYPHS}.')
    return mask


class _Body:
    """A body (object or distractor): its window and pixel mask."""

    def __init__(self, mask: np.ndarray, window: Tuple[int, int, int, int],
                 label: int, look: dict) -> None:
        self.mask = mask  # bool, window-sized
        self.window = window  # y0, y1, x0, x1
        self.label = label  # class index, 0 for a distractor
        self.look = look
        self.glyph: Optional[Tuple[str, int, int, int]] = None

    def full_mask(self, size: int) -> np.ndarray:
        out = np.zeros((size, size), dtype=bool)
        y0, y1, x0, x1 = self.window
        out[y0:y1, x0:x1] = self.mask
        return out


def _random_color(rng: np.random.Generator,
                  hue_bin: Optional[int] = None,
                  saturation: Tuple[float, float] = (0.35, 0.9)
                  ) -> Tuple[np.ndarray, float]:
    if hue_bin is None:
        hue = (rng.integers(8) + rng.uniform(-0.3, 0.3)) / 8.0
    else:
        hue = (hue_bin + rng.uniform(-0.2, 0.2)) / 8.0
    sat = rng.uniform(*saturation)
    val = rng.uniform(0.35, 0.95)
    rgb = np.array(colorsys.hsv_to_rgb(hue % 1.0, sat, val)) * 255.0
    return rgb, val


def _sample_look(rng: np.random.Generator,
                 hue_bin: Optional[int] = None,
                 saturation: Tuple[float, float] = (0.35, 0.9),
                 prefer: Optional[Tuple[str, str]] = None) -> dict:
    """Shape family, colours and texture.

    ``hue_bin`` (0-7) fixes the hue's eighth of the colour wheel; None draws
    it at random. ``saturation`` is the range of the body's saturation.
    ``prefer`` = (family, texture) replaces the random ones (a class's
    :data:`CLASS_BODY_LOOKS`); the random draws happen all the same, so the
    rest of the look is the one drawn without it.
    """
    color, value = _random_color(rng, hue_bin, saturation)
    texture = ('plain', 'stripes', 'spots')[rng.integers(3)]
    if prefer is not None:
        texture = prefer[1]
    if texture == 'stripes':
        second = color * rng.uniform(0.5, 0.7)
    else:
        towards = 255.0 if value < 0.6 else 0.0
        second = color + (towards - color) * rng.uniform(0.4, 0.6)
    family = ('ellipse', 'roundrect', 'blob')[rng.integers(3)]
    return dict(
        family=family if prefer is None else prefer[0],
        exponent=rng.uniform(4.0, 6.0),
        wobble=rng.uniform(0.08, 0.18),
        lobes=int(rng.integers(3, 6)),
        phase=rng.uniform(0, 2 * np.pi),
        aspect=rng.uniform(0.65, 1.0),
        angle=rng.uniform(0, np.pi),
        color=color,
        value=value,
        texture=texture,
        second=second,
        period=rng.uniform(6.0, 12.0),
        stripe_angle=rng.uniform(0, np.pi),
        spacing=rng.uniform(7.0, 11.0),
        spot_radius=rng.uniform(1.5, 2.6),
        shade=rng.uniform(-0.15, 0.15, size=2),
    )


def _shape_mask(look: dict, cy: float, cx: float, radius: float,
                size: int) -> Tuple[np.ndarray, Tuple[int, int, int, int]]:
    """Pixel mask of a body inside its (clipped) bounding window."""
    reach = int(np.ceil(radius * (1.0 + look['wobble']) + 2))
    y0, y1 = max(int(cy) - reach, 0), min(int(cy) + reach + 1, size)
    x0, x1 = max(int(cx) - reach, 0), min(int(cx) + reach + 1, size)
    ys = np.arange(y0, y1, dtype=np.float64)[:, None] + 0.5 - cy
    xs = np.arange(x0, x1, dtype=np.float64)[None, :] + 0.5 - cx
    cos, sin = np.cos(look['angle']), np.sin(look['angle'])
    u = (xs * cos + ys * sin) / radius
    v = (-xs * sin + ys * cos) / (radius * look['aspect'])
    if look['family'] == 'roundrect':
        p = look['exponent']
        dist = (np.abs(u)**p + np.abs(v)**p)**(1.0 / p)
        limit = 1.0
    else:
        dist = np.hypot(u, v)
        limit = 1.0
        if look['family'] == 'blob':
            limit = 1.0 + look['wobble'] * np.sin(
                look['lobes'] * np.arctan2(v, u) + look['phase'])
    return dist <= limit, (y0, y1, x0, x1)


def _paint_body(canvas: np.ndarray, body: _Body) -> None:
    """Paint a body's colour and texture over its pixels (in place)."""
    look = body.look
    y0, y1, x0, x1 = body.window
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    xs = np.arange(x0, x1, dtype=np.float64)[None, :]
    h, w = y1 - y0, x1 - x0
    color = np.broadcast_to(look['color'], (h, w, 3)).copy()
    if look['texture'] == 'stripes':
        phase = xs * np.cos(look['stripe_angle']) + ys * np.sin(
            look['stripe_angle'])
        on = np.sin(2 * np.pi * phase / look['period']) > 0
        color[on] = look['second']
    elif look['texture'] == 'spots':
        sp = look['spacing']
        dy = np.mod(ys, sp) - sp / 2
        dx = np.mod(xs, sp) - sp / 2
        on = np.hypot(dy, dx) < look['spot_radius']
        color[on] = look['second']
    # Smooth shading across the body.
    cy, cx = (y0 + y1) / 2.0, (x0 + x1) / 2.0
    span = max(h, w) / 2.0
    shade = 1.0 + (look['shade'][0] * (ys - cy) + look['shade'][1] *
                   (xs - cx)) / span
    color *= shade[..., None]
    region = canvas[y0:y1, x0:x1]
    region[body.mask] = color[body.mask]


def _paint_glyph(canvas: np.ndarray, glyph: Tuple[str, int, int, int],
                 ink: np.ndarray) -> np.ndarray:
    """Paint a glyph; return its full-size mask."""
    name, gy, gx, gsize = glyph
    mask = glyph_mask(name, gsize)
    full = np.zeros(canvas.shape[:2], dtype=bool)
    full[gy:gy + gsize, gx:gx + gsize] = mask
    canvas[full] = ink
    return full


def _background(rng: np.random.Generator, size: int,
                saturation: float = 1.0) -> np.ndarray:
    """Smooth colour field plus small clutter items, float RGB.

    ``saturation`` scales the chroma of the whole background (1 keeps the
    drawn colours, 0 makes it grey).
    """
    grid = rng.integers(40, 216, size=(4, 4, 3)).astype(np.uint8)
    field = np.asarray(
        Image.fromarray(grid).resize((size, size), Image.BILINEAR),
        dtype=np.float64)
    for _ in range(int(rng.integers(15, 31))):
        kind = rng.integers(3)
        color = rng.uniform(0, 255, size=3)
        cy, cx = rng.uniform(0, size, size=2)
        # Every item fits in a window of radius 16 around its centre.
        y0, x0 = max(int(cy) - 16, 0), max(int(cx) - 16, 0)
        y1, x1 = min(int(cy) + 17, size), min(int(cx) + 17, size)
        yy = np.arange(y0, y1, dtype=np.float64)[:, None] - cy
        xx = np.arange(x0, x1, dtype=np.float64)[None, :] - cx
        if kind == 0:
            mask = np.hypot(yy, xx) < rng.uniform(2, 7)
        elif kind == 1:
            hh, ww = rng.uniform(3, 14, size=2)
            mask = (np.abs(yy) < hh / 2) & (np.abs(xx) < ww / 2)
        else:
            ang = rng.uniform(0, np.pi)
            length = rng.uniform(10, 30)
            along = xx * np.cos(ang) + yy * np.sin(ang)
            across = -xx * np.sin(ang) + yy * np.cos(ang)
            mask = (np.abs(along) < length / 2) & (
                np.abs(across) < rng.uniform(0.5, 1.6))
        field[y0:y1, x0:x1][mask] = color
    if saturation != 1.0:
        grey = field.mean(axis=2, keepdims=True)
        field = grey + (field - grey) * saturation
    return field


def _glyph_spot(rng: np.random.Generator, body: _Body, size: int, gsize: int,
                border: int) -> Optional[Tuple[int, int]]:
    """Top-left corner of a glyph box lying well inside ``body``."""
    y0, y1, x0, x1 = body.window
    depth = ndimage.distance_transform_edt(np.pad(body.mask, 1))[1:-1, 1:-1]
    ok = depth >= gsize * 0.5 * np.sqrt(2) + 2
    lo, hi = border + gsize // 2, size - border - gsize // 2 - 1
    ok[:max(lo - y0, 0)] = False
    ok[max(hi - y0, 0):] = False
    ok[:, :max(lo - x0, 0)] = False
    ok[:, max(hi - x0, 0):] = False
    cand = np.flatnonzero(ok)
    if cand.size == 0:
        return None
    idx = cand[rng.integers(cand.size)]
    cy, cx = divmod(int(idx), x1 - x0)
    return y0 + cy - gsize // 2, x0 + cx - gsize // 2


def render_sample(rng: np.random.Generator,
                  image_size: int = 224,
                  num_objects: Tuple[int, int] = (1, 2),
                  num_distractors: Tuple[int, int] = (1, 3),
                  decoy_prob: float = 0.0,
                  noise_std: float = 5.0,
                  ignore_band: int = 1,
                  distinct_hues: bool = True,
                  background_saturation: float = 0.3,
                  mark_colors: str = 'class',
                  body_saturation: Tuple[float, float] = (0.25, 0.55),
                  object_radius: Tuple[float, float] = (0.22, 0.32),
                  distractor_radius: Tuple[float, float] = (0.08, 0.16),
                  body_class_bias: float = 0.0,
                  mark_prob: float = 1.0,
                  mark_size: Tuple[float, float] = _GLYPH_SIZE
                  ) -> Tuple[np.ndarray, np.ndarray, List[dict]]:
    """Render one synthetic image with its mask and objects.

    Args:
        rng (np.random.Generator): Random generator (fully determines the
            output).
        image_size (int): Side length S. Defaults to 224.
        num_objects (tuple[int, int]): Inclusive range of objects.
            Defaults to (1, 2).
        num_distractors (tuple[int, int]): Inclusive range of mark-less
            distractor bodies. Defaults to (1, 3).
        decoy_prob (float): Probability that a distractor carries a decoy
            glyph. Defaults to 0.
        noise_std (float): Std of the pixel noise. Defaults to 5.
        ignore_band (int): Pixels within this distance of a label boundary
            are set to 255 in the mask (0 disables). Defaults to 1.
        distinct_hues (bool): Give every body of the image (objects and
            distractors) its own eighth of the hue circle, so no two bodies
            of one image share a colour. Defaults to True.
        background_saturation (float): Chroma factor of the background
            (1 keeps it, 0 makes it grey). Defaults to 0.3.
        mark_colors (str): Ink of the class marks: 'class' (each class its
            own saturated colour, :data:`CLASS_MARK_COLORS`; the mark's
            shape and colour both name the class) or 'contrast' (near-black
            ink on light bodies, near-white on dark ones: only the shape
            names the class; format version 1) or 'body' (the second colour
            of the body's own texture, a shade of its hue: the mark is part
            of the body in colour, as a face is part of an animal, and only
            its shape names the class). Defaults to 'class'.
        body_saturation (tuple[float, float]): Range of the bodies'
            saturation. Defaults to (0.25, 0.55).
        object_radius (tuple[float, float]): Range of an object's radius, a
            fraction of the image size. Defaults to (0.22, 0.32).
        distractor_radius (tuple[float, float]): Range of a distractor's
            radius. Defaults to (0.08, 0.16).
        body_class_bias (float): Probability that an object's body takes
            its class's shape family and texture
            (:data:`CLASS_BODY_LOOKS`) instead of random ones, making the
            whole body weakly class-typical, as real objects are beyond
            their most discriminative part; distractors stay random (and
            may look class-typical by chance). 0 (default) draws every look
            independently of the class (format version 2 byte for byte).
        mark_prob (float): Probability that an object shows its class mark.
            Below 1, some objects are seen without their most
            discriminative part (turned away, occluded, out of frame, as
            real objects often are), so a classifier also has to learn the
            weaker cue of their class-typical bodies
            (``body_class_bias``). 1 (default) marks every object (format
            version 2 byte for byte).
        mark_size (tuple[float, float]): Range of a mark's side, a fraction
            of the image size. Defaults to (0.085, 0.1).

    Returns:
        tuple: ``img`` (S, S, 3) uint8 RGB, ``mask`` (S, S) uint8 class
        indices (255 = ignore band) and a list of objects, each
        ``dict(label=int, name=str, bbox=(xmin, ymin, xmax, ymax),
        mark_box=(xmin, ymin, xmax, ymax))`` (1-based inclusive VOC
        coordinates of the visible body and of its class mark; ``mark_box``
        is None for an object shown without its mark).
    """
    if mark_colors not in ('class', 'contrast', 'body'):
        raise ValueError(f"mark_colors={mark_colors!r}; use 'class', "
                         "'contrast' or 'body'.")
    size = int(image_size)
    num_classes = len(SYNTHETIC_CLASSES) - 1
    n_obj = int(rng.integers(num_objects[0], num_objects[1] + 1))
    n_dis = int(rng.integers(num_distractors[0], num_distractors[1] + 1))
    kinds = [int(rng.integers(1, num_classes + 1)) for _ in range(n_obj)]
    kinds += [0] * n_dis
    order = rng.permutation(len(kinds))
    border = int(round(0.06 * size))
    scene = _Scene(
        _background(rng, size, background_saturation), object_radius,
        distractor_radius, decoy_prob, mark_prob, mark_colors)
    hue_bins = rng.permutation(8) if distinct_hues else None
    for name, value in (('body_class_bias', body_class_bias),
                        ('mark_prob', mark_prob)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f'{name}={value} must lie in [0, 1].')
    for body_no, label in enumerate(kinds[i] for i in order):
        prefer = None
        if body_class_bias > 0 and label > 0 and \
                rng.uniform() < body_class_bias:
            prefer = CLASS_BODY_LOOKS[label - 1]
        look = _sample_look(
            rng, None if hue_bins is None else int(hue_bins[body_no % 8]),
            body_saturation, prefer)
        gsize = int(round(size * rng.uniform(*mark_size)))
        for _ in range(40):
            if scene.place(rng, label, look, gsize, border):
                break
    if not scene.areas:
        # Extremely rare: no object could be placed; draw a fresh layout.
        return render_sample(rng, image_size, num_objects, num_distractors,
                             decoy_prob, noise_std, ignore_band,
                             distinct_hues, background_saturation,
                             mark_colors, body_saturation, object_radius,
                             distractor_radius, body_class_bias, mark_prob,
                             mark_size)
    mask, objects = scene.mask_and_objects()
    if ignore_band > 0:
        win = 2 * ignore_band + 1
        band = ndimage.maximum_filter(mask, size=win) != \
            ndimage.minimum_filter(mask, size=win)
        mask = mask.copy()
        mask[band] = 255
    canvas = scene.canvas
    canvas += rng.normal(0.0, noise_std, size=canvas.shape)
    img = np.clip(np.round(canvas), 0, 255).astype(np.uint8)
    return img, mask, objects


class _Scene:
    """The bodies of one image as they are placed, front to back.

    ``canvas`` (S, S, 3) float RGB is painted as bodies are added; ``top``
    (S, S) holds the index of the topmost body (-1: background);
    ``protected`` the (dilated) class marks no later body may cover;
    ``areas`` the full area of every object; ``hidden_marks`` the objects
    drawn without their mark. The other arguments are those of
    :func:`render_sample`.
    """

    def __init__(self, canvas: np.ndarray,
                 object_radius: Tuple[float, float],
                 distractor_radius: Tuple[float, float], decoy_prob: float,
                 mark_prob: float, mark_colors: str) -> None:
        self.canvas = canvas
        self.size = size = canvas.shape[0]
        self.object_radius = object_radius
        self.distractor_radius = distractor_radius
        self.decoy_prob = decoy_prob
        self.mark_prob = mark_prob
        self.mark_colors = mark_colors
        self.top = np.full((size, size), -1, dtype=np.int32)
        self.bodies: List[_Body] = []
        self.protected = np.zeros((size, size), dtype=bool)
        self.areas: Dict[int, int] = {}
        self.hidden_marks = set()

    def place(self, rng: np.random.Generator, label: int, look: dict,
              gsize: int, border: int) -> bool:
        """One attempt at a body of class ``label`` (0: distractor) at a
        random place; False (nothing drawn) when it would cover a class
        mark or too much of an earlier object, or has no room for its
        mark."""
        size = self.size
        if label > 0:
            radius = size * rng.uniform(*self.object_radius)
            margin = 0.12 * size
            cy, cx = rng.uniform(margin, size - margin, size=2)
        else:
            radius = size * rng.uniform(*self.distractor_radius)
            cy, cx = rng.uniform(0, size, size=2)
        mask, window = _shape_mask(look, cy, cx, radius, size)
        body = _Body(mask, window, label, look)
        full = body.full_mask(size)
        if not full.any() or (full & self.protected).any():
            return False
        # Every earlier object keeps enough of its body.
        covered = self.top[full]
        if any(
                np.count_nonzero((self.top == j)) -
                np.count_nonzero(covered == j) < _MIN_VISIBLE * area
                for j, area in self.areas.items()):
            return False
        if not self._add_glyph(rng, body, gsize, border):
            return False
        self._add(rng, body, full)
        return True

    def _add_glyph(self, rng: np.random.Generator, body: _Body, gsize: int,
                   border: int) -> bool:
        """Give an object its class mark (False: no room for it) and a
        distractor, with ``decoy_prob``, a decoy glyph."""
        if body.label > 0:
            spot = _glyph_spot(rng, body, self.size, gsize, border)
            if spot is None:
                return False
            body.glyph = (SYNTHETIC_CLASSES[body.label], spot[0], spot[1],
                          gsize)
            if self.mark_prob < 1.0 and rng.uniform() >= self.mark_prob:
                self.hidden_marks.add(len(self.bodies))
        elif rng.uniform() < self.decoy_prob:
            spot = _glyph_spot(rng, body, self.size, gsize, 0)
            if spot is not None:
                name = DECOY_GLYPHS[rng.integers(len(DECOY_GLYPHS))]
                body.glyph = (name, spot[0], spot[1], gsize)
        return True

    def _add(self, rng: np.random.Generator, body: _Body,
             full: np.ndarray) -> None:
        """Paint ``body`` (and its glyph) on top of the scene."""
        idx = len(self.bodies)
        self.bodies.append(body)
        self.top[full] = idx
        _paint_body(self.canvas, body)
        label, look = body.label, body.look
        if body.glyph is not None and idx not in self.hidden_marks:
            ink_level = rng.uniform(0, 40) if look['value'] > 0.55 \
                else rng.uniform(215, 255)
            ink = np.clip(ink_level + rng.uniform(-10, 10, size=3), 0, 255)
            if label > 0 and self.mark_colors == 'class':
                ink = np.asarray(CLASS_MARK_COLORS[label - 1], np.float64)
            elif label > 0 and self.mark_colors == 'body':
                ink = np.asarray(look['second'], np.float64)
            gmask = _paint_glyph(self.canvas, body.glyph, ink)
            if label > 0:
                self.protected |= ndimage.binary_dilation(
                    gmask, iterations=3)
        if label > 0:
            self.areas[idx] = int(full.sum())

    def mask_and_objects(self) -> Tuple[np.ndarray, List[dict]]:
        """The (S, S) uint8 class mask and the objects of
        :func:`render_sample`."""
        labels = np.zeros(len(self.bodies) + 1, dtype=np.uint8)
        for idx, body in enumerate(self.bodies):
            labels[idx] = body.label
        mask = labels[self.top]  # top == -1 picks the trailing 0
        objects = []
        for idx in sorted(self.areas):
            ys, xs = np.nonzero(self.top == idx)
            label = self.bodies[idx].label
            _, gy, gx, gsize = self.bodies[idx].glyph
            objects.append(
                dict(
                    label=label,
                    name=SYNTHETIC_CLASSES[label],
                    bbox=(int(xs.min()) + 1, int(ys.min()) + 1,
                          int(xs.max()) + 1, int(ys.max()) + 1),
                    mark_box=None if idx in self.hidden_marks else
                    (gx + 1, gy + 1, gx + gsize, gy + gsize)))
        return mask, objects


def _voc_xml(img_id: str, size: int, objects: List[dict]) -> str:
    lines = [
        '<annotation>', '\t<folder>synthetic_voc</folder>',
        f'\t<filename>{img_id}.jpg</filename>', '\t<size>',
        f'\t\t<width>{size}</width>', f'\t\t<height>{size}</height>',
        '\t\t<depth>3</depth>', '\t</size>', '\t<segmented>1</segmented>'
    ]
    for obj in objects:
        xmin, ymin, xmax, ymax = obj['bbox']
        lines += [
            '\t<object>', f'\t\t<name>{obj["name"]}</name>',
            '\t\t<pose>Unspecified</pose>', '\t\t<truncated>0</truncated>',
            '\t\t<difficult>0</difficult>', '\t\t<bndbox>',
            f'\t\t\t<xmin>{xmin}</xmin>', f'\t\t\t<ymin>{ymin}</ymin>',
            f'\t\t\t<xmax>{xmax}</xmax>', f'\t\t\t<ymax>{ymax}</ymax>',
            '\t\t</bndbox>', '\t</object>'
        ]
    lines.append('</annotation>')
    return '\n'.join(lines) + '\n'


def _prepare_out_dir(out_dir: str, force: bool) -> None:
    if osp.lexists(out_dir):
        if not osp.isdir(out_dir):
            raise FileExistsError(
                f'{out_dir} exists and is not a directory; choose another '
                '--out path or remove it.')
        if os.listdir(out_dir) and not force:
            raise FileExistsError(
                f'{out_dir} exists and is not empty; pass force=True '
                '(--force on the command line) to replace it, or choose '
                'another output folder.')


def _scene_options(style: dict) -> dict:
    """``render_sample``'s scene options with defaults filled in; unknown
    names raise a ValueError listing the valid ones."""
    params = inspect.signature(render_sample).parameters
    names = [n for n in params if n not in ('rng', 'image_size')]
    unknown = sorted(set(style) - set(names))
    if unknown:
        raise ValueError(f'unknown synthetic scene option(s) {unknown}; '
                         f'valid options: {names}.')
    out = {n: params[n].default for n in names}
    out.update(style)
    return out


def make_synthetic_voc(out_dir: str,
                       seed: int = 0,
                       num_train: int = 300,
                       num_val: int = 80,
                       image_size: int = 224,
                       jpeg_quality: int = 95,
                       force: bool = False,
                       **style) -> dict:
    """Generate the synthetic WSSS dataset in Pascal VOC 2012 layout.

    The whole tree is written to a temporary folder next to ``out_dir`` and
    renamed into place at the end, so an interrupted run leaves nothing
    half-written. ``train.txt`` and ``train_aug.txt`` both list all training
    images (all have fine masks); ``val.txt`` lists held-out images.

    Args:
        out_dir (str): Output folder (the ``data_root``).
        seed (int): Random seed; the output is byte-identical for the same
            seed and arguments. Defaults to 0.
        num_train (int): Training images. Defaults to 300.
        num_val (int): Validation images. Defaults to 80.
        image_size (int): Side length of the square images. Defaults to 224.
        jpeg_quality (int): JPEG quality. Defaults to 95.
        force (bool): Replace a non-empty ``out_dir``. Defaults to False.
        **style: Scene options of :func:`render_sample` (``num_objects``,
            ``num_distractors``, ``decoy_prob``, ``noise_std``,
            ``ignore_band``, ``distinct_hues``, ``background_saturation``,
            ``mark_colors``, ``body_saturation``, ``object_radius``,
            ``distractor_radius``, ``body_class_bias``, ``mark_prob``,
            ``mark_size``); the defaults are its defaults. All of them are
            recorded in ``metainfo.json``.

    Returns:
        dict: Summary with ``out_dir``, ``seed``, ``image_size``,
        ``num_images`` per split, ``class_image_counts`` per split (images
        containing each class), ``mean_objects``, ``fg_fraction`` (labelled
        foreground pixels / all pixels), ``metainfo`` and ``seconds``.
    """
    if num_train < 1 or num_val < 0:
        raise ValueError(f'num_train={num_train} must be >= 1 and '
                         f'num_val={num_val} >= 0.')
    if image_size < 64:
        raise ValueError(f'image_size={image_size} is too small; use >= 64 '
                         '(224 recommended).')
    style = _scene_options(style)
    out_dir = osp.abspath(out_dir)
    _prepare_out_dir(out_dir, force)
    parent = osp.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    start = time.time()
    tmp = tempfile.mkdtemp(prefix=f'.{osp.basename(out_dir)}.tmp-', dir=parent)
    try:
        for sub in ('JPEGImages', 'Annotations', 'SegmentationClass',
                    'SegmentationClassAug', 'ImageSets/Segmentation'):
            os.makedirs(osp.join(tmp, sub))
        stats = dict(objects=0, fg_pixels=0, all_pixels=0)
        counts: Dict[str, List[int]] = {}
        split_ids: Dict[str, List[str]] = {}
        for split, num in (('train', num_train), ('val', num_val)):
            split_ids[split], counts[split] = _write_split(
                tmp, split, num, seed, image_size, jpeg_quality, style,
                stats)
        _write_lists_and_metainfo(tmp, split_ids, counts, dict(
            seed=int(seed),
            num_train=int(num_train),
            num_val=int(num_val),
            image_size=int(image_size),
            jpeg_quality=int(jpeg_quality),
            **{k: list(v) if isinstance(v, tuple) else v
               for k, v in style.items()}))
        _swap_into_place(tmp, out_dir, force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    total = num_train + num_val
    return dict(
        out_dir=out_dir,
        seed=int(seed),
        image_size=int(image_size),
        num_images=dict(train=num_train, val=num_val),
        class_image_counts={
            split: dict(zip(SYNTHETIC_CLASSES[1:], c))
            for split, c in counts.items()
        },
        mean_objects=stats['objects'] / total,
        fg_fraction=stats['fg_pixels'] / max(stats['all_pixels'], 1),
        metainfo=dict(classes=SYNTHETIC_CLASSES, palette=SYNTHETIC_PALETTE),
        seconds=time.time() - start)


def _write_split(tmp: str, split: str, num: int, seed: int, image_size: int,
                 jpeg_quality: int, style: dict,
                 stats: Dict[str, int]) -> Tuple[List[str], List[int]]:
    """Render and write the ``num`` images of ``split`` under ``tmp``;
    returns their ids and the per-class image counts, and adds the object
    and pixel counts to ``stats``."""
    cmap = voc_colormap().reshape(-1).tolist()
    ids = []
    counts = [0] * (len(SYNTHETIC_CLASSES) - 1)
    for index in range(num):
        rng = np.random.default_rng(
            np.random.SeedSequence([int(seed), _SPLIT_CODES[split], index]))
        img, mask, objects = render_sample(rng, image_size, **style)
        img_id = f'{split}_{index:05d}'
        ids.append(img_id)
        Image.fromarray(img).save(
            osp.join(tmp, 'JPEGImages', img_id + '.jpg'),
            quality=jpeg_quality,
            subsampling=0)
        png = Image.fromarray(mask)
        png.putpalette(cmap)  # 'L' -> 'P', indices kept
        for sub in ('SegmentationClass', 'SegmentationClassAug'):
            png.save(osp.join(tmp, sub, img_id + '.png'))
        with open(
                osp.join(tmp, 'Annotations', img_id + '.xml'),
                'w',
                encoding='utf-8') as f:
            f.write(_voc_xml(img_id, image_size, objects))
        for label in {obj['label'] for obj in objects}:
            counts[label - 1] += 1
        stats['objects'] += len(objects)
        stats['fg_pixels'] += int(np.count_nonzero((mask > 0) & (mask < 255)))
        stats['all_pixels'] += mask.size
    return ids, counts


def _write_lists_and_metainfo(tmp: str, split_ids: Dict[str, List[str]],
                              counts: Dict[str, List[int]],
                              generator: dict) -> None:
    """The ``ImageSets/Segmentation`` lists and ``metainfo.json``."""
    lists = dict(
        train=split_ids['train'],
        train_aug=split_ids['train'],
        val=split_ids['val'])
    for name, ids in lists.items():
        with open(
                osp.join(tmp, 'ImageSets', 'Segmentation', name + '.txt'),
                'w',
                encoding='utf-8') as f:
            f.write(''.join(i + '\n' for i in ids))
    metainfo = dict(
        classes=list(SYNTHETIC_CLASSES),
        palette=SYNTHETIC_PALETTE,
        format_version=_FORMAT_VERSION,
        generator=generator,
        class_image_counts=counts)
    with open(osp.join(tmp, 'metainfo.json'), 'w', encoding='utf-8') as f:
        json.dump(metainfo, f, indent=2, sort_keys=True)
        f.write('\n')


def _swap_into_place(tmp: str, out_dir: str, force: bool) -> None:
    """Rename the finished tree ``tmp`` to ``out_dir`` (replacing it)."""
    os.chmod(tmp, 0o755)
    _prepare_out_dir(out_dir, force)
    trash = None
    if osp.isdir(out_dir):
        if os.listdir(out_dir):
            trash = tempfile.mkdtemp(
                prefix=f'.{osp.basename(out_dir)}.old-',
                dir=osp.dirname(out_dir))
            os.rmdir(trash)
            os.rename(out_dir, trash)
        else:
            os.rmdir(out_dir)
    os.rename(tmp, out_dir)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)
