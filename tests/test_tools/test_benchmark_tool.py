"""tools/analysis_tools/benchmark.py and model_size.py: command lines, printed summaries, JSON files
and error messages (the measurements are tested in tests/test_utils/test_benchmark.py)."""
import json
import os.path as osp
import runpy

import pytest
import torch

TOOLS = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools', 'analysis_tools')
bench = runpy.run_path(osp.join(TOOLS, 'benchmark.py'))
size_tool = runpy.run_path(osp.join(TOOLS, 'model_size.py'))


def test_cli_json_tensor_mode(tiny_project, tmp_path, capsys):
    out = tmp_path / 'sub' / 'bench.json'
    res = bench['main']([
        tiny_project['config'], '--shape', '32', '24', '--batch', '2', '--repeat', '3', '--warmup',
        '1', '--num-threads', '1', '--seed', '5', '--no-progress', '--out',
        str(out)
    ])
    data = json.loads(out.read_text())
    assert data == json.loads(json.dumps(res))
    assert data['shape'] == [32, 24] and data['batch'] == 2 and data['seed'] == 5
    assert data['latency_ms']['n'] == 3 and data['warmup'] == 1 and data['torch_threads'] == 1
    assert data['mode'] == 'tensor' and not data['amp'] and data['checkpoint'] is None
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"config: {tiny_project['config']}"
    assert 'input 2x3x32x24' in printed[1]
    assert printed[2].startswith('latency: median') and printed[3].startswith('params: ')
    assert printed[4].startswith('FLOPs (one image)')
    assert printed[-1] == f'results: {out}'


def test_cli_flags_reach_the_benchmark(tiny_project, capsys):
    res = bench['main']([
        tiny_project['config'], 'none', '--mode', 'predict', '--channels-last', '--repeat', '1',
        '--warmup', '0', '--no-flops', '--no-progress', '--cfg-options', 'crop_size=(16,20)'
    ])
    assert res['mode'] == 'predict' and res['channels_last'] and res['shape'] == [16, 20]
    assert 'flops' not in res and res['max_abs_diff_vs_fp32_eager'] < 1e-5
    assert 'fast paths: channels_last' in capsys.readouterr().out


def test_cli_errors(tiny_project, tmp_path):
    main = bench['main']
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit, match='benchmark.py: .*CUDA is not available'):
            main([tiny_project['config'], '--device', 'cuda', '--no-flops'])
    with pytest.raises(SystemExit, match='benchmark.py: config file not found'):
        main([str(tmp_path / 'missing.py')])
    with pytest.raises(SystemExit, match='repeat >= 1'):
        main([tiny_project['config'], '--repeat', '0'])
    with pytest.raises(SystemExit):  # argparse: not a mode
        main([tiny_project['config'], '--mode', 'train'])


def test_model_size_cli(tiny_project, tmp_path, capsys):
    out = tmp_path / 'size.json'
    info = size_tool['main']([tiny_project['config'], '--json', str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(info))
    assert info['config'] == tiny_project['config']
    assert info['total_params'] == sum(info['parts'].values()) > 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"config: {tiny_project['config']}"
    assert printed[1].split() == ['part', 'params']
    assert printed[2].split() == ['backbone', f"{info['parts']['backbone']:,}"]
    assert printed[-1].startswith('fp32 state dict: ')
    wide = size_tool['main'](
        [tiny_project['config'], '--cfg-options', 'model.decode_head.channels=8'])
    assert wide['parts']['decode_head'] > info['parts']['decode_head']


def test_cli_sweep_json_and_table(tiny_project, tmp_path, capsys):
    out = tmp_path / 'sweep.json'
    res = bench['main']([
        tiny_project['config'], '--shape', '16', '16', '--batch-sizes', '1', '2', '--precisions',
        'fp32', 'amp', '--modes', 'tensor', 'predict', '--repeat', '1', '--warmup', '0',
        '--no-flops', '--no-progress', '--cudnn-benchmark', '--out',
        str(out)
    ])
    assert json.loads(out.read_text()) == json.loads(json.dumps(res))
    assert [(r['precision'], r['mode'], r['batch'])
            for r in res['runs']] == [('fp32', 'tensor', 1), ('amp', 'tensor', 1),
                                      ('fp32', 'predict', 1), ('amp', 'predict', 1),
                                      ('fp32', 'tensor', 2), ('amp', 'tensor', 2)]
    assert res['cudnn_benchmark'] is True and not torch.backends.cudnn.benchmark
    assert set(res['best']) == {'fp32', 'amp'} and 'flops' not in res
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"config: {tiny_project['config']}"
    assert printed[2].split()[:3] == ['precision', 'mode', 'batch']
    assert printed[-1] == f'results: {out}'
    # --amp / --mode choose the sweep's defaults
    res = bench['main']([
        tiny_project['config'], '--shape', '16', '16', '--batch-sizes', '1', '--amp', '--mode',
        'predict', '--repeat', '1', '--warmup', '0', '--no-flops', '--no-progress'
    ])
    assert [(r['precision'], r['mode'], r['batch']) for r in res['runs']] == [('amp', 'predict', 1)]
    with pytest.raises(SystemExit, match='benchmark.py: batch sizes must be >= 1'):
        bench['main']([tiny_project['config'], '--batch-sizes', '0'])
