# Copyright (c) mmseam contributors. All rights reserved.
"""One recipe on every synthetic scene family and seed: does each step add?

    python tools/scene_study.py --jobs 2

runs ``tools/run_pipeline.py --preset synthetic-small --scene F --seed S
--train-options randomness.seed=S`` (other images and another training
order per seed) for every family F of
:data:`mmseam.datasets.synthetic.SCENE_FAMILIES` (or
``--families``) and seed S (``--seeds``, default 0 1 2), each in its own work
dir ``<out>/<F>-seed<S>`` on its own data ``<out>/data/<F>-seed<S>``, and
writes ``<out>/scene_study.md`` (per family: the mean, standard deviation and
range over the seeds of CAM / SEAM / +CRF / +RW / the stage-2 labels / stage
2, in how many seeds each step adds, AffinityNet's pair scores, then every
run) and ``scene_study.json`` (every run's numbers). A finished run is not
run again and an interrupted one resumes, so the study can be stopped and
restarted; ``--report-only`` writes the tables from the finished runs.
docs/synthetic_data.md, "Scene families", shows the measured tables.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmseam.apis import atomic_write  # noqa: E402
from mmseam.datasets.synthetic import SCENE_FAMILIES  # noqa: E402

__all__ = [
    'STEPS', 'run_numbers', 'summarize', 'format_table', 'format_runs', 'main'
]

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

#: (key, title) of the study's columns, in pipeline order.
STEPS = (('cam', 'CAM'), ('seam', 'SEAM'), ('crf', '+CRF'), ('rw', '+RW'),
         ('labels', 'stage-2 labels'), ('stage2', 'stage 2 (val)'))

#: Whether a step adds: (step, the one it must reach, factor).
CHECKS = (('seam', 'cam', 1.0), ('crf', 'seam', 1.0), ('rw', 'crf', 1.0),
          ('stage2', 'labels', 0.9))


#: (key, title) of AffinityNet's pair scores (``affinity_pairs`` of a run,
#: :mod:`mmseam.apis.affinity_check`).
AFFINITY_KEYS = ('boundary_recall', 'object_recall',
                 'label_boundary_coverage', 'label_object_coverage')
AFFINITY_TITLES = ('boundary pairs cut', 'object pairs kept',
                   'CRF labels: boundary pairs negative',
                   'CRF labels: object pairs positive')


def run_numbers(results: dict) -> dict:
    """The study's numbers of one pipeline run.

    Args:
        results (dict): ``results.json`` of a finished run.

    Returns:
        dict: mIoU of ``cam``, ``seam``, ``crf``, ``rw``, ``labels`` (the
        labels stage 2 learned from: the RW or the CRF labels, as the
        pipeline's rule chose), ``stage2``; ``source`` ('rw' or 'crf'),
        ``seconds`` (the run's total), ``rw_minus_crf`` (per-class IoU of
        the RW labels minus the CRF labels) and ``affinity``
        (:data:`AFFINITY_KEYS`; None where the run has no pair scores).
    """
    res = results['results']
    out = dict(
        cam=res['cam_cam']['mIoU'],
        seam=res['seam_cam']['mIoU'],
        crf=res['seam_crf']['mIoU'],
        rw=res['seam_rw']['mIoU'],
        stage2=res['stage2_val']['mIoU'],
        source=res['stage2_labels']['source'],
        seconds=results.get('seconds', {}).get('total'))
    out['labels'] = out['rw'] if out['source'] == 'rw' else out['crf']
    # the random walk per class, and AffinityNet's pairs against the masks
    out['rw_minus_crf'] = {
        name: res['seam_rw']['IoU'][name] - iou
        for name, iou in (res['seam_crf'].get('IoU') or {}).items()
    } if res['seam_rw'].get('IoU') else {}
    out['affinity'] = {
        k: res.get('affinity_pairs', {}).get(k)
        for k in AFFINITY_KEYS
    }
    return out


def summarize(runs: dict) -> dict:
    """Per family: mean, standard deviation (n-1; 0 for one seed), min and
    max of every step over the seeds, and for each check of
    :data:`CHECKS` the number of seeds where it holds.

    Args:
        runs (dict): ``{family: {seed: run_numbers(...)}}``.

    Returns:
        dict: ``{family: dict(n=..., steps={key: dict(mean, sd, min,
        max)}, checks={'seam>=cam': k, ...}, rw_labels=k, affinity={key:
        mean}, rw_minus_crf={class: mean})}``.
    """
    out = {}
    for family, seeds in runs.items():
        rows = list(seeds.values())
        if not rows:
            continue
        steps = {}
        for key, _ in STEPS:
            vals = [r[key] for r in rows]
            steps[key] = dict(
                mean=statistics.fmean(vals),
                sd=statistics.stdev(vals) if len(vals) > 1 else 0.0,
                min=min(vals),
                max=max(vals))
        checks = {
            f'{a}>={f:g}x{b}' if f != 1 else f'{a}>={b}':
            sum(r[a] >= f * r[b] for r in rows)
            for a, b, f in CHECKS
        }
        affinity = {}
        for key in AFFINITY_KEYS:
            vals = [r['affinity'][key] for r in rows
                    if r['affinity'].get(key) is not None]
            affinity[key] = statistics.fmean(vals) if vals else None
        classes = rows[0]['rw_minus_crf']
        out[family] = dict(
            n=len(rows),
            steps=steps,
            checks=checks,
            rw_labels=sum(r['source'] == 'rw' for r in rows),
            affinity=affinity,
            rw_minus_crf={
                c: statistics.fmean(r['rw_minus_crf'][c] for r in rows)
                for c in classes
            })
    return out


def format_table(summary: dict) -> str:
    """Markdown tables of :func:`summarize`: mean +- sd (min-max) of every
    step per family; in how many seeds each step adds; AffinityNet's pair
    scores and the random walk's effect per class (means over the
    seeds)."""
    head = '| family | seeds | ' + ' | '.join(t for _, t in STEPS) + ' |'
    lines = [head, '|' + '---|' * (len(STEPS) + 2)]
    for family, s in summary.items():
        cells = [
            f'{v["mean"]:.1f} ± {v["sd"]:.1f} ({v["min"]:.1f}-{v["max"]:.1f})'
            for v in (s['steps'][k] for k, _ in STEPS)
        ]
        lines.append(f'| {family} | {s["n"]} | ' + ' | '.join(cells) + ' |')
    names = list(next(iter(summary.values()))['checks']) if summary else []
    lines += [
        '', '| family | ' + ' | '.join(names) + ' | RW labels chosen |',
        '|' + '---|' * (len(names) + 2)
    ]
    for family, s in summary.items():
        cells = [f'{s["checks"][n]}/{s["n"]}' for n in names]
        lines.append(f'| {family} | ' + ' | '.join(cells) +
                     f' | {s["rw_labels"]}/{s["n"]} |')
    lines += [
        '', '| family | ' + ' | '.join(AFFINITY_TITLES) +
        ' | RW - CRF IoU per class |', '|' + '---|' * (len(AFFINITY_KEYS) + 2)
    ]
    for family, s in summary.items():
        cells = [
            '-' if s['affinity'][k] is None else f'{s["affinity"][k]:.2f}'
            for k in AFFINITY_KEYS
        ]
        per_class = ', '.join(f'{c} {v:+.1f}'
                              for c, v in s['rw_minus_crf'].items())
        lines.append(f'| {family} | ' + ' | '.join(cells) +
                     f' | {per_class} |')
    return '\n'.join(lines) + '\n'


def format_runs(runs: dict) -> str:
    """A markdown table of every run: family, seed, the steps' mIoU and the
    source of the stage-2 labels."""
    lines = [
        '| family | seed | ' + ' | '.join(t for _, t in STEPS) +
        ' | labels from |', '|' + '---|' * (len(STEPS) + 3)
    ]
    for family, seeds in runs.items():
        for seed, r in seeds.items():
            cells = [f'{r[k]:.2f}' for k, _ in STEPS]
            lines.append(f'| {family} | {seed} | ' + ' | '.join(cells) +
                         f' | {r["source"].upper()} |')
    return '\n'.join(lines) + '\n'


def _finished(work: str) -> dict:
    """``results.json`` of a run that reached stage 2 (with AffinityNet's
    pair scores and the stage-2 test protocol), else None."""
    path = osp.join(work, 'results.json')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        results = json.load(f)
    res = results.get('results', {})
    done = 'test' in res.get('stage2_val', {}) and \
        'object_recall' in res.get('affinity_pairs', {})
    return results if done else None


def _run_one(args, family: str, seed: int, threads: int) -> dict:
    """Run (or resume) one family and seed; returns its results."""
    name = f'{family}-seed{seed}'
    work = osp.join(args.out, name)
    results = _finished(work)
    if results is not None:
        return results
    os.makedirs(osp.join(args.out, 'logs'), exist_ok=True)
    log_path = osp.join(args.out, 'logs', f'{name}.log')
    cmd = [
        sys.executable,
        osp.join(REPO, 'tools', 'run_pipeline.py'), '--preset', args.preset,
        '--scene', family, '--seed',
        str(seed), '--work-dir', work, '--data-root',
        osp.join(args.out, 'data', name), '--train-options',
        f'randomness.seed={seed}'
    ]
    env = dict(
        os.environ, OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads))
    start = time.time()
    print(f'{name}: running (log {log_path})', flush=True)
    with open(log_path, 'a') as log:
        rc = subprocess.call(cmd, cwd=REPO, env=env, stdout=log,
                             stderr=subprocess.STDOUT)
    if rc != 0:
        raise RuntimeError(f'{name} failed (exit {rc}); see {log_path}, '
                           'then run the study again: it resumes')
    print(f'{name}: done in {time.time() - start:.0f} s', flush=True)
    return _finished(work)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument(
        '--families',
        nargs='+',
        choices=sorted(SCENE_FAMILIES),
        default=list(SCENE_FAMILIES))
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--preset', default='synthetic-small')
    p.add_argument('--out', default='work_dirs/scene_study')
    p.add_argument(
        '--jobs',
        type=int,
        default=1,
        help='runs at once; each gets cpu_count / jobs threads')
    p.add_argument(
        '--report-only',
        action='store_true',
        help='write the tables from the finished runs, run nothing')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    args.out = osp.abspath(args.out)
    pairs = [(f, s) for f in args.families for s in args.seeds]
    if not args.report_only:
        threads = max(1, (os.cpu_count() or 1) // max(args.jobs, 1))
        with ThreadPoolExecutor(max(args.jobs, 1)) as pool:
            list(pool.map(lambda fs: _run_one(args, *fs, threads), pairs))
    runs = {}
    for family, seed in pairs:
        results = _finished(osp.join(args.out, f'{family}-seed{seed}'))
        if results is not None:
            runs.setdefault(family, {})[seed] = run_numbers(results)
    if not runs:
        raise SystemExit(f'no finished run under {args.out}; run the study '
                         'without --report-only first')
    summary = summarize(runs)
    table = format_table(summary) + '\n' + format_runs(runs)
    os.makedirs(args.out, exist_ok=True)
    atomic_write(
        osp.join(args.out, 'scene_study.json'), lambda f: f.write(
            json.dumps(dict(runs=runs, summary=summary), indent=1).encode()))
    atomic_write(
        osp.join(args.out, 'scene_study.md'),
        lambda f: f.write(table.encode()))
    print(table)


if __name__ == '__main__':
    main()
