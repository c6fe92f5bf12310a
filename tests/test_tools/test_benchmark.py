"""tools/analysis_tools/benchmark.py: latency statistics, FLOPs, parameters, memory, fast paths."""
import json

import numpy as np
import pytest
import torch

import dbdseg_tests_tiny_project as tiny  # registered by conftest.py

bench = tiny.load_tool('analysis_tools/benchmark')


def _tiny_params(config):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    return sum(p.numel() for p in MODELS.build(Config.fromfile(config).model).parameters())


def test_cli_json_tensor_mode(tiny_project, tmp_path, capsys):
    out = tmp_path / 'bench.json'
    res = bench.main([tiny_project['config'], '--shape', '32', '32', '--repeat', '4',
                      '--warmup', '1', '--no-progress', '--out', str(out)])
    data = json.loads(out.read_text())
    assert data == json.loads(json.dumps(res))
    assert data['mode'] == 'tensor' and data['shape'] == [32, 32] and data['batch'] == 1
    assert data['device'] == 'cpu' and data['device_info']['type'] == 'cpu'
    lat = data['latency_ms']
    assert lat['n'] == 4 and len(lat['all']) == 4
    assert lat['median'] == pytest.approx(float(np.median(lat['all'])))
    assert lat['min'] <= lat['q25'] <= lat['median'] <= lat['q75'] <= lat['max']
    assert data['images_per_s'] == pytest.approx(1000.0 / lat['median'])
    assert data['params'] == _tiny_params(tiny_project['config'])
    assert data['flops'] > 0 and data['flops_G'] == pytest.approx(data['flops'] / 1e9)
    mem = data['peak_memory']
    assert mem['kind'] == 'rss_high_water' and mem['bytes'] > 10e6  # a python + torch process
    assert 'max_abs_diff_vs_fp32_eager' not in data  # no fast path asked for
    printed = capsys.readouterr().out
    assert 'latency: median' in printed and 'FLOPs (one image)' in printed


def test_flops_of_a_single_conv_follow_fvcore_convention():
    # one fused multiply-add = 1 FLOP: (4 out channels x 8 x 8 outputs) x (3 in channels x 3 x 3)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    assert bench.count_flops(conv, (8, 8), torch.device('cpu'))['flops'] == 4 * 64 * 3 * 9


def test_latency_summary_statistics():
    s = bench.latency_summary([0.001, 0.002, 0.003, 0.010])
    assert s['median'] == pytest.approx(2.5)
    assert s['mean'] == pytest.approx(4.0)
    assert s['min'] == pytest.approx(1.0) and s['max'] == pytest.approx(10.0)
    assert s['q25'] == pytest.approx(1.75) and s['q75'] == pytest.approx(4.75)
    assert s['iqr'] == pytest.approx(3.0)
    assert s['std'] == pytest.approx(float(np.std([1, 2, 3, 10], ddof=1)))


def test_predict_mode_and_channels_last(tiny_project):
    res = bench.run_benchmark(tiny_project['config'], shape=(24, 36), batch=2, mode='predict',
                              channels_last=True, repeat=2, warmup=1, flops=False,
                              progress=False)
    assert res['mode'] == 'predict' and res['batch'] == 2 and res['channels_last']
    assert 'flops' not in res
    # channels_last changes the memory layout only: the probabilities stay the same
    assert res['max_abs_diff_vs_fp32_eager'] < 1e-5
    assert res['images_per_s'] == pytest.approx(2000.0 / res['latency_ms']['median'])


def test_amp_on_cpu_uses_bfloat16_and_reports_the_difference(tiny_project):
    res = bench.run_benchmark(tiny_project['config'], shape=(32, 32), amp=True, repeat=1,
                              warmup=0, flops=False, progress=False)
    assert res['amp'] and res['amp_dtype'] == 'bfloat16'
    assert 0 <= res['max_abs_diff_vs_fp32_eager'] < 0.5


def test_errors(tiny_project, tmp_path):
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit, match='CUDA is not available'):
            bench.main([tiny_project['config'], '--device', 'cuda', '--no-flops'])
    with pytest.raises(SystemExit, match='config file not found'):
        bench.main([str(tmp_path / 'missing.py')])
    with pytest.raises(SystemExit, match='repeat >= 1'):
        bench.main([tiny_project['config'], '--repeat', '0'])
    with pytest.raises(SystemExit):  # argparse: not a mode
        bench.main([tiny_project['config'], '--mode', 'train'])


def test_default_shape_reads_crop_size():
    from mmengine.config import Config
    assert bench.default_shape(Config(dict(crop_size=(192, 256)))) == [192, 256]
    assert bench.default_shape(Config(dict())) == [320, 320]
