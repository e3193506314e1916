# Copyright (c) mmseam contributors. All rights reserved.
"""Visualisation helpers and tools/visualize_cams.py."""
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

import mmseam  # noqa: F401
from mmseam.apis import (cam_heatmap, colorize_label, load_rgb, overlay,
                         save_cam, save_grid, save_label_png, voc_colormap)
from tools import visualize_cams as tool

PALETTE = [[10, 20, 30], [200, 0, 0], [0, 200, 0], [0, 0, 200]]


def test_colorize_label_maps_palette_exactly():
    label = np.array([[0, 1, 2], [3, 255, 1]], np.uint8)
    rgb = colorize_label(label, PALETTE)
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 3, 3)
    expect = [[PALETTE[0], PALETTE[1], PALETTE[2]],
              [PALETTE[3], [255, 255, 255], PALETTE[1]]]
    np.testing.assert_array_equal(rgb, expect)
    # without a palette: VOC colours; indices past the palette too
    voc = voc_colormap(256)
    rgb = colorize_label(np.array([[0, 1, 15, 4]]))
    np.testing.assert_array_equal(rgb[0], [voc[0], voc[1], voc[15], voc[4]])
    np.testing.assert_array_equal(
        colorize_label(np.array([[5]]), PALETTE)[0, 0], voc[5])


def test_overlay_alpha_math():
    img = np.array([[[10, 100, 250]]], np.uint8)
    colour = np.array([[[255, 0, 100]]], np.float32)
    # (1 - a) * img + a * colour, truncated to uint8
    out = overlay(img, colour, 0.3)
    assert out.dtype == np.uint8
    # 0.7*10+0.3*255=83.5, 0.7*100=70, 0.7*250+0.3*100=205
    np.testing.assert_array_equal(out, [[[83, 70, 205]]])
    np.testing.assert_array_equal(overlay(img, colour, 0.0), img)
    np.testing.assert_array_equal(overlay(img, colour, 1.0), [[[255, 0,
                                                                100]]])
    # clipped to [0, 255]
    np.testing.assert_array_equal(
        overlay(img, np.full((1, 1, 3), 1000.0), 0.5), [[[255, 255, 255]]])


def test_cam_heatmap_zero_and_max():
    img = np.full((3, 4, 3), 100, np.uint8)
    # jet(0) = (0, 0, 0.5): 0.5 * 100 + 0.5 * (0, 0, 127.5)
    zero = cam_heatmap(img, np.zeros((2, 3, 4), np.float32), alpha=0.5)
    np.testing.assert_array_equal(zero, np.broadcast_to([50, 50, 113],
                                                        (3, 4, 3)))
    np.testing.assert_array_equal(
        zero, overlay(img, np.array([0, 0, 127.5]) * np.ones((3, 4, 1)), 0.5))
    # no classes at all: the same as zero CAMs
    np.testing.assert_array_equal(
        cam_heatmap(img, np.zeros((0, 3, 4), np.float32)), zero)
    # per-pixel max over the classes; jet(1) = (0.5, 0, 0)
    cams = np.zeros((2, 3, 4), np.float32)
    cams[0, 0, 0] = 1.0
    cams[1, 2, 3] = 1.0
    out = cam_heatmap(img, cams, alpha=0.5)
    np.testing.assert_array_equal(out[0, 0], [113, 50, 50])
    np.testing.assert_array_equal(out[2, 3], [113, 50, 50])
    np.testing.assert_array_equal(out[1, 1], [50, 50, 113])
    np.testing.assert_array_equal(
        out, cam_heatmap(img, cams.max(0, keepdims=True), alpha=0.5))


def test_save_grid_size_and_load_rgb(tmp_path):
    cell = np.zeros((8, 8, 3), np.uint8)
    out = save_grid([[cell] * 3, [cell] * 2],
                    str(tmp_path / 'g.png'),
                    col_titles=['a', 'b', 'c'],
                    row_titles=['x', 'y'])
    with Image.open(out) as img:
        assert img.size == (3 * 220, 2 * 220)
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    Image.fromarray(rgb).save(tmp_path / 'x.png')
    np.testing.assert_array_equal(load_rgb(str(tmp_path / 'x.png')), rgb)
    Image.fromarray(rgb[..., 0]).save(tmp_path / 'gray.png')  # 'L' -> RGB
    np.testing.assert_array_equal(
        load_rgb(str(tmp_path / 'gray.png')),
        np.repeat(rgb[..., :1], 3, axis=2))


# ---------------------------------------------------------------- the tool
@pytest.fixture
def outputs(tmp_path):
    """3 images (one a PNG) with CAMs, pseudo labels and 2 GT masks."""
    rng = np.random.RandomState(0)
    ids = ['b_img', 'a_img', 'c_img']
    (tmp_path / 'img').mkdir()
    for k, img_id in enumerate(ids):
        h, w = 12 + 2 * k, 16
        img = rng.randint(0, 255, (h, w, 3)).astype(np.uint8)
        ext = '.png' if k == 2 else '.jpg'
        Image.fromarray(img).save(tmp_path / 'img' / (img_id + ext))
        save_cam(tmp_path / 'cams' / f'{img_id}.npz',
                 rng.rand(2, h, w).astype(np.float32), [1, 3])
        label = rng.randint(0, 4, (h, w))
        save_label_png(tmp_path / 'pl' / f'{img_id}.png', label, PALETTE)
        if k < 2:
            save_label_png(tmp_path / 'gt' / f'{img_id}.png', label, PALETTE)
    meta = tmp_path / 'meta.json'
    meta.write_text(
        json.dumps(dict(classes=['bg', 'cat', 'dog', 'cow'],
                        palette=PALETTE)))
    (tmp_path / 'split.txt').write_text('c_img\na_img\nb_img\n')
    return tmp_path, ids


def common(tmp_path):
    return [
        '--img-dir',
        str(tmp_path / 'img'), '--cam-dir',
        str(tmp_path / 'cams'), '--label-dir',
        str(tmp_path / 'pl')
    ]


def test_tool_grid_pixel_size(outputs):
    tmp_path, ids = outputs
    out = str(tmp_path / 'grid.png')
    tool.main(common(tmp_path) + [
        '--gt-dir',
        str(tmp_path / 'gt'), '--ids', *ids, '--out', out, '--metainfo',
        str(tmp_path / 'meta.json')
    ])
    with Image.open(out) as img:
        assert img.size == (4 * 220, 3 * 220)  # image|GT|CAM|label x 3
    # first --num of a split file, no GT column
    out2 = str(tmp_path / 'sub' / 'grid2.png')
    tool.main(common(tmp_path) +
              ['--split-file',
               str(tmp_path / 'split.txt'), '--num', '2', '--out', out2])
    with Image.open(out2) as img:
        assert img.size == (3 * 220, 2 * 220)
    # only labels, ids from the folder
    out3 = str(tmp_path / 'grid3.png')
    tool.main([
        '--img-dir',
        str(tmp_path / 'img'), '--label-dir',
        str(tmp_path / 'pl'), '--num', '1', '--out', out3
    ])
    with Image.open(out3) as img:
        assert img.size == (2 * 220, 1 * 220)


def test_tool_cells_are_the_helpers(outputs):
    tmp_path, _ = outputs
    from mmseam.apis import load_cam, load_label_png
    rows, titles, row_titles = tool.build_rows(
        ['a_img', 'c_img'],
        str(tmp_path / 'img'),
        cam_dir=str(tmp_path / 'cams'),
        label_dir=str(tmp_path / 'pl'),
        gt_dir=str(tmp_path / 'gt'),
        palette=PALETTE,
        classes=['bg', 'cat', 'dog', 'cow'],
        alpha=0.4)
    assert titles == ['image', 'ground truth', 'CAM', 'pseudo label']
    assert row_titles == ['a_img\ncat,cow', 'c_img\ncat,cow']
    img = load_rgb(str(tmp_path / 'img' / 'a_img.jpg'))
    cams, _ = load_cam(str(tmp_path / 'cams' / 'a_img.npz'))
    label = load_label_png(str(tmp_path / 'pl' / 'a_img.png'))
    gt = load_label_png(str(tmp_path / 'gt' / 'a_img.png'))
    np.testing.assert_array_equal(rows[0][0], img)
    np.testing.assert_array_equal(rows[0][1], colorize_label(gt, PALETTE))
    np.testing.assert_array_equal(rows[0][2], cam_heatmap(img, cams, 0.4))
    np.testing.assert_array_equal(
        rows[0][3], overlay(img, colorize_label(label, PALETTE), 0.4))
    # c_img has no GT file: a grey cell of its size
    assert rows[1][1].shape == rows[1][0].shape == (16, 16, 3)
    assert np.all(rows[1][1] == 128)


def test_select_ids():
    assert tool.select_ids(['x', 'y'], None, 1, '.', '.png') == ['x', 'y']


def test_tool_errors(outputs):
    tmp_path, _ = outputs
    out = str(tmp_path / 'e.png')
    with pytest.raises(FileNotFoundError, match="image for id 'nope'"):
        tool.main(common(tmp_path) + ['--ids', 'nope', '--out', out])
    # an image without CAM file
    Image.new('RGB', (4, 4)).save(tmp_path / 'img' / 'd_img.jpg')
    with pytest.raises(FileNotFoundError, match=r'd_img\.npz'):
        tool.main(common(tmp_path) + ['--ids', 'd_img', '--out', out])
    with pytest.raises(FileNotFoundError, match='--img-dir'):
        tool.main(['--img-dir', str(tmp_path / 'missing'), '--label-dir',
                   str(tmp_path / 'pl'), '--out', out])
    # a label of the wrong size
    save_label_png(tmp_path / 'pl' / 'a_img.png', np.zeros((5, 5)), None)
    with pytest.raises(ValueError, match='original image size'):
        tool.main(common(tmp_path) + ['--ids', 'a_img', '--out', out])
    with pytest.raises(SystemExit):  # nothing to show
        tool.parse_args(['--img-dir', 'x', '--out', out])
    assert not osp.exists(out)
