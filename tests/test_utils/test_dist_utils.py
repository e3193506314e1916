# Copyright (c) mmseam contributors. All rights reserved.
"""``destroy_dist`` / ``init_dist_any_device`` in one process (world 1)."""
import socket

import pytest
import torch
import torch.distributed as torch_dist

from mmseam.utils import destroy_dist, init_dist_any_device, select_device


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason='the gloo fallback')
def test_init_then_destroy_a_gloo_group(monkeypatch):
    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('WORLD_SIZE', '1')
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', str(free_port()))
    assert not torch_dist.is_initialized()
    init_dist_any_device('pytorch')
    try:
        assert torch_dist.get_backend() == 'gloo'
        assert torch_dist.get_world_size() == 1
        init_dist_any_device('pytorch')  # a second call keeps the group
        value = torch.tensor([3.0])
        torch_dist.all_reduce(value)
        assert value.item() == 3.0
    finally:
        destroy_dist()
    assert not torch_dist.is_initialized()
    destroy_dist()  # without a group: nothing to do, no error
    assert not torch_dist.is_initialized()
    assert select_device() == 'cpu'
    assert select_device('cuda:3') == 'cuda:3'


@pytest.mark.skipif(torch.cuda.is_available(), reason='the gloo fallback')
def test_other_launchers_need_cuda():
    with pytest.raises(RuntimeError, match='--launcher slurm needs CUDA'):
        init_dist_any_device('slurm')
