"""Fixtures of the tool tests: a tiny project (data + config) and one short training run."""
import os.path as osp

import pytest

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py


@pytest.fixture(scope='session')
def tiny_project(tmp_path_factory):
    """``dict(root, data_root, config)`` of the tiny project (shared, read-only for tests)."""
    root = tmp_path_factory.mktemp('tiny_project')
    data_root = tiny.write_dataset(root / 'data')
    config = tiny.write_config(root / 'tiny_dbd.py', data_root)
    return dict(root=root, data_root=data_root, config=config)


@pytest.fixture(scope='session')
def trained(tiny_project, tmp_path_factory):
    """Train the tiny model 4 iterations (validation every 2) with tools/train.py once.

    Returns ``dict(work_dir, config, data_root, checkpoint)``.
    """
    work_dir = str(tmp_path_factory.mktemp('train_work_dir'))
    train = tiny.load_tool('train')
    train.main([
        tiny_project['config'], '--work-dir', work_dir, '--cfg-options',
        f'experiment_name={tiny.unique_name("train")}'
    ])
    return dict(
        work_dir=work_dir,
        config=tiny_project['config'],
        data_root=tiny_project['data_root'],
        checkpoint=osp.join(work_dir, 'iter_4.pth'))
