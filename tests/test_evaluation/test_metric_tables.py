"""dbdseg.evaluation.metric_tables: flat metrics, per-set blocks, printed and Markdown tables."""
import json

import numpy as np
import pytest
import torch

from dbdseg.evaluation.metric_tables import (flatten_metrics, format_markdown_table,
                                             format_metric_blocks, metric_blocks,
                                             read_metrics_files)


def test_flatten_metrics():
    flat, skipped = flatten_metrics({
        'maxF': 0.9,
        'n': 3,
        'np': np.float32(0.5),
        't': torch.tensor(0.25),
        'a1': np.array([0.75]),
        'ECSSD': {
            'MAE': 0.1
        },
        'curve': [0.1, 0.2],
        'name': 'x',
        'many': torch.zeros(2)
    })
    assert flat == {
        'maxF': 0.9,
        'n': 3.0,
        'np': 0.5,
        't': 0.25,
        'a1': 0.75,
        'ECSSD/MAE': pytest.approx(0.1)
    }
    assert list(flat) == ['maxF', 'n', 'np', 't', 'a1', 'ECSSD/MAE']  # order kept
    assert sorted(skipped) == ['curve', 'many', 'name']
    assert all(type(v) is float for v in flat.values())
    _, skipped = flatten_metrics({'A': {'curve': [1.0]}})
    assert skipped == ['A/curve']


def test_metric_blocks_group_by_set_and_keep_order():
    flat = {'CUHK/maxF': 0.5, 'CUHK/MAE': 0.25, 'DUT/maxF': 0.75, 'DUT/MAE': 0.125}
    blocks = metric_blocks(flat)
    assert list(blocks) == ['CUHK', 'DUT']
    assert blocks['DUT'] == {'maxF': 0.75, 'MAE': 0.125}
    assert list(blocks['CUHK']) == ['maxF', 'MAE']
    assert metric_blocks({'maxF': 0.5}) == {'': {'maxF': 0.5}}
    assert metric_blocks({'a/b/maxF': 0.5}) == {'a/b': {'maxF': 0.5}}  # the last '/' splits


def test_format_metric_blocks_single_line_and_table():
    assert format_metric_blocks({}) == ['test metrics: (none)']
    assert format_metric_blocks({
        'maxF': 0.5,
        'MAE': 0.25
    }) == ['test metrics: maxF=0.5000, MAE=0.2500']
    lines = format_metric_blocks({
        'CUHK/maxF': 0.5,
        'CUHK/MAE': 0.25,
        'DUT-OMRON/maxF': 0.75,
        'DUT-OMRON/MAE': 0.125
    })
    assert lines[0] == 'test metrics, 2 test sets:'
    assert lines[1].split() == ['maxF', 'MAE']  # one header: both sets have the same keys
    assert lines[2].split() == ['CUHK', '0.5000', '0.2500']
    assert lines[3].split() == ['DUT-OMRON', '0.7500', '0.1250']
    assert len(lines[2]) == len('DUT-OMRON') + 2 + 2 * 9  # name column, 9-character values
    # sets with different keys get their own header line
    lines = format_metric_blocks({'A/maxF': 0.5, 'B/MAE': 0.25})
    assert [line.split() for line in lines[1:]] == [['maxF'], ['A', '0.5000'], ['MAE'],
                                                    ['B', '0.2500']]


def test_format_markdown_table():
    table = format_markdown_table({
        'model': {
            'maxF': 0.5,
            'MAE': 0.25
        },
        'lbp': {
            'MAE': 0.125,
            'maxF': 0.75,
            'extra': 1.0
        },
        'half': {
            'maxF': 0.0625
        }
    })
    assert table.split('\n') == [
        '| method | maxF | MAE |',
        '|---|---:|---:|',
        '| model | 0.5000 | 0.2500 |',
        '| lbp | 0.7500 | 0.1250 |',  # columns of the first row, in its order
        '| half | 0.0625 | - |',
    ]
    assert format_markdown_table({'x': {'a': 1}}, first_column='maps').startswith('| maps | a |')
    with pytest.raises(ValueError, match='no rows'):
        format_markdown_table({})


def test_read_metrics_files(tmp_path):
    good = tmp_path / 'lbp.json'
    good.write_text(json.dumps({'maxF': 0.75, 'MAE': 0.125}))
    other = tmp_path / 'm.json'
    other.write_text(json.dumps({'maxF': 0.5}))
    rows = read_metrics_files([f'lbp-sharpness={good}', f'trained model={other}'])
    assert list(rows) == ['lbp-sharpness', 'trained model']
    assert rows['lbp-sharpness'] == {'maxF': 0.75, 'MAE': 0.125}
    with pytest.raises(ValueError, match='NAME=FILE.json'):
        read_metrics_files([str(good)])
    with pytest.raises(ValueError, match='NAME=FILE.json'):
        read_metrics_files([f'={good}'])
    with pytest.raises(ValueError, match='missing.json'):
        read_metrics_files([f'x={tmp_path / "missing.json"}'])
    bad = tmp_path / 'list.json'
    bad.write_text('[1, 2]')
    with pytest.raises(ValueError, match='not a JSON object'):
        read_metrics_files([f'x={bad}'])
    broken = tmp_path / 'broken.json'
    broken.write_text('{"maxF": ')
    with pytest.raises(ValueError, match='broken.json'):
        read_metrics_files([f'x={broken}'])
