# Copyright (c) mmseam contributors. All rights reserved.
"""Distributed start-up that also works on CPU-only machines."""
import os

import torch
import torch.distributed as torch_dist
from mmengine.dist import init_dist

__all__ = ['init_dist_any_device', 'destroy_dist']


def init_dist_any_device(launcher: str, backend: str = 'nccl',
                         **kwargs) -> None:
    """``mmengine.dist.init_dist``, falling back to gloo without CUDA.

    MMEngine's ``pytorch`` launcher calls ``torch.cuda.set_device`` and
    defaults to NCCL, both of which fail on a CPU-only machine. Without CUDA
    this initialises the default process group with the ``gloo`` backend from
    the ``torchrun`` environment (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
    ``MASTER_PORT``) instead, so ``torchrun --nproc_per_node=N tool.py ...
    --launcher pytorch`` shards the work over CPU processes.

    Args:
        launcher (str): ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
        backend (str): Backend with CUDA. Defaults to ``'nccl'``.
        **kwargs: Passed to ``init_dist`` / ``init_process_group``.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        return
    if torch.cuda.is_available():
        init_dist(launcher, backend=backend, **kwargs)
        return
    if launcher != 'pytorch':
        raise RuntimeError(
            f'--launcher {launcher} needs CUDA on this machine; on CPU use '
            'torchrun --nproc_per_node=N ... --launcher pytorch (gloo).')
    torch_dist.init_process_group(
        backend='gloo',
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        **kwargs)


def destroy_dist() -> None:
    """Wait for every rank, then destroy the default process group (if one
    is initialised).

    Call it when a distributed job has finished: a process that exits with a
    live gloo group can abort in its C++ teardown (``terminate called without
    an active exception``, seen on 2 CPU cores) and fail a finished job.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()


def select_device(device=None) -> str:
    """The device of this process: ``device`` if given, else this rank's
    GPU (``cuda:$LOCAL_RANK``) when CUDA is available, else ``'cpu'``."""
    import os

    import torch
    if device:
        return device
    if torch.cuda.is_available():
        return f'cuda:{int(os.environ.get("LOCAL_RANK", 0))}'
    return 'cpu'
