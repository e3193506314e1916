# Copyright (c) mmseam contributors. All rights reserved.
"""Kill real CAM-inference, CRF and random-walk jobs (SIGKILL) mid-split,
run them again, and compare with uninterrupted runs byte for byte."""
import importlib.util
import os
import os.path as osp
import sys

import mmseam  # noqa: F401
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from PIL import Image

from mmseam.apis import load_cam, load_crf_scores
from mmseam.datasets.synthetic import make_synthetic_voc

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from reliability_utils import (REPO, affinity_train_cfg,  # noqa: E402
                               folder_bytes, kill_all_when, seam_train_cfg,
                               tmp_files)

init_default_scope('mmseg')
NUM_IMAGES = 96
KILL_AFTER = 3  # outputs on disk when the job is killed


def load_tool(name):
    spec = importlib.util.spec_from_file_location(
        f'{name}_tool', osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def single_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # as the subprocesses (OMP_NUM_THREADS=1)
    yield
    torch.set_num_threads(old)


def count(folder, suffix):
    if not osp.isdir(folder):
        return 0
    return sum(1 for n in os.listdir(folder) if n.endswith(suffix))


def plant_stale_tmp(folder, target):
    """What a job killed inside ``atomic_write`` leaves behind."""
    os.makedirs(folder, exist_ok=True)
    path = osp.join(folder, f'.{target}.k1ll3d_.tmp')
    with open(path, 'wb') as f:
        f.write(b'\x89PNG half a file')
    return path


def test_kill_cam_crf_random_walk_then_rerun(tmp_path):
    root = str(tmp_path / 'voc')
    make_synthetic_voc(
        root, seed=2, num_train=NUM_IMAGES, num_val=1, image_size=64)
    split = osp.join(root, 'ImageSets/Segmentation/train.txt')
    ids = [ln.strip() for ln in open(split) if ln.strip()]
    assert len(ids) == NUM_IMAGES

    # tiny SEAM / AffinityNet checkpoints (random weights are enough here)
    seam_cfg_path = str(tmp_path / 'seam.py')
    seam_cfg = seam_train_cfg(root, str(tmp_path / 'unused'))
    seam_cfg.dump(seam_cfg_path)
    torch.manual_seed(0)
    seam_ckpt = str(tmp_path / 'seam.pth')
    torch.save(
        dict(state_dict=MODELS.build(seam_cfg.model).state_dict(), meta={}),
        seam_ckpt)
    aff_cfg_path = str(tmp_path / 'aff.py')
    aff_cfg = affinity_train_cfg(root, str(tmp_path / 'crf'),
                                 str(tmp_path / 'unused'))
    aff_cfg.dump(aff_cfg_path)
    aff_ckpt = str(tmp_path / 'aff.pth')
    torch.save(
        dict(state_dict=MODELS.build(aff_cfg.model).state_dict(), meta={}),
        aff_ckpt)

    def cam_argv(out):
        return [
            seam_cfg_path, seam_ckpt, '--out-dir', out, '--split', 'train',
            '--num-workers', '0', '--device', 'cpu'
        ]

    def crf_argv(cams, out, workers):
        return [
            '--cam-dir', cams, '--img-dir',
            osp.join(root, 'JPEGImages'), '--split-file', split, '--out-dir',
            out, '--alphas', '4', '24', '--workers',
            str(workers), '--no-progress'
        ]

    def rw_argv(cams, out):
        return [
            aff_cfg_path, aff_ckpt, '--cam-dir', cams, '--out-dir', out,
            '--device', 'cpu'
        ]

    # --- uninterrupted reference runs (in this process) -------------------
    cam_tool = load_tool('infer_cams')
    crf_tool = load_tool('crf_refine')
    rw_tool = load_tool('infer_random_walk')
    ref = {k: str(tmp_path / f'ref_{k}') for k in ('cam', 'crf', 'rw')}
    ref_cams = osp.join(ref['cam'], 'cams')
    assert cam_tool.main(cam_argv(ref['cam']))['written'] == NUM_IMAGES
    assert crf_tool.main(crf_argv(ref_cams, ref['crf'], 1))['processed'] \
        == NUM_IMAGES
    assert rw_tool.main(rw_argv(ref_cams, ref['rw']))['written'] == \
        NUM_IMAGES

    # --- the same three jobs as real processes, SIGKILLed mid-split ------
    out = {k: str(tmp_path / f'killed_{k}') for k in ('cam', 'crf', 'rw')}
    py = sys.executable
    jobs = dict(
        cam=([py, osp.join(REPO, 'tools/infer_cams.py')] +
             cam_argv(out['cam']), lambda: count(
                 osp.join(out['cam'], 'pseudo_labels'), '.png') >= KILL_AFTER),
        # 2 CRF worker processes: the whole process group is killed
        crf=([py, osp.join(REPO, 'tools/crf_refine.py')] +
             crf_argv(ref_cams, out['crf'], 2), lambda: count(
                 osp.join(out['crf'], 'crf_24_png'), '.png') >= KILL_AFTER),
        rw=([py, osp.join(REPO, 'tools/infer_random_walk.py')] +
            rw_argv(ref_cams, out['rw']),
            lambda: count(out['rw'], '.png') >= KILL_AFTER))
    killed = kill_all_when(jobs)
    for name, res in killed.items():
        assert not res['finished_first'], (name, res['output'][-2000:])
        assert res['returncode'] == -9, (name, res['output'][-2000:])

    # what the killed jobs finished (both files of an image / every alpha)
    done_cam = sum(
        osp.isfile(osp.join(out['cam'], 'cams', f'{i}.npz'))
        and osp.isfile(osp.join(out['cam'], 'pseudo_labels', f'{i}.png'))
        for i in ids)
    done_crf = sum(
        all(
            osp.isfile(osp.join(out['crf'], d, f'{i}{ext}'))
            for d, ext in (('crf_4', '.npz'), ('crf_4_png', '.png'),
                           ('crf_24', '.npz'), ('crf_24_png', '.png')))
        for i in ids)
    done_rw = count(out['rw'], '.png')
    for done in (done_cam, done_crf, done_rw):
        assert KILL_AFTER - 1 <= done < NUM_IMAGES  # killed mid-way
    # a kill inside a write leaves a temporary file: plant one per folder
    planted = [
        plant_stale_tmp(osp.join(out['cam'], 'pseudo_labels'),
                        f'{ids[-1]}.png'),
        plant_stale_tmp(osp.join(out['crf'], 'crf_4'), f'{ids[-1]}.npz'),
        plant_stale_tmp(out['rw'], f'{ids[-1]}.png'),
    ]

    # --- run again: only the rest is computed ----------------------------
    res = cam_tool.main(cam_argv(out['cam']))
    assert (res['written'], res['skipped']) == (NUM_IMAGES - done_cam,
                                                done_cam)
    res = crf_tool.main(crf_argv(ref_cams, out['crf'], 1))
    assert (res['processed'], res['skipped']) == (NUM_IMAGES - done_crf,
                                                  done_crf)
    res = rw_tool.main(rw_argv(ref_cams, out['rw']))
    assert (res['written'], res['skipped']) == (NUM_IMAGES - done_rw,
                                                done_rw)

    # --- nothing half-written: identical bytes, no temporary file --------
    for name in ('cam', 'crf', 'rw'):
        assert tmp_files(out[name]) == [], name
        got, want = folder_bytes(out[name]), folder_bytes(ref[name])
        assert sorted(got) == sorted(want), name
        assert [k for k in want if got[k] != want[k]] == [], name
    for path in planted:
        assert not osp.exists(path)
    # and every file is complete and readable
    for i in ids:
        cams, labels = load_cam(osp.join(out['cam'], 'cams', f'{i}.npz'))
        assert cams.shape[1:] == (64, 64) and len(labels) >= 1
        scores, _ = load_crf_scores(osp.join(out['crf'], 'crf_24', f'{i}.npz'))
        assert np.allclose(scores.sum(0), 1, atol=5e-3)
        for png in (osp.join(out['cam'], 'pseudo_labels', f'{i}.png'),
                    osp.join(out['rw'], f'{i}.png')):
            with Image.open(png) as im:
                im.load()
                assert im.size == (64, 64)
