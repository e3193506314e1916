# Copyright (c) mmseam contributors. All rights reserved.
"""A regular (non-editable) install: the wheel carries the configs, the
tools, the model index and the start-up hook, and ``mmseam::`` bases
resolve to the installed copies.

The wheel is built from a copy of the sources in a temporary folder and
installed with ``pip --target`` there; the environment's own (editable)
install is not touched.
"""
import glob
import importlib.util
import os
import os.path as osp
import shutil
import subprocess
import sys
import textwrap
import zipfile

import pytest
import torch
from test_configs.test_mmseam_scope import user_config

from mmseam.datasets.synthetic import make_synthetic_voc

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
    # every config, README and metafile (the model index imports those),
    # every tool and script
    for folder, exts in (('configs', ('py', 'md', 'yml')), ('tools',
                                                            ('py', 'sh'))):
        files = {
            f'mmseam/.mim/{folder}/' +
            osp.relpath(p, osp.join(REPO, folder)).replace(os.sep, '/')
            for ext in exts for p in glob.glob(
                osp.join(REPO, folder, '**', f'*.{ext}'), recursive=True)
        }
        assert files and files <= names, sorted(files - names)[:5]
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


@pytest.fixture(scope='module')
def installed(wheel):
    """The wheel installed into a folder of its own (``pip --target``)."""
    tmp, path = wheel
    target = tmp / 'site'
    run([
        sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-index',
        '--no-compile', '-q', '--target',
        str(target), path
    ])
    return tmp, target


def test_installed_wheel_resolves_mmseam_bases(installed):
    tmp, target = installed
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


def test_mim_train_with_the_installed_wheel(installed, tmp_path):
    """``mim train mmseam CONFIG`` runs the installed tools/train.py (from
    mmseam/.mim) on a user config with mmseam:: bases. Needs OpenMIM, an
    optional tool that `make install` installs without its own pins (they
    would downgrade setuptools); in an environment without it the test is
    skipped."""
    spec = importlib.util.find_spec('mim')
    if spec is None:
        pytest.skip('OpenMIM (`mim`) is not installed')
    _, target = installed
    mim_root = osp.dirname(osp.dirname(spec.origin))
    data_root = str(tmp_path / 'voc')
    make_synthetic_voc(
        data_root, seed=5, num_train=4, num_val=1, image_size=64)
    cfg = user_config(str(tmp_path), data_root)
    work_dir = str(tmp_path / 'work')
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    env['PYTHONPATH'] = os.pathsep.join([str(target), mim_root])
    proc = run([
        sys.executable, '-m', 'mim', 'train', 'mmseam', cfg, '--work-dir',
        work_dir
    ],
               cwd=str(tmp_path),
               env=env)
    script = osp.join(str(target), 'mmseam', '.mim', 'tools', 'train.py')
    assert f'Training command is {sys.executable} {script} ' in proc.stdout
    ckpt = torch.load(
        osp.join(work_dir, 'epoch_1.pth'), map_location='cpu',
        weights_only=False)
    assert ckpt['meta']['iter'] == 2  # 4 images, batch 2
