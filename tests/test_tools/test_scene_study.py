# Copyright (c) mmseam contributors. All rights reserved.
"""tools/scene_study.py: the numbers it reads from a run, its summary over
seeds (hand-computed) and its resumable loop."""
import json
import os.path as osp

import pytest

from tools import scene_study


def _results(cam, seam, crf, rw, stage2, source, recall=0.5):
    return dict(
        results=dict(
            cam_cam=dict(mIoU=cam),
            seam_cam=dict(mIoU=seam),
            seam_crf=dict(mIoU=crf, IoU=dict(background=90.0, plus=crf)),
            seam_rw=dict(mIoU=rw, IoU=dict(background=88.0, plus=rw)),
            stage2_labels=dict(source=source),
            stage2_val=dict(mIoU=stage2, test='tta'),
            affinity_pairs=dict(
                boundary_recall=recall,
                object_recall=0.9,
                label_boundary_coverage=0.3,
                label_object_coverage=None)),
        seconds=dict(total=100.0))


def test_run_numbers_take_the_chosen_labels():
    crf_run = scene_study.run_numbers(_results(50, 60, 70, 65, 66, 'crf'))
    assert crf_run['labels'] == 70 and crf_run['source'] == 'crf'
    rw_run = scene_study.run_numbers(_results(50, 60, 70, 72, 66, 'rw'))
    assert rw_run['labels'] == 72 and rw_run['seconds'] == 100.0
    assert rw_run['rw_minus_crf'] == dict(background=-2.0, plus=2.0)
    assert rw_run['affinity']['boundary_recall'] == 0.5


def test_summary_mean_sd_range_and_checks():
    runs = {
        'a': {
            0: scene_study.run_numbers(_results(50, 60, 70, 65, 64, 'crf')),
            1: scene_study.run_numbers(
                _results(54, 52, 74, 76, 60, 'rw', recall=0.7)),
        }
    }
    s = scene_study.summarize(runs)['a']
    assert s['n'] == 2
    # cam 50, 54: mean 52, sd sqrt(((-2)^2 + 2^2) / 1) = 2.828...
    assert s['steps']['cam']['mean'] == 52
    assert s['steps']['cam']['sd'] == pytest.approx(8 ** 0.5)
    assert (s['steps']['cam']['min'], s['steps']['cam']['max']) == (50, 54)
    # labels: CRF 70 (seed 0), RW 76 (seed 1)
    assert s['steps']['labels']['mean'] == 73
    # SEAM >= CAM in seed 0 only; CRF >= SEAM in both; RW >= CRF in seed 1;
    # stage 2 >= 0.9 x labels: 64 >= 63 (seed 0), 60 < 68.4 (seed 1)
    assert s['checks'] == {
        'seam>=cam': 1, 'crf>=seam': 2, 'rw>=crf': 1, 'stage2>=0.9xlabels': 1
    }
    assert s['rw_labels'] == 1
    # per class RW - CRF: plus -5 and +2; pair scores: means, None kept
    assert s['rw_minus_crf'] == dict(background=-2.0, plus=-1.5)
    assert s['affinity']['boundary_recall'] == pytest.approx(0.6)
    assert s['affinity']['label_object_coverage'] is None
    table = scene_study.format_table(scene_study.summarize(runs))
    lines = table.splitlines()
    assert lines[2].startswith('| a | 2 | 52.0 ± 2.8 (50.0-54.0) | ')
    assert lines[6] == '| a | 1/2 | 2/2 | 1/2 | 1/2 | 1/2 |'
    assert lines[-1] == ('| a | 0.60 | 0.90 | 0.30 | - | background -2.0, '
                         'plus -1.5 |')


def test_every_run_in_its_own_row():
    runs = {'a': {0: scene_study.run_numbers(
        _results(50, 60, 70.125, 65, 66, 'crf'))}}
    assert scene_study.format_runs(runs).splitlines()[2] == \
        '| a | 0 | 50.00 | 60.00 | 70.12 | 65.00 | 70.12 | 66.00 | CRF |'


def test_one_seed_has_zero_sd():
    runs = {'b': {3: scene_study.run_numbers(_results(1, 2, 3, 4, 5, 'crf'))}}
    assert scene_study.summarize(runs)['b']['steps']['rw']['sd'] == 0.0


def test_finished_runs_are_not_run_again(tmp_path, monkeypatch, capsys):
    """A run whose results reach stage 2 is read, not rerun; the report
    lists it; a run without results would be started (stubbed here)."""
    work = tmp_path / 'default-seed0'
    work.mkdir()
    (work / 'results.json').write_text(
        json.dumps(_results(50, 60, 70, 65, 66, 'crf')))
    started = []
    monkeypatch.setattr(scene_study.subprocess, 'call',
                        lambda cmd, **kw: started.append(cmd) or 1)
    scene_study.main(['--families', 'default', '--seeds', '0', '--out',
                      str(tmp_path)])
    assert started == []
    with open(osp.join(tmp_path, 'scene_study.json')) as f:
        saved = json.load(f)
    assert saved['runs']['default']['0']['labels'] == 70
    assert '| default | 1 | 50.0 ± 0.0' in capsys.readouterr().out
    # seed 1 has no results: it is started, and its failure names the log
    with pytest.raises(RuntimeError, match=r'default-seed1 failed \(exit 1'
                       r'\); see .*default-seed1.log'):
        scene_study.main(['--families', 'default', '--seeds', '0', '1',
                          '--out', str(tmp_path)])
    assert started and started[0][started[0].index('--scene') + 1] == \
        'default'
    assert started[0][started[0].index('--seed') + 1] == '1'
