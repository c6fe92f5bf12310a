"""dbdseg.utils.benchmark: parameter counts and fp32 size, FLOPs, latency statistics, peak memory,
inputs and calls, and run_benchmark's results (tensor / predict mode, fast paths, errors)."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py
from dbdseg.utils import benchmark as bm


@pytest.fixture(scope='module')
def tiny_config(tmp_path_factory):
    """The tiny project's config (mmseg UNet + FCNHead, crop 32 x 32); no data is read."""
    root = tmp_path_factory.mktemp('bench_config')
    return tiny.write_config(root / 'tiny_dbd.py', root / 'data')


def _tiny_params(config):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    return sum(p.numel() for p in MODELS.build(Config.fromfile(config).model).parameters())


# ----------------------------------------------------------------------------------------------
# parameters and fp32 size
# ----------------------------------------------------------------------------------------------
def test_count_params_all_trainable_and_none():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    assert bm.count_params(net) == (4 * 3 * 9 + 4) + (4 + 4)
    net[0].weight.requires_grad_(False)
    assert bm.count_params(net, trainable_only=True) == 4 + 8
    assert bm.count_params(None) == 0
    with torch.device('meta'):
        assert bm.count_params(torch.nn.Linear(10, 5)) == 55


def test_state_dict_bytes_is_the_fp32_size_whatever_the_dtype():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.BatchNorm2d(16))
    fp32 = bm.state_dict_bytes(net)
    assert fp32 == bm.state_dict_bytes(net.half())
    # the tensors' data (parameters and BN buffers, 4 bytes each) plus pickling overhead
    numel = sum(v.numel() for k, v in net.state_dict().items() if v.is_floating_point())
    assert 4 * numel < fp32 < 4 * numel + 4096


def test_model_size_parts_and_units():

    class Seg(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.backbone = torch.nn.Conv2d(3, 8, 3)
            self.act = torch.nn.ReLU()  # no parameters: not a part
            self.decode_head = torch.nn.Conv2d(8, 1, 1)

    info = bm.model_size(Seg())
    assert list(info['parts'].items()) == [('backbone', 8 * 27 + 8), ('decode_head', 9)]
    assert info['total_params'] == info['trainable_params'] == 8 * 27 + 8 + 9
    assert info['fp32_MB'] == info['fp32_bytes'] / 1e6
    assert info['fp32_MiB'] == info['fp32_bytes'] / 2**20


def test_config_model_size_and_its_table(tiny_config):
    info = bm.config_model_size(tiny_config)
    assert info['config'] == tiny_config
    assert info['total_params'] == _tiny_params(tiny_config) == sum(info['parts'].values())
    assert set(info['parts']) == {'backbone', 'decode_head'}
    lines = bm.format_model_size(info).splitlines()
    assert lines[0] == f'config: {tiny_config}'
    assert lines[2].split() == ['backbone', f"{info['parts']['backbone']:,}"]
    assert lines[4].startswith('total') and f"{info['total_params']:,}" in lines[4]
    assert lines[-1].startswith(f"fp32 state dict: {info['fp32_bytes']:,} bytes = ")
    # overrides reach the build: a wider head has more parameters
    wide = bm.config_model_size(tiny_config, {'model.decode_head.channels': 8})
    assert wide['parts']['decode_head'] > info['parts']['decode_head']


# ----------------------------------------------------------------------------------------------
# statistics, FLOPs, memory, inputs, calls
# ----------------------------------------------------------------------------------------------
def test_flops_of_a_single_conv_follow_fvcore_convention():
    # one fused multiply-add = 1 FLOP: (4 out channels x 8 x 8 outputs) x (3 in channels x 3 x 3)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    res = bm.count_flops(conv, (8, 8), torch.device('cpu'))
    assert res['flops'] == 4 * 64 * 3 * 9
    assert res['flops_G'] == pytest.approx(res['flops'] / 1e9)


def test_latency_summary_statistics():
    s = bm.latency_summary([0.001, 0.002, 0.003, 0.010])
    assert s['median'] == pytest.approx(2.5)
    assert s['mean'] == pytest.approx(4.0)
    assert s['min'] == pytest.approx(1.0) and s['max'] == pytest.approx(10.0)
    assert s['q25'] == pytest.approx(1.75) and s['q75'] == pytest.approx(4.75)
    assert s['iqr'] == pytest.approx(3.0)
    assert s['std'] == pytest.approx(float(np.std([1, 2, 3, 10], ddof=1)))
    assert s['n'] == 4 and s['all'] == pytest.approx([1.0, 2.0, 3.0, 10.0])
    assert bm.latency_summary([0.5])['std'] == 0.0


def test_default_shape_reads_crop_size():
    from mmengine.config import Config
    assert bm.default_shape(Config(dict(crop_size=(192, 256)))) == [192, 256]
    assert bm.default_shape(Config(dict(crop_size=512))) == [320, 320]
    assert bm.default_shape(Config(dict())) == [320, 320]


@pytest.mark.skipif(not osp.exists('/proc/self/status'), reason='needs Linux /proc')
def test_peak_memory_sees_an_allocation_on_cpu():
    # in a fresh process: the suite's own process has had larger peaks, and the allocator may
    # hand back memory that is already resident
    code = ('import json, numpy as np, torch\n'
            'from dbdseg.utils import benchmark as bm\n'
            "with bm.PeakMemory(torch.device('cpu')) as mem:\n"
            '    block = np.ones(64 * 2**20, dtype=np.uint8)\n'
            '    assert block[-1] == 1\n'
            'print(json.dumps(mem.result()))\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res['kind'] == 'rss_high_water' and isinstance(res['reset'], bool)
    assert res['MB'] == res['bytes'] / 1e6
    assert res['increase_MB'] >= 60


def test_time_calls_counts_warmup_and_repeats():
    calls = []

    def call():
        calls.append(len(calls))
        return len(calls)

    res = bm.time_calls(call, repeat=4, warmup=3, device=torch.device('cpu'), progress=False)
    assert len(calls) == 3 + 4 and res['first_output'] == 1
    assert len(res['times_s']) == 4 and all(t >= 0 for t in res['times_s'])
    assert res['first_call_s'] >= 0 and res['peak_memory']['kind'] == 'rss_high_water'
    calls.clear()
    bm.time_calls(call, repeat=2, warmup=0, device=torch.device('cpu'), progress=False)
    assert len(calls) == 1 + 2  # one call always runs before timing


def test_make_inputs_shapes_and_seed():
    cpu = torch.device('cpu')
    x = bm.make_inputs('tensor', 2, (5, 7), cpu, seed=3)
    assert x.shape == (2, 3, 5, 7) and x.dtype == torch.float32
    assert torch.equal(x, bm.make_inputs('tensor', 2, (5, 7), cpu, seed=3))
    assert not torch.equal(x, bm.make_inputs('tensor', 2, (5, 7), cpu, seed=4))
    data = bm.make_inputs('predict', 2, (5, 7), cpu)
    assert [t.shape for t in data['inputs']] == [(3, 5, 7)] * 2
    assert data['inputs'][0].dtype == torch.uint8
    assert data['data_samples'][1].ori_shape == (5, 7)
    assert bm.as_channels_last(x).is_contiguous(memory_format=torch.channels_last)
    assert bm.as_channels_last(data) is data


def test_output_tensor_of_both_modes():
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for v in (0.25, 0.75):
        s = SegDataSample()
        s.seg_logits = PixelData(data=torch.full((1, 2, 3), v, dtype=torch.float16))
        samples.append(s)
    out = bm.output_tensor(samples)
    assert out.shape == (2, 1, 2, 3) and out.dtype == torch.float32
    assert out[1].unique().tolist() == [0.75]
    assert bm.output_tensor([torch.ones(2, dtype=torch.bfloat16)]).dtype == torch.float32


def test_make_call_runs_without_grad_and_with_autocast():
    model = torch.nn.Linear(4, 2)
    model.forward = lambda x, mode='tensor': torch.nn.functional.linear(x, model.weight)
    x = torch.randn(3, 4)
    out = bm.make_call(model, 'tensor', x, amp=False, device=torch.device('cpu'))()
    assert out.dtype == torch.float32 and not out.requires_grad
    out = bm.make_call(model, 'tensor', x, amp=True, device=torch.device('cpu'))()
    assert out.dtype == torch.bfloat16


# ----------------------------------------------------------------------------------------------
# run_benchmark
# ----------------------------------------------------------------------------------------------
def test_run_benchmark_tensor_mode(tiny_config):
    res = bm.run_benchmark(tiny_config, shape=(32, 32), repeat=4, warmup=1, progress=False)
    assert res['mode'] == 'tensor' and res['shape'] == [32, 32] and res['batch'] == 1
    assert res['device'] == 'cpu' and res['device_info']['type'] == 'cpu'
    lat = res['latency_ms']
    assert lat['n'] == 4 and len(lat['all']) == 4
    assert lat['median'] == pytest.approx(float(np.median(lat['all'])))
    assert lat['min'] <= lat['q25'] <= lat['median'] <= lat['q75'] <= lat['max']
    assert res['images_per_s'] == pytest.approx(1000.0 / lat['median'])
    assert res['params'] == _tiny_params(tiny_config)
    assert res['flops'] > 0 and res['flops_G'] == pytest.approx(res['flops'] / 1e9)
    mem = res['peak_memory']
    assert mem['kind'] == 'rss_high_water' and mem['bytes'] > 10e6  # a python + torch process
    assert 'max_abs_diff_vs_fp32_eager' not in res  # no fast path asked for
    text = bm.format_summary(res)
    assert f"n=4) -> {res['images_per_s']:.2f} images/s" in text
    assert f"FLOPs (one image): {res['flops_G']:.3f} G" in text
    assert 'max |output' not in text


def test_predict_mode_and_channels_last(tiny_config):
    res = bm.run_benchmark(
        tiny_config,
        shape=(24, 36),
        batch=2,
        mode='predict',
        channels_last=True,
        repeat=2,
        warmup=1,
        flops=False,
        progress=False)
    assert res['mode'] == 'predict' and res['batch'] == 2 and res['channels_last']
    assert 'flops' not in res
    # channels_last changes the memory layout only: the probabilities stay the same
    assert res['max_abs_diff_vs_fp32_eager'] < 1e-5
    assert res['images_per_s'] == pytest.approx(2000.0 / res['latency_ms']['median'])
    assert 'fast paths: channels_last' in bm.format_summary(res)


def test_amp_on_cpu_uses_bfloat16_and_reports_the_difference(tiny_config):
    res = bm.run_benchmark(
        tiny_config, shape=(32, 32), amp=True, repeat=1, warmup=0, flops=False, progress=False)
    assert res['amp'] and res['amp_dtype'] == 'bfloat16'
    assert 0 <= res['max_abs_diff_vs_fp32_eager'] < 0.5


def test_flops_error_is_reported_and_timing_goes_on(tiny_config, monkeypatch, capsys):

    def fail(*args):
        raise RuntimeError('cannot trace')

    monkeypatch.setattr(bm, 'count_flops', fail)
    res = bm.run_benchmark(tiny_config, shape=(32, 32), repeat=1, warmup=0, progress=False)
    assert res['flops_error'] == 'RuntimeError: cannot trace' and 'flops' not in res
    assert res['latency_ms']['n'] == 1
    assert 'FLOPs not counted (RuntimeError: cannot trace)' in capsys.readouterr().err
    assert 'FLOPs: not counted (RuntimeError: cannot trace)' in bm.format_summary(res)


def test_num_threads_is_restored(tiny_config):
    before = torch.get_num_threads()
    res = bm.run_benchmark(
        tiny_config, shape=(16, 16), repeat=1, warmup=0, num_threads=1, flops=False, progress=False)
    assert res['torch_threads'] == 1 and torch.get_num_threads() == before


def test_errors(tiny_config, tmp_path):
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match='CUDA is not available'):
            bm.run_benchmark(tiny_config, device='cuda', flops=False)
    with pytest.raises(FileNotFoundError, match='config file not found'):
        bm.run_benchmark(str(tmp_path / 'missing.py'))
    with pytest.raises(ValueError, match='repeat >= 1'):
        bm.run_benchmark(tiny_config, repeat=0)
    with pytest.raises(ValueError, match='mode must be one of'):
        bm.run_benchmark(tiny_config, mode='train')
    with pytest.raises(ValueError, match='shape must be two positive ints'):
        bm.run_benchmark(tiny_config, shape=(0, 32))
    with pytest.raises(FileNotFoundError, match='checkpoint file not found'):
        bm.run_benchmark(tiny_config, str(tmp_path / 'missing.pth'), flops=False)


# ----------------------------------------------------------------------------------------------
# sweeps (batch sizes x precisions, one model build)
# ----------------------------------------------------------------------------------------------
def test_sweep_plan_order_and_errors():
    plan = bm.sweep_plan([8, 1, 2, 2], ['fp32', 'amp'], ['tensor', 'predict'])
    assert [(s['precision'], s['mode'], s['batch']) for s in plan] == [('fp32', 'tensor', 1),
                                                                       ('amp', 'tensor', 1),
                                                                       ('fp32', 'predict', 1),
                                                                       ('amp', 'predict', 1),
                                                                       ('fp32', 'tensor', 2),
                                                                       ('amp', 'tensor', 2),
                                                                       ('fp32', 'tensor', 8),
                                                                       ('amp', 'tensor', 8)]
    # predict mode alone runs at batch 1 whatever the sizes
    assert bm.sweep_plan([4], ['amp'],
                         ['predict']) == [dict(precision='amp', mode='predict', batch=1)]
    with pytest.raises(ValueError, match='batch sizes must be >= 1'):
        bm.sweep_plan([0, 2], ['fp32'], ['tensor'])
    with pytest.raises(ValueError, match='precisions must be among'):
        bm.sweep_plan([1], ['fp16'], ['tensor'])
    with pytest.raises(ValueError, match='modes must be among'):
        bm.sweep_plan([1], ['fp32'], ['train'])


def test_is_out_of_memory():
    assert bm.is_out_of_memory(torch.cuda.OutOfMemoryError('CUDA out of memory. Tried ...'))
    assert bm.is_out_of_memory(RuntimeError('DefaultCPUAllocator: out of memory'))
    assert bm.is_out_of_memory(MemoryError())
    assert not bm.is_out_of_memory(RuntimeError('shape mismatch'))
    assert not bm.is_out_of_memory(ValueError('out of memory'))


def test_run_sweep_builds_once_and_picks_the_best(tiny_config, monkeypatch):
    builds = []
    real_build = bm.build_model
    monkeypatch.setattr(bm, 'build_model', lambda *a: builds.append(a) or real_build(*a))
    res = bm.run_sweep(
        tiny_config,
        shape=(16, 16),
        batch_sizes=[1, 3],
        precisions=['fp32', 'amp'],
        modes=['tensor', 'predict'],
        repeat=2,
        warmup=0)
    assert len(builds) == 1
    runs = res['runs']
    assert [(r['precision'], r['mode'], r['batch']) for r in runs] == [('fp32', 'tensor', 1),
                                                                       ('amp', 'tensor', 1),
                                                                       ('fp32', 'predict', 1),
                                                                       ('amp', 'predict', 1),
                                                                       ('fp32', 'tensor', 3),
                                                                       ('amp', 'tensor', 3)]
    assert res['shape'] == [16, 16] and res['params'] == _tiny_params(tiny_config)
    assert res['flops'] > 0 and res['skipped'] == []
    for r in runs:
        assert 'all' not in r['latency_ms'] and r['latency_ms']['n'] == 2
        assert r['images_per_s'] == pytest.approx(1000.0 * r['batch'] / r['latency_ms']['median'])
        assert r['amp_dtype'] == ('bfloat16' if r['precision'] == 'amp' else None)
        assert ('max_abs_diff_vs_fp32_eager' in r) == (r['precision'] == 'amp')
    for p in ('fp32', 'amp'):
        tensor_rows = [r for r in runs if r['precision'] == p and r['mode'] == 'tensor']
        assert res['best'][p]['images_per_s'] == max(r['images_per_s'] for r in tensor_rows)
        assert res['batch1'][p] is tensor_rows[0] or res['batch1'][p] == tensor_rows[0]
        pred = [r for r in runs if r['precision'] == p and r['mode'] == 'predict'][0]
        assert res['predict_over_tensor'][p] == pytest.approx(
            pred['latency_ms']['median'] / tensor_rows[0]['latency_ms']['median'])
    assert json.loads(json.dumps(res)) == res  # JSON-able as it is
    text = bm.format_sweep(res).splitlines()
    assert text[2].split() == [
        'precision', 'mode', 'batch', 'median', 'ms', 'images/s', 'peak', 'MB'
    ]
    assert text[3].split()[:3] == ['fp32', 'tensor', '1']
    assert f"best amp: batch {res['best']['amp']['batch']}" in '\n'.join(text)


def test_run_sweep_out_of_memory_skips_larger_batches(tiny_config, monkeypatch):
    real = bm.run_benchmark

    def fake(cfg, ckpt, **kw):
        if kw['batch'] >= 2 and not kw['amp']:
            raise torch.cuda.OutOfMemoryError('CUDA out of memory. Tried to allocate 2 GiB')
        return real(cfg, ckpt, **kw)

    monkeypatch.setattr(bm, 'run_benchmark', fake)
    res = bm.run_sweep(
        tiny_config,
        shape=(16, 16),
        batch_sizes=[1, 2, 4],
        precisions=['fp32', 'amp'],
        repeat=1,
        warmup=0,
        flops=False)
    errors = [(r['precision'], r['batch']) for r in res['runs'] if 'error' in r]
    assert errors == [('fp32', 2)]
    assert [(s['precision'], s['batch'], s['reason'])
            for s in res['skipped']] == [('fp32', 4, 'a smaller batch ran out of memory')]
    assert res['best']['fp32']['batch'] == 1  # the only fp32 run that fitted
    assert [r['batch'] for r in res['runs'] if r['precision'] == 'amp'] == [1, 2, 4]
    assert 'flops' not in res

    def broken(cfg, ckpt, **kw):
        raise RuntimeError('shape mismatch')

    monkeypatch.setattr(bm, 'run_benchmark', broken)
    with pytest.raises(RuntimeError, match='shape mismatch'):  # not an OOM: raised
        bm.run_sweep(tiny_config, shape=(16, 16), repeat=1, warmup=0)


def test_run_sweep_time_budget_and_cudnn_flag(tiny_config):
    before = torch.backends.cudnn.benchmark
    res = bm.run_sweep(
        tiny_config,
        shape=(16, 16),
        batch_sizes=[1, 2],
        repeat=1,
        warmup=0,
        flops=False,
        cudnn_benchmark=not before,
        time_budget_s=0.0)
    assert res['runs'] == [] and res['best'] == {} and res['batch1'] == {}
    assert [s['batch'] for s in res['skipped']] == [1, 2]
    assert res['skipped'][0]['reason'] == 'time budget 0 s spent'
    assert res['cudnn_benchmark'] is (not before)
    assert torch.backends.cudnn.benchmark is before  # restored
    with pytest.raises(ValueError, match='repeat >= 1'):
        bm.run_sweep(tiny_config, repeat=0)
    with pytest.raises(FileNotFoundError, match='config file not found'):
        bm.run_sweep(tiny_config + '.missing')
