# Copyright (c) mmseam contributors. All rights reserved.
"""A regular (non-editable) install: the wheel carries the configs, the
tools, the model index and the start-up hook, and ``mmseam::`` bases
resolve to the installed copies.

The wheel is built from a copy of the sources in a temporary folder and
installed with ``pip --target`` there; the environment's own (editable)
install is not touched.
"""
import glob
import os
import os.path as osp
import shutil
import subprocess
import sys
import textwrap
import zipfile

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SOURCES = ('setup.py', 'MANIFEST.in', 'README.md', 'model-index.yml',
           'requirements.txt', 'requirements', 'mmseam_hook.py', 'mmseam',
           'configs', 'tools')


def run(cmd, **kwargs):
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=240, **kwargs)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('wheel')
    src = tmp / 'src'
    src.mkdir()
    ignore = shutil.ignore_patterns('.mim', '__pycache__', '*.pyc',
                                    '*.egg-info')
    for name in SOURCES:
        path = osp.join(REPO, name)
        if osp.isdir(path):
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy(path, src / name)
    dist = tmp / 'dist'
    run([
        sys.executable, '-m', 'pip', 'wheel', '--no-deps',
        '--no-build-isolation', '--no-index', '-q', '-w',
        str(dist),
        str(src)
    ])
    wheels = glob.glob(str(dist / 'mmseam-*.whl'))
    assert len(wheels) == 1, wheels
    # the sources' mmseam/.mim is links, never copies (edits stay live)
    for name in ('configs', 'tools', 'model-index.yml'):
        assert osp.islink(src / 'mmseam' / '.mim' / name), name
    return tmp, wheels[0]


def test_wheel_contents(wheel):
    _, path = wheel
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        pth = zf.read('mmseam-hook.pth').decode()
    configs = {
        'mmseam/.mim/configs/' + osp.relpath(p, osp.join(REPO, 'configs'))
        for p in glob.glob(
            osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    }
    assert configs and configs <= names, sorted(configs - names)[:5]
    for name in ('mmseam/.mim/model-index.yml',
                 'mmseam/.mim/tools/train.py', 'mmseam/.mim/tools/test.py',
                 'mmseam/.mim/tools/infer_cams.py', 'mmseam/__init__.py',
                 'mmseam/registry.py', 'mmseam_hook.py'):
        assert name in names, name
    # top level: the package, the hook module and .pth, the metadata only
    top = {n.split('/')[0] for n in names}
    dist_info = {t for t in top if t.endswith('.dist-info')}
    assert len(dist_info) == 1, sorted(top)
    assert top - dist_info == {'mmseam', 'mmseam_hook.py', 'mmseam-hook.pth'}
    assert not [n for n in names if '__pycache__' in n or n.endswith('.pyc')]
    assert pth.startswith('import ') and 'mmseam_hook' in pth
    assert pth.count('\n') == 1  # one line: `site` runs it at start-up


def test_installed_wheel_resolves_mmseam_bases(wheel):
    tmp, path = wheel
    target = tmp / 'site'
    run([
        sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-index',
        '--no-compile', '-q', '--target',
        str(target), path
    ])
    seam_cfgs = sorted(
        glob.glob(osp.join(REPO, 'configs', 'seam', 'seam_*synthvoc*.py')))
    assert seam_cfgs
    base = 'seam/' + osp.basename(seam_cfgs[0])
    user = tmp / 'user_cfg.py'
    user.write_text(f"_base_ = ['mmseam::{base}']\n")
    probe = textwrap.dedent(f'''\
        import os.path as osp, site, sys
        root = {str(target)!r}
        # forget the environment's own hook, then let the wheel's .pth arm
        # the wheel's copy (site.addsitedir runs .pth files)
        if 'mmseam_hook' in sys.modules:
            sys.modules.pop('mmseam_hook').uninstall()
        site.addsitedir(root)
        import mmseam_hook
        assert mmseam_hook.__file__.startswith(root), mmseam_hook.__file__
        assert mmseam_hook.is_installed()  # armed before mmcv.ops
        from mmseg.datasets import ADE20KDataset  # mmseg first: imports
        import mmseam
        from mmengine.config import Config
        assert mmseam.__file__.startswith(root), mmseam.__file__
        path, scope = Config._get_cfg_path('mmseam::{base}', 'x.py')
        assert path == osp.join(root, 'mmseam', '.mim', 'configs',
                                '{base}'), path
        assert scope == 'mmseam'
        assert osp.isfile(path) and not osp.islink(path)
        cfg = Config.fromfile({str(user)!r})
        assert cfg.model.type == 'SEAM' and cfg.model._scope_ == 'mmseam'
        print('RESOLVED')
        ''')
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    proc = run([sys.executable, '-c', probe], cwd=str(tmp), env=env)
    assert 'RESOLVED' in proc.stdout
