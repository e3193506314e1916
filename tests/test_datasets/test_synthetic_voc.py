# Copyright (c) mmseam contributors. All rights reserved.
import importlib.util
import json
import os
import os.path as osp
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from mmseam.datasets.synthetic import (CLASS_MARK_COLORS, DECOY_GLYPHS,
                                       SYNTHETIC_CLASSES,
                                       SYNTHETIC_METAINFO, SYNTHETIC_PALETTE,
                                       glyph_mask, make_synthetic_voc,
                                       render_sample, voc_colormap)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SMALL = dict(num_train=4, num_val=2, image_size=96)


def read_tree(root):
    """relative path -> bytes for every file under ``root``."""
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = osp.join(dirpath, name)
            files[osp.relpath(path, root)] = open(path, 'rb').read()
    return files


def test_deterministic_for_a_seed(tmp_path):
    make_synthetic_voc(str(tmp_path / 'a'), seed=3, **SMALL)
    make_synthetic_voc(str(tmp_path / 'b'), seed=3, **SMALL)
    make_synthetic_voc(str(tmp_path / 'c'), seed=4, **SMALL)
    a, b, c = (read_tree(str(tmp_path / n)) for n in 'abc')
    assert a == b
    assert set(a) == set(c)
    jpgs = [k for k in a if k.endswith('.jpg')]
    assert len(jpgs) == 6
    assert all(a[k] != c[k] for k in jpgs)
    # Nothing but the three trees is left in the parent folder.
    assert sorted(os.listdir(tmp_path)) == ['a', 'b', 'c']


def test_layout_and_metainfo(synthetic_root):
    root = synthetic_root
    for sub in ('JPEGImages', 'Annotations', 'SegmentationClass',
                'SegmentationClassAug'):
        assert osp.isdir(osp.join(root, sub))
    splits = {}
    for name in ('train', 'train_aug', 'val'):
        with open(osp.join(root, 'ImageSets/Segmentation', name + '.txt')) \
                as f:
            splits[name] = f.read().split()
    assert splits['train'] == [f'train_{i:05d}' for i in range(8)]
    assert splits['train_aug'] == splits['train']
    assert splits['val'] == [f'val_{i:05d}' for i in range(4)]
    with open(osp.join(root, 'metainfo.json')) as f:
        meta = json.load(f)
    assert tuple(meta['classes']) == SYNTHETIC_CLASSES
    assert meta['palette'] == SYNTHETIC_PALETTE
    assert meta['generator']['image_size'] == 128
    img = Image.open(osp.join(root, 'JPEGImages', 'train_00000.jpg'))
    assert img.size == (128, 128) and img.mode == 'RGB'
    png = Image.open(osp.join(root, 'SegmentationClass', 'train_00000.png'))
    assert png.mode == 'P' and png.size == (128, 128)
    palette = np.array(png.getpalette()[:256 * 3]).reshape(-1, 3)
    np.testing.assert_array_equal(palette[:6], SYNTHETIC_PALETTE)
    np.testing.assert_array_equal(palette[255], [224, 224, 192])


def test_masks_and_xml_agree(synthetic_root):
    root = synthetic_root
    ids = [f'train_{i:05d}'
           for i in range(8)] + [f'val_{i:05d}' for i in range(4)]
    for img_id in ids:
        tree = ET.parse(osp.join(root, 'Annotations', img_id + '.xml'))
        objs = tree.getroot().findall('object')
        assert 1 <= len(objs) <= 3
        names = {o.find('name').text for o in objs}
        mask = np.asarray(
            Image.open(osp.join(root, 'SegmentationClass', img_id + '.png')))
        aug = np.asarray(
            Image.open(
                osp.join(root, 'SegmentationClassAug', img_id + '.png')))
        np.testing.assert_array_equal(mask, aug)
        values = set(np.unique(mask).tolist())
        assert values <= set(range(len(SYNTHETIC_CLASSES))) | {255}
        mask_names = {SYNTHETIC_CLASSES[v] for v in values - {0, 255}}
        assert mask_names == names, img_id
        # Every labelled pixel lies in a box of an object of its class.
        covered = np.zeros_like(mask, dtype=bool)
        for o in objs:
            label = SYNTHETIC_CLASSES.index(o.find('name').text)
            box = [
                int(o.find('bndbox').find(k).text)
                for k in ('xmin', 'ymin', 'xmax', 'ymax')
            ]
            win = np.zeros_like(covered)
            win[box[1] - 1:box[3], box[0] - 1:box[2]] = True
            covered |= win & (mask == label)
        labelled = (mask > 0) & (mask < 255)
        np.testing.assert_array_equal(covered, labelled)
        # A thin ignore band exists on every label boundary.
        assert (mask == 255).any()


def test_render_sample_is_a_partial_cam_problem():
    """Marks are small and inside their body; bodies are mostly unmarked."""
    mark_frac = []
    for i in range(20):
        rng = np.random.default_rng(i)
        img, mask, objects = render_sample(rng, image_size=160)
        assert img.shape == (160, 160, 3) and img.dtype == np.uint8
        assert mask.shape == (160, 160) and mask.dtype == np.uint8
        for obj in objects:
            x0, y0, x1, y1 = obj['mark_box']
            inside = mask[y0 - 1:y1, x0 - 1:x1]
            # The whole mark box lies in the object's (visible) body.
            assert (inside == obj['label']).all()
            area = np.count_nonzero(mask == obj['label'])
            mark_frac.append(inside.size / area)
    assert max(mark_frac) < 0.35
    assert np.mean(mark_frac) < 0.15


def test_glyphs_are_distinct():
    names = list(SYNTHETIC_CLASSES[1:]) + list(DECOY_GLYPHS)
    masks = {n: glyph_mask(n, 20) for n in names}
    for n, m in masks.items():
        assert m.dtype == bool and 20 < m.sum() < 400, n
    # Each class mark differs clearly from every other class and decoy mark
    # (the two decoys may look alike: neither is a class).
    for i, a in enumerate(SYNTHETIC_CLASSES[1:]):
        for b in names[i + 1:]:
            assert np.count_nonzero(masks[a] ^ masks[b]) >= 40, (a, b)
    with pytest.raises(ValueError, match='unknown glyph'):
        glyph_mask('star', 10)


def test_voc_colormap():
    cmap = voc_colormap()
    assert cmap.shape == (256, 3)
    np.testing.assert_array_equal(cmap[:6], SYNTHETIC_PALETTE)
    np.testing.assert_array_equal(cmap[15], [192, 128, 128])  # person
    np.testing.assert_array_equal(cmap[20], [0, 64, 128])  # tvmonitor


def test_refuses_non_empty_dir_unless_forced(tmp_path):
    out = tmp_path / 'syn'
    out.mkdir()  # an empty folder is fine
    make_synthetic_voc(str(out), seed=0, **SMALL)
    with pytest.raises(FileExistsError, match='--force'):
        make_synthetic_voc(str(out), seed=1, **SMALL)
    (out / 'keep.txt').write_text('user file')
    make_synthetic_voc(str(out), seed=1, force=True, **SMALL)
    assert not (out / 'keep.txt').exists()
    with open(out / 'metainfo.json') as f:
        assert json.load(f)['generator']['seed'] == 1
    assert sorted(os.listdir(tmp_path)) == ['syn']
    afile = tmp_path / 'file'
    afile.write_text('x')
    with pytest.raises(FileExistsError, match='not a directory'):
        make_synthetic_voc(str(afile), **SMALL)


def test_class_coloured_marks_and_distinct_body_hues():
    """mark_colors='class': the mark's ink is its class colour; no two
    bodies of an image share a hue bin; the background is desaturated."""
    import colorsys
    for i in range(12):
        rng = np.random.default_rng(100 + i)
        img, mask, objects = render_sample(rng, image_size=160, noise_std=0)
        for obj in objects:
            x0, y0, x1, y1 = obj['mark_box']
            box = img[y0 - 1:y1, x0 - 1:x1].reshape(-1, 3).astype(int)
            ink = np.array(CLASS_MARK_COLORS[obj['label'] - 1])
            # the glyph's pixels are exactly the class colour (no noise),
            # and no other class colour appears in the box
            hits = (np.abs(box - ink).max(1) <= 1).sum()
            assert hits >= 0.15 * len(box), (i, obj)
            for k, other in enumerate(CLASS_MARK_COLORS):
                if k != obj['label'] - 1:
                    assert not (np.abs(box - np.array(other)).max(1)
                                <= 1).any()
        # background pixels (label 0, far from bodies) have low chroma
        bg = img[mask == 0].astype(float) / 255
        chroma = bg.max(1) - bg.min(1)
        assert np.median(chroma) < 0.2
    # The class ink is saturated: full value and saturation.
    for c in CLASS_MARK_COLORS:
        h, s_, v = colorsys.rgb_to_hsv(*(np.array(c) / 255))
        assert s_ > 0.99 and v > 0.99
    # 'contrast' reproduces the version-1 look: grey ink
    rng = np.random.default_rng(3)
    img, _, objects = render_sample(
        rng, image_size=160, noise_std=0, mark_colors='contrast')
    x0, y0, x1, y1 = objects[0]['mark_box']
    box = img[y0 - 1:y1, x0 - 1:x1].reshape(-1, 3).astype(float) / 255
    inkish = (box.max(1) < 0.25) | (box.min(1) > 0.8)
    assert inkish.any()
    with pytest.raises(ValueError, match="mark_colors='neon'"):
        render_sample(rng, mark_colors='neon')


def test_v1_scene_reproduces_format_version_1():
    """SYNTHETIC_V1_SCENE renders what the version-1 generator rendered
    (digest taken from that generator, commit 5a97dd8)."""
    import hashlib

    from mmseam.datasets.synthetic import SYNTHETIC_V1_SCENE
    digest = hashlib.sha256()
    for i in range(3):
        img, mask, _ = render_sample(
            np.random.default_rng(i), 96, **SYNTHETIC_V1_SCENE)
        digest.update(img.tobytes())
        digest.update(mask.tobytes())
    assert digest.hexdigest() == (
        '6425ee3871b26b3c85f682912f6858c5ca5c48f5586c176ebf50303d4e50e950')


def test_distinct_hues_give_every_body_its_own_hue_bin():
    from mmseam.datasets import synthetic
    seen = []
    real = synthetic._sample_look

    def spy(rng, hue_bin=None, saturation=(0.35, 0.9), prefer=None):
        seen.append(hue_bin)
        return real(rng, hue_bin, saturation, prefer)

    synthetic._sample_look = spy
    try:
        for i in range(5):
            seen.clear()
            render_sample(np.random.default_rng(i), image_size=128)
            assert None not in seen
            assert len(set(seen)) == len(seen) >= 2
            seen.clear()
            render_sample(
                np.random.default_rng(i), image_size=128, distinct_hues=False)
            assert set(seen) == {None}
    finally:
        synthetic._sample_look = real


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"scene option\(s\) \['colour'\]"):
        make_synthetic_voc(str(tmp_path / 'x'), colour='red')
    with pytest.raises(ValueError, match='image_size'):
        make_synthetic_voc(str(tmp_path / 'x'), image_size=32)
    with pytest.raises(ValueError, match='num_train'):
        make_synthetic_voc(str(tmp_path / 'x'), num_train=0)
    assert not (tmp_path / 'x').exists()


def _load_cli():
    path = osp.join(REPO, 'tools/dataset_converters/make_synthetic_voc.py')
    spec = importlib.util.spec_from_file_location('make_synthetic_voc', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli(tmp_path, capsys):
    cli = _load_cli()
    out = str(tmp_path / 'cli')
    argv = [
        '--out', out, '--seed', '2', '--num-train', '3', '--num-val', '1',
        '--size', '96'
    ]
    assert cli.main(argv) == 0
    assert 'Wrote 3 train + 1 val images' in capsys.readouterr().out
    expected = str(tmp_path / 'lib')
    make_synthetic_voc(expected, seed=2, num_train=3, num_val=1, image_size=96)
    assert read_tree(out) == read_tree(expected)
    assert cli.main(argv) == 1
    assert '--force' in capsys.readouterr().err
    assert cli.main(argv + ['--force']) == 0


def test_cli_scene_options(tmp_path, capsys):
    cli = _load_cli()
    assert cli.parse_scene(['body_class_bias=0.7', 'num_objects=(1, 3)',
                            'mark_colors=contrast']) == dict(
                                body_class_bias=0.7,
                                num_objects=(1, 3),
                                mark_colors='contrast')
    out = str(tmp_path / 'cli')
    argv = ['--out', out, '--num-train', '2', '--num-val', '1', '--size',
            '96', '--scene', 'body_class_bias=1.0', 'num_distractors=(0, 1)']
    assert cli.main(argv) == 0
    expected = str(tmp_path / 'lib')
    make_synthetic_voc(expected, num_train=2, num_val=1, image_size=96,
                       body_class_bias=1.0, num_distractors=(0, 1))
    assert read_tree(out) == read_tree(expected)
    capsys.readouterr()
    assert cli.main(['--out', str(tmp_path / 'bad'), '--scene',
                     'no_such_option=1']) == 1
    assert 'no_such_option' in capsys.readouterr().err
    with pytest.raises(ValueError, match='KEY=VALUE'):
        cli.parse_scene(['body_class_bias'])
    # a scene family, one of its options overridden
    from mmseam.datasets.synthetic import SCENE_FAMILIES
    out = str(tmp_path / 'family')
    assert cli.main(['--out', out, '--num-train', '2', '--num-val', '0',
                     '--size', '96', '--family', 'touching', '--scene',
                     'num_distractors=(0, 0)']) == 0
    expected = str(tmp_path / 'family_lib')
    make_synthetic_voc(expected, num_train=2, num_val=0, image_size=96,
                       **dict(SCENE_FAMILIES['touching'],
                              num_distractors=(0, 0)))
    assert read_tree(out) == read_tree(expected)


def test_metainfo_constant():
    assert SYNTHETIC_METAINFO['classes'] == SYNTHETIC_CLASSES
    assert SYNTHETIC_METAINFO['palette'] == SYNTHETIC_PALETTE
    assert len(SYNTHETIC_PALETTE) == len(SYNTHETIC_CLASSES)


def test_body_class_bias():
    """With body_class_bias=1 every object's body takes its class's shape
    family and texture and distractors stay random; 0 is version 2."""
    from mmseam.datasets import synthetic
    looks = []
    real = synthetic._sample_look

    def spy(rng, hue_bin=None, saturation=(0.35, 0.9), prefer=None):
        look = real(rng, hue_bin, saturation, prefer)
        looks.append((prefer, look['family'], look['texture']))
        return look

    synthetic._sample_look = spy
    try:
        for i in range(4):
            looks.clear()
            _, _, objects = render_sample(
                np.random.default_rng(i), image_size=128,
                body_class_bias=1.0)
            preferred = [lk for lk in looks if lk[0] is not None]
            # one draw per placed body: each object's is its class look
            assert {lk[0] for lk in preferred} <= set(
                synthetic.CLASS_BODY_LOOKS)
            for prefer, family, texture in preferred:
                assert (family, texture) == prefer
            want = {synthetic.CLASS_BODY_LOOKS[o['label'] - 1]
                    for o in objects}
            assert want <= {lk[0] for lk in preferred}
            assert any(lk[0] is None for lk in looks)  # the distractors
            looks.clear()
            render_sample(np.random.default_rng(i), image_size=128)
            assert all(lk[0] is None for lk in looks)
    finally:
        synthetic._sample_look = real
    a = render_sample(np.random.default_rng(3), image_size=96)
    b = render_sample(
        np.random.default_rng(3), image_size=96, body_class_bias=0.0)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    with pytest.raises(ValueError, match='body_class_bias'):
        render_sample(np.random.default_rng(0), body_class_bias=1.5)


def _ink_pixels(img, mask, label):
    """Pixels of object ``label`` within 40 (L2, RGB) of its class ink."""
    from mmseam.datasets.synthetic import CLASS_MARK_COLORS
    ink = np.asarray(CLASS_MARK_COLORS[label - 1], np.float64)
    near = np.linalg.norm(img.astype(np.float64) - ink, axis=-1) < 40
    return int((near & (mask == label)).sum())


def test_mark_prob():
    """mark_prob=0 draws objects without their class mark (no ink pixels,
    mark_box None); 1 marks every object (version 2 byte for byte)."""
    for i in range(4):
        img, mask, objects = render_sample(
            np.random.default_rng(i), image_size=128, mark_prob=0.0)
        assert objects and all(o['mark_box'] is None for o in objects)
        for o in objects:
            assert _ink_pixels(img, mask, o['label']) == 0
        img, mask, objects = render_sample(
            np.random.default_rng(i), image_size=128)
        for o in objects:
            assert o['mark_box'] is not None
            assert _ink_pixels(img, mask, o['label']) > 20
    a = render_sample(np.random.default_rng(3), image_size=96)
    b = render_sample(np.random.default_rng(3), image_size=96, mark_prob=1.0)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    shown = [
        o['mark_box'] is not None for i in range(30)
        for o in render_sample(np.random.default_rng(i), image_size=96,
                               mark_prob=0.5)[2]
    ]
    assert 0.25 < np.mean(shown) < 0.75
    with pytest.raises(ValueError, match='mark_prob'):
        render_sample(np.random.default_rng(0), mark_prob=-0.1)


def test_mark_colors_body(monkeypatch):
    """mark_colors='body': each class mark is inked in the second colour of
    its own body's texture (a shade of the body's hue)."""
    from mmseam.datasets import synthetic
    looks, inks = [], []
    real_look, real_glyph = synthetic._sample_look, synthetic._paint_glyph

    def spy_look(*args, **kwargs):
        look = real_look(*args, **kwargs)
        looks.append(look)
        return look

    def spy_glyph(canvas, glyph, ink):
        inks.append((glyph[0], np.array(ink, np.float64)))
        return real_glyph(canvas, glyph, ink)

    monkeypatch.setattr(synthetic, '_sample_look', spy_look)
    monkeypatch.setattr(synthetic, '_paint_glyph', spy_glyph)
    for i in range(3):
        looks.clear()
        inks.clear()
        _, _, objects = render_sample(
            np.random.default_rng(i), image_size=128, mark_colors='body')
        seconds = [lk['second'] for lk in looks]
        class_inks = [ink for name, ink in inks
                      if name in synthetic.SYNTHETIC_CLASSES]
        assert len(class_inks) == len(objects) > 0
        for ink in class_inks:
            assert any(np.array_equal(ink, sec) for sec in seconds)
    with pytest.raises(ValueError, match="'body'"):
        render_sample(np.random.default_rng(0), mark_colors='ink')


def test_mark_size():
    """mark_size sets the marks' side range; the default is version 2."""
    sides = []
    for i in range(6):
        _, _, objects = render_sample(
            np.random.default_rng(i), image_size=200, mark_size=(0.2, 0.2))
        sides += [o['mark_box'][2] - o['mark_box'][0] + 1 for o in objects]
    assert sides and set(sides) == {40}
    a = render_sample(np.random.default_rng(3), image_size=96)
    b = render_sample(np.random.default_rng(3), image_size=96,
                      mark_size=(0.085, 0.1))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def _family_stats(options, n=40, size=192):
    """Share of images where bodies of two classes touch, the 5th/95th
    percentile of the objects' extent (bbox side / image side), and the
    share of pixels in a class mark's own ink colour."""
    from scipy import ndimage
    touching, extents, ink = 0, [], 0.0
    marks = np.asarray(CLASS_MARK_COLORS, np.int16)
    for i in range(n):
        img, mask, objects = render_sample(
            np.random.default_rng(i), size, ignore_band=0, **options)
        # a body of one class next to a body of another
        touching += any(
            np.isin(mask[ndimage.binary_dilation(mask == c) & (mask != c)],
                    [0, c], invert=True).any()
            for c in np.unique(mask) if c > 0)
        for obj in objects:
            x0, y0, x1, y1 = obj['bbox']
            extents.append(max(x1 - x0 + 1, y1 - y0 + 1) / size)
        dist = np.abs(img[:, :, None].astype(np.int16) - marks).max(-1)
        ink += float((dist.min(-1) < 30).mean()) / n
    return touching / n, np.percentile(extents, [5, 95]), ink


def test_scene_families_differ_in_kind():
    """Each scene family shows what it is named for, measured on its
    renders against the default scene: touching bodies of two classes,
    objects smaller and larger, marks that are not in class colours."""
    from mmseam.datasets.synthetic import SCENE_FAMILIES
    assert set(SCENE_FAMILIES) == {'default', 'lookalike', 'touching',
                                   'scale'}
    stats = {k: _family_stats(v) for k, v in SCENE_FAMILIES.items()}
    touch, (lo, hi), ink = stats['default']
    assert stats['touching'][0] >= max(0.6, 2 * touch)
    scale_lo, scale_hi = stats['scale'][1]
    assert scale_lo < lo - 0.1 and scale_hi > hi + 0.05
    # default: class-coloured marks; lookalike: near-black/white ink only
    assert ink > 0.002 and stats['lookalike'][2] < ink / 10
