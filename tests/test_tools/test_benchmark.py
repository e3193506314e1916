# Copyright (c) mmseam contributors. All rights reserved.
"""Output format of tools/benchmark.py (not its speed)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmseam  # noqa: F401
from tools.benchmarking import cli, configs, env, inputs

init_default_scope('mmseg')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'benchmark.py')
R18 = osp.join(REPO, 'configs', 'seam',
               'seam_r18-d8_1xb8-6e_synthvoc-224x224.py')
STRICT = osp.join(REPO, 'configs', 'seam',
                  'seam_resnet38d_1xb8-8e_voc12aug-448x448.py')
BF16 = osp.join(REPO, 'configs', 'seam',
                'seam_resnet38d_1xb8-bf16-8e_voc12aug-448x448.py')
TINY = ['--iters', '2', '--warmup', '1', '--device', 'cpu']

RESULT_KEYS = {
    'what': str,
    'mode': str,
    'img_per_s': float,
    'sec_per_step_median': float,
    'sec_per_step_mean': float,
    'sec_per_step_min': float,
    'iters': int,
    'warmup': int,
    'peak_mem_mib': float,
    'mem_metric': str,
    'device': str,
    'device_name': str,
    'num_threads': int,
    'torch': str,
    'commit': str,
    'config': str,
    'batch': int,
}


def run(capsys, *argv):
    """Run the tool in-process; returns (records, parsed stdout lines)."""
    records = cli.main([R18, *argv])
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines()
             if line.startswith('{')]
    assert lines == records  # every record is printed, one JSON per line
    assert len(lines) == len(out.strip().splitlines())  # nothing else
    return records


def test_command_line_prints_json_lines():
    """``python tools/benchmark.py CONFIG ...`` prints one JSON record a
    line, and nothing else, on stdout."""
    out = subprocess.run(
        [sys.executable, TOOL, R18, '--what', 'rw', '--img-size', '16',
         '24', *TINY],
        capture_output=True, text=True, timeout=120, check=True).stdout
    lines = out.strip().splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    assert rec['what'] == 'rw' and rec['mode'] == 'config'
    assert rec['img_size'] == [16, 24] and rec['iters'] == 2


def check_result(rec, what, mode, batch):
    for key, kind in RESULT_KEYS.items():
        assert isinstance(rec[key], kind), (key, rec[key])
    assert rec['what'] == what and rec['mode'] == mode
    assert rec['batch'] == batch
    assert rec['iters'] == 2 and rec['warmup'] == 1
    assert rec['img_per_s'] > 0 and rec['peak_mem_mib'] > 0
    assert 0 < rec['sec_per_step_min'] <= rec['sec_per_step_median']
    assert rec['img_per_s'] == pytest.approx(batch /
                                             rec['sec_per_step_median'])
    assert rec['device'] == 'cpu'
    assert rec['mem_metric'].startswith('rss_peak')
    assert rec['torch'] == torch.__version__
    assert rec['config'] == 'configs/seam/seam_r18-d8_1xb8-6e_synthvoc-' \
        '224x224.py'
    assert 'amp' in rec and 'channels_last' in rec
    assert rec['git_dirty'] in (True, False, None)
    assert rec['commit'] == 'unknown' or len(rec['commit']) >= 7


def test_train(capsys):
    (rec, ) = run(capsys, '--what', 'train', '--batch', '2', '--crop', '32',
                  *TINY)
    check_result(rec, 'train', 'config', 2)
    assert rec['crop'] == 32 and rec['img_size'] is None
    assert rec['amp'] is None and rec['channels_last'] is False
    assert isinstance(rec['optim_wrapper'], str)


def test_plain_wrapper(capsys):
    (rec, ) = run(capsys, '--what', 'train', '--batch', '1', '--crop', '32',
                  '--plain-wrapper', *TINY)
    assert rec['optim_wrapper'] == 'OptimWrapper'
    cfg = configs.load_config(BF16)
    plain = configs.plain_wrapper(cfg.optim_wrapper)
    assert plain['type'] == 'AmpOptimWrapper' and 'action' not in plain
    assert plain['dtype'] == 'bfloat16'
    assert plain['paramwise_cfg'] == cfg.optim_wrapper.paramwise_cfg


@pytest.mark.parametrize('what,extra', [
    ('infer', ['--scales', '0.5', '1.0']),
    ('crf', ['--classes', '3']),
    ('rw', ['--classes', '3']),
])
def test_other_modes(capsys, what, extra):
    (rec, ) = run(capsys, '--what', what, '--img-size', '24', '32', *extra,
                  *TINY)
    check_result(rec, what, 'config', 1)
    assert rec['crop'] is None and rec['img_size'] == [24, 32]


def test_infer_size_cycle(capsys):
    """--size-cycle K: one of K sizes a step (same width, heights 16 px
    apart), listed in the record."""
    assert inputs.cycle_sizes((375, 500), 3) == [(375, 500), (359, 500),
                                                 (343, 500)]
    (rec, ) = run(capsys, '--what', 'infer', '--img-size', '48', '32',
                  '--scales', '1.0', '--size-cycle', '2', *TINY)
    check_result(rec, 'infer', 'config', 1)
    assert rec['img_size'] == [48, 32]
    assert rec['img_sizes'] == [[48, 32], [32, 32]]


def check_ratio(rec, what, a, b):
    assert rec['what'] == what and rec['ratio'] == f'{a["mode"]}/{b["mode"]}'
    assert rec['img_per_s_ratio'] == pytest.approx(a['img_per_s'] /
                                                   b['img_per_s'])
    assert rec['sec_per_step_ratio'] == pytest.approx(
        a['sec_per_step_median'] / b['sec_per_step_median'])
    assert rec['img_per_s_ratio'] > 0
    assert rec['commit'] == a['commit'] and rec['device'] == 'cpu'


def test_compare_strict_train(capsys):
    recs = run(capsys, '--what', 'train', '--batch', '2', '--crop', '32',
               '--compare-strict', '--amp', *TINY)
    modes = [r.get('mode') for r in recs[:3]]
    assert modes == ['strict', 'fast', 'official']
    strict, fast, official = recs[:3]
    for r in recs[:3]:
        check_result(r, 'train', r['mode'], 2)
    assert strict['amp'] is None and fast['amp'] == 'bfloat16'
    assert official['amp'] is None
    check_ratio(recs[3], 'train', fast, strict)
    check_ratio(recs[4], 'train', strict, official)
    check_ratio(recs[5], 'train', fast, official)
    assert len(recs) == 6


def test_compare_strict_infer_interleaved(capsys):
    recs = run(capsys, '--what', 'infer', '--img-size', '24', '32',
               '--scales', '1.0', '--compare-strict', '--rounds', '2', *TINY)
    assert [r.get('mode') for r in recs[:3]] == [
        'strict', 'fast', 'official'
    ]
    for r in recs[:3]:
        assert r['iters'] == 4 and r['rounds'] == 2  # 2 rounds x 2 iters
        assert r['img_per_s'] > 0
    assert [r['ratio'] for r in recs[3:]] == [
        'fast/strict', 'strict/official', 'fast/official'
    ]


@pytest.mark.parametrize('what', ['crf', 'rw'])
def test_compare_strict_crf_rw(capsys, what):
    recs = run(capsys, '--what', what, '--img-size', '24', '32', '--batch',
               '2', '--workers', '2', '--compare-strict', *TINY)
    strict, fast, ratio = recs
    check_result(strict, what, 'strict', 2)
    check_result(fast, what, 'fast', 2)
    check_ratio(ratio, what, fast, strict)
    if what == 'crf':
        assert strict['workers'] == 1 and fast['workers'] == 2
    else:
        assert strict['rw_method'] == 'dense'
        assert fast['rw_method'] == 'auto'


def test_to_strict_of_the_bf16_config_is_the_strict_config():
    fast = configs.load_config(BF16)
    strict = configs.load_config(STRICT)
    derived = configs.to_strict(fast)
    assert fast.model.channels_last is True
    assert fast.model.test_cfg.amp_dtype == 'bfloat16'
    assert configs.config_amp(fast) == 'bfloat16'
    assert fast.optim_wrapper.loss_scale == dict(enabled=False)
    assert fast.train_dataloader.pin_memory is True
    assert configs.config_amp(strict) is None
    assert derived.optim_wrapper.to_dict() == strict.optim_wrapper.to_dict()
    assert derived.model.channels_last is False
    assert derived.model.test_cfg.amp_dtype is None
    assert strict.model.get('channels_last', False) is False
    assert strict.model.test_cfg.get('amp_dtype') is None
    assert derived.model.test_cfg.to_dict() == dict(
        strict.model.test_cfg, amp_dtype=None, compile_cfg=None)
    assert fast.model.compile_cfg == dict(dynamic=False)
    assert fast.optim_wrapper.optimizer.fused is True
    assert derived.optim_wrapper.optimizer.fused is True
    assert derived.model.compile_cfg is None
    assert strict.model.get('compile_cfg') is None


def test_bf16_wrapper_steps_without_a_grad_scaler(monkeypatch):
    """The bf16 config's wrapper (built here on the CPU by pretending a GPU
    is there) autocasts to bf16 and never scales the loss."""
    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp_module
    from mmengine.optim import build_optim_wrapper
    monkeypatch.setattr(amp_module, 'is_cuda_available', lambda: True)
    cfg = Config.fromfile(BF16)
    torch.manual_seed(0)
    model = torch.nn.Conv2d(3, 4, 3)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert wrapper.loss_scaler.is_enabled() is False
    before = model.weight.detach().clone()
    x = torch.randn(2, 3, 8, 8)
    with wrapper.optim_context(model):
        out = model(x)
        assert out.dtype == torch.bfloat16
        loss = out.float().square().mean()
    wrapper.update_params(loss)
    assert not torch.equal(model.weight, before)
    assert model.weight.dtype == torch.float32
    assert wrapper.state_dict()['loss_scaler'] == {}


def test_bad_input():
    with pytest.raises(FileNotFoundError, match='no_such.py'):
        cli.main(['no_such.py'])
    aff = osp.join(REPO, 'configs', 'affinity',
                   'affinitynet_r18-d8_1xb8-4e_synthvoc-224x224.py')
    with pytest.raises(ValueError, match='model.type="SEAM"'):
        cli.main([aff, *TINY])
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match='--device cpu'):
            cli.main([R18, '--device', 'cuda'])
    with pytest.raises(SystemExit):
        cli.parse_args([R18, '--iters', '0'])


def test_git_commit_unknown_without_git(monkeypatch):
    assert env.git_commit() != ''

    def broken(*args, **kwargs):
        raise FileNotFoundError('git')

    monkeypatch.setattr(subprocess, 'run', broken)
    assert env.git_commit() == 'unknown'
    assert env.git_dirty() is None


def test_pseudo_end_to_end_modes(capsys, tmp_path, monkeypatch):
    """``--what pseudo``: a whole split through infer_cams + CRF, two-step
    and overlapped; images/s counts the split, the temp folder is removed."""
    import tempfile
    made = []
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp(*args, **kwargs):
        if kwargs.get('prefix') != 'mmseam_bench_pseudo_':
            return real_mkdtemp(*args, **kwargs)
        made.append(real_mkdtemp(dir=str(tmp_path)))
        return made[-1]

    monkeypatch.setattr(tempfile, 'mkdtemp', mkdtemp)
    recs = run(capsys, '--what', 'pseudo', '--img-size', '24', '32',
               '--scales', '1.0', '--num-images', '3', '--batch', '2',
               '--workers', '2', '--compare-strict', *TINY)
    two_step, fast, ratio = recs
    for rec, overlap in ((two_step, False), (fast, True)):
        assert rec['what'] == 'pseudo' and rec['overlap'] is overlap
        assert rec['num_images'] == 3 and rec['batch'] == 2
        assert rec['crf_workers'] == 2 and rec['img_size'] == [24, 32]
        assert rec['img_per_s'] == pytest.approx(3 /
                                                 rec['sec_per_step_median'])
    assert [two_step['mode'], fast['mode']] == ['two_step', 'fast']
    check_ratio(ratio, 'pseudo', fast, two_step)
    assert len(made) == 1 and not os.path.exists(made[0])


def test_compiled_fast_mode_adds_fast_eager(capsys):
    """A config that compiles the network gets a fast_eager mode (same
    config, eager) and the fast/fast_eager ratio; strict stays eager."""
    recs = run(capsys, '--what', 'train', '--batch', '2', '--crop', '32',
               '--compare-strict', *TINY, '--cfg-options',
               'model.compile_cfg.backend=aot_eager')
    assert [r.get('mode') for r in recs[:4]] == [
        'strict', 'fast', 'fast_eager', 'official'
    ]
    strict, fast, fast_eager, official = recs[:4]
    for r in recs[:4]:
        check_result(r, 'train', r['mode'], 2)
    assert [r['ratio'] for r in recs[4:]] == [
        'fast/strict', 'strict/official', 'fast/official', 'fast/fast_eager'
    ]
    check_ratio(recs[7], 'train', fast, fast_eager)
    cfg = configs.load_config(R18, dict(model=dict(compile_cfg=dict(a=1))))
    assert configs.compiles(cfg, 'train')
    assert not configs.compiles(cfg, 'infer')
    assert not configs.compiles(configs.to_eager(cfg), 'train')
    assert configs.to_strict(cfg).model.compile_cfg is None
    for value, want in ((dict(), True), (True, True), (None, False),
                        (False, False)):
        c = configs.load_config(R18, dict(model=dict(compile_cfg=value)))
        assert configs.compiles(c, 'train') is want
    fast_cfg = configs.load_config(BF16)
    assert configs.compiles(fast_cfg, 'train')
    assert configs.compiles(fast_cfg, 'infer')
    assert not configs.compiles(configs.to_strict(fast_cfg), 'infer')


def test_profile_record(capsys):
    recs = run(capsys, '--what', 'infer', '--img-size', '24', '32',
               '--scales', '1.0', '--profile', '1', *TINY)
    rec, prof = recs
    check_result(rec, 'infer', 'config', 1)
    assert prof['what'] == 'infer' and prof['mode'] == 'config'
    assert prof['profile_metric'] == 'self_cpu_time_total'
    assert prof['profile_steps'] == 1
    top = prof['profile_top']
    assert 0 < len(top) <= 30
    times = [t['ms_per_step'] for t in top]
    assert times == sorted(times, reverse=True) and times[-1] > 0
    assert sum(times) <= prof['profile_total_ms_per_step'] + 1e-6
    assert any('conv' in t['name'] for t in top)
    assert all(t['calls_per_step'] >= 1 for t in top)
    with pytest.raises(ValueError, match='--rounds 1'):
        cli.main([R18, '--profile', '1', '--rounds', '2', *TINY])
