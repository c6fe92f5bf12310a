"""Tests of the DBD protocols (dbdseg.evaluation.functional.dbd_protocols) and their SODMetric keys.

Every number is worked out by hand in the comments. Notation: ``q = uint8(rint(p * 255))``,
``t`` the threshold, F = 1.3 P R / (0.3 P + R) (beta^2 = 0.3), IoU = TP / (TP + FP + FN).
Predictions are given as ``q / 255`` so that the quantisation gives ``q`` back exactly.
"""
import json

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from dbdseg.evaluation import SODMetric
from dbdseg.evaluation.functional import (DBD_PROTOCOLS, binary_counts, dbd_image_counts,
                                          dbd_protocol_keys, dd_binarize, dd_threshold,
                                          iou_from_counts, precision_recall_fmeasure,
                                          summarize_dbd_protocols)


def sample_dict(pred, gt, img_path='data/img.jpg'):
    """A data sample as mmengine's Evaluator passes it to process(): SegDataSample.to_dict(), with
    seg_logits (1, H, W) float32 probabilities and gt_sem_seg (1, H, W) int64."""
    pred = torch.as_tensor(np.asarray(pred), dtype=torch.float32)
    sample = SegDataSample(metainfo=dict(img_path=img_path, ori_shape=tuple(pred.shape)))
    sample.seg_logits = PixelData(data=pred[None])
    sample.gt_sem_seg = PixelData(data=torch.as_tensor(np.asarray(gt), dtype=torch.int64)[None])
    return sample.to_dict()


def run_metric(items, **kwargs):
    metric = SODMetric(**kwargs)
    metric.process(None, [sample_dict(p, g, f'd/img{k}.png') for k, (p, g) in enumerate(items)])
    return metric, metric.evaluate(len(items))


def summary(pred, gt, protocols, **kwargs):
    record = dbd_image_counts(np.asarray(pred, float), np.asarray(gt), protocols, **kwargs)
    return summarize_dbd_protocols([record], protocols)


# Two 2 x 4 images used below.
# A: q = 200 100 40 0 / 180 60 20 0; sum 600, mean 75, t = 1.5 * 75 = 112.5 -> q > t: 200, 180.
#    mask fg (0,0) (0,1) (1,0): TP = 2 (200, 180), FP = 0, FN = 1 (the 100).
#    P = 1, R = 2/3, F = 1.3 * 2/3 / (0.3 + 2/3) = 26/29.
Q_A = np.array([[200, 100, 40, 0], [180, 60, 20, 0]])
GT_A = np.array([[1, 1, 0, 0], [1, 0, 0, 0]])
# B: q = 255 255 255 0 / 0 0 0 0; mean 95.625, t = 143.4375 -> the three 255s.
#    mask fg (0,0) only: TP = 1, FP = 2, FN = 0. P = 1/3, R = 1, F = 1.3/3 / 1.1 = 13/33.
Q_B = np.array([[255, 255, 255, 0], [0, 0, 0, 0]])
GT_B = np.array([[1, 0, 0, 0], [0, 0, 0, 0]])
# Fixed-threshold image: p >= 0.5 -> (0,0) [exactly 0.5], (0,1), (1,1), (1,2); not 0.49.
P_FIX = np.array([[0.5, 0.7, 0.2, 0.0], [0.49, 0.9, 0.6, 0.1]])
GT_FIX = np.array([[1, 1, 0, 0], [1, 0, 1, 1]])


# ----------------------------------------------------------------------------------------------
# formulas
# ----------------------------------------------------------------------------------------------
def test_precision_recall_fmeasure_iou_and_zero_division():
    # TP 3, FP 1, FN 2: P = 3/4, R = 3/5, F = 1.3 * 0.45 / (0.225 + 0.6) = 0.585 / 0.825 = 39/55
    p, r, f = precision_recall_fmeasure(3, 1, 2)
    assert (p, r) == (0.75, 0.6) and f == pytest.approx(39 / 55, abs=1e-15)
    assert iou_from_counts(3, 1, 2) == 0.5  # 3 / 6
    # beta^2 is an argument: beta^2 = 1 -> F1 = 2 * 0.45 / 1.35 = 2/3
    assert precision_recall_fmeasure(3, 1, 2, beta2=1)[2] == pytest.approx(2 / 3, abs=1e-15)
    # every 0/0 is 0 (scikit-learn zero_division=0)
    assert precision_recall_fmeasure(0, 0, 0) == (0.0, 0.0, 0.0)  # nothing anywhere
    assert precision_recall_fmeasure(0, 3, 0) == (0.0, 0.0, 0.0)  # P = 0/3, R = 0/0
    assert precision_recall_fmeasure(0, 0, 2) == (0.0, 0.0, 0.0)  # P = 0/0, R = 0/2
    assert iou_from_counts(0, 0, 0) == 0.0


def test_binary_counts():
    counts = binary_counts([[1, 1, 0], [0, 1, 0]], [[1, 0, 1], [0, 1, 0]])
    assert counts == dict(tp=2, fp=1, fn=1)
    assert all(type(v) is int for v in counts.values())
    with pytest.raises(ValueError, match='shapes differ'):
        binary_counts(np.zeros((2, 2)), np.zeros((2, 3)))


def test_dd_threshold_is_strict_and_capped():
    # q = 130 30 0 0 / 0 0 0 0: mean 20, t = 30; strict > keeps 130 only, not the 30 at t
    q = np.array([[130, 30, 0, 0], [0, 0, 0, 0]], np.uint8)
    assert dd_threshold(q) == 30.0
    np.testing.assert_array_equal(dd_binarize(q), [[1, 0, 0, 0], [0, 0, 0, 0]])
    # mask fg at 130 and 30: TP 1, FN 1 -> P = 1, R = 1/2, F = 0.65 / 0.8 = 13/16 (>= would give 1)
    res = summary(q / 255, [[1, 1, 0, 0], [0, 0, 0, 0]], ['dd'])
    assert res == {'ddP': 1.0, 'ddR': 0.5, 'ddF': pytest.approx(13 / 16, abs=1e-15)}
    # dd_factor is honoured: 1.0 -> t = 20, both 130 and 30 kept -> TP 2 -> F = 1
    assert summary(q / 255, [[1, 1, 0, 0], [0] * 4], ['dd'], dd_factor=1.0)['ddF'] == 1.0
    # cap: seven 255s and one 0 -> mean 223.125, 1.5 * mean = 334.7 -> t = 255, nothing > 255
    q = np.array([[255] * 4, [255, 255, 255, 0]], np.uint8)
    assert dd_threshold(q) == 255.0
    assert not dd_binarize(q).any()
    # nothing predicted on a mask with 7 fg pixels: TP 0, FP 0, FN 7 -> P = 0/0 = 0, R = 0, F = 0
    assert summary(q / 255, q // 255, ['dd']) == {'ddP': 0.0, 'ddR': 0.0, 'ddF': 0.0}


def test_dd_quantises_like_a_png_and_does_not_stretch():
    # q = 130 30 0 0 / 0 ... but the 30 given as p = 30.4 / 255: rint -> 30, so t = 30 and it is
    # dropped (F = 13/16 as above). Unquantised, 255 p = 30.4 > 1.5 * 160.4 / 8 = 30.075 would keep
    # it (F = 1).
    pred = np.array([[130, 30.4, 0, 0], [0, 0, 0, 0]]) / 255
    assert summary(pred, [[1, 1, 0, 0], [0] * 4], ['dd'])['ddF'] == pytest.approx(13 / 16)
    # q = 100 50 20 20 / 20 20 20 20: mean 33.75, t = 50.625 -> only the 100; mask fg 100 and 50
    # -> TP 1, FN 1 -> F = 13/16. A min-max stretch (q - 20) * 255 / 80 = 255, 95.6, 0 ... would
    # give t = 1.5 * 43.8 = 65.7 and keep both -> F = 1.
    pred = np.array([[100, 50, 20, 20], [20, 20, 20, 20]]) / 255
    assert summary(pred, [[1, 1, 0, 0], [0] * 4], ['dd'])['ddF'] == pytest.approx(13 / 16)


def test_dd_per_image_mean_differs_from_pooled():
    records = [
        dbd_image_counts(Q_A / 255, GT_A, ['dd']),
        dbd_image_counts(Q_B / 255, GT_B, ['dd_pooled'])  # same counts whichever dd is asked
    ]
    assert records == [dict(dd_tp=2, dd_fp=0, dd_fn=1), dict(dd_tp=1, dd_fp=2, dd_fn=0)]
    res = summarize_dbd_protocols(records, ['dd', 'dd_pooled'])
    assert list(res) == ['ddP', 'ddR', 'ddF', 'ddpP', 'ddpR', 'ddpF']
    # per image: P = 1, 1/3 -> 2/3; R = 2/3, 1 -> 5/6; F = 26/29, 13/33 -> mean
    assert res['ddP'] == pytest.approx(2 / 3, abs=1e-15)
    assert res['ddR'] == pytest.approx(5 / 6, abs=1e-15)
    assert res['ddF'] == pytest.approx((26 / 29 + 13 / 33) / 2, abs=1e-15)  # 0.6452
    # pooled: TP 3, FP 2, FN 1 -> P = 3/5, R = 3/4, F = 1.3 * 0.45 / (0.18 + 0.75) = 39/62
    assert res['ddpP'] == pytest.approx(3 / 5, abs=1e-15)
    assert res['ddpR'] == pytest.approx(3 / 4, abs=1e-15)
    assert res['ddpF'] == pytest.approx(39 / 62, abs=1e-15)  # 0.6290
    assert res['ddF'] != pytest.approx(res['ddpF'], abs=1e-3)
    # ddF is the mean of per-image F, not F(ddP, ddR) = 1.3 (2/3)(5/6) / (0.2 + 5/6) = 390/558
    f_of_means = 1.3 * res['ddP'] * res['ddR'] / (0.3 * res['ddP'] + res['ddR'])
    assert f_of_means == pytest.approx(390 / 558, abs=1e-12)
    assert res['ddF'] != pytest.approx(f_of_means, abs=1e-3)


def test_dd_binarize_gt_quirk():
    # mask with 6 of 8 fg (3/4): gt255 mean = 191.25, t = min(286.875, 255) = 255 -> all zero
    gt = np.array([[1, 1, 1, 1], [1, 1, 0, 0]])
    assert not dd_binarize(gt.astype(np.uint8) * 255).any()
    # default (mask as is): prediction A keeps (0,0), (1,0), both fg -> TP 2, FP 0, FN 4:
    # P = 1, R = 1/3, F = 1.3/3 / (0.3 + 1/3) = 13/19
    protocols = ['dd', 'dd_pooled']
    res = summary(Q_A / 255, gt, protocols)
    assert res['ddF'] == res['ddpF'] == pytest.approx(13 / 19, abs=1e-15)
    assert res['ddR'] == pytest.approx(1 / 3, abs=1e-15)
    # quirk: mask empty -> TP 0, FP 2, FN 0: P = 0, R = 0/0 = 0, F = 0 (both dd protocols)
    assert summary(
        Q_A / 255, gt, protocols,
        dd_binarize_gt=True) == dict.fromkeys(['ddP', 'ddR', 'ddF', 'ddpP', 'ddpR', 'ddpF'], 0.0)
    # exactly 2/3 fg (1 x 3): mean 170, t = 1.5 * 170 = 255 -> all zero as well
    assert not dd_binarize(np.array([[255, 255, 0]])).any()
    # under 2/3 the mask is unchanged: mask A (3/8), gt255 mean 95.625, t = 143.4 < 255
    assert summary(
        Q_A / 255, GT_A, protocols, dd_binarize_gt=True) == summary(Q_A / 255, GT_A, protocols)
    # the quirk does not touch 'fixed'
    assert summary(P_FIX, np.ones((2, 4), int), ['fixed'], dd_binarize_gt=True)['fixF'] > 0


def test_fixed_in_focus_versus_blurred():
    # in-focus: predicted (0,0) (0,1) (1,1) (1,2); mask fg (0,0) (0,1) (1,0) (1,2) (1,3)
    # TP 3, FP 1 (1,1), FN 2 (1,0) (1,3): F = 39/55, IoU = 3/6
    res = summary(P_FIX, GT_FIX, ['fixed'])
    assert list(res) == ['fixF', 'fixIoU']
    assert res['fixF'] == pytest.approx(39 / 55, abs=1e-15) and res['fixIoU'] == 0.5
    # blurred: predicted (0,2) (0,3) (1,0) (1,3); blurred in the mask (0,2) (0,3) (1,1)
    # TP 2, FP 2 (1,0) (1,3), FN 1 (1,1): P = 1/2, R = 2/3, F = 1.3/3 / (0.15 + 2/3) = 26/49,
    # IoU = 2/5
    res = summary(P_FIX, GT_FIX, ['fixed'], positive='blurred')
    assert res['fixF'] == pytest.approx(26 / 49, abs=1e-15) and res['fixIoU'] == 0.4
    # synonyms
    for name in ('salient', 'foreground'):
        assert summary(P_FIX, GT_FIX, ['fixed'], positive=name) == summary(P_FIX, GT_FIX, ['fixed'])
    assert summary(P_FIX, GT_FIX, ['fixed'], positive='background') == res


def test_fixed_uses_greater_equal_and_its_threshold_is_an_argument():
    # p = 0.5 exactly is positive (>=): TP 1, FP 0, FN 0 -> F = IoU = 1 (> would give 0)
    assert summary([[0.5, 0.4999]], [[1, 0]], ['fixed']) == {'fixF': 1.0, 'fixIoU': 1.0}
    # threshold 0.4: both positive -> TP 1, FP 1: P = 1/2, R = 1, F = 0.65 / 1.15 = 13/23, IoU 1/2
    res = summary([[0.5, 0.4999]], [[1, 0]], ['fixed'], fixed_threshold=0.4)
    assert res == {'fixF': pytest.approx(13 / 23, abs=1e-15), 'fixIoU': 0.5}
    # the probability is not quantised: with t = 101.9 / 255, p = 101.7 / 255 < t is negative
    # (TP 1, FN 1 -> IoU 1/2), although its PNG value rint(101.7) = 102 would pass (IoU 1)
    res = summary([[101.7 / 255, 1.0]], [[1, 1]], ['fixed'], fixed_threshold=101.9 / 255)
    assert res['fixIoU'] == 0.5


def test_fixed_zero_division_when_the_class_is_absent():
    # all in-focus mask and prediction, scored as blurred: nothing on either side -> 0, not 1
    res = summary(np.full((2, 2), 0.9), np.ones((2, 2), int), ['fixed'], positive='blurred')
    assert res == {'fixF': 0.0, 'fixIoU': 0.0}
    # empty mask, empty prediction under dd: t = 0, nothing > 0 -> 0
    assert summary(np.zeros((2, 2)), np.zeros((2, 2), int), ['dd'])['ddF'] == 0.0


def test_functional_validation():
    assert dbd_protocol_keys(['fixed', 'dd', 'fixed']) == ['fixF', 'fixIoU', 'ddP', 'ddR', 'ddF']
    assert dbd_image_counts(np.zeros((2, 2)), np.zeros((2, 2)), []) == {}
    with pytest.raises(
            ValueError,
            match="'ddd'.*valid names.*'dd', 'dd_pooled', 'dd_mae', 'fixed', 'fixed_pooled'"):
        dbd_image_counts(np.zeros((2, 2)), np.zeros((2, 2)), ['ddd'])
    with pytest.raises(ValueError, match="'focus'.*valid names.*'in-focus'.*'blurred'"):
        dbd_image_counts(np.zeros((2, 2)), np.zeros((2, 2)), ['fixed'], positive='focus')
    with pytest.raises(ValueError, match='dd_factor'):
        dbd_image_counts(np.zeros((2, 2)), np.zeros((2, 2)), ['dd'], dd_factor=0)
    with pytest.raises(ValueError, match='fixed_threshold'):
        dbd_image_counts(np.zeros((2, 2)), np.zeros((2, 2)), ['fixed'], fixed_threshold=1.5)
    with pytest.raises(ValueError, match='same shape'):
        dbd_image_counts(np.zeros((2, 2)), np.zeros((2, 3)), ['dd'])
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        dbd_image_counts(np.full((2, 2), 1.5), np.zeros((2, 2)), ['dd'])
    with pytest.raises(ValueError, match='only 0 and 1'):
        dbd_image_counts(np.zeros((2, 2)), np.full((2, 2), 255), ['dd'])
    with pytest.raises(ValueError, match='zero images'):
        summarize_dbd_protocols([], ['dd'])
    with pytest.raises(KeyError, match='fixed_tp'):
        summarize_dbd_protocols([dbd_image_counts(np.zeros((2, 2)), np.zeros((2, 2)), ['dd'])],
                                ['fixed'])


# ----------------------------------------------------------------------------------------------
# through SODMetric
# ----------------------------------------------------------------------------------------------
def test_sodmetric_dbd_only_keys_values_and_records():
    items = [(Q_A / 255, GT_A), (Q_B / 255, GT_B)]
    metric, res = run_metric(items, sod_metrics=[], dbd_protocols=['dd_pooled', 'dd', 'fixed'])
    assert list(res) == ['ddpP', 'ddpR', 'ddpF', 'ddP', 'ddR', 'ddF', 'fixF', 'fixIoU']
    assert all(type(v) is float for v in res.values())
    assert res['ddpF'] == pytest.approx(39 / 62, abs=1e-12)
    assert res['ddF'] == pytest.approx((26 / 29 + 13 / 33) / 2, abs=1e-12)
    assert res['ddP'] == pytest.approx(2 / 3, abs=1e-12)
    # fixed (p >= 0.5 <=> q >= 128): A keeps 200, 180 -> TP 2, FN 1, IoU 2/3;
    # B keeps the 255s -> TP 1, FP 2, IoU 1/3; F as under dd -> fixIoU = 1/2
    assert res['fixF'] == pytest.approx((26 / 29 + 13 / 33) / 2, abs=1e-12)
    assert res['fixIoU'] == pytest.approx(0.5, abs=1e-12)


def test_sodmetric_records_stay_small():
    metric = SODMetric(sod_metrics=[], dbd_protocols=['dd', 'dd_pooled', 'fixed'])
    metric.process(None, [sample_dict(Q_A / 255, GT_A, 'a.png')])
    record = metric.results[0]
    assert set(record) == {
        'img_path', 'dd_tp', 'dd_fp', 'dd_fn', 'fixed_tp', 'fixed_fp', 'fixed_fn'
    }
    assert all(type(v) is int for k, v in record.items() if k != 'img_path')


def test_sodmetric_sod_keys_come_first_then_protocols_in_order():
    items = [(P_FIX, GT_FIX)]
    _, res = run_metric(items, sod_metrics=['MAE'], dbd_protocols=['fixed', 'dd'])
    assert list(res) == ['MAE', 'fixF', 'fixIoU', 'ddP', 'ddR', 'ddF']
    assert res['fixF'] == pytest.approx(39 / 55, abs=1e-7)  # float32 samples
    _, blurred = run_metric(items, sod_metrics=['MAE'], dbd_protocols=['fixed'], positive='blurred')
    assert blurred['fixF'] == pytest.approx(26 / 49, abs=1e-7)
    assert blurred['fixIoU'] == pytest.approx(0.4, abs=1e-12)
    assert blurred['MAE'] == res['MAE']  # positive only changes the fixed protocol


def test_sodmetric_dd_options():
    gt = np.array([[1, 1, 1, 1], [1, 1, 0, 0]])  # 3/4 fg: see test_dd_binarize_gt_quirk
    _, res = run_metric([(Q_A / 255, gt)], sod_metrics=[], dbd_protocols=['dd'])
    assert res['ddF'] == pytest.approx(13 / 19, abs=1e-12)
    _, res = run_metric([(Q_A / 255, gt)],
                        sod_metrics=[],
                        dbd_protocols=['dd'],
                        dd_binarize_gt=True)
    assert res == {'ddP': 0.0, 'ddR': 0.0, 'ddF': 0.0}
    q = np.array([[130, 30, 0, 0], [0, 0, 0, 0]])  # t = 30 at 1.5, 20 at 1.0
    gt = np.array([[1, 1, 0, 0], [0, 0, 0, 0]])
    _, res = run_metric([(q / 255, gt)], sod_metrics=[], dbd_protocols=['dd'], dd_factor=1.0)
    assert res['ddF'] == 1.0


def test_sodmetric_argument_errors():
    with pytest.raises(ValueError, match='empty'):
        SODMetric(sod_metrics=[], dbd_protocols=[])
    with pytest.raises(ValueError, match='empty'):
        SODMetric(sod_metrics=[])
    with pytest.raises(ValueError, match="SODMetric.*'dd_mean'.*valid names.*'dd_pooled'"):
        SODMetric(dbd_protocols=['dd', 'dd_mean'])
    with pytest.raises(ValueError, match="SODMetric.*'sharp'.*valid names"):
        SODMetric(dbd_protocols='fixed', positive='sharp')
    with pytest.raises(ValueError, match='dd_factor'):
        SODMetric(dbd_protocols='dd', dd_factor=-1)
    with pytest.raises(ValueError, match='fixed_threshold'):
        SODMetric(dbd_protocols='fixed', fixed_threshold=float('nan'))
    assert SODMetric(dbd_protocols='dd').dbd_protocols == ['dd']
    assert SODMetric(dbd_protocols=['fixed'], positive='background').positive == 'blurred'
    assert set(DBD_PROTOCOLS) == {
        'dd', 'dd_pooled', 'dd_mae', 'fixed', 'fixed_pooled', 'zhang_yan', 'a2s'
    }


def test_sodmetric_settings_logged_and_saved(tmp_path):
    log_file = tmp_path / 'eval.log'
    MMLogger.get_instance('dbd_protocol_settings_logger', log_file=str(log_file))
    kwargs = dict(
        sod_metrics=[],
        dbd_protocols=['dd', 'fixed'],
        positive='blurred',
        dd_binarize_gt=True,
        curve_dir=str(tmp_path / 'curves'))
    _, res = run_metric([(Q_A / 255, GT_A)], **kwargs)
    text = log_file.read_text()
    for part in ("dbd_protocols=['dd', 'fixed']", 'dbd_beta2=0.3', 'dd_factor=1.5',
                 'dd_binarize_gt=True', 'positive=blurred', 'fixed_threshold=0.5',
                 'q > min(dd_factor * mean(q), 255)', 'p >= fixed_threshold',
                 'dd_positive=in-focus (label 1)', 'dbd_zero_division=0'):
        assert part in text, part
    saved = json.loads((tmp_path / 'curves' / 'curves.json').read_text())
    assert saved['metrics'] == res and list(res) == ['ddP', 'ddR', 'ddF', 'fixF', 'fixIoU']
    settings = saved['settings']
    assert settings['dbd_protocols'] == ['dd', 'fixed'] and settings['positive'] == 'blurred'
    assert settings['dd_factor'] == 1.5 and settings['fixed_threshold'] == 0.5
    assert settings['dd_binarize_gt'] is True and settings['dbd_beta2'] == 0.3
    assert settings['fixed_positive'] == 'blurred (label 0)'
    assert 'dd_pooled_aggregation' not in settings  # only the protocols in use
    # without protocols the settings say so and carry no protocol parameters
    plain = SODMetric().settings()
    assert plain['dbd_protocols'] == [] and 'dd_factor' not in plain
