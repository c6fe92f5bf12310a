"""Fixtures of the API tests: the tiny project of tests/test_tools/tiny_project.py and an
untrained checkpoint of its model (no training needed to test inference plumbing)."""
import importlib.util
import os.path as osp
import sys

import pytest

PATH = osp.join(osp.dirname(osp.dirname(__file__)), 'test_tools', 'tiny_project.py')


def _tiny():
    name = 'dbdseg_tests_tiny_project'
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


tiny = _tiny()


@pytest.fixture(scope='session')
def tiny_model_files(tmp_path_factory):
    """``dict(config, checkpoint, data_root)``: the tiny config and a checkpoint of its model."""
    root = tmp_path_factory.mktemp('tiny_api')
    data_root = tiny.write_dataset(root / 'data')
    config = tiny.write_config(root / 'tiny_dbd.py', data_root)
    ckpt = tiny.save_untrained_checkpoint(config, root / 'tiny.pth')
    return dict(config=config, checkpoint=ckpt, data_root=data_root)
