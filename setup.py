# Copyright (c) mmseam contributors. All rights reserved.
"""Install mmseam: SEAM weakly supervised segmentation for MMSegmentation.

``configs/`` and ``tools/`` are made reachable after install as
``mmseam/.mim/{configs,tools}`` (symlinks for editable installs, copies for
wheels), so ``mmseam::seam/<config>.py`` resolves in MMEngine configs.
"""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

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


def add_mim_extension() -> None:
    """Expose ``configs/`` and ``tools/`` as ``mmseam/.mim/*``.

    Editable/develop installs get symlinks (edits show up at once); wheels and
    sdists get copies.
    """
    copy_mode = any(cmd in sys.argv for cmd in ('bdist_wheel', 'sdist'))
    mim_path = osp.join(HERE, 'mmseam', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in ('configs', 'tools'):
        src = osp.join(HERE, name)
        dst = osp.join(mim_path, name)
        if not osp.isdir(src):
            continue
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if copy_mode:
            shutil.copytree(src, dst)
        else:
            os.symlink(osp.relpath(src, mim_path), dst)


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
        packages=find_packages(exclude=('configs', 'tools', 'tests')),
        include_package_data=True,
        package_data={'mmseam': ['.mim/configs/**/*.py', '.mim/tools/**/*']},
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
