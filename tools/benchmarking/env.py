# Copyright (c) mmseam contributors. All rights reserved.
"""The benchmark environment: commit, device, timing, peak memory,
profiles."""
import os
import os.path as osp
import platform
import resource
import subprocess
import time
from typing import Callable, Dict, Optional

import torch


REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def git_commit() -> str:
    """Short commit of the repository, 'unknown' when git fails.

    ``MMSEAM_COMMIT`` overrides it (a copy of the tree without ``.git``,
    e.g. on a remote benchmark machine).
    """
    if os.environ.get('MMSEAM_COMMIT'):
        return os.environ['MMSEAM_COMMIT']
    try:
        out = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'],
                             cwd=REPO,
                             capture_output=True,
                             text=True,
                             timeout=10)
        return out.stdout.strip() if out.returncode == 0 else 'unknown'
    except (OSError, subprocess.SubprocessError):
        return 'unknown'


def git_dirty() -> Optional[bool]:
    """Whether tracked files differ from the commit (None if unknown)."""
    if os.environ.get('MMSEAM_COMMIT'):
        return None
    try:
        out = subprocess.run(
            ['git', '--no-optional-locks', 'status', '--porcelain',
             '--untracked-files=no'],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30)
        return bool(out.stdout.strip()) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def device_name(device: torch.device) -> str:
    """GPU name, or the CPU model and the usable core count."""
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    model = platform.processor() or 'cpu'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    return f'{model} ({cores} cores)'


class PeakMemory:
    """Peak memory of a code region, in MiB.

    CUDA: ``max_memory_allocated`` after ``reset_peak_memory_stats``. CPU:
    the resident-set high-water mark ``VmHWM`` after resetting it (writing
    5 to ``/proc/self/clear_refs``), else ``ru_maxrss``.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.metric = ('cuda_max_allocated'
                       if device.type == 'cuda' else 'rss_peak')

    def __enter__(self) -> 'PeakMemory':
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            try:
                with open('/proc/self/clear_refs', 'w') as f:
                    f.write('5')
            except OSError:
                self.metric = 'rss_peak_process_lifetime'
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == 'cuda':
            self.peak = torch.cuda.max_memory_allocated(self.device) / 2**20
            return
        self.peak = None
        if self.metric == 'rss_peak':
            try:
                with open('/proc/self/status') as f:
                    for line in f:
                        if line.startswith('VmHWM:'):
                            self.peak = int(line.split()[1]) / 1024
            except OSError:
                pass
        if self.peak is None:
            self.metric = 'rss_peak_process_lifetime'
            self.peak = resource.getrusage(
                resource.RUSAGE_SELF).ru_maxrss / 1024


def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_steps(step: Callable[[], None], device: torch.device, iters: int,
               warmup: int) -> Dict[str, object]:
    """Run ``warmup`` + ``iters`` steps; per-step wall times and peak mem.

    ``peak_mem_mib`` is the peak of the timed (steady-state) steps;
    ``peak_mem_warmup_mib`` that of the warm-up steps, which includes
    one-off allocations such as cuDNN autotuning workspaces.
    """
    with PeakMemory(device) as warm_mem:
        for _ in range(warmup):
            step()
        sync(device)
    with PeakMemory(device) as mem:
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            step()
            sync(device)
            times.append(time.perf_counter() - t0)
    return dict(
        times=times,
        peak_mem_mib=mem.peak,
        peak_mem_warmup_mib=warm_mem.peak if warmup else None,
        mem_metric=mem.metric)


def profile_steps(step: Callable[[], None], device: torch.device,
                  steps: int, top: int = 30) -> Dict[str, object]:
    """Where a step's time goes: ``torch.profiler`` over ``steps`` steps.

    Returns the ``top`` entries by self time (device time of kernels on a
    GPU, CPU time of operators on the CPU), each ``name``,
    ``ms_per_step`` and ``calls_per_step``, plus the total.
    """
    from torch.profiler import ProfilerActivity, profile
    cuda = device.type == 'cuda'
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=acts) as prof:
        for _ in range(steps):
            step()
        sync(device)
    attr = 'self_device_time_total' if cuda else 'self_cpu_time_total'
    events = [e for e in prof.key_averages() if getattr(e, attr, 0) > 0]
    events.sort(key=lambda e: getattr(e, attr), reverse=True)
    return dict(
        profile_metric=attr,
        profile_steps=steps,
        profile_total_ms_per_step=sum(getattr(e, attr)
                                      for e in events) / 1e3 / steps,
        profile_top=[
            dict(
                name=e.key[:160],
                ms_per_step=getattr(e, attr) / 1e3 / steps,
                calls_per_step=e.count / steps) for e in events[:top]
        ])
