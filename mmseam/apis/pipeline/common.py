# Copyright (c) mmseam contributors. All rights reserved.
"""Small helpers of the pipeline: logging, ``--cfg-options`` parsing, the
background power of a threshold, logged subprocesses."""
import argparse
import math
import os
import subprocess
import time
from typing import Optional, Sequence


def log(msg: str) -> None:
    """Print ``msg`` with the time of day, flushed at once."""
    print(f'[{time.strftime("%H:%M:%S")}] {msg}', flush=True)


def parse_opts(opts: Sequence[str]) -> dict:
    """``['a.b=1', 'c=x']`` -> ``{'a.b': 1, 'c': 'x'}`` as --cfg-options."""
    from mmengine.config import DictAction
    ns = argparse.Namespace()
    DictAction(option_strings=[], dest='opts')(None, ns, list(opts))
    return ns.opts or {}


def alpha_for_threshold(t: float) -> float:
    """Background power whose CRF unary matches a background threshold.

    Background wins where ``(1 - m)^alpha > m``; at ``m = t`` both are equal,
    so ``alpha = ln t / ln(1 - t)`` (4 <-> 0.2755, 24 <-> 0.094). ``t`` is
    clamped to ``[0.01, 0.95]``.
    """
    t = min(max(t, 0.01), 0.95)
    return math.log(t) / math.log(1 - t)


def run_logged(cmd: Sequence[str], log_path: str,
               cwd: Optional[str] = None) -> None:
    """Run ``cmd``, append its output to ``log_path`` and echo the lines
    that show progress or errors (training iterations, mIoU, tracebacks).

    Raises:
        RuntimeError: When the command exits with a non-zero status; the
            message names the log file.
    """
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    with open(log_path, 'a') as logf:
        proc = subprocess.Popen(
            list(cmd),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=cwd,
            env=env)
        for line in proc.stdout:
            logf.write(line)
            if ('(train)' in line or 'mIoU:' in line or 'Error' in line
                    or 'Traceback' in line):
                print('    ' + line.rstrip()[-150:], flush=True)
        proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f'command failed ({proc.returncode}): '
                           f'{" ".join(cmd)}; see {log_path}')
