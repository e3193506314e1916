# Copyright (c) mmseam contributors. All rights reserved.
"""Install mmseam: SEAM weakly supervised segmentation for MMSegmentation.

- ``configs/``, ``tools/`` and ``model-index.yml`` are made reachable as
  ``mmseam/.mim/*`` (symlinks in the source tree, so edits show up at once in
  editable installs; wheels get real copies through ``package_data``), so
  ``mmseam::seam/<config>.py`` bases resolve in MMEngine configs and
  ``mim train mmseam CONFIG`` finds the configs and ``tools/train.py``.
- ``mmseam-hook.pth`` goes into site-packages (wheels and editable installs):
  at interpreter start-up it arms ``mmseam_hook``, which stubs mmcv-lite's
  missing compiled ``mmcv._ext`` right before the first ``import mmcv.ops``,
  whatever is imported first.
"""
import os
import os.path as osp
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

try:  # PEP 660 editable installs (setuptools >= 64)
    from setuptools.command.editable_wheel import editable_wheel
except ImportError:  # pragma: no cover
    editable_wheel = None

HERE = osp.dirname(osp.abspath(__file__))


def readme() -> str:
    with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
        return f.read()


def get_version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'mmseam', 'version.py'), encoding='utf-8') as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(fname: str) -> list:
    """Read a requirements file, following ``-r`` includes."""
    reqs = []
    with open(osp.join(HERE, fname), encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            if line.startswith('-r '):
                reqs += parse_requirements(
                    osp.join(osp.dirname(fname), line[3:].strip()))
            else:
                reqs.append(line)
    return reqs


MIM_ITEMS = ('configs', 'tools', 'model-index.yml')
HOOK_PTH = 'mmseam-hook.pth'
# One line, run by `site` at start-up. Guarded so that a stale .pth (the
# module gone) stays silent instead of printing an error in every program.
HOOK_PTH_LINE = ("import importlib.util as _u; "
                 "_u.find_spec('mmseam_hook') is not None and "
                 "__import__('mmseam_hook').install()\n")


def add_mim_extension() -> None:
    """Link ``configs/``, ``tools/``, ``model-index.yml`` as ``mmseam/.mim/*``.

    Symlinks (relative), so the source tree is never rewritten: editable
    installs see edits at once, and wheel builds copy the files the links
    point to (``package_data`` below). A correct link is left alone; where
    symlinks are unavailable (some Windows setups), copies are made.
    """
    mim_path = osp.join(HERE, 'mmseam', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in MIM_ITEMS:
        src = osp.join(HERE, name)
        dst = osp.join(mim_path, name)
        if not osp.exists(src):
            continue
        rel = osp.relpath(src, mim_path)
        if osp.islink(dst) and os.readlink(dst) == rel:
            continue
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        try:
            os.symlink(rel, dst)
        except OSError:
            if osp.isdir(src):
                shutil.copytree(src, dst)
            else:
                shutil.copyfile(src, dst)


class BuildPyWithHook(build_py):
    """``build_py`` that also puts ``mmseam-hook.pth`` at the wheel's root."""

    def run(self):
        super().run()
        if not getattr(self, 'editable_mode', False):
            target = osp.join(self.build_lib, HOOK_PTH)
            with open(target, 'w', encoding='utf-8') as f:
                f.write(HOOK_PTH_LINE)

    def get_outputs(self, *args, **kwargs):
        outputs = super().get_outputs(*args, **kwargs)
        if not getattr(self, 'editable_mode', False):
            outputs = list(outputs) + [osp.join(self.build_lib, HOOK_PTH)]
        return outputs


CMDCLASS = {'build_py': BuildPyWithHook}

if editable_wheel is not None and hasattr(editable_wheel,
                                          '_run_build_commands'):

    class EditableWheelWithHook(editable_wheel):
        """Editable wheel that also installs ``mmseam-hook.pth``.

        setuptools writes what lies in the unpacked-wheel folder into the
        editable wheel, next to its own ``__editable__.*.pth`` (which sorts
        first, so ``mmseam_hook`` is importable when ours runs).
        """

        def _run_build_commands(self, dist_name, unpacked_wheel, build_lib,
                                tmp_dir):
            result = super()._run_build_commands(dist_name, unpacked_wheel,
                                                 build_lib, tmp_dir)
            with open(osp.join(unpacked_wheel, HOOK_PTH), 'w',
                      encoding='utf-8') as f:
                f.write(HOOK_PTH_LINE)
            return result

    CMDCLASS['editable_wheel'] = EditableWheelWithHook


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmseam',
        version=get_version(),
        description='SEAM weakly supervised semantic segmentation on '
        'MMSegmentation 1.x',
        long_description=readme(),
        long_description_content_type='text/markdown',
        keywords='weakly supervised, semantic segmentation, SEAM, CAM',
        packages=find_packages(include=('mmseam', 'mmseam.*')),
        py_modules=['mmseam_hook'],
        include_package_data=True,
        package_data={
            'mmseam': [
                '.mim/model-index.yml',
                '.mim/configs/**/*.py',
                '.mim/configs/**/*.md',
                '.mim/configs/**/*.yml',
                '.mim/tools/**/*.py',
                '.mim/tools/**/*.sh',
            ]
        },
        exclude_package_data={'mmseam': ['**/__pycache__/*']},
        cmdclass=CMDCLASS,
        python_requires='>=3.8',
        license='Apache License 2.0',
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'all': parse_requirements('requirements.txt'),
            'tests': parse_requirements('requirements/tests.txt'),
            'optional': parse_requirements('requirements/optional.txt'),
            'mim': parse_requirements('requirements/mminstall.txt'),
        },
        zip_safe=False)
