"""Tests of dbdseg.evaluation.functional curve files and prediction PNG helpers."""
import json
import os

import cv2
import numpy as np
import pytest

from dbdseg.evaluation.functional import (image_sod_measures, load_curves_json, mean_sod_curves,
                                          plot_curves, save_curves_json, save_prob_png,
                                          sod_thresholds)


def curves_of(pred, gt):
    per_image = [
        image_sod_measures(
            np.asarray(pred, float), np.asarray(gt), metrics=['maxF'], with_curves=True)
    ]
    curves = mean_sod_curves(per_image)
    curves['metrics'] = {'maxF': float(np.max(curves['fmeasure']))}
    return curves


def test_thresholds_follow_pysodmetrics_order():
    thr = sod_thresholds()
    assert thr.shape == (256, ) and thr.dtype == np.float64
    assert thr[0] == 1 and thr[-1] == 0 and thr[1] == pytest.approx(254 / 255)
    assert np.all(np.diff(thr) < 0)


def test_mean_sod_curves_averages_images():
    # image A (see test_sod_metric.test_fmeasure_curve_hand_computed): recall 1/2 for i <= 127,
    # 1 after; image B: p = gt = [[1, 0]] -> recall 1 at every threshold >= 1, also at 0
    a = image_sod_measures(
        np.array([[1, .5], [.5, 0]]),
        np.array([[1, 1], [0, 0]]),
        metrics=['MAE'],
        normalize_pred=False,
        with_curves=True)
    b = image_sod_measures(
        np.array([[1., 0.]]),
        np.array([[1, 0]]),
        metrics=['MAE'],
        normalize_pred=False,
        with_curves=True)
    curves = mean_sod_curves([a, b])
    assert set(curves) == {'thresholds', 'precision', 'recall', 'fmeasure', 'emeasure'}
    np.testing.assert_allclose(curves['recall'], [0.75] * 128 + [1] * 128)
    # precision of B: 1 for thresholds 255..1, 1/2 at 0; of A: 1, 2/3, 1/2
    np.testing.assert_allclose(curves['precision'], [1] * 128 + [(2 / 3 + 1) / 2] * 127 + [0.5])


def test_save_and_load_curves_json(tmp_path):
    curves = curves_of([[1, .5], [.5, 0]], [[1, 1], [0, 0]])
    curves['settings'] = {'normalize_pred': np.bool_(True), 'n': np.int64(3), 'bad': np.nan}
    path = tmp_path / 'sub' / 'curves.json'
    save_curves_json(curves, str(path))
    assert os.listdir(path.parent) == ['curves.json']  # folder created, no temp file left
    text = path.read_text()
    json.loads(text)  # strict JSON
    assert 'NaN' not in text
    loaded = load_curves_json(str(path))
    assert loaded['settings'] == {'normalize_pred': True, 'n': 3, 'bad': None}
    np.testing.assert_array_equal(loaded['fmeasure'], curves['fmeasure'])
    assert loaded['thresholds'][0] == 1.0 and len(loaded['thresholds']) == 256


def test_plot_curves_several_models(tmp_path):
    good = curves_of([[1, .5], [.5, 0]], [[1, 1], [0, 0]])
    bad = curves_of([[0, .5], [.5, 1]], [[1, 1], [0, 0]])
    del bad['metrics']  # legend falls back to max of the F-measure curve
    path = tmp_path / 'plots' / 'cmp.png'
    plot_curves([good, bad], ['good', 'bad'], str(path))
    data = path.read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape[1] > img.shape[0] > 200  # two panels side by side
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 10  # something was drawn
    # also accepts the lists of a loaded curves.json
    save_curves_json(good, str(tmp_path / 'good.json'))
    plot_curves([load_curves_json(str(tmp_path / 'good.json'))], ['loaded'],
                str(tmp_path / 'one.png'))
    assert (tmp_path / 'one.png').stat().st_size > 1000


def test_plot_curves_errors(tmp_path):
    good = curves_of([[1, .5], [.5, 0]], [[1, 1], [0, 0]])
    with pytest.raises(ValueError, match='labels'):
        plot_curves([good], ['a', 'b'], str(tmp_path / 'x.png'))
    with pytest.raises(ValueError, match='at least one'):
        plot_curves([], [], str(tmp_path / 'x.png'))
    with pytest.raises(ValueError, match='lack'):
        plot_curves([{'fmeasure': [0.5]}], ['a'], str(tmp_path / 'x.png'))
    assert not (tmp_path / 'x.png').exists()


def test_save_prob_png(tmp_path):
    path = tmp_path / 'a' / 'b' / 'x.png'
    save_prob_png(np.array([[0.0, 0.2], [0.6, 1.0], [0.5, 0.999]], np.float32), str(path))
    png = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(png, [[0, 51], [153, 255], [128, 255]])
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask  # like an ordinary file, not 0600
    with pytest.raises(ValueError, match='H, W'):
        save_prob_png(np.zeros((1, 2, 2)), str(tmp_path / 'y.png'))


def test_every_curve_plot_uses_the_0_255_threshold_axis():
    from matplotlib.figure import Figure

    from dbdseg.evaluation.functional.curves import THRESHOLD_SCALE, _draw_panels
    assert THRESHOLD_SCALE == 255
    curves = curves_of([[0.9, 0.2], [0.6, 0.0]], [[1, 0], [1, 0]])
    fig = Figure()
    ax_pr, ax_f = fig.subplots(1, 2)
    _draw_panels(ax_pr, ax_f, [curves], ['m'])  # the default: what SODMetric's curves.png uses
    assert ax_f.get_xlim() == (0, 255) and ax_f.get_xlabel() == 'Threshold (0-255)'
    # the F curve is drawn against 255 x the probability threshold, ascending
    x, y = ax_f.get_lines()[0].get_data()
    assert x[0] == 0 and x[-1] == 255 and np.all(np.diff(x) > 0)
    np.testing.assert_array_equal(y, np.asarray(curves['fmeasure'])[::-1])
