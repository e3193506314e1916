# Copyright (c) mmseam contributors. All rights reserved.
"""The benchmark driver: set-up, the queued modes, their timing and the
printed records."""
import gc
import json
import logging
import shutil
from typing import Callable, Dict, List, Sequence, Tuple

import torch
from mmengine.config import Config

from . import crf, infer, pseudo, rw, train
from .configs import compiles, load_config
from .env import profile_steps, time_steps
from .report import base_record, make_record, ratio_record

#: ``--what`` -> the function queueing its modes (see ``train.plan``).
PLANS = dict(
    train=train.plan,
    infer=infer.plan,
    crf=crf.plan,
    rw=rw.plan,
    pseudo=pseudo.plan)
DEFAULT_BATCH = dict(train=8, infer=1, crf=1, rw=1, pseudo=1)


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == 'cuda':
        torch.cuda.empty_cache()


def _close(built: tuple) -> None:
    """Close the worker pool a step builder returned (4th item), if any."""
    pool = built[3] if len(built) > 3 else None
    if pool is not None:
        pool.close()
        pool.join()


class Bench:
    """Modes queued by a workload's ``plan``, timed, printed as JSON.

    A mode is ``(name, make)``; ``make()`` returns ``(step, images,
    info[, pool])``: the step closure, images per step, extra record fields
    and an optional worker pool to close afterwards.
    """

    def __init__(self, args, device: torch.device, base: dict) -> None:
        self.args = args
        self.device = device
        self.base = base
        self.pending: List[Tuple[str, Callable[[], tuple]]] = []
        self.records: List[dict] = []
        self.cleanups: List[str] = []

    def add(self, mode: str, make: Callable[[], tuple]) -> None:
        self.pending.append((mode, make))

    def emit(self, rec: dict) -> None:
        self.records.append(rec)
        print(json.dumps(rec), flush=True)

    def _time_each(self) -> Dict[str, dict]:
        """Build, time (and profile) one mode after the other."""
        args, out = self.args, {}
        for mode, make in self.pending:
            built = make()
            try:
                res = time_steps(built[0], self.device, args.iters,
                                 args.warmup)
                prof = profile_steps(built[0], self.device, args.profile) \
                    if args.profile else None
            finally:
                _close(built)
            rec = make_record(args.what, mode, res, built[1], args,
                              self.base, built[2])
            del built
            _free(self.device)
            self.emit(rec)
            if prof is not None:
                self.emit(dict(what=args.what, mode=mode, **prof,
                               **self.base))
            out[mode] = rec
        return out

    def _time_rounds(self, built: Dict[str, tuple]) -> Dict[str, dict]:
        """``--rounds`` interleaved timings of the built modes."""
        args = self.args
        results = {mode: None for mode, _ in self.pending}
        for r in range(args.rounds):
            for mode, _ in self.pending:
                res = time_steps(built[mode][0], self.device, args.iters,
                                 args.warmup if r == 0 else 0)
                prev = results[mode]
                if prev is not None:
                    res['times'] = prev['times'] + res['times']
                    res['peak_mem_mib'] = max(prev['peak_mem_mib'],
                                              res['peak_mem_mib'])
                    res['peak_mem_warmup_mib'] = prev['peak_mem_warmup_mib']
                results[mode] = res
        return results

    def _time_interleaved(self) -> Dict[str, dict]:
        """Build every mode, then time them interleaved."""
        built = {mode: make() for mode, make in self.pending}
        try:
            results = self._time_rounds(built)
        finally:
            for b in built.values():
                _close(b)
        out = {}
        for mode, _ in self.pending:
            rec = make_record(self.args.what, mode, results[mode],
                              built[mode][1], self.args, self.base,
                              built[mode][2])
            rec['rounds'] = self.args.rounds
            self.emit(rec)
            out[mode] = rec
        return out

    def finish(self, pairs: Sequence[Tuple[str, str]]) -> None:
        """Time the queued modes, then print the ``pairs`` ratios."""
        if self.args.rounds == 1:
            recs = self._time_each()
        else:
            recs = self._time_interleaved()
        for a, b in pairs:
            self.emit(ratio_record(self.args.what, recs[a], recs[b],
                                   self.base))

    def cleanup(self) -> None:
        for path in self.cleanups:
            shutil.rmtree(path, ignore_errors=True)


def prepare(args) -> Tuple[torch.device, Config]:
    """Check the arguments against the machine; the device and config
    (``--compile`` applied) and the size defaults filled into ``args``."""
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('--device cuda was given but no CUDA device is '
                           'available; use --device cpu.')
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config, args.cfg_options)
    if args.compile:
        cfg.model.setdefault('test_cfg', {})
        if not compiles(cfg, 'train'):
            cfg.model['compile_cfg'] = dict(dynamic=False)
        if not compiles(cfg, 'infer'):
            # as the bf16 config (torch 2.11's Inductor fails an assertion
            # in this analysis on the dynamic-shape graph)
            cfg.model.test_cfg['compile_cfg'] = dict(
                options={'triton.coalesce_tiling_analysis': False})
    if args.profile and args.rounds > 1:
        raise ValueError('--profile works with --rounds 1 only')
    if args.batch is None:
        args.batch = DEFAULT_BATCH[args.what]
    if args.crop is None:
        size = cfg.model.get('data_preprocessor', {}).get('size')
        args.crop = int(size[0]) if size else 448
    return device, cfg


def _run(args) -> List[dict]:
    device, cfg = prepare(args)
    bench = Bench(args, device, base_record(args, device))
    try:
        pairs = PLANS[args.what](bench, cfg, args, device)
        bench.finish(pairs)
    finally:
        bench.cleanup()
    return bench.records


def run(args) -> List[dict]:
    """Run the benchmark; returns (and prints) the JSON records."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    if not args.verbose:  # keep stdout to the JSON lines
        logger.setLevel(logging.ERROR)
    try:
        return _run(args)
    finally:
        logger.setLevel(level)
