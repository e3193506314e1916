# Copyright (c) mmseam contributors. All rights reserved.
"""``infer_cams``: content, resume, crash safety, sharding, multi-scale."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from PIL import Image

import mmseam  # noqa: F401
from mmseam.apis import cam_inference, cam_io
from mmseam.apis import (cam_output_paths, cams_to_label, infer_cams,
                         load_cam, load_label_png)
from mmseam.datasets.synthetic import SYNTHETIC_PALETTE, make_synthetic_voc
from test_engine.test_seam_runner import seam_cfg

init_default_scope('mmseg')

SCALES = (1.0, 0.5)
#: one image is re-saved at a non-square size to check the output size
ODD_ID, ODD_SIZE = 'train_00001', (48, 80)  # (H, W)


@pytest.fixture(scope='module', autouse=True)
def single_thread():
    """Tiny convs: one thread avoids OpenMP stalls on a busy 2-core box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('synth_cam') / 'voc')
    make_synthetic_voc(root, seed=5, num_train=5, num_val=1, image_size=64)
    path = osp.join(root, 'JPEGImages', f'{ODD_ID}.jpg')
    with Image.open(path) as img:
        img.resize(ODD_SIZE[::-1]).save(path, quality=95)
    return root


@pytest.fixture(scope='module')
def model(data_root, tmp_path_factory):
    from mmseg.registry import MODELS
    cfg = seam_cfg(data_root, str(tmp_path_factory.mktemp('w')), hook=False)
    torch.manual_seed(0)
    m = MODELS.build(cfg.model)
    m.init_weights()
    m.train()  # infer_cams must switch to eval and back
    return m


def build_dataset(data_root, pack='PackSegClsInputs'):
    from mmseg.registry import DATASETS
    cfg = seam_cfg(data_root, '/tmp/unused', hook=False)
    ds = cfg.test_dataloader.dataset.copy()
    ds['pipeline'] = [dict(type='LoadImageFromFile'), dict(type=pack)]
    ds['with_seg_map'] = False
    return DATASETS.build(ds)


@pytest.fixture(scope='module')
def dataset(data_root):
    return build_dataset(data_root)


def run(model, dataset, out, **kwargs):
    kwargs.setdefault('scales', SCALES)
    kwargs.setdefault('flip', True)
    kwargs.setdefault('show_progress', False)
    return infer_cams(model, dataset, str(out), **kwargs)


def ids_of(dataset):
    return [
        osp.splitext(osp.basename(dataset.get_data_info(i)['img_path']))[0]
        for i in range(len(dataset))
    ]


def snapshot(out):
    """{relative path: bytes} of every file under ``out``."""
    files = {}
    for root, _, names in os.walk(out):
        for name in names:
            path = osp.join(root, name)
            with open(path, 'rb') as f:
                files[osp.relpath(path, out)] = f.read()
    return files


def mtimes(out):
    return {
        rel: os.stat(osp.join(out, rel)).st_mtime_ns
        for rel in snapshot(out)
    }


def age_files(out, seconds=1_000_000_000):
    """Give every output an old mtime so a rewrite is always visible."""
    for rel in snapshot(out):
        os.utime(osp.join(out, rel), ns=(seconds * 10**9, seconds * 10**9))


def temp_files(out):
    return [
        name for _, _, names in os.walk(out) for name in names
        if name.endswith('.tmp') or name.startswith('.')
    ]


@pytest.fixture(scope='module')
def reference(model, dataset, tmp_path_factory):
    """An uninterrupted single-process run."""
    out = tmp_path_factory.mktemp('ref')
    res = run(model, dataset, out)
    return str(out), res


def test_outputs_content(reference, dataset, model):
    out, res = reference
    ids = ids_of(dataset)
    assert res == dict(written=len(ids), skipped=0, total=len(ids))
    all_peaks = []
    for i, img_id in enumerate(ids):
        info = dataset.get_data_info(i)
        paths = cam_output_paths(out, img_id)
        with np.load(paths['cam']) as raw:
            assert raw['cams'].dtype == np.float16
            assert raw['labels'].dtype == np.int64
            cams16, labels = raw['cams'], raw['labels']
        present = np.nonzero(info['img_labels'] > 0)[0] + 1
        assert labels.tolist() == present.tolist()
        with Image.open(info['img_path']) as img:
            w, h = img.size
        if img_id == ODD_ID:
            assert (h, w) == ODD_SIZE
        assert cams16.shape == (len(present), h, w)
        assert cams16.min() >= 0 and cams16.max() <= 1
        # min-max normalised: a class reaches ~1 somewhere unless its
        # summed score is <= 0 everywhere (possible at random init)
        peak = cams16.reshape(len(present), -1).max(1)
        assert np.all((peak > 0.99) | (peak == 0))
        all_peaks += peak.tolist()
        cams, labels2 = load_cam(paths['cam'])
        np.testing.assert_array_equal(cams, cams16.astype(np.float32))
        np.testing.assert_array_equal(labels2, labels)
        # the PNG is the thresholded argmax of exactly the saved values
        png = load_label_png(paths['png'])
        expect = cams_to_label(cams16, labels, model.test_cfg['bg_threshold'])
        np.testing.assert_array_equal(png, expect)
        assert set(np.unique(png)) <= {0, *labels.tolist()}
        # palette of the dataset
        with Image.open(paths['png']) as img:
            assert img.mode == 'P'
            pal = np.array(img.getpalette()[:3 * len(SYNTHETIC_PALETTE)])
        np.testing.assert_array_equal(pal, np.ravel(SYNTHETIC_PALETTE))
    assert max(all_peaks) > 0.99  # not a degenerate all-zero model
    assert temp_files(out) == []


def test_model_mode_restored(model, dataset, tmp_path):
    model.train()
    run(model, dataset, tmp_path, scales=(0.5, ), flip=False)
    assert model.training
    model.eval()
    run(model, dataset, tmp_path / 'b', scales=(0.5, ), flip=False)
    assert not model.training
    model.train()


def test_resume_skip_delete_and_overwrite(model, dataset, reference, tmp_path):
    ref_out, _ = reference
    out = str(tmp_path / 'out')
    n = len(dataset)
    run(model, dataset, out)
    assert snapshot(out) == snapshot(ref_out)  # deterministic
    age_files(out)
    before, times = snapshot(out), mtimes(out)

    # second run: nothing recomputed, nothing touched
    res = run(model, dataset, out)
    assert res == dict(written=0, skipped=n, total=n)
    assert snapshot(out) == before and mtimes(out) == times

    # one output deleted: only that image is recomputed (both its files)
    victim = cam_output_paths(out, ids_of(dataset)[2])
    os.remove(victim['png'])
    res = run(model, dataset, out)
    assert res == dict(written=1, skipped=n - 1, total=n)
    assert snapshot(out) == before
    now = mtimes(out)
    changed = {k for k in now if now[k] != times[k]}
    assert changed == {
        osp.relpath(victim['png'], out),
        osp.relpath(victim['cam'], out)
    }

    # overwrite: everything recomputed, identical bytes
    age_files(out)
    times = mtimes(out)
    res = run(model, dataset, out, overwrite=True)
    assert res == dict(written=n, skipped=0, total=n)
    assert snapshot(out) == before
    assert all(t != times[k] for k, t in mtimes(out).items())
    assert temp_files(out) == []


def test_write_flags(model, dataset, tmp_path):
    """Only the requested outputs are written and checked for resume."""
    n = len(dataset)
    res = run(model, dataset, tmp_path, write_pngs=False)
    assert res['written'] == n
    assert not osp.isdir(tmp_path / 'pseudo_labels')
    res = run(model, dataset, tmp_path, write_pngs=False)
    assert res['written'] == 0 and res['skipped'] == n
    # asking for PNGs now: every image lacks one
    res = run(model, dataset, tmp_path)
    assert res['written'] == n


def test_crash_mid_run_then_resume(model, dataset, reference, tmp_path,
                                   monkeypatch):
    ref_out, _ = reference
    model.train()
    out = str(tmp_path / 'out')
    n = len(dataset)
    calls = []
    real_save = cam_inference.save_label_png

    def crashing_save(path, label, palette):
        calls.append(path)
        if len(calls) == 3:
            # die half way through writing the file, like a killed job
            def partial(f):
                f.write(b'\x89PNG\r\n')
                raise KeyboardInterrupt('simulated kill')

            cam_io.atomic_write(path, partial)
        real_save(path, label, palette)

    monkeypatch.setattr(cam_inference, 'save_label_png', crashing_save)
    with pytest.raises(KeyboardInterrupt, match='simulated kill'):
        run(model, dataset, out)
    assert model.training  # restored despite the exception
    assert temp_files(out) == []
    pngs = os.listdir(osp.join(out, 'pseudo_labels'))
    assert len(pngs) == 2  # images 1, 2 finished; image 3 has no PNG
    # every file that exists is complete (identical to the reference)
    ref = snapshot(ref_out)
    for rel, data in snapshot(out).items():
        assert data == ref[rel], rel

    monkeypatch.setattr(cam_inference, 'save_label_png', real_save)
    res = run(model, dataset, out)
    assert res == dict(written=n - 2, skipped=2, total=n)
    assert snapshot(out) == ref
    assert temp_files(out) == []


@pytest.mark.parametrize('world', [2, 3])
def test_rank_sharding(model, dataset, reference, tmp_path, monkeypatch,
                       world):
    ref_out, _ = reference
    out = str(tmp_path / 'out')
    n = len(dataset)
    ids = ids_of(dataset)
    barriers = []
    monkeypatch.setattr(cam_inference, 'barrier', lambda: barriers.append(1))
    for rank in range(world):
        monkeypatch.setattr(cam_inference, 'get_dist_info',
                            lambda r=rank: (r, world))
        res = run(model, dataset, out)
        mine = ids[rank::world]
        assert res == dict(written=len(mine), skipped=0, total=n)
        for img_id in mine:
            assert osp.isfile(cam_output_paths(out, img_id)['png'])
    assert len(barriers) == world
    assert snapshot(out) == snapshot(ref_out)
    # a rank only checks (and skips) its own shard
    monkeypatch.setattr(cam_inference, 'get_dist_info', lambda: (1, world))
    res = run(model, dataset, out)
    assert res == dict(written=0, skipped=len(ids[1::world]), total=n)


def test_multiscale_flip_sum_equals_direct_computation(model, dataset,
                                                       reference):
    """Scales (1.0, 0.5) + flip: an explicit per-pass loop, one image."""
    out, _ = reference
    idx = ids_of(dataset).index(ODD_ID)
    data = dataset[idx]
    model.eval()
    with torch.no_grad():
        batch = model.data_preprocessor(
            dict(inputs=[data['inputs']], data_samples=[data['data_samples']]),
            False)
        x = batch['inputs']
        h, w = x.shape[-2:]
        assert (h, w) == ODD_SIZE
        total = torch.zeros(model.num_classes - 1, h, w)
        for s in SCALES:
            size = (int(round(h * s)), int(round(w * s)))
            xs = x if s == 1.0 else F.interpolate(
                x, size, mode='bilinear', align_corners=False)
            for flipped in (False, True):
                inp = xs.flip(-1) if flipped else xs
                pcm = model._forward(inp)['cam_pcm'][:, 1:]
                pcm = F.interpolate(
                    pcm, (h, w), mode='bilinear', align_corners=False)[0]
                total += pcm.flip(-1) if flipped else pcm
        raw = model.multiscale_cam(
            x, scales=SCALES, flip=True, out_size=(h, w), source='pcm')
    model.train()
    # the summed raw scores (flipped copies run batched there)
    torch.testing.assert_close(raw[0], total, rtol=1e-5, atol=1e-5)
    # official normalisation, written out per class
    present = torch.nonzero(data['data_samples'].img_labels > 0)[:, 0]
    expect = []
    for c in present.tolist():
        cam = total[c].clamp(min=0)
        lo, hi = cam.min(), cam.max()
        expect.append((cam - lo - 1e-5).clamp(min=0) / (hi - lo + 1e-5))
    expect = torch.stack(expect).numpy()
    cams, labels = load_cam(cam_output_paths(out, ODD_ID)['cam'])
    assert labels.tolist() == (present + 1).tolist()
    # float16 storage: half a unit in the last place near 1 is ~2.4e-4
    np.testing.assert_allclose(cams, expect, rtol=0, atol=1e-3)


def test_missing_image_labels_is_a_clear_error(model, data_root, tmp_path):
    ds = build_dataset(data_root, pack='PackSegInputs')
    with pytest.raises(KeyError, match='PackSegClsInputs'):
        run(model, ds, tmp_path)
    assert temp_files(tmp_path) == []


def test_cams_to_label_by_hand():
    cams = np.array([[[0.1, 0.5], [0.9, 0.4]], [[0.3, 0.45], [0.95, 0.1]]],
                    dtype=np.float16)
    label = cams_to_label(cams, np.array([3, 5]), 0.4)
    # (0,0): bg 0.4 wins; (0,1): class 3 (0.5); (1,0): class 5 (0.95);
    # (1,1): tie 0.4 == 0.4 -> background comes first
    assert label.dtype == np.uint8
    np.testing.assert_array_equal(label, [[0, 3], [5, 0]])
    # no present class: all background
    empty = cams_to_label(np.zeros((0, 2, 3), np.float16), np.zeros(0), 0.2)
    np.testing.assert_array_equal(empty, np.zeros((2, 3), np.uint8))
    # threshold above every score: all background; 0: argmax over classes
    np.testing.assert_array_equal(
        cams_to_label(cams, np.array([3, 5]), 1.0), np.zeros((2, 2)))
    np.testing.assert_array_equal(
        cams_to_label(cams, np.array([3, 5]), 0.0), [[5, 3], [5, 3]])


def test_batched_same_size_images_match_one_by_one(model, dataset, reference,
                                                   tmp_path, monkeypatch):
    """``batch_size`` groups same-size images; per image the maths is the
    same (equal up to float rounding of the batched convolutions)."""
    calls = []
    real = type(model).multiscale_cam

    def spy(self, inputs, **kw):
        calls.append(tuple(inputs.shape))
        return real(self, inputs, **kw)

    monkeypatch.setattr(type(model), 'multiscale_cam', spy)
    out = tmp_path / 'batched'
    res = run(model, dataset, out, batch_size=3)
    n = len(dataset)
    assert res == dict(written=n, skipped=0, total=n)
    # every image ran exactly once, the odd-sized one alone, some batched
    assert sum(c[0] for c in calls) == n
    assert max(c[0] for c in calls) == min(3, n - 1)
    assert (1, 3) + ODD_SIZE in calls
    ref_dir, _ = reference
    for img_id in ids_of(dataset):
        ref_cams, ref_ids = load_cam(cam_output_paths(ref_dir, img_id)['cam'])
        cams, class_ids = load_cam(cam_output_paths(str(out), img_id)['cam'])
        np.testing.assert_array_equal(class_ids, ref_ids)
        np.testing.assert_allclose(
            cams.astype(np.float32), ref_cams.astype(np.float32), atol=2e-3)


def test_overlapped_crf_equals_two_step_pipeline(model, dataset, reference,
                                                 tmp_path, monkeypatch):
    """CAM inference with the CRF pool writes byte for byte what
    ``refine_split`` writes from the saved CAM files, and a re-run that
    only lacks CRF outputs refines them from the CAM files without running
    the network."""
    from mmseam.apis import CRFConfig, crf_output_dirs, refine_split
    crf = CRFConfig(t=3, alphas=(4, 24))
    ref_dir, _ = reference
    ids = ids_of(dataset)
    img_dir = osp.join(osp.dirname(dataset.get_data_info(0)['img_path']))
    two_step = tmp_path / 'two_step'
    refine_split(
        ids,
        cam_dir=osp.join(ref_dir, 'cams'),
        img_dir=img_dir,
        out_dir=str(two_step),
        alphas=crf.alphas,
        palette=SYNTHETIC_PALETTE,
        crf_cfg=crf,
        progress=False)
    out = tmp_path / 'overlapped'
    res = run(model, dataset, out, crf=crf, crf_workers=2)
    assert res['written'] == len(ids) and res['crf_processed'] == len(ids)
    expected = snapshot(two_step)
    got = snapshot(out / 'crf')
    assert len(expected) == 4 * len(ids)  # npz + png for 2 alphas
    assert got == expected
    assert snapshot(out / 'cams') == snapshot(osp.join(ref_dir, 'cams'))
    assert temp_files(out) == []

    # lose some CRF outputs: only they are redone, from the CAM files
    for alpha in crf.alphas:
        score_dir, png_dir = crf_output_dirs(str(out / 'crf'), alpha)
        os.remove(osp.join(score_dir, f'{ids[0]}.npz'))
        os.remove(osp.join(png_dir, f'{ids[1]}.png'))

    def boom(*args, **kwargs):
        raise AssertionError('the network must not run again')

    monkeypatch.setattr(type(model), 'multiscale_cam', boom)
    res = run(model, dataset, out, crf=crf, crf_workers=0)
    assert res == dict(
        written=0, skipped=len(ids) - 2, total=len(ids), crf_processed=2)
    assert snapshot(out / 'crf') == expected


def test_bad_batch_size_is_a_clear_error(model, dataset, tmp_path):
    with pytest.raises(ValueError, match='batch_size'):
        run(model, dataset, tmp_path, batch_size=0)


def test_size_bucket_order_by_hand():
    from mmseam.apis.cam_inference import size_bucket_order
    assert size_bucket_order([(2, 3), (4, 5), (2, 3), (1, 1)]) == [0, 2, 1, 3]
    assert size_bucket_order([(7, 7)] * 3) == [0, 1, 2]
    assert size_bucket_order([]) == []
    sizes = [(1, 2), (2, 1), (1, 2), (2, 1), (3, 3), (1, 2)]
    order = size_bucket_order(sizes)
    assert sorted(order) == list(range(6))
    assert [sizes[i] for i in order] == [(1, 2)] * 3 + [(2, 1)] * 2 + [(3, 3)]


@pytest.fixture(scope='module')
def mixed_dataset(tmp_path_factory):
    """Eight images of three sizes, interleaved: 64 x 64, 48 x 80 and
    56 x 40 (H x W)."""
    root = str(tmp_path_factory.mktemp('synth_mixed') / 'voc')
    make_synthetic_voc(root, seed=7, num_train=8, num_val=1, image_size=64)
    for idx, size in ((1, (48, 80)), (3, (56, 40)), (4, (48, 80)),
                      (6, (56, 40))):
        path = osp.join(root, 'JPEGImages', f'train_{idx:05d}.jpg')
        with Image.open(path) as img:
            img.resize(size[::-1]).save(path, quality=95)
    return build_dataset(root)


def test_read_image_sizes_from_headers(mixed_dataset, tmp_path):
    from mmseam.apis.cam_inference import read_image_sizes
    paths = [
        mixed_dataset.get_data_info(i)['img_path']
        for i in range(len(mixed_dataset))
    ]
    sizes = read_image_sizes(paths)
    for path, size in zip(paths, sizes):
        assert size == np.array(Image.open(path)).shape[:2]
    assert sorted(set(sizes)) == [(48, 80), (56, 40), (64, 64)]
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        read_image_sizes([str(tmp_path / 'missing.jpg')])


def test_bucket_by_size_same_bytes_grouped_runs(model, mixed_dataset,
                                                tmp_path, monkeypatch):
    """Bucketed inference writes the same files with the same bytes as the
    split order (one image a batch), runs each size in one stretch,
    batches same-size images, and resumes."""
    calls = []
    real = type(model).multiscale_cam

    def spy(self, inputs, **kw):
        calls.append(tuple(inputs.shape))
        return real(self, inputs, **kw)

    monkeypatch.setattr(type(model), 'multiscale_cam', spy)
    n = len(mixed_dataset)
    plain = tmp_path / 'plain'
    run(model, mixed_dataset, plain)
    plain_calls, calls[:] = list(calls), []
    bucketed = tmp_path / 'bucketed'
    res = run(model, mixed_dataset, bucketed, bucket_by_size=True)
    assert res == dict(written=n, skipped=0, total=n)
    assert snapshot(bucketed) == snapshot(plain)
    assert len(snapshot(plain)) == 2 * n
    # split order switches size 7 times, bucketed order twice

    def switches(seq):
        return sum(a != b for a, b in zip(seq, seq[1:]))

    assert switches(plain_calls) == 7 and switches(calls) == 2
    assert sorted(calls) == sorted(plain_calls)
    # the config option turns it on too; resume skips everything
    calls[:] = []
    model.test_cfg['bucket_by_size'] = True
    try:
        res = run(model, mixed_dataset, bucketed)
    finally:
        model.test_cfg.pop('bucket_by_size')
    assert res == dict(written=0, skipped=n, total=n) and calls == []
    # a lost output is redone alone
    os.remove(cam_output_paths(str(bucketed), 'train_00004')['png'])
    res = run(model, mixed_dataset, bucketed, bucket_by_size=True)
    assert res['written'] == 1 and calls == [(1, 3, 48, 80)]
    assert snapshot(bucketed) == snapshot(plain)
    # batches of up to 3: one per size group (4 x 64, 2 x 48x80, 2 x 56x40
    # -> 3 + 1, 2, 2), never mixing sizes
    calls[:] = []
    batched = tmp_path / 'batched'
    run(model, mixed_dataset, batched, bucket_by_size=True, batch_size=3)
    assert [c[0] for c in calls] == [3, 1, 2, 2]
    assert set(snapshot(batched)) == set(snapshot(plain))
    for img_id in ids_of(mixed_dataset):
        ref, ref_ids = load_cam(cam_output_paths(str(plain), img_id)['cam'])
        got, got_ids = load_cam(cam_output_paths(str(batched), img_id)['cam'])
        np.testing.assert_array_equal(got_ids, ref_ids)
        np.testing.assert_allclose(got, ref, atol=2e-3)


def test_default_cam_amp(monkeypatch):
    """bf16 on CUDA only when asked; on a CPU by default where bf16 is
    native, fp32 elsewhere; fp32 when asked always wins."""
    bf16 = torch.bfloat16
    for native in (True, False):
        monkeypatch.setattr(cam_inference, 'cpu_has_native_bf16',
                            lambda n=native: n)
        assert cam_inference.default_cam_amp('cpu') == (bf16
                                                        if native else None)
        assert cam_inference.default_cam_amp('cpu', amp=True) == bf16
        assert cam_inference.default_cam_amp('cpu', fp32=True) is None
        assert cam_inference.default_cam_amp('cuda') is None
        assert cam_inference.default_cam_amp('cuda:1', amp=True) == bf16
        assert cam_inference.default_cam_amp('cuda', True, True) is None
