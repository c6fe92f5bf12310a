"""Tests of SODMetric with several test sets in one run (keys '<set_name>/<key>').

Multi-set mode: ``dataset_meta['set_names']`` with more than one name, or more than one distinct
``set_name`` among the samples. Per-set values must equal a single-set SODMetric run on the subset.
"""
import json
import os

import cv2
import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from dbdseg.evaluation import SODMetric

META = dict(classes=('background', 'in-focus'))
KWARGS = dict(sod_metrics=['maxF', 'MAE', 'Sm'], dbd_protocols=['dd', 'dd_pooled', 'fixed'])


def make_sample(pred, gt, img_path, set_name=None):
    """SegDataSample with float32 seg_logits (1, H, W), int64 gt_sem_seg and set_name metainfo."""
    pred = torch.as_tensor(np.asarray(pred), dtype=torch.float32)
    meta = dict(img_path=img_path, ori_shape=tuple(pred.shape))
    if set_name is not None:
        meta['set_name'] = set_name
    sample = SegDataSample(metainfo=meta)
    sample.seg_logits = PixelData(data=pred[None])
    if gt is not None:
        sample.gt_sem_seg = PixelData(data=torch.as_tensor(np.asarray(gt), dtype=torch.int64)[None])
    return sample


def image(seed, shift):
    """A 12 x 14 blob mask (centroid inside, so Sm is finite) and a noisy probability map."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:12, :14]
    gt = ((yy - 5)**2 + (xx - 6)**2 < 12).astype(np.uint8)
    prob = np.clip(0.55 * gt + rng.uniform(0, 0.5, gt.shape) + shift, 0, 1)
    return prob.astype(np.float32), gt


def two_sets():
    """Set A (shift 0) and set B (shift 0.2, noisier), two images each, the same stems in both,
    interleaved A, B, A, B as a concatenated loader need not do but gathering may."""
    a = [image(0, 0.0), image(1, 0.0)]
    b = [image(2, 0.2), image(3, 0.25)]
    samples = []
    for k in range(2):
        samples.append(make_sample(*a[k], f'data/A/img{k}.jpg', 'A'))
        samples.append(make_sample(*b[k], f'data/B/img{k}.jpg', 'B'))
    return a, b, samples


def run(samples, meta=META, **kwargs):
    evaluator = Evaluator(SODMetric(**kwargs))
    evaluator.dataset_meta = meta
    evaluator.process(data_samples=samples, data_batch=None)
    return evaluator.evaluate(len(samples))


def unprefixed(res, name):
    return {k[len(name) + 1:]: v for k, v in res.items() if k.startswith(name + '/')}


def test_per_set_values_equal_single_set_runs_and_key_order():
    a, b, samples = two_sets()
    res = run(samples, dict(META, set_names=['B', 'A']), **KWARGS)
    per_set = ['maxF', 'MAE', 'Sm', 'ddP', 'ddR', 'ddF', 'ddpP', 'ddpR', 'ddpF', 'fixF', 'fixIoU']
    # sets in dataset_meta order (B first although A comes first), metrics then protocols
    assert list(res) == [f'B/{k}' for k in per_set] + [f'A/{k}' for k in per_set]
    for name, items in (('A', a), ('B', b)):
        single = run([make_sample(p, g, f'x/img{k}.jpg') for k, (p, g) in enumerate(items)],
                     **KWARGS)
        assert list(single) == per_set
        assert unprefixed(res, name) == single, name
    # the sets really differ, so a mix-up would show
    for key in ('MAE', 'ddF', 'fixIoU'):
        assert res[f'A/{key}'] != pytest.approx(res[f'B/{key}']), key


def test_sets_found_only_in_the_results_and_their_order():
    # no set_names in dataset_meta: multi-set from the samples, sets by first appearance
    _, _, samples = two_sets()
    res = run(samples[1:] + samples[:1], META, sod_metrics=['MAE'], dbd_protocols=['fixed'])
    assert list(res) == ['B/MAE', 'B/fixF', 'B/fixIoU', 'A/MAE', 'A/fixF', 'A/fixIoU']
    # one named set only: single-set mode, plain keys, whether or not dataset_meta names it
    a_only = [s for s in samples if s.set_name == 'A']
    for meta in (META, dict(META, set_names=['A'])):
        assert list(run(a_only, meta, sod_metrics=['MAE'])) == ['MAE']


def test_dbd_only_per_set_hand_values():
    # set A: image A of test_dbd_protocols (ddpF = 26/29), set B: image B (ddpF = 13/33)
    q_a = np.array([[200, 100, 40, 0], [180, 60, 20, 0]])
    q_b = np.array([[255, 255, 255, 0], [0, 0, 0, 0]])
    samples = [
        make_sample(q_a / 255, [[1, 1, 0, 0], [1, 0, 0, 0]], 'a.png', 'A'),
        make_sample(q_b / 255, [[1, 0, 0, 0], [0, 0, 0, 0]], 'b.png', 'B')
    ]
    res = run(
        samples, dict(META, set_names=['A', 'B']), sod_metrics=[], dbd_protocols=['dd_pooled'])
    assert list(res) == ['A/ddpP', 'A/ddpR', 'A/ddpF', 'B/ddpP', 'B/ddpR', 'B/ddpF']
    assert res['A/ddpF'] == pytest.approx(26 / 29, abs=1e-12)
    assert res['B/ddpF'] == pytest.approx(13 / 33, abs=1e-12)
    assert res['B/ddpP'] == pytest.approx(1 / 3, abs=1e-12) and res['B/ddpR'] == 1.0


def test_prefix_goes_before_the_set_name():
    _, _, samples = two_sets()
    res = run(samples, dict(META, set_names=['A', 'B']), sod_metrics=['MAE'], prefix='test')
    assert list(res) == ['test/A/MAE', 'test/B/MAE']


def test_output_dir_writes_one_folder_per_set(tmp_path):
    a, b, samples = two_sets()
    out = tmp_path / 'preds'
    run(samples, dict(META, set_names=['A', 'B']), sod_metrics=['MAE'], output_dir=str(out))
    assert sorted(os.listdir(out)) == ['A', 'B']
    for name, items in (('A', a), ('B', b)):
        assert sorted(os.listdir(out / name)) == ['img0.png', 'img1.png']
        for k, (prob, _) in enumerate(items):
            png = cv2.imread(str(out / name / f'img{k}.png'), cv2.IMREAD_UNCHANGED)
            assert png.dtype == np.uint8
            np.testing.assert_array_equal(png, np.rint(prob.astype(np.float64) * 255))


def test_sets_only_in_the_results_write_flat_and_warn(tmp_path):
    # the folders cannot be known while processing: PNGs go flat + warning
    log_file = tmp_path / 'flat.log'
    MMLogger.get_instance('sod_sets_flat_logger', log_file=str(log_file))
    _, _, samples = two_sets()
    for sample in samples:  # distinct names: a_img0, b_img0, ...
        folder, name = sample.img_path.split('/')[-2:]
        sample.set_metainfo(dict(img_path=f'data/{folder}_{name}'))
    out = tmp_path / 'preds'
    res = run(samples, META, sod_metrics=['MAE'], output_dir=str(out))
    assert list(res) == ['A/MAE', 'B/MAE']
    assert sorted(os.listdir(out)) == ['A_img0.png', 'A_img1.png', 'B_img0.png', 'B_img1.png']
    assert 'saved flat' in log_file.read_text()


def test_sets_only_in_the_results_with_colliding_names_are_refused(tmp_path):
    # flat PNGs of two sets with the same image names: an error, not an overwrite (issue 17)
    _, _, samples = two_sets()
    out = tmp_path / 'preds'
    with pytest.raises(ValueError, match=r'data/B/img0\.jpg.*img0\.png.*data/A/img0\.jpg'):
        run(samples, META, sod_metrics=['MAE'], output_dir=str(out))
    assert sorted(os.listdir(out)) == ['img0.png']


def test_format_only_writes_per_set_folders(tmp_path):
    _, _, samples = two_sets()
    unlabeled = []
    for s in samples:
        s = s.clone()
        del s.gt_sem_seg
        unlabeled.append(s)
    out = tmp_path / 'preds'
    res = run(unlabeled, dict(META, set_names=['A', 'B']), format_only=True, output_dir=str(out))
    assert res == {}
    assert sorted(os.listdir(out)) == ['A', 'B']
    assert sorted(os.listdir(out / 'B')) == ['img0.png', 'img1.png']


def test_curve_files_per_set(tmp_path):
    _, _, samples = two_sets()
    curve_dir = tmp_path / 'curves'
    res = run(samples, dict(META, set_names=['A', 'B']), curve_dir=str(curve_dir), **KWARGS)
    assert sorted(os.listdir(curve_dir)) == ['A', 'B']
    for name in ('A', 'B'):
        assert sorted(os.listdir(curve_dir / name)) == ['curves.json', 'curves.png']
        curves = json.loads((curve_dir / name / 'curves.json').read_text())
        assert curves['metrics'] == unprefixed(res, name)
        assert max(curves['fmeasure']) == pytest.approx(res[f'{name}/maxF'])
        assert curves['settings']['set_name'] == name
        assert curves['settings']['num_images'] == 2
        assert curves['settings']['dbd_protocols'] == ['dd', 'dd_pooled', 'fixed']
        png = (curve_dir / name / 'curves.png').read_bytes()
        assert png[:8] == b'\x89PNG\r\n\x1a\n'


def test_settings_logged_once_then_one_line_per_set(tmp_path):
    log_file = tmp_path / 'sets.log'
    MMLogger.get_instance('sod_sets_logger', log_file=str(log_file))
    _, _, samples = two_sets()
    run(samples + [make_sample(*image(9, 0.1), 'data/A/img2.jpg', 'A')],
        dict(META, set_names=['A', 'B']),
        sod_metrics=['MAE'])
    text = log_file.read_text()
    assert text.count('SODMetric settings') == 1
    assert 'test set A: num_images=3' in text and 'test set B: num_images=2' in text


def test_a_listed_set_without_images_is_an_error():
    _, _, samples = two_sets()
    with pytest.raises(ValueError, match=r"\['CUHK'\].*no processed images"):
        run(samples, dict(META, set_names=['A', 'CUHK', 'B']), sod_metrics=['MAE'])


def test_missing_set_name_is_an_error(tmp_path):
    _, _, samples = two_sets()
    orphan = make_sample(*image(5, 0.0), 'data/orphan_7.jpg')  # no set_name
    out = tmp_path / 'preds'
    # known at process time: raised there, before anything is written for that sample
    metric = SODMetric(sod_metrics=['MAE'], output_dir=str(out))
    metric.dataset_meta = dict(META, set_names=['A', 'B'])
    with pytest.raises(ValueError, match='orphan_7.jpg has no set_name'):
        metric.process(None, [orphan.to_dict()])
    assert not out.exists()
    # found only in compute_metrics (sets revealed by the other samples)
    metric = SODMetric(sod_metrics=['MAE'])
    metric.process(None, [s.to_dict() for s in samples + [orphan]])
    with pytest.raises(ValueError, match='no set_name.*orphan_7.jpg'):
        metric.evaluate(5)


def test_set_names_must_be_folder_names():
    metric = SODMetric(sod_metrics=['MAE'])
    with pytest.raises(ValueError, match="bad.jpg: set_name.*'a/b'"):
        metric.process(None, [make_sample(*image(0, 0), 'bad.jpg', 'a/b').to_dict()])
    metric.dataset_meta = dict(META, set_names=['A', '..'])
    with pytest.raises(ValueError, match="set_name.*'\\.\\.'"):
        metric.process(None, [make_sample(*image(0, 0), 'ok.jpg', 'A').to_dict()])
