"""tools/analysis_tools/metrics_table.py: metrics files side by side (tools/demo.sh's table)."""
import json

import pytest

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py

table_tool = tiny.load_tool('analysis_tools/metrics_table')


def test_demo_table_rows_and_columns(tmp_path, capsys):
    rows_in = {
        'trained model': {
            'maxF': 0.5,
            'MAE': 0.25
        },
        'all-in-focus': {
            'maxF': 0.625,
            'MAE': 0.375,
            'ddF': 0.1
        },
        'lbp-sharpness': {
            'MAE': 0.125
        },
    }
    files = {}
    for name, metrics in rows_in.items():
        files[name] = tmp_path / f'{len(files)}.json'
        files[name].write_text(json.dumps(metrics))
    out = tmp_path / 'sub' / 'baselines.json'
    rows = table_tool.main([f'{n}={p}' for n, p in files.items()] + ['--out', str(out)])
    assert list(rows) == list(files)
    printed = capsys.readouterr().out.splitlines()
    assert printed[:5] == [
        '| method | maxF | MAE |', '|---|---:|---:|', '| trained model | 0.5000 | 0.2500 |',
        '| all-in-focus | 0.6250 | 0.3750 |', '| lbp-sharpness | - | 0.1250 |'
    ]
    assert printed[5] == f'metrics of 3 rows written to {out}'
    assert json.loads(out.read_text()) == rows


def test_errors_are_command_line_errors(tmp_path):
    with pytest.raises(SystemExit, match='metrics_table.py: error: .*NAME=FILE.json'):
        table_tool.main([str(tmp_path / 'a.json')])
    with pytest.raises(SystemExit, match='missing.json'):
        table_tool.main([f'x={tmp_path / "missing.json"}'])
    good = tmp_path / 'm.json'
    good.write_text('{"maxF": 1.0}')
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    with pytest.raises(SystemExit, match='metrics_table.py: error: cannot write'):
        table_tool.main([f'x={good}', '--out', str(blocker / 'out.json')])
