# Copyright (c) mmseam contributors. All rights reserved.
"""Kill real training processes (SIGKILL) and resume them with --resume.

SEAM, AffinityNet and a stage-2 DeepLab (iteration based) are trained by
``python tools/train.py`` in subprocesses, killed once their first
checkpoint is on disk, then resumed with ``--resume``. Each resumed run must
start at the saved epoch / iteration and end with weights bit-identical to
an uninterrupted run (deterministic configs: no random augmentation, no
dropout, ``randomness=dict(seed=0, deterministic=True)``).
"""
import os.path as osp
import sys

import mmseam  # noqa: F401
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmseg.registry import HOOKS

from mmseam.datasets.synthetic import make_synthetic_voc

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from reliability_utils import (REPO, affinity_train_cfg,  # noqa: E402
                               kill_all_when, seam_train_cfg,
                               stage2_train_cfg, state_dicts_equal,
                               write_crf_targets)

init_default_scope('mmseg')


@HOOKS.register_module(force=True)
class ResumeProbeHook(Hook):
    """Records where a (resumed) run starts."""
    starts = []

    def before_train(self, runner):
        ResumeProbeHook.starts.append((runner.epoch, runner.iter))


@pytest.fixture(autouse=True)
def single_thread():
    """One intra-op thread (the subprocesses get OMP_NUM_THREADS=1): the
    same float summation order everywhere, and no OpenMP oversubscription
    on a busy 2-core machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
    torch.use_deterministic_algorithms(False)


def _last_checkpoint_is(work_dir, name):

    def ready():
        path = osp.join(work_dir, 'last_checkpoint')
        try:
            with open(path) as f:
                return osp.basename(f.read().strip()) == name
        except FileNotFoundError:
            return False

    return ready


def test_kill_and_resume_seam_affinitynet_stage2(tmp_path):
    data = str(tmp_path / 'voc')
    make_synthetic_voc(data, seed=1, num_train=8, num_val=2, image_size=64)
    crf = str(tmp_path / 'crf')
    write_crf_targets(data, crf)
    stages = dict(
        seam=(seam_train_cfg, (data, ), 'epoch_1.pth', 'epoch_3.pth',
              (1, 2)),
        affinity=(affinity_train_cfg, (data, crf), 'epoch_1.pth',
                  'epoch_3.pth', (1, 2)),
        stage2=(stage2_train_cfg, (data, ), 'iter_2.pth', 'iter_6.pth',
                (0, 2)))
    jobs, cfg_files = {}, {}
    for name, (make, args, kill_at, _, _) in stages.items():
        work = str(tmp_path / f'{name}_killed')
        cfg_path = str(tmp_path / f'{name}.py')
        make(*args, work).dump(cfg_path)
        cfg_files[name] = cfg_path
        jobs[name] = ([
            sys.executable,
            osp.join(REPO, 'tools/train.py'), cfg_path, '--work-dir', work
        ], _last_checkpoint_is(work, kill_at))

    # --- three real training processes, each SIGKILLed mid-run ----------
    killed = kill_all_when(jobs)
    from tools import train as train_tool
    for name, (make, args, kill_at, final, start) in stages.items():
        res = killed[name]
        assert not res['finished_first'], res['output'][-3000:]
        assert res['returncode'] == -9, res['output'][-3000:]
        work = str(tmp_path / f'{name}_killed')
        assert osp.isfile(osp.join(work, kill_at))
        assert not osp.isfile(osp.join(work, final)), 'killed too late'
        saved = torch.load(osp.join(work, kill_at), weights_only=False)

        # --- resume: --resume without a value = last checkpoint ---------
        ResumeProbeHook.starts.clear()
        resume_cfg = make(*args, work)
        resume_cfg.custom_hooks = [dict(type='ResumeProbeHook')]
        resume_path = str(tmp_path / f'{name}_resume.py')
        resume_cfg.dump(resume_path)
        runner = train_tool.main(
            [resume_path, '--work-dir', work, '--resume'])
        assert ResumeProbeHook.starts == [start], name
        assert osp.isfile(osp.join(work, final))

        # --- an uninterrupted run of the same config --------------------
        clean = str(tmp_path / f'{name}_clean')
        Runner.from_cfg(make(*args, clean)).train()
        a = torch.load(osp.join(work, final), weights_only=False)
        b = torch.load(osp.join(clean, final), weights_only=False)
        assert a['meta']['iter'] == b['meta']['iter'] == runner.iter
        assert state_dicts_equal(a['state_dict'], b['state_dict']) == [], \
            name
        # the weights did move after the resume point
        assert state_dicts_equal(a['state_dict'], saved['state_dict']), name
