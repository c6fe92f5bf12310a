"""Tests of SODMetric and the pysodmetrics glue (dbdseg.evaluation).

Every measure is pinned on small hand-worked cases; the arithmetic is in the comments. Notation:
``u = uint8(p * 255)`` is the value pysodmetrics bins (truncation), curve index ``i`` counts pixels
with ``u >= 255 - i``; F = 1.3 P R / (0.3 P + R) (beta^2 = 0.3).
"""
import json
import os
import pickle
import warnings

import cv2
import numpy as np
import py_sod_metrics as psm
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from dbdseg.evaluation import SODMetric
from dbdseg.evaluation.functional import (SOD_METRICS, image_sod_measures, mean_sod_curves,
                                          summarize_sod_measures)
from dbdseg.registry import METRICS


def make_sample(pred, gt=None, img_path='data/img.jpg'):
    """A SegDataSample as mmseg's postprocess_result leaves it: seg_logits (1, H, W) float
    probabilities, gt_sem_seg (1, H, W) int64."""
    pred = torch.as_tensor(np.asarray(pred), dtype=torch.float32)
    sample = SegDataSample(metainfo=dict(img_path=img_path, ori_shape=tuple(pred.shape)))
    sample.seg_logits = PixelData(data=pred[None])
    if gt is not None:
        sample.gt_sem_seg = PixelData(data=torch.as_tensor(np.asarray(gt), dtype=torch.int64)[None])
    return sample


def evaluate(samples, **kwargs):
    """Run SODMetric through mmengine's Evaluator (process + evaluate(size))."""
    evaluator = Evaluator(SODMetric(**kwargs))
    evaluator.process(data_samples=samples, data_batch=None)
    return evaluator.evaluate(len(samples))


def measures(pred, gt, normalize_pred=False, metrics=SOD_METRICS):
    """Set results of one image, computing only what ``metrics`` needs."""
    per_image = image_sod_measures(
        np.asarray(pred, float), np.asarray(gt), metrics=metrics, normalize_pred=normalize_pred)
    return summarize_sod_measures([per_image], metrics)


# ----------------------------------------------------------------------------------------------
# hand-computed cases
# ----------------------------------------------------------------------------------------------
def test_mae_hand_computed_and_stretch():
    pred = [[0.2, 0.4], [0.6, 0.8]]
    gt = [[0, 0], [1, 1]]
    # raw: |0.2 - 0| + |0.4 - 0| + |0.6 - 1| + |0.8 - 1| = 1.2, / 4 = 0.3
    assert measures(pred, gt, False, ['MAE'])['MAE'] == pytest.approx(0.3, abs=1e-12)
    # normalize_pred: rint(p * 255) = 51, 102, 153, 204; stretched (u - 51) / 153 = 0, 1/3, 2/3, 1
    # MAE = (0 + 1/3 + 1/3 + 0) / 4 = 1/6
    assert measures(pred, gt, True, ['MAE'])['MAE'] == pytest.approx(1 / 6, abs=1e-12)


def test_fmeasure_curve_hand_computed():
    # p = 1, 0.5, 0.5, 0 -> u = 255, 127, 127, 0; gt foreground = top row (2 pixels)
    pred = [[1.0, 0.5], [0.5, 0.0]]
    gt = [[1, 1], [0, 0]]
    r = image_sod_measures(np.array(pred), np.array(gt), normalize_pred=False, with_curves=True)
    # thresholds 255..128 (i = 0..127, 128 bins): only u=255 -> TP 1, P = 1, R = 1/2,
    #   F = 1.3 * 0.5 / (0.3 + 0.5) = 13/16
    # thresholds 127..1 (i = 128..254, 127 bins): u in {255, 127, 127} -> TP 2 of 3, P = 2/3, R = 1,
    #   F = 1.3 * 2/3 / (0.2 + 1) = 13/18
    # threshold 0 (i = 255): all 4 -> P = 1/2, R = 1, F = 0.65 / 1.15 = 13/23
    expected_f = np.array([13 / 16] * 128 + [13 / 18] * 127 + [13 / 23])
    np.testing.assert_allclose(r['fm_curve'], expected_f, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r['precision'], [1] * 128 + [2 / 3] * 127 + [1 / 2], atol=1e-12)
    np.testing.assert_allclose(r['recall'], [1 / 2] * 128 + [1] * 128, atol=1e-12)
    res = summarize_sod_measures([r], ['maxF', 'meanF', 'adpF'])
    assert res['maxF'] == pytest.approx(13 / 16, abs=1e-12)
    assert res['meanF'] == pytest.approx((128 * 13 / 16 + 127 * 13 / 18 + 13 / 23) / 256, abs=1e-12)
    # adaptive threshold min(2 * mean(p), 1) = min(2 * 0.5, 1) = 1 -> only p = 1 -> F = 13/16
    assert res['adpF'] == pytest.approx(13 / 16, abs=1e-12)


def test_adaptive_fmeasure_uses_greater_equal():
    # mean(p) = 0.125 -> threshold 0.25; p >= 0.25 selects both 0.25 pixels (p > 0.25 selects none)
    # TP 1 of 2 predicted, |gt| = 1: P = 1/2, R = 1, F = 1.3 * 0.5 / (0.15 + 1) = 13/23
    res = measures([[0.25, 0.25], [0, 0]], [[1, 0], [0, 0]], metrics=['adpF'])
    assert res == {'adpF': pytest.approx(13 / 23, abs=1e-12)}


def test_smeasure_special_cases_and_perfect():
    # all-background mask: Sm = 1 - mean(p) = 1 - 0.2
    assert measures([[0.1, 0.2], [0.3, 0.2]], np.zeros((2, 2), int))['Sm'] == pytest.approx(0.8)
    # all-foreground mask: Sm = mean(p) = 0.85
    assert measures([[0.9, 0.8], [0.7, 1.0]], np.ones((2, 2), int))['Sm'] == pytest.approx(0.85)
    # perfect map: object score 1 (fg and bg uniform), every region SSIM 1 -> Sm = 1 (up to eps)
    gt = np.zeros((10, 10), int)
    gt[2:5, 3:7] = 1
    assert measures(gt, gt)['Sm'] == pytest.approx(1, abs=1e-9)


def test_emeasure_perfect_map():
    # 10 x 10 mask with a 3 x 4 object, p = gt -> u in {0, 255}.
    # thresholds 255..1: the binary map equals gt, every enhanced-alignment value is 1, sum = N;
    #   pysodmetrics (like the MATLAB code) divides by N - 1 -> E = 100/99
    # threshold 0: everything foreground, mean(binary) = 1, demeaned foreground 0 -> alignment 0,
    #   enhanced (0 + 1)^2 / 4 = 1/4 per pixel -> E = 25/99
    # adaptive threshold 2 * 0.12 = 0.24 selects the object -> E = 100/99
    #   dbdseg clips every per-image E-measure at 1 (issue 17), so the perfect map scores 1
    gt = np.zeros((10, 10), int)
    gt[2:5, 3:7] = 1
    res = measures(gt, gt, metrics=['maxE', 'meanE', 'adpE'])
    assert res['maxE'] == 1
    assert res['meanE'] == pytest.approx((255 * 1 + 25 / 99) / 256, abs=1e-12)
    assert res['adpE'] == 1


def test_emeasure_all_background_and_all_foreground_masks():
    # gt all 0: E = (# pixels predicted background) / (N - 1), N = 4.
    # p = [[1, 0], [0, 0]]: thresholds 255..1 -> 3 background -> 3/3 = 1; threshold 0 -> 0/3 = 0
    # adaptive: 2 * mean = 0.5 -> one foreground pixel -> 1
    res = measures([[1, 0], [0, 0]], np.zeros((2, 2), int))
    assert res['maxE'] == pytest.approx(1, abs=1e-12)
    assert res['meanE'] == pytest.approx(255 / 256, abs=1e-12)
    assert res['adpE'] == pytest.approx(1, abs=1e-12)
    # the other measures on the empty mask: recall is 0 -> every F is 0, wF is 0 by definition,
    # Sm = 1 - mean(p) = 0.75, MAE = 1/4
    assert res['maxF'] == res['meanF'] == res['adpF'] == res['wF'] == 0
    assert res['Sm'] == pytest.approx(0.75)
    assert res['MAE'] == pytest.approx(0.25)
    # gt all 1: E = (# pixels predicted foreground) / (N - 1).
    # p = [[1, 1], [1, 0]]: thresholds 255..1 -> 3/3 = 1; threshold 0 -> 4/3, clipped to 1
    res = measures([[1, 1], [1, 0]], np.ones((2, 2), int), metrics=['maxE', 'meanE', 'Sm'])
    assert res['maxE'] == 1
    assert res['meanE'] == 1
    assert res['Sm'] == pytest.approx(0.75)  # mean(p)


@pytest.mark.parametrize('shape', [(1, 1), (1, 2), (2, 1), (2, 2), (3, 3), (4, 5)])
@pytest.mark.parametrize('normalize_pred', [True, False])
def test_emeasure_stays_in_unit_interval_for_tiny_images(shape, normalize_pred):
    """Issue 17: pysodmetrics (like the MATLAB code) divides the enhanced-alignment sum (at most
    H W) by H W - 1 + eps: a 1 x 1 image gave maxE 4.5e15 and any near-perfect small map E > 1.
    Every per-image E-measure (curve and adaptive) and the set values stay in [0, 1]."""
    rng = np.random.default_rng(sum(shape))
    per_image = []
    for gt in (np.zeros(shape, int), np.ones(shape, int), (rng.uniform(size=shape) > 0.5) * 1):
        gt.flat[0] = 1 - gt.flat[-1] if gt.size > 1 else gt.flat[0]
        for pred in (gt.astype(float), 1.0 - gt, np.zeros(shape), np.ones(shape),
                     rng.uniform(size=shape)):
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', RuntimeWarning)  # Sm of tiny masks
                r = image_sod_measures(
                    pred, gt, metrics=['maxE', 'adpE'], normalize_pred=normalize_pred)
            assert r['em_curve'].shape == (256, )
            assert 0 <= r['em_curve'].min() and r['em_curve'].max() <= 1, (gt, pred)
            assert 0 <= r['em_adp'] <= 1, (gt, pred)
            per_image.append(r)
    res = summarize_sod_measures(per_image, ['maxE', 'meanE', 'adpE'])
    assert all(0 <= v <= 1 for v in res.values()), res
    # one 1 x 1 image among normal ones no longer dominates the set (was maxE 1.5e15)
    one = image_sod_measures(np.ones((1, 1)), np.ones((1, 1), int), metrics=['maxE'])
    assert one['em_curve'].max() == 1


def test_emeasure_per_image_bit_identical_to_pysodmetrics_below_one():
    """The clip at 1 changes only values pysodmetrics puts above 1; all others are its own
    numbers bit for bit (normalised inputs as toolboxes feed it)."""
    from py_sod_metrics.utils import prepare_data
    clipped = 0
    for u, gt in random_set(5) + [(np.full((6, 7), 200, np.uint8), np.ones((6, 7), np.uint8))]:
        ours = image_sod_measures(u / 255, gt, metrics=['maxE', 'adpE'], normalize_pred=True)
        pred_n, gt_n = prepare_data(u, gt * 255)
        em = psm.Emeasure()
        em.step(u, gt * 255)
        ref_curve, ref_adp = em.changeable_ems[0], em.adaptive_ems[0]
        above = ref_curve > 1
        clipped += int(above.sum())
        np.testing.assert_array_equal(ours['em_curve'][~above], ref_curve[~above])
        assert (ours['em_curve'][above] == 1).all()
        assert ours['em_adp'] == (ref_adp if ref_adp <= 1 else 1.0)
        assert pred_n.shape == gt_n.shape
    assert clipped > 0  # the set holds images pysodmetrics scores above 1


def test_weighted_fmeasure_perfect_and_all_wrong():
    gt = np.zeros((9, 9), int)
    gt[3:6, 3:6] = 1
    # perfect: error E = 0 everywhere -> weighted R = 1, P = 1 -> wF = 1
    assert measures(gt, gt, metrics=['wF'])['wF'] == pytest.approx(1, abs=1e-9)
    # all wrong (p = 1 - gt): E = 1 everywhere; every object pixel's 7 x 7 Gaussian window lies
    # inside the image, so the smoothed error there is 1 too -> weighted TP = 0, R = 0 -> wF = 0
    assert measures(1 - gt, gt, metrics=['wF'])['wF'] == pytest.approx(0, abs=1e-9)
    assert measures(
        1 - gt, gt, normalize_pred=True, metrics=['wF'])['wF'] == pytest.approx(
            0, abs=1e-9)


def test_normalize_pred_stretches_each_prediction():
    gt = [[0, 0], [1, 1]]
    weak = [[0.2, 0.2], [0.6, 0.6]]
    # normalize_pred: u = 51, 153 -> stretched to exactly 0 and 1 = a perfect map
    res = measures(weak, gt, normalize_pred=True, metrics=['MAE', 'maxF', 'adpF'])
    assert res == {'MAE': 0, 'maxF': pytest.approx(1), 'adpF': pytest.approx(1)}
    # raw: MAE = (0.2 + 0.2 + 0.4 + 0.4) / 4 = 0.3; adaptive threshold 2 * 0.4 = 0.8 selects
    # nothing -> adpF = 0; maxF still 1 (thresholds between 51 and 153 separate the classes)
    res = measures(weak, gt, normalize_pred=False, metrics=['MAE', 'maxF', 'adpF'])
    assert res == {'MAE': pytest.approx(0.3), 'maxF': pytest.approx(1), 'adpF': 0}


# ----------------------------------------------------------------------------------------------
# agreement with pysodmetrics over a set
# ----------------------------------------------------------------------------------------------
def random_set(seed=0):
    """Four images of different sizes: uint8 predictions (as a toolbox reads PNGs), {0, 1} masks."""
    rng = np.random.default_rng(seed)
    items = []
    for k, (h, w) in enumerate([(20, 24), (17, 31), (32, 16), (25, 25)]):
        yy, xx = np.mgrid[:h, :w]
        gt = ((yy - rng.uniform(5, h - 5))**2 + (xx - rng.uniform(5, w - 5))**2
              < rng.uniform(16, 60)).astype(np.uint8)
        prob = np.clip(0.6 * gt + rng.uniform(0, 0.5, (h, w)) + (0.3 if k == 3 else 0), 0, 1)
        u = np.rint(prob * 255).astype(np.uint8)
        items.append((u, gt))
    items.append((np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8)))  # empty mask and pred
    return items


def pysodmetrics_reference(items, normalize_pred):
    """pysodmetrics' own evaluators run over the whole set, as a SOD toolbox does."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        fm = psm.Fmeasure(beta=0.3)  # the classic API (deprecated for FmeasureV2)
    mae, sm, em, wfm = psm.MAE(), psm.Smeasure(), psm.Emeasure(), psm.WeightedFmeasure()
    for u, gt in items:
        if normalize_pred:
            pred, gt_in = u, gt * 255
        else:
            # the float32 probabilities the samples carry (make_sample), as float64
            pred, gt_in = (u / 255).astype(np.float32).astype(np.float64), gt.astype(bool)
        for evaluator in (fm, mae, sm, em, wfm):
            evaluator.step(pred, gt_in, normalize=normalize_pred)
    f, e = fm.get_results(), em.get_results()['em']
    # dbdseg clips every per-image E-measure at 1 (pysodmetrics divides by H W - 1, so a
    # near-perfect map scores up to H W / (H W - 1)); the rest is pysodmetrics' own mean
    e = dict(
        curve=np.mean(np.minimum(np.array(em.changeable_ems, dtype=np.float64), 1), axis=0),
        adp=np.mean(np.minimum(np.array(em.adaptive_ems, dtype=np.float64), 1)))
    scalars = dict(
        maxF=f['fm']['curve'].max(),
        meanF=f['fm']['curve'].mean(),
        adpF=f['fm']['adp'],
        MAE=mae.get_results()['mae'],
        Sm=sm.get_results()['sm'],
        maxE=e['curve'].max(),
        meanE=e['curve'].mean(),
        adpE=e['adp'],
        wF=wfm.get_results()['wfm'])
    curves = dict(
        precision=f['pr']['p'], recall=f['pr']['r'], fmeasure=f['fm']['curve'], emeasure=e['curve'])
    return scalars, curves


@pytest.mark.parametrize('normalize_pred', [True, False])
def test_set_aggregate_equals_pysodmetrics(normalize_pred, tmp_path):
    items = random_set()
    samples = [make_sample(u / 255, gt, f'd/img{k}.png') for k, (u, gt) in enumerate(items)]
    res = evaluate(samples, normalize_pred=normalize_pred, curve_dir=str(tmp_path))
    ref, ref_curves = pysodmetrics_reference(items, normalize_pred)
    assert list(res) == list(SOD_METRICS)
    for key in SOD_METRICS:
        assert type(res[key]) is float
        assert res[key] == pytest.approx(float(ref[key]), rel=1e-9, abs=1e-12), key
    curves = json.loads((tmp_path / 'curves.json').read_text())
    for key, ref_curve in ref_curves.items():
        np.testing.assert_allclose(curves[key], ref_curve, rtol=1e-9, atol=1e-12, err_msg=key)


def test_set_results_differ_between_modes():
    # guards the parametrised test above against both modes silently doing the same thing
    items = random_set()
    samples = [make_sample(u / 255, gt, f'd/img{k}.png') for k, (u, gt) in enumerate(items)]
    a = evaluate(samples, normalize_pred=True, sod_metrics=['MAE'])
    b = evaluate(samples, normalize_pred=False, sod_metrics=['MAE'])
    assert a['MAE'] != pytest.approx(b['MAE'])


def test_split_results_as_gathered_across_ranks_match_single_run():
    items = random_set(1)
    samples = [make_sample(u / 255, gt, f'd/img{k}.png') for k, (u, gt) in enumerate(items)]
    single = SODMetric()
    single.process(None, [s.to_dict() for s in samples])
    rank0, rank1 = SODMetric(), SODMetric()
    rank0.process(None, [s.to_dict() for s in samples[0::2]])
    rank1.process(None, [s.to_dict() for s in samples[1::2]])
    # mmengine pickles each rank's results and interleaves them back into dataset order
    gathered = pickle.loads(pickle.dumps(rank0.results)) + pickle.loads(pickle.dumps(rank1.results))
    gathered = [gathered[i] for i in (0, 3, 1, 4, 2)]
    assert [r['img_path'] for r in gathered] == [r['img_path'] for r in single.results]
    assert rank0.compute_metrics(gathered) == single.compute_metrics(single.results)
    # only per-image scalars and 256-point curves are kept, never maps
    for record in single.results:
        for key, value in record.items():
            assert key == 'img_path' or np.asarray(value).size in (1, 256)


# ----------------------------------------------------------------------------------------------
# metric plumbing
# ----------------------------------------------------------------------------------------------
def test_registered_and_metric_subset_order():
    metric = METRICS.build(dict(type='SODMetric', sod_metrics=['MAE', 'maxF', 'MAE']))
    assert isinstance(metric, SODMetric)
    metric.process(None, [make_sample([[1.0, 0.5], [0.5, 0.0]], [[1, 1], [0, 0]])])
    # only what MAE and maxF need is stored
    assert set(metric.results[0]) == {'img_path', 'mae', 'fm_curve'}
    res = metric.evaluate(1)
    assert list(res) == ['MAE', 'maxF']  # duplicates dropped, order kept, plain keys
    # normalize_pred: u = 255, 128, 128, 0 (rint(127.5) = 128), not stretched (min 0, max 255):
    # MAE = (0 + 127/255 + 128/255 + 0) / 4 = 1/4
    assert res['MAE'] == pytest.approx(0.25)
    assert res['maxF'] == pytest.approx(13 / 16)


def test_config_with_a_metric_subset_builds_through_the_runner():
    """``dict(type='SODMetric', sod_metrics=[...])`` is an ordinary metric config: mmengine's
    ``Runner.build_evaluator`` wraps it in an ``Evaluator`` (a ``metrics`` key would make it read
    the dict as an Evaluator config), and nothing named SODMetric is in the EVALUATOR registry."""
    from mmengine.evaluator import Evaluator
    from mmengine.registry import EVALUATOR, DefaultScope
    from mmengine.runner import Runner

    with DefaultScope.overwrite_default_scope('mmseg'):
        assert EVALUATOR.get('SODMetric') is None
        evaluator = Runner.build_evaluator(
            None, dict(type='SODMetric', sod_metrics=['MAE', 'maxF'], dbd_protocols=['fixed']))
    assert isinstance(evaluator, Evaluator) and len(evaluator.metrics) == 1
    metric = evaluator.metrics[0]
    assert isinstance(metric, SODMetric)
    assert metric.metrics == ['MAE', 'maxF'] and metric.dbd_protocols == ['fixed']
    with pytest.raises(TypeError, match='metrics'):
        SODMetric(metrics=['MAE'])  # the old argument name is gone


def test_prefix_is_applied_by_mmengine():
    metric = SODMetric(sod_metrics='MAE', prefix='ECSSD')
    metric.process(None, [make_sample([[0.0, 1.0]], [[0, 1]])])
    assert metric.evaluate(1) == {'ECSSD/MAE': 0.0}


def test_bad_metric_name_lists_valid_ones():
    with pytest.raises(ValueError, match='maxFF.*valid names.*maxF.*wF'):
        SODMetric(sod_metrics=['maxFF'])
    with pytest.raises(ValueError, match='empty'):
        SODMetric(sod_metrics=[])


def test_shape_mismatch_names_the_image(tmp_path):
    metric = SODMetric(output_dir=str(tmp_path / 'preds'))
    sample = make_sample(np.zeros((4, 5)), np.zeros((4, 6), int), img_path='set/odd_one.jpg')
    with pytest.raises(ValueError, match='set/odd_one.jpg.*differs'):
        metric.process(None, [sample.to_dict()])
    assert not (tmp_path / 'preds').exists()  # nothing written for the bad sample


def test_missing_gt_without_format_only_names_the_image():
    metric = SODMetric()
    with pytest.raises(ValueError, match='unlabeled_3.jpg.*no ground truth.*format_only'):
        metric.process(None, [make_sample(np.zeros((3, 3)), None, 'x/unlabeled_3.jpg')])


def test_ignore_index_and_non_binary_masks_are_rejected():
    metric = SODMetric()
    with pytest.raises(ValueError, match='padded.jpg.*holds 255.*ignore index'):
        metric.process(None, [make_sample(np.zeros((2, 2)), [[0, 255], [1, 0]], 'padded.jpg')])
    # a 0 / 255 mask file that skipped dbdseg's loading transform: the message says masks must be
    # 0 / 1 after loading and names the transform that makes them so
    with pytest.raises(
            ValueError,
            match=r'0_255.png.*must hold labels 0 / 1 after loading.*'
            r"LoadBinaryAnnotations"):
        metric.process(None, [make_sample(np.zeros((2, 2)), [[0, 255], [255, 0]], '0_255.png')])
    with pytest.raises(ValueError, match='grey.jpg.*only 0 and 1'):
        metric.process(None, [make_sample(np.zeros((2, 2)), [[0, 128], [1, 0]], 'grey.jpg')])


def test_bad_predictions_are_rejected():
    metric = SODMetric()
    with pytest.raises(ValueError, match='logits.jpg.*\\[0, 1\\]'):
        metric.process(None, [make_sample([[-3.0, 2.0]], [[0, 1]], 'logits.jpg')])
    sample = make_sample([[0.0, 1.0]], [[0, 1]], 'two.jpg')
    sample.seg_logits = PixelData(data=torch.zeros(2, 1, 2))
    with pytest.raises(ValueError, match='two.jpg.*2 channels'):
        metric.process(None, [sample])


def test_format_only_writes_predictions_and_returns_empty(tmp_path):
    with pytest.raises(ValueError, match='output_dir'):
        SODMetric(format_only=True)
    out = tmp_path / 'preds'
    samples = [
        make_sample(np.full((3, 4), 0.5), None, 'a/b/c1.jpg'),
        make_sample(np.ones((2, 2)), None, 'c2.bmp')
    ]
    assert evaluate(samples, format_only=True, output_dir=str(out)) == {}
    assert sorted(os.listdir(out)) == ['c1.png', 'c2.png']


def test_output_dir_writes_rounded_8bit_pngs_at_original_size(tmp_path):
    out = tmp_path / 'new' / 'preds'
    # rint(p * 255): 0.999 -> 254.7 -> 255, 0.5 -> 127.5 -> 128 (half to even), 0.2 -> 51,
    # 0.001 -> 0.26 -> 0, 0.4 -> 102, 1 -> 255
    pred = np.array([[0.999, 0.5, 0.2], [0.001, 0.4, 1.0]])
    gt = [[1, 1, 0], [0, 0, 1]]
    evaluate([make_sample(pred, gt, '/data/imgs/photo.01.jpg')], output_dir=str(out))
    assert os.listdir(out) == ['photo.01.png']  # stem of img_path, nothing half-written left
    png = cv2.imread(str(out / 'photo.01.png'), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint8 and png.shape == (2, 3)
    np.testing.assert_array_equal(png, [[255, 128, 51], [0, 102, 255]])


def test_output_dir_keeps_the_sub_folders_of_stems(tmp_path):
    """Issue 17: two images with the same name in two sub-folders (stems 'a/x' and 'b/x', as
    BinarySegDataset lists them recursively or an ann_file names them) gave one x.png."""
    out = tmp_path / 'preds'
    samples = []
    for k, stem in enumerate(['a/x', 'b/x', 'y']):
        sample = make_sample(
            np.full((2, 3), 0.2 * (k + 1)), [[0, 1, 1], [0, 0, 1]], f'data/images/{stem}.jpg')
        sample.set_metainfo(dict(stem=stem))
        samples.append(sample)
    evaluate(samples, output_dir=str(out), sod_metrics=['MAE'])
    written = sorted(str(p.relative_to(out)) for p in out.rglob('*.png'))
    assert written == ['a/x.png', 'b/x.png', 'y.png']
    for k, stem in enumerate(['a/x', 'b/x', 'y']):
        png = cv2.imread(str(out / f'{stem}.png'), cv2.IMREAD_UNCHANGED)
        assert (png == np.rint(np.float32(0.2 * (k + 1)) * 255)).all(), stem


def test_output_dir_refuses_two_images_on_one_png(tmp_path):
    """Without a stem (samples of other datasets) the PNG is named by the image's base name; a
    second image of the same base name is an error naming both, not a silent overwrite."""
    out = tmp_path / 'preds'
    metric = SODMetric(output_dir=str(out), sod_metrics=['MAE'])
    metric.process(None, [make_sample(np.zeros((2, 2)), np.eye(2, dtype=int), 'd/a/x.jpg')])
    with pytest.raises(ValueError, match=r'd/b/x\.jpg.*x\.png.*already.*d/a/x\.jpg'):
        metric.process(None, [make_sample(np.ones((2, 2)), np.eye(2, dtype=int), 'd/b/x.jpg')])
    png = cv2.imread(str(out / 'x.png'), cv2.IMREAD_UNCHANGED)
    assert (png == 0).all()  # the first prediction is kept
    # a new evaluation round (next validation) may write the same names again
    metric.evaluate(1)
    metric.process(None, [make_sample(np.ones((2, 2)), np.eye(2, dtype=int), 'd/a/x.jpg')])
    assert (cv2.imread(str(out / 'x.png'), cv2.IMREAD_UNCHANGED) == 255).all()


def test_dataset_with_the_same_name_in_two_sub_folders_gives_two_pngs(tmp_path):
    """Issue 17 end to end: BinarySegDataset lists images/a/x.jpg and images/b/x.jpg
    recursively; the samples its default pipeline packs carry the stems, and SODMetric(output_dir)
    (what ``tools/test.py --out`` sets) writes a/x.png and b/x.png."""
    from mmcv.transforms import LoadImageFromFile

    from dbdseg.datasets import BinarySegDataset
    from dbdseg.datasets.transforms import LoadBinaryAnnotations, PackBinarySegInputs
    root = tmp_path / 'data'
    for k, stem in enumerate(['a/x', 'b/x']):
        (root / 'images' / stem).parent.mkdir(parents=True, exist_ok=True)
        (root / 'masks' / stem).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / 'images' / f'{stem}.jpg'), np.full((3, 4, 3), 50 * k, np.uint8))
        cv2.imwrite(str(root / 'masks' / f'{stem}.png'), np.eye(3, 4, dtype=np.uint8) * 255)
    dataset = BinarySegDataset(
        data_root=str(root),
        data_prefix=dict(img_path='images', seg_map_path='masks'),
        pipeline=[LoadImageFromFile(),
                  LoadBinaryAnnotations(),
                  PackBinarySegInputs()])
    out = tmp_path / 'preds'
    metric = SODMetric(output_dir=str(out), sod_metrics=['MAE'])
    for k in range(len(dataset)):
        sample = dataset[k]['data_samples']
        sample.seg_logits = PixelData(data=torch.full((1, 3, 4), 0.25 * (k + 1)))
        metric.process(None, [sample.to_dict()])
    assert sorted(str(p.relative_to(out)) for p in out.rglob('*.png')) == ['a/x.png', 'b/x.png']
    assert (cv2.imread(str(out / 'b' / 'x.png'), cv2.IMREAD_UNCHANGED) == 128).all()


@pytest.mark.parametrize('stem', ['../up', '/abs/x', 'a/../../x', ''])
def test_output_dir_refuses_stems_leaving_the_folder(tmp_path, stem):
    sample = make_sample(np.zeros((2, 2)), np.eye(2, dtype=int), 'd/x.jpg')
    sample.set_metainfo(dict(stem=stem))
    with pytest.raises(ValueError, match='d/x.jpg.*stem'):
        SODMetric(output_dir=str(tmp_path / 'o')).process(None, [sample])


def test_saved_pngs_reproduce_the_metric(tmp_path):
    # a toolbox reading the saved PNGs (pysodmetrics, normalize=True) gets the metric's numbers
    rng = np.random.default_rng(3)
    gt = (rng.uniform(size=(12, 14)) > 0.6).astype(np.uint8)
    prob = np.clip(0.5 * gt + rng.uniform(0, 0.6, gt.shape), 0, 1).astype(np.float32)
    res = evaluate([make_sample(prob, gt, 'p.jpg')],
                   output_dir=str(tmp_path),
                   sod_metrics=['MAE', 'Sm'])
    png = cv2.imread(str(tmp_path / 'p.png'), cv2.IMREAD_GRAYSCALE)
    mae, sm = psm.MAE(), psm.Smeasure()
    mae.step(png, gt * 255)
    sm.step(png, gt * 255)
    assert res['MAE'] == pytest.approx(mae.get_results()['mae'], rel=1e-12)
    assert res['Sm'] == pytest.approx(sm.get_results()['sm'], rel=1e-12)


def test_curve_dir_writes_json_and_png(tmp_path):
    curve_dir = tmp_path / 'curves'
    samples = [make_sample([[1.0, 0.5], [0.5, 0.0]], [[1, 1], [0, 0]], 'a.jpg')]
    res = evaluate(
        samples, normalize_pred=False, sod_metrics=['maxF', 'MAE'], curve_dir=str(curve_dir))
    assert sorted(os.listdir(curve_dir)) == ['curves.json', 'curves.png']
    curves = json.loads((curve_dir / 'curves.json').read_text())
    assert set(curves) == {
        'thresholds', 'precision', 'recall', 'fmeasure', 'emeasure', 'metrics', 'settings'
    }
    for key in ('thresholds', 'precision', 'recall', 'fmeasure', 'emeasure'):
        assert len(curves[key]) == 256, key
    assert curves['thresholds'][0] == 1.0 and curves['thresholds'][-1] == 0.0
    assert curves['thresholds'][128] == pytest.approx(127 / 255)
    assert curves['metrics'] == res
    assert max(curves['fmeasure']) == pytest.approx(res['maxF'])
    assert curves['precision'][128] == pytest.approx(2 / 3)  # see test_fmeasure_curve_hand_computed
    assert curves['settings']['normalize_pred'] is False
    assert curves['settings']['fmeasure_beta2'] == 0.3
    assert curves['settings']['emeasure_clip'].startswith('per-image E-measure min(E, 1)')
    assert curves['settings']['metrics'] == ['maxF', 'MAE']
    assert curves['settings']['num_images'] == 1
    data = (curve_dir / 'curves.png').read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None and img.shape[0] > 100 and img.shape[1] > 100


def test_settings_are_logged(tmp_path):
    from mmengine.logging import MMLogger
    log_file = tmp_path / 'eval.log'
    MMLogger.get_instance('sod_metric_test_logger', log_file=str(log_file))
    metric = SODMetric(sod_metrics=['MAE'], normalize_pred=False)
    metric.process(None, [make_sample([[0.0, 1.0]], [[0, 1]])])
    metric.evaluate(1)
    text = log_file.read_text()
    assert 'SODMetric settings' in text
    assert 'normalize_pred=False' in text and 'fmeasure_beta2=0.3' in text
    assert "metrics=['MAE']" in text


def test_nan_smeasure_is_reported(tmp_path):
    # mask foreground in the bottom row of 2 x 2: centroid row round(1) + 1 = 2 = H, so
    # pysodmetrics' S-measure splits off an empty region and returns NaN; the metric says so
    from mmengine.logging import MMLogger
    log_file = tmp_path / 'nan.log'
    MMLogger.get_instance('sod_metric_nan_logger', log_file=str(log_file))
    metric = SODMetric(sod_metrics=['Sm', 'MAE'])
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        metric.process(None, [make_sample([[0, 0.2], [1, 0.8]], [[0, 0], [1, 1]], 'edge.png')])
    res = metric.evaluate(1)
    # u = 0, 51, 255, 204 (already spanning 0..255): MAE = (0 + 0.2 + 0 + 0.2) / 4 = 0.1
    assert np.isnan(res['Sm']) and res['MAE'] == pytest.approx(0.1)
    assert "S-measure is NaN for 1 image(s), e.g. ['edge.png']" in log_file.read_text()


def test_empty_results_raise():
    with pytest.raises(ValueError, match='no images'):
        SODMetric().compute_metrics([])


def test_image_sod_measures_validates_inputs():
    with pytest.raises(ValueError, match='same shape'):
        image_sod_measures(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match='valid names'):
        image_sod_measures(np.zeros((2, 2)), np.zeros((2, 2)), metrics=['IoU'])
    with pytest.raises(KeyError, match='precision'):
        mean_sod_curves([image_sod_measures(np.zeros((2, 2)), np.zeros((2, 2)), metrics=['MAE'])])


# ----------------------------------------------------------------------------------------------
# mmseg's tools/test.py --out, per-image CSV, the reference protocols through the metric
# ----------------------------------------------------------------------------------------------
def test_mmseg_test_tool_out_arguments_are_accepted(tmp_path):
    # mmseg 1.x tools/test.py --out DIR sets test_evaluator['output_dir'] = DIR and
    # ['keep_results'] = True; the metric built from that config writes the PNGs and scores
    cfg = dict(type='SODMetric', sod_metrics=['MAE'])
    cfg['output_dir'] = str(tmp_path / 'out')
    cfg['keep_results'] = True
    metric = METRICS.build(cfg)
    assert metric.keep_results is True
    pred = np.array([[0.2, 1.0], [0.0, 0.6]])
    metric.process(None, [make_sample(pred, [[0, 1], [0, 1]], 'imgs/x.jpg').to_dict()])
    assert metric.evaluate(1) == {'MAE': pytest.approx((0.2 + 0.4) / 4)}
    np.testing.assert_array_equal(
        cv2.imread(str(tmp_path / 'out' / 'x.png'), cv2.IMREAD_UNCHANGED), [[51, 255], [0, 153]])
    with pytest.raises(TypeError, match="unexpected keyword argument.*'keep_result'"):
        SODMetric(keep_result=True)


def test_per_image_csv_rows_hold_each_images_own_values(tmp_path):
    csv_path = tmp_path / 'csv' / 'per_image.csv'
    good = np.array([[0.9, 0.8], [0.1, 0.0]])
    bad = np.array([[0.1, 0.0], [0.9, 0.8]])
    gt = [[1, 1], [0, 0]]
    res = evaluate([make_sample(good, gt, 'set/good.jpg'),
                    make_sample(bad, gt, 'set/bad.jpg')],
                   sod_metrics=['MAE', 'adpF'],
                   dbd_protocols=['fixed', 'dd_pooled'],
                   per_image_csv=str(csv_path))
    lines = csv_path.read_text().splitlines()
    assert lines[0] == ('stem,maxF,adpF,MAE,Sm,maxE,wF,fixF,fixIoU,ddpP,ddpR,ddpF')
    rows = [dict(zip(lines[0].split(','), line.split(','))) for line in lines[1:]]
    assert [r['stem'] for r in rows] == ['good', 'bad']
    # the good map is right at every pixel (p >= 0.5 <=> mask), the bad one wrong everywhere
    assert float(rows[0]['fixF']) == 1.0 and float(rows[1]['fixF']) == 0.0
    assert float(rows[0]['fixIoU']) == 1.0 and float(rows[1]['fixIoU']) == 0.0
    # MAE per image (unstretched values would be 0.1 / 0.9; normalize_pred stretches each map)
    mae = [float(r['MAE']) for r in rows]
    assert np.mean(mae) == pytest.approx(res['MAE'], abs=1e-12) and mae[0] < mae[1]
    # keys of the metric result are unchanged by the option
    assert list(res) == ['MAE', 'adpF', 'fixF', 'fixIoU', 'ddpP', 'ddpR', 'ddpF']


def test_reference_protocols_through_the_metric_equal_the_functional_values():
    from dbdseg.evaluation.functional.dbd_protocols import dbd_image_counts, summarize_dbd_protocols
    rng = np.random.default_rng(7)
    items = [(rng.random((5, 7)).astype(np.float32), (rng.random((5, 7)) > 0.5).astype(np.int64))
             for _ in range(3)]
    protocols = ['dd_mae', 'fixed_pooled', 'zhang_yan', 'a2s']
    res = evaluate([make_sample(p, g, f'i{k}.jpg') for k, (p, g) in enumerate(items)],
                   sod_metrics=[],
                   dbd_protocols=protocols,
                   dd_quantize='trunc')
    expected = summarize_dbd_protocols(
        [dbd_image_counts(p.astype(np.float64), g, protocols) for p, g in items], protocols)
    assert res == pytest.approx(expected, abs=1e-12)
    assert list(res) == [
        'ddMAE', 'fixpIoU', 'zyMAE', 'a2sMaxF', 'a2sMeanF', 'a2sMAE', 'a2sSm', 'a2sEm', 'a2sWF'
    ]
    with pytest.raises(ValueError, match="dd_quantize.*'round', 'trunc'"):
        SODMetric(dbd_protocols='dd', dd_quantize='floor')
