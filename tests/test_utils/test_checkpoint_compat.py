# Copyright (c) mmseam contributors. All rights reserved.
"""torch>=2.6 weights_only default vs MMEngine 0.10.7 full checkpoints."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

import mmseam  # noqa: F401
from mmseam.utils import full_unpickling


def _save_full_checkpoint(path):
    """A checkpoint shaped like MMEngine's: message hub + numpy in meta."""
    buf = HistoryBuffer()
    buf.update(1.5)
    torch.save(
        dict(
            meta=dict(epoch=np.int64(3), seed=np.int64(7)),
            state_dict=dict(w=torch.arange(4.)),
            message_hub=dict(log_scalars=dict(loss=buf))), path)


def test_plain_torch_load_rejects_full_checkpoint(tmp_path):
    """The break being fixed: without mmseam, loading fails."""
    path = tmp_path / 'ckpt.pth'
    _save_full_checkpoint(path)
    code = textwrap.dedent(f'''
        import os
        os.environ.pop('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', None)
        from mmengine.runner.checkpoint import CheckpointLoader
        try:
            CheckpointLoader.load_checkpoint({str(path)!r})
        except Exception as err:
            print('FAILED', type(err).__name__)
        else:
            print('LOADED')
        ''')
    res = subprocess.run([sys.executable, '-c', code],
                         capture_output=True,
                         text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert 'FAILED' in res.stdout, res.stdout


def test_patched_loader_reads_full_checkpoint(tmp_path):
    from mmengine.runner.checkpoint import CheckpointLoader
    path = tmp_path / 'ckpt.pth'
    _save_full_checkpoint(path)
    ckpt = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert int(ckpt['meta']['epoch']) == 3
    assert torch.equal(ckpt['state_dict']['w'], torch.arange(4.))
    assert ckpt['message_hub']['log_scalars']['loss'].current() == 1.5
    # the env switch is scoped to the call
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in os.environ


def test_loaders_registered_later_are_wrapped(tmp_path):
    from mmengine.runner.checkpoint import CheckpointLoader
    path = tmp_path / 'ckpt.pth'
    _save_full_checkpoint(path)
    seen = {}

    def loader(filename, map_location=None):
        seen['env'] = os.environ.get('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD')
        return torch.load(filename[len('mmseamtest://'):], map_location)

    CheckpointLoader.register_scheme('mmseamtest://', loader, force=True)
    try:
        ckpt = CheckpointLoader.load_checkpoint(f'mmseamtest://{path}')
    finally:
        CheckpointLoader._schemes.pop('mmseamtest://', None)
    assert seen['env'] == '1'
    assert int(ckpt['meta']['seed']) == 7


def test_full_unpickling_restores_previous_value(monkeypatch):
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '0')
    with full_unpickling():
        assert os.environ['TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'] == '1'
    assert os.environ['TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'] == '0'
