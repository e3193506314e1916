# Copyright (c) mmseam contributors. All rights reserved.
"""Optimizer wrappers that never let a NaN/Inf loss reach the weights.

MMEngine's ``BaseModel.train_step`` computes the losses, sums them
(``parse_losses``) and calls ``optim_wrapper.update_params(loss)``, which
runs backward and the optimizer step. A hook's ``after_train_iter`` only sees
the losses *after* that step, when a NaN has already been written into every
weight. The check therefore lives in the optimizer wrapper, the one place
that runs between the loss and the update:

* the total loss is checked with ``torch.isfinite`` and, with
  ``check_grads``, so are the gradients (which catches a finite loss with a
  NaN/Inf gradient). Both checks are computed on the device and read by
  the host once, after backward and before the optimizer step (all ranks
  agree through an ``all_reduce``, so distributed runs stay in step); the
  step never runs on a non-finite value.

A non-finite iteration is handled by ``action``:

* ``'raise'`` (default): stop training with :class:`NonFiniteLossError`,
  naming the iteration and the offending loss term(s) (or parameters). No
  update happened, so the weights in memory and every checkpoint stay
  finite; fix the cause and ``--resume``.
* ``'skip'``: drop this iteration's update (gradients are zeroed, the
  optimizer does not step), log a warning with the iteration and the terms,
  and go on. More than ``max_consecutive_skips`` skipped iterations in a row
  raise :class:`NonFiniteLossError` (the run has diverged).

The loss terms are read from the loss dict the model returns in ``'loss'``
mode, recorded by a forward hook that the wrapper registers when
``optim_context(model)`` is first entered (no extra compute).
"""
import logging
from contextlib import contextmanager
from typing import Dict, List, Optional

import torch
from mmengine.dist import all_reduce, get_dist_info
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmseg.registry import OPTIM_WRAPPERS

__all__ = [
    'NonFiniteLossError', 'NonFiniteGuardOptimWrapper',
    'NonFiniteGuardAmpOptimWrapper'
]

_ACTIONS = ('raise', 'skip')


class NonFiniteLossError(FloatingPointError):
    """A training loss (or gradient) became NaN or Inf.

    Raised by :class:`NonFiniteGuardOptimWrapper` *before* the optimizer
    step, so the weights are still those of the previous iteration.
    """


def _fmt(value: torch.Tensor) -> str:
    value = value.detach().float()
    if value.numel() == 1:
        return f'{value.item():.6g}'
    return f'{value.flatten().tolist()}'


class _LossRecorder:
    """Forward hook keeping the loss dict of the last ``'loss'`` forward.

    Deep copies (e.g. an EMA model) share the recorder; pickling drops it,
    so a model with the hook stays picklable.
    """

    def __init__(self, guard: Optional['NonFiniteGuardMixin']) -> None:
        self.guard = guard

    def __call__(self, module, args, output) -> None:
        if self.guard is not None and isinstance(output, dict) and any(
                'loss' in k for k in output):
            self.guard._last_losses = output

    def __deepcopy__(self, memo) -> '_LossRecorder':
        return self

    def __reduce__(self):
        return (_LossRecorder, (None, ))


class NonFiniteGuardMixin:
    """The NaN/Inf guard shared by the plain and the AMP wrapper.

    Args:
        action (str): ``'raise'`` or ``'skip'`` (see the module docstring).
            Defaults to ``'raise'``.
        check_grads (bool): Also check the gradients before the step.
            Defaults to True.
        max_consecutive_skips (int, optional): With ``action='skip'``, raise
            once more than this many iterations in a row were skipped; None
            never raises. Defaults to 10.
        **kwargs: Arguments of the wrapped MMEngine optimizer wrapper
            (``optimizer``, ``accumulative_counts``, ``clip_grad``, ...).
    """

    def __init__(self,
                 *args,
                 action: str = 'raise',
                 check_grads: bool = True,
                 max_consecutive_skips: Optional[int] = 10,
                 **kwargs) -> None:
        if action not in _ACTIONS:
            raise ValueError(
                f'optim_wrapper.action={action!r} is not supported; use '
                f"'raise' (stop training) or 'skip' (drop the update).")
        if max_consecutive_skips is not None and max_consecutive_skips < 0:
            raise ValueError('optim_wrapper.max_consecutive_skips must be '
                             f'>= 0 or None, got {max_consecutive_skips}.')
        super().__init__(*args, **kwargs)
        self.action = action
        self.check_grads = check_grads
        self.max_consecutive_skips = max_consecutive_skips
        self.num_skipped = 0
        self.consecutive_skips = 0
        self._last_losses: Optional[dict] = None
        # (iteration, finite flag, total loss, loss terms) since the last
        # update: flags stay on the device until the update reads them
        self._pending: list = []
        self._param_names: Dict[int, str] = {}

    # ------------------------------------------------------------------
    # recording the loss terms
    # ------------------------------------------------------------------
    def _watch(self, module: torch.nn.Module) -> None:
        """Record the loss dict that ``module`` returns in ``'loss'`` mode
        (a forward hook; registered once per module)."""
        if any(
                isinstance(h, _LossRecorder) and h.guard is self
                for h in module._forward_hooks.values()):
            return
        module.register_forward_hook(_LossRecorder(self))
        self._param_names = {
            id(p): name
            for name, p in module.named_parameters()
        }

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        """The wrapped context; also starts recording the loss terms."""
        self._watch(model.module if is_model_wrapper(model) else model)
        self._last_losses = None
        with super().optim_context(model):
            yield

    # ------------------------------------------------------------------
    # checks
    # ------------------------------------------------------------------
    @staticmethod
    def _all_ranks_finite(flag: torch.Tensor) -> bool:
        """True when ``flag`` (a 0-d bool tensor) is true on every rank."""
        _, world_size = get_dist_info()
        if world_size > 1:
            value = flag.float().reshape(1)
            all_reduce(value, op='min')
            return bool(value.item() > 0)
        return bool(flag.item())

    def _grads(self) -> List[torch.Tensor]:
        return [
            param.grad for group in self.optimizer.param_groups
            for param in group['params'] if param.grad is not None
        ]

    def _grads_finite(self) -> torch.Tensor:
        """One 0-d bool tensor: are all gradients finite?

        A single fused reduction (one host read per step), not one check per
        parameter: ``sum(|g|)`` of every gradient is finite exactly when no
        gradient holds NaN/Inf (or overflows, which is as bad).
        """
        grads = self._grads()
        if not grads:
            return torch.tensor(True)
        norms = torch._foreach_norm(grads, 1)
        return torch.isfinite(torch.stack(norms).sum())

    def _bad_grads(self) -> List[str]:
        """Names of the parameters with non-finite gradients (slow path)."""
        bad = []
        for group in self.optimizer.param_groups:
            for param in group['params']:
                if param.grad is None:
                    continue
                if not bool(torch.isfinite(param.grad).all()):
                    bad.append(
                        self._param_names.get(id(param),
                                              f'<param {tuple(param.shape)}>'))
        return bad

    def _handle(self, iteration: int, what: str, detail: str) -> None:
        """Raise or log a skipped iteration (0-based ``iteration``)."""
        where = (f'at training iteration {iteration + 1} '
                 f'(runner.iter={iteration})')
        if self.action == 'raise':
            raise NonFiniteLossError(
                f'Non-finite {what} {where}: {detail}. Training was stopped '
                'before the optimizer step, so the weights (and every saved '
                'checkpoint) are still finite. Fix the cause (e.g. lower the '
                'learning rate, check this batch of data, enable gradient '
                'clipping via optim_wrapper.clip_grad) and resume with '
                "--resume, or set optim_wrapper.action='skip' to drop such "
                'iterations.')
        self.num_skipped += 1
        self.consecutive_skips += 1
        if (self.max_consecutive_skips is not None
                and self.consecutive_skips > self.max_consecutive_skips):
            raise NonFiniteLossError(
                f'Non-finite {what} {where}: {detail}. '
                f'{self.consecutive_skips} iterations in a row were skipped '
                f'(optim_wrapper.max_consecutive_skips='
                f'{self.max_consecutive_skips}): training has diverged. The '
                'weights are those of the last finite update; lower the '
                'learning rate or check the data, then --resume.')
        print_log(
            f'Non-finite {what} {where}: {detail}; skipped this update '
            f"(optim_wrapper.action='skip', {self.num_skipped} skipped so "
            'far).',
            logger='current',
            level=logging.WARNING)

    # ------------------------------------------------------------------
    def update_params(self,
                      loss: torch.Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        """Backward + step, unless the loss or a gradient is NaN/Inf.

        The finiteness of the loss (and, with ``check_grads``, of all
        gradients) is computed on the device and read by the host *once*,
        after backward and before the step (with gradient accumulation:
        once per update, for every loss of the window). Reading it before
        backward would stall the launch of the backward kernels behind the
        whole forward pass. A non-finite loss runs its (harmless) backward
        and is then dropped like a non-finite gradient: the optimizer never
        steps on it.

        Args:
            loss (torch.Tensor): The total loss (a scalar) of the iteration.
            step_kwargs (dict, optional): Arguments of ``optimizer.step``.
            zero_kwargs (dict, optional): Arguments of
                ``optimizer.zero_grad``.
        """
        step_kwargs = {} if step_kwargs is None else step_kwargs
        zero_kwargs = {} if zero_kwargs is None else zero_kwargs
        self._pending.append(
            (self._inner_count, torch.isfinite(loss.detach()).all(),
             loss.detach(), _detached(self._last_losses)))
        self._last_losses = None  # do not keep the graph alive
        self.backward(self.scale_loss(loss))
        if not self.should_update():
            return  # accumulating: checked with the window's last loss
        pending, self._pending = self._pending, []
        ok = torch.stack([finite for _, finite, _, _ in pending]).all()
        if self.check_grads:
            ok = ok & self._grads_finite().to(ok.device)
        if self._all_ranks_finite(ok):  # the one host read of the step
            self.consecutive_skips = 0
            self.step(**step_kwargs)
            self.zero_grad(**zero_kwargs)
            return
        # failures only: find what went wrong (slow, reads every flag; every
        # rank is here, so the extra all-reduce is matched on all of them)
        bad_loss = [p for p in pending if not bool(p[1])]
        device = ok.device
        any_bad_loss = not self._all_ranks_finite(
            torch.tensor(not bad_loss, device=device))
        if bad_loss:
            iteration, _, total, terms = bad_loss[0]
            names = _bad_terms(terms)
            if names:
                detail = (f'loss term(s) {", ".join(names)} '
                          f'(total loss={_fmt(total)})')
            else:
                detail = (f'total loss={_fmt(total)} (the model returned no '
                          'loss dict to name the term)')
            what = 'loss'
        elif any_bad_loss:
            iteration, what = pending[-1][0], 'loss'
            detail = 'the loss is non-finite on another rank'
        else:
            iteration, what = pending[-1][0], 'gradient'
            bad = self._bad_grads() if self.check_grads else []
            shown = ', '.join(bad[:5]) + (
                f' and {len(bad) - 5} more' if len(bad) > 5 else '')
            detail = (f'parameters {shown}'
                      if bad else 'a gradient is non-finite on another rank')
        # dropped: this (and any accumulated) gradient is discarded
        self.zero_grad(**zero_kwargs)
        self._handle(iteration, what, detail)


def _detached(losses: Optional[dict]) -> dict:
    """The loss dict's tensors without their graphs (for naming terms)."""
    out = {}
    for name, value in (losses or {}).items():
        if isinstance(value, torch.Tensor):
            out[name] = value.detach()
        elif isinstance(value, (list, tuple)):
            out[name] = [
                v.detach() for v in value if isinstance(v, torch.Tensor)
            ]
    return out


def _bad_terms(losses: dict) -> List[str]:
    """``name=value`` of the non-finite loss terms of a loss dict."""
    bad = []
    for name, value in losses.items():
        if 'loss' not in name:
            continue  # logged metrics (e.g. accuracies) are not summed
        if isinstance(value, list):
            value = sum(v.float().mean() for v in value) if value else None
        if isinstance(value, torch.Tensor) and not bool(
                torch.isfinite(value).all()):
            bad.append(f'{name}={_fmt(value.mean())}')
    return bad


@OPTIM_WRAPPERS.register_module()
class NonFiniteGuardOptimWrapper(NonFiniteGuardMixin, OptimWrapper):
    """:class:`mmengine.optim.OptimWrapper` with a NaN/Inf guard.

    Before backward it checks the total loss, after backward (before the
    step) every gradient; a non-finite value stops training naming the
    iteration and the loss term (``action='raise'``) or drops the update
    (``action='skip'``). See :mod:`mmseam.engine.optimizers.nonfinite_guard`.

    Config::

        optim_wrapper = dict(
            type='NonFiniteGuardOptimWrapper',
            optimizer=dict(type='SGD', lr=0.01, momentum=0.9),
            action='raise')  # or 'skip'

    Args:
        action (str): ``'raise'`` or ``'skip'``. Defaults to ``'raise'``.
        check_grads (bool): Check the gradients too. Defaults to True.
        max_consecutive_skips (int, optional): With ``'skip'``, raise after
            this many skipped iterations in a row. Defaults to 10.
        **kwargs: :class:`~mmengine.optim.OptimWrapper` arguments.
    """


@OPTIM_WRAPPERS.register_module()
class NonFiniteGuardAmpOptimWrapper(NonFiniteGuardMixin, AmpOptimWrapper):
    """:class:`mmengine.optim.AmpOptimWrapper` with the NaN/Inf loss guard.

    ``tools/train.py --amp`` switches a ``NonFiniteGuardOptimWrapper`` config
    to this class. Only the loss is checked: non-finite *gradients* are
    expected under fp16 loss scaling and are already handled by the
    ``GradScaler`` (it skips the step and lowers the scale).

    Args:
        action (str): ``'raise'`` or ``'skip'``. Defaults to ``'raise'``.
        max_consecutive_skips (int, optional): See
            :class:`NonFiniteGuardOptimWrapper`. Defaults to 10.
        **kwargs: :class:`~mmengine.optim.AmpOptimWrapper` arguments
            (``loss_scale``, ``dtype``, ``optimizer``, ...).
    """

    def __init__(self, *args, check_grads: bool = False, **kwargs) -> None:
        super().__init__(*args, check_grads=False, **kwargs)
