# Copyright (c) mmseam contributors. All rights reserved.
"""Both branches of the mmcv._ext compatibility stub.

Each case runs in a fresh interpreter so that the import-time behaviour is
what is tested (``sys.modules`` of this process already holds mmcv).
"""
import subprocess
import sys
import textwrap
import types

import pytest


def _run(code: str, tmp_path) -> subprocess.CompletedProcess:
    script = tmp_path / 'probe.py'
    script.write_text(textwrap.dedent(code))
    return subprocess.run([sys.executable, str(script)],
                          capture_output=True,
                          text=True,
                          timeout=300)


def _has_real_ext() -> bool:
    probe = subprocess.run(
        [sys.executable, '-c', 'import mmcv._ext'], capture_output=True)
    return probe.returncode == 0


def test_stub_installed_when_ext_missing(tmp_path):
    """mmcv-lite: mmseg imports, calling a compiled op raises clearly."""
    if _has_real_ext():
        # Full mmcv installed here: make the extension unimportable for the
        # probe so the stub branch is exercised all the same.
        prelude = 'import sys; sys.modules["mmcv._ext"] = None\n'
    else:
        prelude = ''
    res = _run(
        prelude + '''
        import inspect
        import torch
        import mmseam
        from mmseam.utils import (MissingMMCVOpError, ensure_mmcv_ext,
                                  is_mmcv_ext_stubbed)
        import mmseg.models, mmseg.utils, mmseg.apis  # all import
        import mmcv._ext as ext
        assert is_mmcv_ext_stubbed()
        assert ensure_mmcv_ext() is True          # idempotent
        assert not hasattr(ext, '__file__')       # dunders are not faked
        inspect.getmodule(ext)                    # inspect keeps working
        from mmengine.utils.dl_utils import mmcv_full_available
        assert mmcv_full_available() is False     # stub is not full mmcv
        from mmcv.ops import sigmoid_focal_loss
        try:
            sigmoid_focal_loss(torch.zeros(2, 3), torch.zeros(2).long())
        except MissingMMCVOpError as err:
            msg = str(err)
            assert 'sigmoid_focal_loss_forward' in msg, msg
            assert 'full mmcv' in msg, msg
            print('RAISED')
        ''', tmp_path)
    assert res.returncode == 0, res.stderr
    assert 'RAISED' in res.stdout


def test_nothing_stubbed_with_real_ext(tmp_path):
    """An importable mmcv._ext (full mmcv) is left untouched, also by the
    start-up hook (mmseg imported before mmseam)."""
    ext_dir = tmp_path / 'fake_full_mmcv'
    ext_dir.mkdir()
    # stands in for the compiled module: every op exists and answers
    (ext_dir / '_ext.py').write_text(
        'REAL = True\n'
        'def __getattr__(name):\n'
        '    if name.startswith("__"):\n'
        '        raise AttributeError(name)\n'
        '    return lambda *a, **k: "real"\n')
    res = _run(
        f'''
        import mmcv, os
        if not os.path.exists(os.path.join(mmcv.__path__[0], '_ext.py')):
            mmcv.__path__.append({str(ext_dir)!r})
        import mmseg.models  # mmseg first: the start-up hook runs, inert
        import mmseam
        from mmseam.utils import ensure_mmcv_ext, is_mmcv_ext_stubbed
        import mmcv._ext as ext
        assert not is_mmcv_ext_stubbed()
        assert ensure_mmcv_ext() is False
        if getattr(ext, 'REAL', False):
            assert ext.nms_forward() == 'real'
        print('UNTOUCHED')
        ''', tmp_path)
    assert res.returncode == 0, res.stderr
    assert 'UNTOUCHED' in res.stdout


def test_broken_ext_warns_and_stubs(tmp_path):
    """A half-built extension (ImportError) is replaced, with a warning."""
    if _has_real_ext():
        pytest.skip('a working compiled mmcv._ext shadows the broken one')
    ext_dir = tmp_path / 'broken_mmcv'
    ext_dir.mkdir()
    (ext_dir / '_ext.py').write_text(
        'raise ImportError("undefined symbol: _ZN3c10")\n')
    res = _run(
        f'''
        import warnings
        import mmcv
        mmcv.__path__.append({str(ext_dir)!r})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            import mmseam
        from mmseam.utils import is_mmcv_ext_stubbed
        assert is_mmcv_ext_stubbed()
        assert any('undefined symbol' in str(w.message) for w in caught)
        print('STUBBED')
        ''', tmp_path)
    assert res.returncode == 0, res.stderr
    assert 'STUBBED' in res.stdout


def test_mmseg_first_gets_the_stub_from_the_startup_hook(tmp_path):
    """``from mmseg.datasets import ...`` before ``import mmseam`` works:
    the installed mmseam-hook.pth armed the hook at start-up."""
    prelude = ('import sys; sys.modules["mmcv._ext"] = None\n'
               if _has_real_ext() else '')
    res = _run(
        prelude + '''
        import sys
        import mmseam_hook
        assert mmseam_hook.is_installed(), 'mmseam-hook.pth did not run'
        from mmseg.datasets import BaseSegDataset  # noqa: F401
        import mmseg.models  # noqa: F401  (imports mmcv.ops)
        assert 'mmseam' not in sys.modules
        assert mmseam_hook.is_mmcv_ext_stubbed()
        assert not mmseam_hook.is_installed()      # one shot: removed
        import mmseam
        from mmseam.utils import MissingMMCVOpError
        assert MissingMMCVOpError is mmseam_hook.MissingMMCVOpError
        import mmcv._ext as ext
        try:
            ext.nms_forward()
        except MissingMMCVOpError as err:
            assert 'nms_forward' in str(err)
            print('STUBBED BEFORE MMSEAM')
        ''', tmp_path)
    assert res.returncode == 0, res.stderr
    assert 'STUBBED BEFORE MMSEAM' in res.stdout


class _Recorder:
    """A meta path finder that records what it is asked for."""

    def __init__(self):
        self.asked = []

    def find_spec(self, fullname, path=None, target=None):
        self.asked.append(fullname)
        return None


def test_hook_fires_once_on_mmcv_ops_only(monkeypatch):
    """In-process mechanics: other names pass through; on ``mmcv.ops`` the
    hook calls ensure_mmcv_ext once and takes itself out of sys.meta_path
    without making the import system skip the finder after it."""
    import mmseam_hook
    hook = mmseam_hook._MMCVOpsHook
    calls = []
    monkeypatch.setattr(mmseam_hook, 'ensure_mmcv_ext',
                        lambda: calls.append('ensure'))
    after = _Recorder()
    monkeypatch.setattr(sys, 'meta_path', [after] + list(sys.meta_path))
    mmseam_hook.uninstall()
    monkeypatch.delitem(sys.modules, 'mmcv.ops', raising=False)
    mmseam_hook.install()
    mmseam_hook.install()  # idempotent
    assert sys.meta_path[:2] == [hook, after]
    assert hook.find_spec('mmcv.cnn') is None
    assert hook.find_spec('mmcv') is None
    assert calls == [] and mmseam_hook.is_installed()
    # as importlib does: iterate over the live list, ask each finder
    for finder in sys.meta_path:
        assert finder.find_spec('mmcv.ops') is None
        if finder is after:
            break
    assert calls == ['ensure']
    assert after.asked == ['mmcv.ops']  # not skipped
    assert not mmseam_hook.is_installed()
    assert after in sys.meta_path
    # too late once mmcv.ops is imported: install() does nothing
    monkeypatch.setitem(sys.modules, 'mmcv.ops', types.ModuleType('mmcv.ops'))
    mmseam_hook.install()
    assert not mmseam_hook.is_installed()
