"""The GPU check's bookkeeping (.dev_scripts/gpu/gpu_check.py), on the CPU: not marked ``cuda``
(it needs no GPU). Reads a work folder as check.sh leaves it and checks the merged JSON, the
targets and the printed tables; the bench loop's deadline skips without building a model."""
import importlib.util
import json
import os.path as osp

import pytest

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py

_spec = importlib.util.spec_from_file_location(
    'dbdseg_dev_gpu_check', osp.join(tiny.REPO_ROOT, '.dev_scripts', 'gpu', 'gpu_check.py'))
gc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gc)

JUNIT = '''<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.cuda.test_a" name="test_ok" time="1.5"/>
<testcase classname="tests.cuda.test_a" name="test_bad" time="0.1"><failure message="boom"/>
</testcase>
<testcase classname="tests.cuda.test_b" name="test_skip" time="0"><skipped message="no GPU"/>
</testcase></testsuite></testsuites>'''


def _sweep(fps_b1_amp, ratio_amp):
    row = dict(
        precision='amp',
        mode='tensor',
        batch=1,
        images_per_s=fps_b1_amp,
        peak_memory_MB=100.0,
        latency_ms=dict(median=1000.0 / fps_b1_amp))
    best = dict(row, batch=16, images_per_s=fps_b1_amp * 4, peak_memory_MB=900.0)
    fp32 = dict(row, precision='fp32', images_per_s=fps_b1_amp / 2)
    return dict(
        device_info=dict(name='Fake GPU', torch='2.11.0', cuda='13.0'),
        shape=[320, 320],
        params=6_000_000,
        runs=[fp32, row, best],
        skipped=[dict(precision='fp32', mode='tensor', batch=64, reason='out of memory')],
        batch1=dict(fp32=fp32, amp=row),
        best=dict(fp32=fp32, amp=best),
        predict_over_tensor=dict(fp32=1.05, amp=ratio_amp))


@pytest.fixture
def work(tmp_path):
    (tmp_path / 'bench').mkdir()
    (tmp_path / 'steps.tsv').write_text('install\tok\t3\t120\nmmcv_build_cuda_ops\ttimeout\t180'
                                        '\t180\nmmcv_build_cpu_ops\tok\t95\t150\n')
    (tmp_path / 'skipped.txt').write_text('mmcv CUDA-ops build: over budget\n')
    (tmp_path / 'mmcv_kind.txt').write_text('cpu-ops\n')
    (tmp_path / 'junit.xml').write_text(JUNIT)
    (tmp_path / 'env.json').write_text(json.dumps(dict(gpu='Fake GPU', torch='2.11.0')))
    rt, dd = gc.MODELS[0][1], gc.MODELS[1][1]
    (tmp_path / 'bench' / (gc._slug(rt) + '.json')).write_text(json.dumps(_sweep(700.0, 1.1)))
    (tmp_path / 'bench' / (gc._slug(dd) + '.json')).write_text(json.dumps(_sweep(300.0, 1.3)))
    (tmp_path / 'bench' / 'index.json').write_text(
        json.dumps([
            dict(config=rt, status='ok'),
            dict(config=dd, status='ok'),
            dict(config=gc.MODELS[2][1], status='skipped', reason='deadline: 5 s left')
        ]))
    return tmp_path


def test_report_merges_the_work_folder(work, capsys):
    out = work / 'out' / 'gpu_check.json'
    assert gc.main(['report', '--work', str(work), '--out', str(out), '--total-s', '400']) == 0
    rep = json.loads(out.read_text())
    assert rep['mmcv_build'] == 'cpu-ops' and rep['device_name'] == 'Fake GPU'
    assert [(s['name'], s['status'], s['seconds'])
            for s in rep['steps']] == [('install', 'ok', 3),
                                       ('mmcv_build_cuda_ops', 'timeout', 180),
                                       ('mmcv_build_cpu_ops', 'ok', 95)]
    assert rep['pytest']['counts'] == dict(passed=1, failed=1, skipped=1)
    rt, dd, afiu = rep['models'][:3]
    # 700 FPS = 11.9x the paper's 58.82: met; 300 FPS = 8.4x DD's 35.7: not met
    assert rt['speedup_b1_amp_vs_paper'] == pytest.approx(700 / 58.82)
    assert rt['speedup_target_met'] and not dd['speedup_target_met']
    assert rt['predict_ratio_target_met'] and not dd['predict_ratio_target_met']
    assert rt['best_batch_amp'] == 16 and rt['fps_best_amp'] == 2800.0
    assert afiu['status'] == 'skipped' and 'fps_b1_fp32' not in afiu
    assert any('deadline: 5 s left' in s for s in rep['skipped'])
    assert any('batch 64 (out of memory)' in s for s in rep['skipped'])
    text = capsys.readouterr().out
    assert 'mmcv build: cpu-ops' in text and 'pytest -m cuda: 1 failed, 1 passed, 1 skipped' in text
    assert 'failed: tests.cuda.test_a::test_bad: boom' in text
    assert "11.9x the paper's 58.82 (target 10x): met" in text
    assert "8.4x the paper's 35.7 (target 10x): NOT met" in text
    assert '2800.0 @16' in text


def test_report_without_anything(tmp_path, capsys):
    out = tmp_path / 'r.json'
    gc.main(['report', '--work', str(tmp_path), '--out', str(out)])
    rep = json.loads(out.read_text())
    assert rep['pytest'] is None and rep['steps'] == [] and rep['mmcv_build'] == 'unknown'
    assert all(m['status'] == 'not run' for m in rep['models'])
    assert 'pytest -m cuda: not run' in capsys.readouterr().out


def test_bench_skips_every_model_after_the_deadline(tmp_path):
    assert gc.main(['bench', '--device', 'cpu', '--out-dir', str(tmp_path), '--deadline', '1']) == 0
    index = json.loads((tmp_path / 'index.json').read_text())
    assert [e['config'] for e in index] == [m[1] for m in gc.MODELS]
    assert all(e['status'] == 'skipped' and e['reason'].startswith('deadline') for e in index)


def test_report_reads_the_pytest_log_when_junit_is_missing(work):
    (work / 'junit.xml').unlink()
    (work / 'pytest.log').write_text(
        'tests/cuda/test_a.py::test_ok PASSED  [ 50%]\n'
        'tests/cuda/test_a.py::test_p[cfg-1] FAILED  [100%]\nnoise PASSED\n')
    out = work / 'r.json'
    gc.main(['report', '--work', str(work), '--out', str(out)])
    tests = json.loads(out.read_text())['pytest']
    assert tests['counts'] == dict(passed=1, failed=1)
    assert tests['cases'][1]['name'] == 'tests/cuda/test_a.py::test_p[cfg-1]'
