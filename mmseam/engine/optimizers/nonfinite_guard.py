# Copyright (c) mmseam contributors. All rights reserved.
"""Optimizer wrappers that never let a NaN/Inf loss reach the weights.

MMEngine's ``BaseModel.train_step`` computes the losses, sums them
(``parse_losses``) and calls ``optim_wrapper.update_params(loss)``, which
runs backward and the optimizer step. A hook's ``after_train_iter`` only sees
the losses *after* that step, when a NaN has already been written into every
weight. The check therefore lives in the optimizer wrapper, the one place
that runs between the loss and the update:

* before backward, the total loss is checked with ``torch.isfinite`` (all
  ranks agree through an ``all_reduce``, so distributed runs stay in step);
* after backward, before the step, the gradients are checked
  (``check_grads``), which catches a finite loss with a NaN/Inf gradient.

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

    def _bad_terms(self) -> List[str]:
        """``name=value`` of the non-finite loss terms of this iteration."""
        bad = []
        for name, value in (self._last_losses or {}).items():
            if 'loss' not in name:
                continue  # logged metrics (e.g. accuracies) are not summed
            if isinstance(value, (list, tuple)):
                value = [v for v in value if isinstance(v, torch.Tensor)]
                value = sum(v.detach().float().mean()
                            for v in value) if value else None
            if isinstance(value, torch.Tensor) and not bool(
                    torch.isfinite(value.detach()).all()):
                bad.append(f'{name}={_fmt(value.mean())}')
        return bad

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

        Args:
            loss (torch.Tensor): The total loss (a scalar) of the iteration.
            step_kwargs (dict, optional): Arguments of ``optimizer.step``.
            zero_kwargs (dict, optional): Arguments of
                ``optimizer.zero_grad``.
        """
        step_kwargs = {} if step_kwargs is None else step_kwargs
        zero_kwargs = {} if zero_kwargs is None else zero_kwargs
        iteration = self._inner_count
        local_finite = bool(torch.isfinite(loss.detach()).all())
        terms = [] if local_finite else self._bad_terms()
        self._last_losses = None  # do not keep the graph alive
        if not self._all_ranks_finite(
                torch.tensor(local_finite, device=loss.device)):
            if local_finite:
                detail = 'the loss is non-finite on another rank'
            elif terms:
                detail = (f'loss term(s) {", ".join(terms)} '
                          f'(total loss={_fmt(loss)})')
            else:
                detail = (f'total loss={_fmt(loss)} (the model returned no '
                          'loss dict to name the term)')
            self._handle(iteration, 'loss', detail)
            # skipped: drop this (and any accumulated) gradient, keep the
            # iteration count in step with the runner
            self.zero_grad(**zero_kwargs)
            self._inner_count += 1
            return
        loss = self.scale_loss(loss)
        self.backward(loss)
        if self.should_update():
            if self.check_grads and not self._all_ranks_finite(
                    self._grads_finite().to(loss.device)):
                bad = self._bad_grads()  # names: slow path, failures only
                shown = ', '.join(bad[:5]) + (
                    f' and {len(bad) - 5} more' if len(bad) > 5 else '')
                self._handle(
                    iteration, 'gradient', f'parameters {shown}'
                    if bad else 'a gradient is non-finite on another rank')
                self.zero_grad(**zero_kwargs)
                return
            self.consecutive_skips = 0
            self.step(**step_kwargs)
            self.zero_grad(**zero_kwargs)


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
