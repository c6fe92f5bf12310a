"""Packaging (issue 20, item 1): the wheel ships configs, tools and the model index under
``dbdseg/.mim`` (what ``mim train dbdseg CONFIG`` needs) and the ``dbdseg`` console command.

The wheel is built from a copy of the sources in a temporary folder (``pip wheel --no-deps
--no-build-isolation``), so the checkout's ``dbdseg/.mim`` is not touched."""
import importlib.util
import os
import os.path as osp
import shutil
import subprocess
import sys
import zipfile

import pytest

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py

REPO = tiny.REPO_ROOT
SOURCES = ('setup.py', 'setup.cfg', 'MANIFEST.in', 'README.md', 'model-index.yml', 'dbdseg',
           'configs', 'tools')


def _copy_sources(dst):
    os.makedirs(dst, exist_ok=True)
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc', '.mim', '*.egg-info')
    for name in SOURCES:
        src = osp.join(REPO, name)
        if osp.isdir(src):
            shutil.copytree(src, osp.join(dst, name), ignore=ignore)
        else:
            shutil.copyfile(src, osp.join(dst, name))
    return str(dst)


def _files_under(root):
    return sorted(
        osp.relpath(osp.join(d, f), root) for d, dirs, files in os.walk(root) for f in files
        if '__pycache__' not in d and not f.endswith('.pyc'))


def _load_setup(path):
    spec = importlib.util.spec_from_file_location('dbdseg_setup_py', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # __name__ is not '__main__': setup() is not called
    return module


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    src = _copy_sources(tmp_path_factory.mktemp('src'))
    out = tmp_path_factory.mktemp('wheel')
    proc = subprocess.run([
        sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w',
        str(out), src
    ],
                          capture_output=True,
                          text=True,
                          cwd=str(out),
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    wheels = [f for f in os.listdir(out) if f.endswith('.whl')]
    assert len(wheels) == 1, os.listdir(out)
    return osp.join(out, wheels[0])


def test_wheel_ships_configs_tools_and_model_index(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(zf.read(n).decode() for n in names if n.endswith('entry_points.txt'))
    mim = {n[len('dbdseg/.mim/'):] for n in names if n.startswith('dbdseg/.mim/')}
    assert 'model-index.yml' in mim
    for top in ('configs', 'tools'):
        expected = {f'{top}/{f}' for f in _files_under(osp.join(REPO, top))}
        assert expected <= mim, sorted(expected - mim)[:10]
    assert 'tools/train.py' in mim and 'tools/test.py' in mim
    assert not [n for n in names if '__pycache__' in n or n.endswith('.pyc')]
    assert 'dbdseg/cli/__init__.py' in names and 'dbdseg/__main__.py' in names
    assert 'dbdseg = dbdseg.cli:main' in entry_points


def test_mim_extension_links_in_develop_mode_and_copies_otherwise(tmp_path):
    src = _copy_sources(tmp_path / 'src')
    setup_py = _load_setup(osp.join(src, 'setup.py'))
    mim = osp.join(src, 'dbdseg', '.mim')
    assert setup_py.add_mim_extension(['setup.py', 'egg_info'], repo_path=src) is None
    assert not osp.exists(mim)
    assert setup_py.add_mim_extension(['setup.py', 'develop'], repo_path=src) == 'symlink'
    for name in setup_py.MIM_FILES:
        link = osp.join(mim, name)
        assert osp.islink(link) and osp.realpath(link) == osp.realpath(osp.join(src, name))
    # a wheel build replaces the links with copies
    assert setup_py.add_mim_extension(['setup.py', 'bdist_wheel'], repo_path=src) == 'copy'
    assert not osp.islink(osp.join(mim, 'configs')) and osp.isdir(osp.join(mim, 'configs'))
    assert _files_under(osp.join(mim, 'tools')) == _files_under(osp.join(src, 'tools'))
