# Copyright (c) mmseam contributors. All rights reserved.
"""NaN / Inf losses and gradients: NonFiniteGuardOptimWrapper stops training
naming the iteration and the loss term (or skips the update), and the weights
never see the bad value."""
import os.path as osp
import sys

import mmseam  # noqa: F401
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmseg.registry import MODELS, OPTIM_WRAPPERS

from mmseam.engine import (NonFiniteGuardAmpOptimWrapper,
                           NonFiniteGuardOptimWrapper, NonFiniteLossError)
from mmseam.models.losses import EquivariantRegLoss

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from reliability_utils import REPO, seam_train_cfg  # noqa: E402

init_default_scope('mmseg')


@pytest.fixture(autouse=True)
def single_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
    torch.use_deterministic_algorithms(False)


@MODELS.register_module(force=True)
class ToyTwoLossModel(BaseModel):
    """Two loss terms; ``loss_b`` goes bad at the given 1-based training
    iterations: ``'nan'``, ``'inf'`` or ``'grad'`` (finite value, NaN
    gradient)."""

    def __init__(self, bad_at=(), kind='nan'):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
        self.bad_at = set(bad_at)
        self.kind = kind
        self.calls = 0

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = torch.stack(inputs) @ self.w  # pseudo_collate: a list
        if mode != 'loss':
            return out
        self.calls += 1
        loss_a = (out - 1).pow(2).mean()
        loss_b = 0.1 * self.w.pow(2).sum()
        if self.calls in self.bad_at:
            if self.kind == 'nan':
                loss_b = loss_b * float('nan')
            elif self.kind == 'inf':
                loss_b = loss_b + float('inf')
            else:  # d sqrt(u)/du at u = 0 is inf; times du/dw = 0 -> NaN
                loss_b = loss_b + torch.sqrt(self.w.sum() * 0)
        return dict(loss_a=loss_a, loss_b=loss_b)


class ToyData(torch.utils.data.Dataset):

    def __len__(self):
        return 4

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return dict(inputs=torch.randn(3, generator=g))


def toy_runner(tmp_path, bad_at=(), kind='nan', max_iters=6, **guard):
    return Runner(
        model=dict(type='ToyTwoLossModel', bad_at=bad_at, kind=kind),
        work_dir=str(tmp_path),
        train_dataloader=dict(
            dataset=ToyData(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2,
            num_workers=0),
        optim_wrapper=dict(
            type='NonFiniteGuardOptimWrapper',
            optimizer=dict(type='SGD', lr=0.1),
            **guard),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=1)),
        default_scope='mmseg',
        log_level='WARNING')


def weights(path):
    return torch.load(path, weights_only=False)['state_dict']['w']


@pytest.mark.parametrize('kind,shown', [('nan', 'loss_b=nan'),
                                        ('inf', 'loss_b=inf')])
def test_raise_names_iteration_and_term(tmp_path, kind, shown):
    runner = toy_runner(tmp_path, bad_at={4}, kind=kind)
    with pytest.raises(NonFiniteLossError) as err:
        runner.train()
    msg = str(err.value)
    assert 'iteration 4 ' in msg and '(runner.iter=3)' in msg
    assert f'loss term(s) {shown} (total loss={kind})' in msg
    assert 'loss_a' not in msg  # the finite term is not blamed
    assert "action='skip'" in msg and '--resume' in msg
    # iterations 1-3 were saved; the bad one never reached the weights
    assert osp.isfile(tmp_path / 'iter_3.pth')
    assert not osp.isfile(tmp_path / 'iter_4.pth')
    w3 = weights(tmp_path / 'iter_3.pth')
    assert torch.isfinite(w3).all()
    assert torch.equal(runner.model.w.detach(), w3)


def test_nan_gradient_with_finite_loss(tmp_path):
    runner = toy_runner(tmp_path, bad_at={2}, kind='grad')
    with pytest.raises(NonFiniteLossError) as err:
        runner.train()
    msg = str(err.value)
    assert msg.startswith('Non-finite gradient at training iteration 2 ')
    assert 'parameters w' in msg
    assert torch.equal(runner.model.w.detach(),
                       weights(tmp_path / 'iter_1.pth'))


def test_skip_policy_drops_only_the_bad_update(tmp_path):
    runner = toy_runner(tmp_path, bad_at={4}, action='skip')
    runner.train()
    assert runner.iter == 6
    assert runner.optim_wrapper.num_skipped == 1
    w = {i: weights(tmp_path / f'iter_{i}.pth') for i in range(1, 7)}
    assert all(torch.isfinite(v).all() for v in w.values())
    assert torch.equal(w[3], w[4])  # the update of iteration 4 was dropped
    assert not torch.equal(w[4], w[5])  # and training went on
    # same result as a run that never saw the bad batch's update: the
    # clean run's weights after 3 iterations, then 2 normal updates
    clean = toy_runner(tmp_path / 'clean', max_iters=3)
    clean.train()
    assert torch.equal(weights(tmp_path / 'clean' / 'iter_3.pth'), w[4])


def test_skip_policy_gives_up_when_diverged(tmp_path):
    runner = toy_runner(
        tmp_path,
        bad_at={2, 3, 4, 5},
        action='skip',
        max_consecutive_skips=2)
    with pytest.raises(NonFiniteLossError, match='3 iterations in a row'):
        runner.train()
    assert runner.optim_wrapper.num_skipped == 3
    assert torch.equal(runner.model.w.detach(),
                       weights(tmp_path / 'iter_1.pth'))


def test_one_host_read_per_step_after_backward(tmp_path, monkeypatch):
    """The finiteness flags are read once a step, after backward (a read
    before backward would stall the backward launch behind the forward)."""
    events = []
    orig_backward = NonFiniteGuardOptimWrapper.backward
    orig_read = NonFiniteGuardOptimWrapper._all_ranks_finite

    def backward(self, loss, **kwargs):
        events.append('backward')
        return orig_backward(self, loss, **kwargs)

    def read(flag):
        events.append('read')
        return orig_read(flag)

    monkeypatch.setattr(NonFiniteGuardOptimWrapper, 'backward', backward)
    monkeypatch.setattr(NonFiniteGuardOptimWrapper, '_all_ranks_finite',
                        staticmethod(read))
    toy_runner(tmp_path, max_iters=3).train()
    assert events == ['backward', 'read'] * 3


def test_accumulation_checks_every_loss_of_the_window(tmp_path):
    """With accumulative_counts=2 the NaN loss of iteration 3 (not an update
    iteration) is found at the update of iteration 4 and named as 3; the
    window's update is dropped."""
    runner = toy_runner(tmp_path, bad_at={3}, accumulative_counts=2,
                        check_grads=False)
    with pytest.raises(NonFiniteLossError) as err:
        runner.train()
    msg = str(err.value)
    assert msg.startswith('Non-finite loss at training iteration 3 ')
    assert 'loss_b=nan' in msg
    w2 = weights(tmp_path / 'iter_2.pth')
    assert torch.isfinite(w2).all()
    assert torch.equal(runner.model.w.detach(), w2)
    assert not osp.isfile(tmp_path / 'iter_4.pth')


def test_bad_arguments():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="'raise'"):
        NonFiniteGuardOptimWrapper(optimizer=opt, action='ignore')
    with pytest.raises(ValueError, match='max_consecutive_skips'):
        NonFiniteGuardOptimWrapper(optimizer=opt, max_consecutive_skips=-1)


@MODELS.register_module(force=True)
class NaNAtCallLoss(EquivariantRegLoss):
    """The ER loss, NaN on its ``nan_at``-th call (1-based)."""

    def __init__(self, nan_at=3, **kwargs):
        super().__init__(**kwargs)
        self.nan_at = nan_at
        self.calls = 0

    def forward(self, pred, target):
        self.calls += 1
        loss = super().forward(pred, target)
        return loss * float('nan') if self.calls == self.nan_at else loss


def test_seam_config_stops_on_nan_loss_er(tmp_path):
    """The real SEAM config (its schedule uses the guard) on synthetic data:
    loss_er becomes NaN at iteration 3 (epoch 2, 2 iterations per epoch)."""
    from mmseam.datasets.synthetic import make_synthetic_voc
    root = str(tmp_path / 'voc')
    make_synthetic_voc(root, seed=0, num_train=8, num_val=1, image_size=64)
    cfg = seam_train_cfg(root, str(tmp_path / 'work'), max_epochs=2)
    assert cfg.optim_wrapper.type == 'NonFiniteGuardOptimWrapper'
    cfg.model.loss_er = dict(type='NaNAtCallLoss', nan_at=3)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(NonFiniteLossError) as err:
        runner.train()
    msg = str(err.value)
    assert 'training iteration 3 ' in msg and 'loss_er=nan' in msg
    for term in ('loss_cls', 'loss_minpool', 'loss_ecr'):
        assert term not in msg
    saved = torch.load(tmp_path / 'work' / 'epoch_1.pth', weights_only=False)
    now = runner.model.state_dict()
    for key, value in saved['state_dict'].items():
        assert torch.isfinite(value.float()).all(), key
        assert torch.isfinite(now[key].float()).all(), key
    assert not osp.isfile(tmp_path / 'work' / 'epoch_2.pth')


@pytest.mark.parametrize('path', [
    'configs/seam/seam_r18-d8_1xb8-6e_synthvoc-224x224.py',
    'configs/seam/seam_resnet38d_1xb8-8e_voc12aug-448x448.py',
    'configs/seam/cam_r18-d8_1xb8-6e_synthvoc-224x224.py',
    'configs/seam/cam-pretrain_r18-d8_1xb8-12e_synthvoc-224x224.py',
    'configs/affinity/affinitynet_r18-d8_1xb8-4e_synthvoc-224x224.py',
    'configs/affinity/affinitynet_resnet38d_1xb8-8e_voc12aug-448x448.py',
    'configs/deeplab/deeplabv1-largefov_r18-d8_1xb8-6e_synthvoc-pseudo-'
    '224x224.py',
    'configs/deeplab/deeplabv1-largefov_resnet38d_2xb5-20k_voc12aug-pseudo-'
    '448x448.py',
])
def test_configs_use_the_guard(path):
    cfg = Config.fromfile(osp.join(REPO, path))
    assert cfg.optim_wrapper.type == 'NonFiniteGuardOptimWrapper'
    assert cfg.optim_wrapper.get('action', 'raise') == 'raise'


def test_amp_keeps_the_guard(tmp_path):
    """--amp turns the guarded wrapper into its AMP variant (which needs a
    GPU to be built; here only the config and the class are checked)."""
    from tools import train as train_tool
    cfg_path = osp.join(REPO,
                        'configs/seam/seam_r18-d8_1xb8-6e_synthvoc-224x224.py')
    cfg = train_tool.build_cfg(train_tool.parse_args([cfg_path, '--amp']))
    assert cfg.optim_wrapper.type == 'NonFiniteGuardAmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert OPTIM_WRAPPERS.get(
        'NonFiniteGuardAmpOptimWrapper') is NonFiniteGuardAmpOptimWrapper
    assert issubclass(NonFiniteGuardAmpOptimWrapper,
                      mmseam.engine.optimizers.nonfinite_guard.AmpOptimWrapper)
    # both tools add the fail-fast checks
    hooks = [h['type'] for h in cfg.custom_hooks]
    assert 'NumClassesCheckHook' in hooks and 'CheckpointFitHook' in hooks


def test_two_gloo_ranks_agree(tmp_path):
    """DDP on 2 gloo processes, NaN on rank 1 only: both ranks skip the same
    update (weights stay equal) or both stop (nobody hangs in all-reduce)."""
    import socket

    import torch.multiprocessing as mp

    from reliability_utils import dist_guard_worker
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=dist_guard_worker, args=(r, 2, port, queue))
        for r in range(2)
    ]
    for p in procs:
        p.start()
    results = {(r, a): (o, w)
               for r, a, o, w in (queue.get(timeout=240) for _ in range(4))}
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    # skip: iteration 2 dropped on both ranks, weights identical across ranks
    (o0, w0), (o1, w1) = results[0, 'skip'], results[1, 'skip']
    assert o0 == o1 == 'skipped 1'
    assert w0 == w1 and w0[0] == w0[1] and w0[1] != w0[2]
    # raise: both ranks stop at iteration 2, with the weights of iteration 1
    (o0, w0), (o1, w1) = results[0, 'raise'], results[1, 'raise']
    assert 'iteration 2 ' in o0 and 'non-finite on another rank' in o0
    assert 'iteration 2 ' in o1 and 'loss_b=nan' in o1
    assert w0 == w1 == results[0, 'skip'][1][0]


def test_seam_schedule_fused_sgd_equals_foreach():
    """The SEAM schedule's SGD(fused=True), built by MMEngine with its
    paramwise lr multipliers, takes bit-identical steps to the foreach SGD
    (so the strict-parity recipe keeps the official numerics)."""
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/schedules/seam_sgd-poly_8e.py'))
    assert cfg.optim_wrapper.optimizer.fused is True

    def run(**opt):
        torch.manual_seed(0)
        model = nn.ModuleDict(
            dict(backbone=nn.Linear(6, 5), classifier=nn.Linear(5, 3)))
        wrapper_cfg = cfg.optim_wrapper.to_dict()
        wrapper_cfg['optimizer'].update(opt)
        wrapper = build_optim_wrapper(model, wrapper_cfg)
        g = torch.Generator().manual_seed(1)
        for _ in range(4):
            x = torch.randn(8, 6, generator=g)
            loss = model['classifier'](model['backbone'](x)).pow(2).mean()
            wrapper.update_params(loss)
        return model.state_dict(), wrapper.optimizer.param_groups

    fused, groups = run()
    foreach, _ = run(fused=None, foreach=True)
    assert any(g['lr'] == 0.1 for g in groups)  # the 10x classifier group
    assert all(g['fused'] for g in groups)
    for key in fused:
        assert torch.equal(fused[key], foreach[key]), key
