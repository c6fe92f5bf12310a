"""Packaging of dbdseg; the metadata and requirements are in setup.cfg.

Besides the ``dbdseg`` package this ships what OpenMMLab's ``mim`` needs to train and test from a
non-editable install, as mmsegmentation 1.2.2's ``setup.py`` does (``add_mim_extension``):
``dbdseg/.mim/{configs,tools,model-index.yml}``: symbolic links to the repository's folders for
an editable install (``pip install -e .``), copies for a wheel or sdist (``pip wheel .``,
``pip install .``). ``mim train dbdseg CONFIG`` and ``mim test dbdseg CONFIG --checkpoint CKPT``
then find ``dbdseg/.mim/tools/{train,test}.py`` and the configs. The ``dbdseg`` console command
(``dbdseg train|test|infer|convert|bench``) is the entry point :func:`dbdseg.cli.main`.
"""
import os
import os.path as osp
import platform
import shutil
import sys
import warnings

from setuptools import setup

MIM_FILES = ('configs', 'tools', 'model-index.yml')


def add_mim_extension(argv=None, repo_path=None):
    """Add the files that ``mim`` needs (configs, tools, model index) under ``dbdseg/.mim``.

    Symbolic links to the originals when the package is installed in editable mode
    (``develop`` / ``editable_wheel``; copies on Windows), copies when a wheel or sdist is built
    (``bdist_wheel`` / ``sdist`` / ``install`` / ``build``); nothing for other commands. An
    earlier ``dbdseg/.mim`` entry (link, file or folder) is replaced.

    Args:
        argv (list[str], optional): the setup command line. Defaults to None: ``sys.argv``.
        repo_path (str, optional): the repository root. Defaults to None: this file's folder.

    Returns:
        str | None: the mode used (``'symlink'`` or ``'copy'``), None when nothing was done.
    """
    argv = sys.argv if argv is None else argv
    if 'develop' in argv or 'editable_wheel' in argv:
        mode = 'copy' if platform.system() == 'Windows' else 'symlink'
    elif any(cmd in argv for cmd in ('sdist', 'bdist_wheel', 'install', 'build')):
        mode = 'copy'
    else:
        return None

    repo_path = repo_path or osp.dirname(osp.abspath(__file__))
    mim_path = osp.join(repo_path, 'dbdseg', '.mim')
    os.makedirs(mim_path, exist_ok=True)

    for filename in MIM_FILES:
        src_path = osp.join(repo_path, filename)
        if not osp.exists(src_path):
            warnings.warn(f'add_mim_extension: {src_path} is missing; not packaged')
            continue
        tar_path = osp.join(mim_path, filename)
        if osp.isfile(tar_path) or osp.islink(tar_path):
            os.remove(tar_path)
        elif osp.isdir(tar_path):
            shutil.rmtree(tar_path)

        if mode == 'symlink':
            os.symlink(osp.relpath(src_path, osp.dirname(tar_path)), tar_path)
        elif osp.isfile(src_path):
            shutil.copyfile(src_path, tar_path)
        else:
            shutil.copytree(
                src_path, tar_path, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    return mode


if __name__ == '__main__':  # setuptools runs this file as __main__ (also for PEP 517 builds)
    add_mim_extension()
    setup(
        include_package_data=True,
        entry_points={'console_scripts': ['dbdseg=dbdseg.cli:main']},
    )
