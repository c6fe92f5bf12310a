"""GPU counterparts of tests/test_utils/test_benchmark.py and test_benchmark_tool.py: the AMP
(float16 autocast) path, CUDA peak memory and the sweep on a CUDA device."""
import json
import os.path as osp
import runpy

import torch
from dbdseg_tests_cuda_helpers import cuda_marks

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py
from dbdseg.utils import benchmark as bm

pytestmark = cuda_marks()


def test_amp_on_cuda_uses_float16_and_cuda_memory(tiny_cuda_project):
    res = bm.run_benchmark(
        tiny_cuda_project['config'],
        device='cuda',
        shape=(64, 64),
        amp=True,
        repeat=3,
        warmup=1,
        progress=False)
    assert res['amp'] and res['amp_dtype'] == 'float16'
    assert res['device_info']['type'] == 'cuda' and res['device_info']['name']
    mem = res['peak_memory']
    assert mem['kind'] == 'cuda_max_memory_allocated' and mem['bytes'] > 0
    # float16 changes the logits at the 1e-3 level, not more
    assert 0 <= res['max_abs_diff_vs_fp32_eager'] < 0.05
    assert res['flops'] > 0  # the counter traces on the GPU too


def test_sweep_on_cuda(tiny_cuda_project):
    res = bm.run_sweep(
        tiny_cuda_project['config'],
        device='cuda',
        shape=(64, 64),
        batch_sizes=[1, 4],
        precisions=['fp32', 'amp'],
        modes=['tensor', 'predict'],
        repeat=3,
        warmup=1,
        flops=False,
        cudnn_benchmark=True)
    assert len(res['runs']) == 6 and res['skipped'] == []
    assert all(r['peak_memory_kind'] == 'cuda_max_memory_allocated' for r in res['runs'])
    assert {r['amp_dtype'] for r in res['runs'] if r['precision'] == 'amp'} == {'float16'}
    assert set(res['best']) == {'fp32', 'amp'} and set(
        res['predict_over_tensor']) == {'fp32', 'amp'}
    assert res['cudnn_benchmark'] is True


def test_benchmark_cli_amp_on_cuda(tiny_cuda_project, tmp_path, capsys):
    tool = runpy.run_path(osp.join(tiny.REPO_ROOT, 'tools', 'analysis_tools', 'benchmark.py'))
    out = tmp_path / 'bench.json'
    res = tool['main']([
        tiny_cuda_project['config'], '--device', 'cuda', '--amp', '--shape', '64', '64', '--repeat',
        '2', '--warmup', '1', '--no-flops', '--no-progress', '--out',
        str(out)
    ])
    assert json.loads(out.read_text())['amp_dtype'] == 'float16' == res['amp_dtype']
    assert 'fast paths: amp' in capsys.readouterr().out


def test_cuda_index_is_honoured(tiny_cuda_project):
    res = bm.run_benchmark(
        tiny_cuda_project['config'],
        device='cuda:0',
        repeat=1,
        warmup=0,
        flops=False,
        progress=False)
    assert res['device'] == 'cuda:0' and res['device_info']['index'] == 0
    assert res['device_info']['name'] == torch.cuda.get_device_name(0)
