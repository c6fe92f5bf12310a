"""tools/analysis_tools/eval_baselines.py: constant and gradient-energy maps on a config's test set."""
import glob
import json

import cv2
import pytest

import dbdseg_tests_tiny_project as tiny  # registered by conftest.py


def test_baselines_on_half_sharp_images(tiny_project, tmp_path, capsys):
    tool = tiny.load_tool('analysis_tools/eval_baselines')
    metrics_json = tmp_path / 'model.json'
    metrics_json.write_text(json.dumps({'maxF': 0.5, 'MAE': 0.25}))
    out = tmp_path / 'baselines.json'
    tool.main([tiny_project['config'], '--model-metrics', str(metrics_json), '--window', '5',
               '--out', str(out)])
    results = json.loads(out.read_text())
    assert set(results) == {'all-in-focus', 'gradient-energy'}
    const, energy = results['all-in-focus'], results['gradient-energy']
    # tiny images: left part sharp texture = in-focus (mask 255), right part smooth = blurred.
    # A constant map of 1: MAE = fraction of blurred pixels; F at every threshold uses P = in-focus
    # fraction, R = 1 (after the constant map is left unstretched).
    masks = [cv2.imread(p, 0) > 128 for p in sorted(glob.glob(tiny_project['data_root'] +
                                                              '/masks/*.png'))]
    frac = sum(m.mean() for m in masks) / len(masks)
    assert const['MAE'] == pytest.approx(1 - frac, abs=1e-6)
    expected_f = 1.3 * frac / (0.3 * frac + 1)
    assert const['maxF'] == pytest.approx(expected_f, abs=1e-3)
    # the sharpness map separates the halves far better than the constant map
    assert energy['maxF'] > const['maxF'] + 0.2
    assert energy['MAE'] < const['MAE']
    table = capsys.readouterr().out
    assert '| trained model |' in table and '| gradient-energy |' in table
    assert '0.5000' in table


def test_extra_metrics_rows(tmp_path):
    tool = tiny.load_tool('analysis_tools/eval_baselines')
    good = tmp_path / 'lbp.json'
    good.write_text(json.dumps({'maxF': 0.75, 'MAE': 0.125}))
    assert tool.read_extra_metrics([f'lbp-sharpness={good}']) == {
        'lbp-sharpness': {'maxF': 0.75, 'MAE': 0.125}}
    table = tool.format_table(dict(model={'maxF': 0.5, 'MAE': 0.25},
                                   **tool.read_extra_metrics([f'lbp={good}'])))
    assert '| lbp | 0.7500 | 0.1250 |' in table
    with pytest.raises(SystemExit, match='NAME=FILE.json'):
        tool.read_extra_metrics([str(good)])
    with pytest.raises(SystemExit, match='missing.json'):
        tool.read_extra_metrics([f'x={tmp_path / "missing.json"}'])
    bad = tmp_path / 'list.json'
    bad.write_text('[1, 2]')
    with pytest.raises(SystemExit, match='not a JSON object'):
        tool.read_extra_metrics([f'x={bad}'])
