"""GPU counterparts of tests/test_tools/test_train_tool.py and test_test_tool.py: ``--amp``
training on CUDA (the CPU test checks its clear error), and a 2-iteration AMP train + test of
each paper's full-size model on CUDA (tiny data written by the test; random initialisation)."""
import os
import os.path as osp

import pytest
import torch
from dbdseg_tests_cuda_helpers import PAPER_CONFIGS, cuda_marks, tiny_paper_config

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py

pytestmark = cuda_marks()

train_tool = tiny.load_tool('train')
test_tool = tiny.load_tool('test')

METRIC_KEYS = ('maxF', 'MAE', 'Sm')


def _finite_weights(ckpt_path):
    ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=False)
    state = ckpt['state_dict']
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    return ckpt, bad


def test_amp_training_of_the_tiny_model_on_cuda(tiny_cuda_project, tmp_path):
    runner = train_tool.main([
        tiny_cuda_project['config'], '--work-dir',
        str(tmp_path), '--amp', '--cfg-options', 'train_cfg.max_iters=2',
        f'experiment_name={tiny.unique_name("amp")}'
    ])
    assert type(runner.optim_wrapper).__name__ == 'AmpOptimWrapper'
    assert next(runner.model.parameters()).device.type == 'cuda'
    ckpt, bad = _finite_weights(osp.join(str(tmp_path), 'iter_2.pth'))
    assert ckpt['meta']['iter'] == 2 and not bad, bad
    # the float16 loss scaler's state is saved with the optimiser (resume keeps it)
    assert 'loss_scaler' in ckpt['optimizer']


@pytest.mark.parametrize('config', PAPER_CONFIGS, ids=lambda c: osp.basename(c)[:40])
def test_paper_model_trains_and_tests_on_cuda_with_amp(config, tmp_path):
    info = tiny_paper_config(config, tmp_path)
    runner = train_tool.main([info['config'], '--work-dir', info['work_dir'], '--amp'])
    assert type(runner.optim_wrapper).__name__ == 'AmpOptimWrapper'
    assert next(runner.model.parameters()).device.type == 'cuda'
    assert runner.iter == 2, runner.iter  # 2 iterations (one epoch of 4 images, batch 2)
    ckpt_name = 'epoch_1.pth' if info['epoch_based'] else 'iter_2.pth'
    ckpt_path = osp.join(info['work_dir'], ckpt_name)
    assert osp.isfile(ckpt_path), os.listdir(info['work_dir'])
    _, bad = _finite_weights(ckpt_path)
    assert not bad, f'non-finite weights after 2 AMP iterations: {bad[:5]}'
    del runner
    torch.cuda.empty_cache()
    metrics = test_tool.main([info['config'], ckpt_path, '--work-dir', str(tmp_path / 'test')])
    for key in METRIC_KEYS:
        assert key in metrics and 0.0 <= metrics[key] <= 1.0, (key, metrics)
