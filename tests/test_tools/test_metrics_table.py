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


def _two_rows(tmp_path):
    a, b = tmp_path / 'a.json', tmp_path / 'b.json'
    a.write_text(json.dumps({'maxF': 0.9126, 'MAE': 0.05, 'ddMAE': 0.2}))
    b.write_text(json.dumps({'maxF': 0.8, 'MAE': 0.0449}))
    return [f'ours_v2={a}', f'base={b}']


def test_latex_export_marks_the_best_value_per_column(tmp_path, capsys):
    tex = tmp_path / 'table.tex'
    table_tool.main(_two_rows(tmp_path) + ['--latex', str(tex)])
    assert tex.read_text().splitlines() == [
        r'\begin{tabular}{lrrr}', r'\toprule',
        r'method & maxF $\uparrow$ & MAE $\downarrow$ & ddMAE $\downarrow$ \\', r'\midrule',
        r'ours\_v2 & \textbf{0.913} & 0.050 & \textbf{0.200} \\',
        r'base & 0.800 & \textbf{0.045} & - \\', r'\bottomrule', r'\end{tabular}'
    ]
    assert f'LaTeX table written to {tex}' in capsys.readouterr().out


def test_xlsx_export(tmp_path):
    xlsx = tmp_path / 'table.xlsx'
    try:
        import openpyxl
    except ImportError:
        # without the optional package the tool says how to get it, and writes nothing
        with pytest.raises(SystemExit, match='needs openpyxl: pip install openpyxl'):
            table_tool.main(_two_rows(tmp_path) + ['--xlsx', str(xlsx)])
        assert not xlsx.exists()
        return
    table_tool.main(_two_rows(tmp_path) + ['--xlsx', str(xlsx)])
    sheet = openpyxl.load_workbook(xlsx).active
    assert [[c.value for c in row]
            for row in sheet.iter_rows()] == [['method', 'maxF', 'MAE', 'ddMAE'],
                                              ['ours_v2', 0.9126, 0.05, 0.2],
                                              ['base', 0.8, 0.0449, None]]
