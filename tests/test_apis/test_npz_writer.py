# Copyright (c) mmseam contributors. All rights reserved.
"""The level-1 npz writer of the CAM / CRF files (``savez_fast``)."""
import io
import zipfile

import numpy as np

from mmseam.apis import load_cam, load_crf_scores, save_cam, save_crf_scores
from mmseam.apis.cam_io import savez_fast


def smooth_maps(k=3, h=40, w=56, seed=0):
    """Smooth float16 maps in [0, 1] (compressible, like CAMs)."""
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:h, 0:w] / np.float32(max(h, w))
    maps = [
        0.5 + 0.5 * np.sin(6 * xx * (i + 1) + 4 * yy + rng.rand())
        for i in range(k)
    ]
    return np.clip(np.stack(maps), 0, 1).astype(np.float16)


def members(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: (i.compress_type, zf.read(i.filename))
                for i in zf.infolist()}


def test_savez_fast_same_npy_members_as_numpy():
    """Same member names and uncompressed .npy bytes as
    np.savez_compressed, deflated, and smaller than the raw data."""
    maps, labels = smooth_maps(), np.array([0, 3, 7], np.int64)
    ours, ref = io.BytesIO(), io.BytesIO()
    savez_fast(ours, scores=maps, labels=labels)
    np.savez_compressed(ref, scores=maps, labels=labels)
    got, want = members(ours.getvalue()), members(ref.getvalue())
    assert list(got) == list(want) == ['scores.npy', 'labels.npy']
    for name in got:
        assert got[name][0] == zipfile.ZIP_DEFLATED
        assert got[name][1] == want[name][1]
    assert len(ours.getvalue()) < maps.nbytes // 2
    ours.seek(0)
    with np.load(ours) as data:
        assert data['scores'].dtype == np.float16
        assert data['scores'].tobytes() == maps.tobytes()
        np.testing.assert_array_equal(data['labels'], labels)
    # level 0 stores the members as they are (deflate without compression)
    raw = io.BytesIO()
    savez_fast(raw, compresslevel=0, scores=maps)
    assert len(raw.getvalue()) > maps.nbytes


def test_save_cam_and_crf_scores_round_trip_exact(tmp_path):
    maps = smooth_maps(2, 17, 23, seed=3)
    save_cam(tmp_path / 'a.npz', maps, [2, 5])
    cams, labels = load_cam(tmp_path / 'a.npz')
    assert cams.tobytes() == maps.astype(np.float32).tobytes()
    np.testing.assert_array_equal(labels, [2, 5])
    scores = smooth_maps(3, 17, 23, seed=4)
    save_crf_scores(tmp_path / 'b.npz', scores, [0, 2, 5])
    got, labels = load_crf_scores(tmp_path / 'b.npz')
    assert got.tobytes() == scores.astype(np.float32).tobytes()
    np.testing.assert_array_equal(labels, [0, 2, 5])
    # what np.savez_compressed would have stored, member for member
    ref = io.BytesIO()
    np.savez_compressed(ref, scores=scores, labels=np.array([0, 2, 5]))
    with open(tmp_path / 'b.npz', 'rb') as f:
        got_members = members(f.read())
    assert {k: v[1] for k, v in got_members.items()} == {
        k: v[1]
        for k, v in members(ref.getvalue()).items()
    }
