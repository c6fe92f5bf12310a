"""The ``cuda`` marker and the fixtures of the GPU tests (tests/cuda).

Every test here is marked ``cuda`` and skips itself, with its reason printed, where torch sees no
CUDA device. A run without ``-m`` deselects them (CPU CI) and says how many; ``pytest -m cuda``
(what ``.dev_scripts/gpu/check.sh`` runs on the GPU machine) selects them. The helpers live in
tests/cuda/cuda_helpers.py, importable as ``dbdseg_tests_cuda_helpers``.
"""
import importlib.util
import os.path as osp
import sys

import pytest

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py

HELPERS_NAME = 'dbdseg_tests_cuda_helpers'
if HELPERS_NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        HELPERS_NAME, osp.join(osp.dirname(__file__), 'cuda_helpers.py'))
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[HELPERS_NAME] = _module
    _spec.loader.exec_module(_module)

_deselected = []


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'cuda: needs a CUDA GPU (tests/cuda); deselected unless -m selects it, '
        'e.g. pytest -m cuda')


def pytest_collection_modifyitems(config, items):
    """Without ``-m``, deselect the ``cuda`` tests (reported as deselected)."""
    if config.getoption('markexpr', ''):
        return  # -m given: pytest's own selection decides
    cuda_items = [item for item in items if item.get_closest_marker('cuda') is not None]
    if not cuda_items:
        return
    config.hook.pytest_deselected(items=cuda_items)
    items[:] = [item for item in items if item.get_closest_marker('cuda') is None]
    _deselected.append(len(cuda_items))


def pytest_terminal_summary(terminalreporter):
    if _deselected:
        terminalreporter.write_line(
            f'{sum(_deselected)} cuda-marked tests deselected (tests/cuda; run them with '
            '`pytest -m cuda` on a GPU machine, see docs/en/gpu_check.md)')


@pytest.fixture(scope='session')
def tiny_cuda_project(tmp_path_factory):
    """The tiny project (tests/test_tools/tiny_project.py): ``dict(config, checkpoint,
    data_root)`` with an untrained checkpoint."""
    root = tmp_path_factory.mktemp('tiny_cuda')
    data_root = tiny.write_dataset(root / 'data')
    config = tiny.write_config(root / 'tiny_dbd.py', data_root)
    ckpt = tiny.save_untrained_checkpoint(config, root / 'tiny.pth')
    return dict(config=config, checkpoint=ckpt, data_root=data_root)
