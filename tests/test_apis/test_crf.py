# Copyright (c) mmseam contributors. All rights reserved.
import importlib.util
import inspect
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

import mmseam  # noqa: F401
from mmseam.apis import (CRF_PRESETS, CRFConfig, bg_alpha_scores,
                         crf_inference, crf_output_dirs, crf_with_alpha,
                         load_crf_scores, load_label_png, read_split_ids,
                         refine_split, save_cam)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def two_region_image(h=8, w=8):
    """Left half dark red, right half light blue (uint8 RGB)."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :w // 2] = (200, 30, 30)
    img[:, w // 2:] = (30, 30, 200)
    return img


def region_probs(h=8, w=8, conf=0.9):
    """Class 0 on the left, class 1 on the right, with confidence conf."""
    probs = np.full((2, h, w), 1 - conf, np.float32)
    probs[0, :, :w // 2] = conf
    probs[1, :, w // 2:] = conf
    return probs


def normalised_unary(probs):
    p = np.clip(probs, 1e-5, 1.0)
    return p / p.sum(0, keepdims=True)


def test_crf_without_iterations_is_normalised_unary():
    rng = np.random.RandomState(0)
    img = two_region_image()
    probs = rng.rand(3, 8, 8).astype(np.float32)
    probs[0, 0, 0] = 0  # clipped to 1e-5 by unary_from_softmax
    q = crf_inference(img, probs, t=0)
    assert q.shape == (3, 8, 8) and q.dtype == np.float32
    np.testing.assert_allclose(q, normalised_unary(probs), atol=1e-6)


def test_crf_with_zero_pairwise_weights_is_normalised_unary():
    rng = np.random.RandomState(1)
    img = two_region_image()
    probs = rng.rand(2, 8, 8).astype(np.float32)
    q = crf_inference(img, probs, t=5, gauss_compat=0, bi_compat=0)
    np.testing.assert_allclose(q, normalised_unary(probs), atol=1e-6)


def test_crf_flips_noisy_pixel_to_region_label():
    img = two_region_image()
    probs = region_probs()
    # a low-confidence pixel inside the left (class 0) region leans to 1
    probs[:, 3, 1] = (0.45, 0.55)
    assert normalised_unary(probs)[:, 3, 1].argmax() == 1
    q = crf_inference(
        img, probs, t=10, gauss_compat=0, bi_sxy=80, bi_srgb=13, bi_compat=10)
    label = q.argmax(0)
    expected = np.zeros((8, 8), np.int64)
    expected[:, 4:] = 1
    np.testing.assert_array_equal(label, expected)
    # every pixel's marginals sum to one
    np.testing.assert_allclose(q.sum(0), 1, atol=1e-5)
    # the flipped pixel is now confidently class 0
    assert q[0, 3, 1] > 0.9


def test_crf_marginals_sum_to_one_with_default_params():
    rng = np.random.RandomState(2)
    img = rng.randint(0, 256, (6, 9, 3)).astype(np.uint8)
    probs = rng.rand(4, 6, 9).astype(np.float32)
    img.setflags(write=False)  # e.g. np.asarray of a PIL image
    q = crf_inference(img, probs)
    assert q.shape == (4, 6, 9)
    np.testing.assert_allclose(q.sum(0), 1, atol=1e-5)
    assert (q >= 0).all()


def test_crf_input_checks():
    img = two_region_image()
    with pytest.raises(ValueError, match='uint8'):
        crf_inference(img.astype(np.float32), region_probs())
    with pytest.raises(ValueError, match='probs must have shape'):
        crf_inference(img, region_probs(h=4))


def test_bg_alpha_scores_hand_checked():
    cams = np.zeros((2, 2, 2), np.float32)
    cams[0] = [[0.5, 0.0], [1.0, 0.2]]
    cams[1] = [[0.1, 0.0], [0.3, 0.9]]
    scores = bg_alpha_scores(cams, alpha=4)
    assert scores.shape == (3, 2, 2) and scores.dtype == np.float32
    # max = [[.5, 0], [1, .9]] -> (1 - max) ** 4
    np.testing.assert_allclose(
        scores[0], [[0.0625, 1.0], [0.0, 0.1**4]], rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(scores[1:], cams)
    np.testing.assert_allclose(
        bg_alpha_scores(cams, alpha=1)[0], [[0.5, 1], [0, 0.1]], atol=1e-6)
    # no class present -> background everywhere
    empty = bg_alpha_scores(np.zeros((0, 2, 3)), alpha=4)
    np.testing.assert_array_equal(empty, np.ones((1, 2, 3)))


def test_crf_with_alpha_stacks_then_runs_crf():
    rng = np.random.RandomState(3)
    img = rng.randint(0, 256, (5, 7, 3)).astype(np.uint8)
    cams = rng.rand(2, 5, 7).astype(np.float32)
    out = crf_with_alpha(img, cams, [3, 8], alpha=4, t=3)
    assert out.shape == (3, 5, 7)
    np.testing.assert_array_equal(
        out, crf_inference(img, bg_alpha_scores(cams, 4), t=3))
    # t=0: the normalised [bg, cams] scores
    out0 = crf_with_alpha(img, cams, [3, 8], alpha=24, t=0)
    np.testing.assert_allclose(
        out0, normalised_unary(bg_alpha_scores(cams, 24)), atol=1e-6)
    with pytest.raises(ValueError, match='labels'):
        crf_with_alpha(img, cams, [3], alpha=4)
    np.testing.assert_array_equal(
        crf_with_alpha(img, np.zeros((0, 5, 7)), [], alpha=4),
        np.ones((1, 5, 7)))


def test_crf_config_presets():
    cfg = CRFConfig()
    assert (cfg.t, cfg.gauss_sxy, cfg.gauss_compat) == (10, 3, 3)
    assert (cfg.bi_sxy, cfg.bi_srgb, cfg.bi_compat) == (80, 13, 10)
    assert (cfg.la, cfg.ha) == (4, 24)
    stage2 = CRFConfig.preset('stage2_test')
    assert (stage2.t, stage2.bi_sxy, stage2.bi_srgb,
            stage2.bi_compat) == (1, 32, 13, 10)
    assert stage2.gauss_sxy == 3 and stage2.gauss_compat == 3
    # presets are copies
    stage2.t = 99
    assert CRF_PRESETS['stage2_test'].t == 1
    params = set(inspect.signature(crf_inference).parameters)
    assert set(cfg.crf_kwargs()) == params - {'img_rgb', 'probs'}
    with pytest.raises(KeyError, match='unknown CRF preset'):
        CRFConfig.preset('nope')


def test_crf_output_dirs():
    assert crf_output_dirs('out', 4) == (osp.join('out', 'crf_4'),
                                         osp.join('out', 'crf_4_png'))
    assert crf_output_dirs('out', 0.5)[0] == osp.join('out', 'crf_0.5')


def test_read_split_ids(tmp_path):
    split = tmp_path / 'split.txt'
    split.write_text('a\n\n/JPEGImages/b.jpg /SegmentationClassAug/b.png\nc\n')
    assert read_split_ids(str(split)) == ['a', 'b', 'c']
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        read_split_ids(str(tmp_path / 'missing.txt'))


def make_split(root, ids=('img0', 'img1', 'img2')):
    """Tiny images + CAMs: one class per image on the right half."""
    img_dir, cam_dir = root / 'img', root / 'cam'
    img_dir.mkdir()
    cam_dir.mkdir()
    rng = np.random.RandomState(0)
    for i, img_id in enumerate(ids):
        img = two_region_image(8, 10)
        Image.fromarray(img).save(img_dir / f'{img_id}.png')
        cams = np.zeros((2, 8, 10), np.float32)
        cams[0, :, 5:] = 0.9 + 0.1 * rng.rand(8, 5)
        cams[1, :2, :2] = 0.3  # weak second class
        save_cam(cam_dir / f'{img_id}.npz', cams, [i + 1, i + 4])
    return str(img_dir), str(cam_dir), list(ids)


def read_outputs(out_dir, ids, alphas=(4, 24)):
    out = {}
    for alpha in alphas:
        score_dir, png_dir = crf_output_dirs(out_dir, alpha)
        for img_id in ids:
            for path in (osp.join(score_dir, f'{img_id}.npz'),
                         osp.join(png_dir, f'{img_id}.png')):
                with open(path, 'rb') as f:
                    out[path] = (f.read(), os.stat(path).st_mtime_ns)
    return out


def test_refine_split_outputs_and_resume(tmp_path):
    img_dir, cam_dir, ids = make_split(tmp_path)
    out_dir = str(tmp_path / 'out')
    cfg = CRFConfig(t=2)
    kw = dict(crf_cfg=cfg, img_suffix='.png', progress=False)
    res = refine_split(ids, cam_dir, img_dir, out_dir, workers=1, **kw)
    assert res == dict(processed=3, skipped=0)
    for i, img_id in enumerate(ids):
        for alpha in (4, 24):
            score_dir, png_dir = crf_output_dirs(out_dir, alpha)
            scores, labels = load_crf_scores(
                osp.join(score_dir, f'{img_id}.npz'))
            np.testing.assert_array_equal(labels, [0, i + 1, i + 4])
            assert scores.shape == (3, 8, 10)
            np.testing.assert_allclose(scores.sum(0), 1, atol=2e-3)
            png = load_label_png(osp.join(png_dir, f'{img_id}.png'))
            np.testing.assert_array_equal(png, labels[scores.argmax(0)])
            # the confident right half is the image's first class
            assert (png[:, 5:] == i + 1).all()
        # la=4 keeps more foreground than ha=24 would remove: alpha 24
        # makes the background weaker, never stronger
        la = load_crf_scores(
            osp.join(crf_output_dirs(out_dir, 4)[0], f'{img_id}.npz'))[0]
        ha = load_crf_scores(
            osp.join(crf_output_dirs(out_dir, 24)[0], f'{img_id}.npz'))[0]
        assert (ha[0] <= la[0] + 1e-3).all()
    # no temporary files left behind
    for root, _, files in os.walk(out_dir):
        assert not [f for f in files if f.endswith('.tmp')], files
    first = read_outputs(out_dir, ids)
    # second run: everything skipped, files untouched
    res = refine_split(ids, cam_dir, img_dir, out_dir, workers=1, **kw)
    assert res == dict(processed=0, skipped=3)
    assert read_outputs(out_dir, ids) == first
    # a missing output is recomputed (only for that image)
    os.remove(osp.join(crf_output_dirs(out_dir, 24)[1], 'img1.png'))
    res = refine_split(ids, cam_dir, img_dir, out_dir, workers=1, **kw)
    assert res == dict(processed=1, skipped=2)
    assert {
        k: v[0]
        for k, v in read_outputs(out_dir, ids).items()
    } == {
        k: v[0]
        for k, v in first.items()
    }
    # overwrite recomputes identical bytes, with 2 worker processes
    res = refine_split(
        ids, cam_dir, img_dir, out_dir, workers=2, overwrite=True, **kw)
    assert res == dict(processed=3, skipped=0)
    again = read_outputs(out_dir, ids)
    assert {
        k: v[0]
        for k, v in again.items()
    } == {
        k: v[0]
        for k, v in first.items()
    }


def test_refine_split_errors(tmp_path):
    img_dir, cam_dir, ids = make_split(tmp_path)
    with pytest.raises(FileNotFoundError, match='run CAM inference'):
        refine_split(
            ids + ['nope'],
            cam_dir,
            img_dir,
            str(tmp_path / 'o'),
            progress=False)
    with pytest.raises(FileNotFoundError, match='img0.jpg'):
        refine_split(
            ids, cam_dir, img_dir, str(tmp_path / 'o'), progress=False)


def load_tool():
    path = osp.join(REPO, 'tools', 'crf_refine.py')
    spec = importlib.util.spec_from_file_location('crf_refine_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_crf_refine_tool(tmp_path):
    img_dir, cam_dir, ids = make_split(tmp_path, ids=('a', 'b'))
    split = tmp_path / 'split.txt'
    split.write_text('a\nb\n')
    palette = [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12], [13, 14, 15],
               [16, 17, 18]]
    meta = tmp_path / 'meta.json'
    meta.write_text('{"classes": ["bg", "a", "b", "c", "d", "e"], '
                    f'"palette": {palette}}}')
    out_dir = str(tmp_path / 'out')
    tool = load_tool()
    argv = [
        '--cam-dir', cam_dir, '--img-dir', img_dir, '--split-file',
        str(split), '--out-dir', out_dir, '--alphas', '4', '24', '--workers',
        '1', '--img-suffix', '.png', '--metainfo',
        str(meta), '--t', '2', '--no-progress'
    ]
    assert tool.main(argv) == dict(processed=2, skipped=0)
    assert tool.main(argv) == dict(processed=0, skipped=2)
    png_path = osp.join(crf_output_dirs(out_dir, 4)[1], 'a.png')
    with Image.open(png_path) as im:
        assert im.mode == 'P'
        assert im.getpalette()[:18] == sum(palette, [])
    # same result as the API with the same parameters
    api_out = str(tmp_path / 'api')
    refine_split(['a', 'b'],
                 cam_dir,
                 img_dir,
                 api_out,
                 crf_cfg=CRFConfig(t=2),
                 img_suffix='.png',
                 progress=False)
    for img_id in ('a', 'b'):
        for alpha in (4, 24):
            a = load_crf_scores(
                osp.join(crf_output_dirs(out_dir, alpha)[0], f'{img_id}.npz'))
            b = load_crf_scores(
                osp.join(crf_output_dirs(api_out, alpha)[0], f'{img_id}.npz'))
            np.testing.assert_array_equal(a[0], b[0])


@pytest.mark.parametrize('workers', [0, 2])
def test_async_refiner_outputs_and_worker_errors(tmp_path, workers):
    """``AsyncCRFRefiner`` writes what ``refine_arrays`` writes, bounds the
    jobs in flight, and re-raises a worker's error from ``close``."""
    from mmseam.apis import AsyncCRFRefiner, refine_arrays
    img_path = str(tmp_path / 'a.png')
    Image.fromarray(two_region_image(8, 8)).save(img_path)
    cams = region_probs(8, 8)[1:].astype(np.float16)  # (1, 8, 8)
    refiner = AsyncCRFRefiner(
        str(tmp_path / 'async'), alphas=(4, ), workers=workers,
        max_pending=1)
    for i in range(3):
        refiner.submit(f'img{i}', img_path, cams, np.array([7]))
        assert len(refiner.pending) <= 1
    assert refiner.close() == 3
    assert refiner.pool is None and refiner.done('img2')
    assert refine_arrays('ref', img_path, cams, np.array([7]),
                         str(tmp_path / 'sync'), alphas=(4, ))
    for sub, ext in (('crf_4', 'npz'), ('crf_4_png', 'png')):
        with open(tmp_path / 'sync' / sub / f'ref.{ext}', 'rb') as f:
            want = f.read()
        for i in range(3):
            with open(tmp_path / 'async' / sub / f'img{i}.{ext}', 'rb') as f:
                assert f.read() == want
    # a missing image fails in the worker and surfaces in close()
    refiner = AsyncCRFRefiner(str(tmp_path / 'bad'), workers=workers)
    with pytest.raises(FileNotFoundError, match='missing.png'):
        refiner.submit('x', str(tmp_path / 'missing.png'), cams,
                       np.array([7]))
        refiner.close()
    refiner.terminate()
    assert refiner.pool is None


def test_crf_with_alphas_equals_one_crf_per_alpha():
    """One set of kernels + shared CAM unaries == a CRF per alpha, bit for
    bit (CAM values 0 and 1 exercise the 1e-5 clip of both rows)."""
    from mmseam.apis.crf import crf_with_alphas
    rng = np.random.RandomState(5)
    img = rng.randint(0, 256, (13, 17, 3)).astype(np.uint8)
    cams = rng.rand(3, 13, 17).astype(np.float16).astype(np.float32)
    cams[0, :2] = 1.0
    cams[1, 5:7] = 0.0
    alphas = (4, 24, 0.5)
    got = crf_with_alphas(img, cams, [2, 5, 9], alphas, t=4, bi_sxy=5)
    assert len(got) == 3
    for alpha, out in zip(alphas, got):
        ref = crf_with_alpha(img, cams, [2, 5, 9], alpha, t=4, bi_sxy=5)
        assert out.dtype == np.float32 and out.shape == (4, 13, 17)
        np.testing.assert_array_equal(out, ref)
    # no class: background only, as crf_with_alpha
    empty = crf_with_alphas(img, np.zeros((0, 13, 17)), [], alphas)
    assert [e.tolist() for e in empty] == [np.ones((1, 13, 17)).tolist()] * 3
    with pytest.raises(ValueError, match='labels'):
        crf_with_alphas(img, cams, [2], alphas)
    with pytest.raises(ValueError, match='match the image'):
        crf_with_alphas(img, cams[:, :5], [2, 5, 9], alphas)


def test_refine_split_bytes_equal_per_alpha_reference(tmp_path):
    """refine_split's files are byte-equal to saving crf_with_alpha's
    marginals alpha by alpha (the direct per-power computation)."""
    from mmseam.apis import load_cam, save_crf_scores, save_label_png
    img_dir, cam_dir, ids = make_split(tmp_path)
    cfg = CRFConfig(t=3)
    out_dir, ref_dir = str(tmp_path / 'out'), str(tmp_path / 'ref')
    refine_split(ids, cam_dir, img_dir, out_dir, crf_cfg=cfg,
                 img_suffix='.png', progress=False)
    for img_id in ids:
        img = np.array(Image.open(osp.join(img_dir, f'{img_id}.png')))
        cams, labels = load_cam(osp.join(cam_dir, f'{img_id}.npz'))
        full = np.concatenate([[0], labels])
        for alpha in cfg.alphas:
            scores = crf_with_alpha(img, cams, labels, alpha,
                                    **cfg.crf_kwargs())
            score_dir, png_dir = crf_output_dirs(ref_dir, alpha)
            save_crf_scores(osp.join(score_dir, f'{img_id}.npz'), scores,
                            full)
            save_label_png(osp.join(png_dir, f'{img_id}.png'),
                           full[scores.argmax(0)], None)
    got, ref = read_outputs(out_dir, ids), read_outputs(ref_dir, ids)
    assert len(got) == 12
    for path, (data, _) in got.items():
        ref_path = path.replace(out_dir, ref_dir)
        if path.endswith('.png'):
            assert data == ref[ref_path][0], path
            continue
        # npz members carry the write time: compare the stored arrays
        with np.load(path) as a, np.load(ref_path) as b:
            assert a.files == b.files
            for key in a.files:
                assert a[key].dtype == b[key].dtype
                assert a[key].tobytes() == b[key].tobytes(), (path, key)
