"""tools/analysis_tools/plot_curves.py: several models' PR / F-measure curves, one row per set."""
import cv2
import numpy as np
import pytest

import dbdseg_tests_tiny_project as tiny  # registered by conftest.py
from dbdseg.evaluation.functional import (image_sod_measures, mean_sod_curves, save_curves_json,
                                          summarize_sod_measures)

plot_tool = tiny.load_tool('analysis_tools/plot_curves')


def _curves(quality, set_name=None, seed=0):
    """A curves dict as SODMetric writes it, from two 16x16 maps of the given quality."""
    rng = np.random.default_rng(seed)
    per_image = []
    for _ in range(2):
        gt = np.zeros((16, 16), np.uint8)
        gt[4:12, 3:10] = 1
        pred = np.clip(quality * gt + (1 - quality) * rng.random((16, 16)), 0, 1)
        per_image.append(image_sod_measures(pred, gt, metrics=['maxF'], with_curves=True))
    curves = dict(mean_sod_curves(per_image))
    curves['metrics'] = summarize_sod_measures(per_image, ['maxF'])
    curves['settings'] = {} if set_name is None else {'set_name': set_name}
    return curves


@pytest.fixture()
def results(tmp_path):
    """model_a: one unnamed set; model_b: sets CUHK and DUT; model_c: only DUT."""
    save_curves_json(_curves(0.9), str(tmp_path / 'model_a' / 'curves.json'))
    for name, q in (('CUHK', 0.45), ('DUT', 0.2)):
        save_curves_json(_curves(q, name), str(tmp_path / 'model_b' / name / 'curves.json'))
    save_curves_json(_curves(0.1, 'DUT'), str(tmp_path / 'model_c' / 'DUT' / 'curves.json'))
    return tmp_path


def test_read_results_single_and_multi_set(results):
    single = plot_tool.read_results(str(results / 'model_a'))
    assert list(single) == [None]
    multi = plot_tool.read_results(str(results / 'model_b'))
    assert list(multi) == ['CUHK', 'DUT']
    assert multi['CUHK']['metrics']['maxF'] > multi['DUT']['metrics']['maxF']
    # a curves.json given directly keeps the set named in its settings
    direct = plot_tool.read_results(str(results / 'model_c' / 'DUT' / 'curves.json'))
    assert list(direct) == ['DUT']
    assert plot_tool.default_label(str(results / 'model_b')) == 'model_b'


def test_rows_per_set_leave_out_missing_models(results, capsys):
    res = [plot_tool.read_results(str(results / m)) for m in ('model_b', 'model_c')]
    rows = plot_tool.build_rows(res, ['B', 'C'])
    assert [(title, labels) for title, _, labels in rows] == [('CUHK', ['B']), ('DUT', ['B', 'C'])]
    assert 'C has no curves of set' in capsys.readouterr().err
    rows = plot_tool.build_rows(res, ['B', 'C'], sets=['DUT'])
    assert [title for title, _, _ in rows] == ['DUT']
    with pytest.raises(ValueError, match='ECSSD'):
        plot_tool.build_rows(res, ['B', 'C'], sets=['ECSSD'])


def test_cli_draws_one_row_per_set(results, tmp_path):
    out = tmp_path / 'fig' / 'curves.png'
    plot_tool.main([
        str(results / 'model_b'),
        str(results / 'model_c' / 'DUT' / 'curves.json'), '--out',
        str(out), '--labels', 'B', 'C', '--dpi', '50'
    ])
    img = cv2.imread(str(out))
    # 11 x 4.5 inches per row at 50 dpi: two sets -> two rows
    assert img.shape[:2] == (450, 550)
    one = tmp_path / 'one.png'
    plot_tool.main([str(results / 'model_a'), '--out', str(one), '--dpi', '50'])
    img_one = cv2.imread(str(one))
    assert img_one.shape[:2] == (225, 550)
    assert img_one.std() > 10  # something is drawn


def test_cli_errors(results, tmp_path):
    with pytest.raises(SystemExit, match='one label per RESULTS'):
        plot_tool.main(
            [str(results / 'model_a'), '--out',
             str(tmp_path / 'x.png'), '--labels', 'a', 'b'])
    with pytest.raises(SystemExit, match='not found'):
        plot_tool.main([str(tmp_path / 'missing'), '--out', str(tmp_path / 'x.png')])
    (tmp_path / 'empty').mkdir()
    with pytest.raises(SystemExit, match='neither curves.json'):
        plot_tool.main([str(tmp_path / 'empty'), '--out', str(tmp_path / 'x.png')])
    bad = tmp_path / 'bad.json'
    bad.write_text('{"precision": [1]}')
    with pytest.raises(SystemExit, match='lacks'):
        plot_tool.main([str(bad), '--out', str(tmp_path / 'x.png')])
