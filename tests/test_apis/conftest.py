"""Fixtures of the API tests: the tiny project of tests/test_tools/tiny_project.py and an
untrained checkpoint of its model (no training needed to test inference plumbing)."""
import pytest

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py


@pytest.fixture(scope='session')
def tiny_model_files(tmp_path_factory):
    """``dict(config, checkpoint, data_root)``: the tiny config and a checkpoint of its model."""
    root = tmp_path_factory.mktemp('tiny_api')
    data_root = tiny.write_dataset(root / 'data')
    config = tiny.write_config(root / 'tiny_dbd.py', data_root)
    ckpt = tiny.save_untrained_checkpoint(config, root / 'tiny.pth')
    return dict(config=config, checkpoint=ckpt, data_root=data_root)
