""".dev_scripts/speed_targets.py: JSON structure and ratios of the three target checks (on tiny
inputs; no timing thresholds), the interleaving order, and that the fast SODMetric path gives
pysodmetrics' numbers bit for bit."""
import json
import os.path as osp
import runpy
import warnings
from types import SimpleNamespace

import numpy as np
import py_sod_metrics as psm
import pytest

from dbdseg.evaluation.functional import (EM_MAX, SOD_METRICS, image_sod_measures,
                                          summarize_sod_measures)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
st = SimpleNamespace(**runpy.run_path(osp.join(ROOT, '.dev_scripts', 'speed_targets.py')))


def test_interleave_alternates_order():
    calls = []
    fns = {name: (lambda n=name: calls.append(n)) for name in ('a', 'b')}
    times = st.interleave(fns, repeat=4, warmup=1)
    assert calls == ['a', 'b', 'a', 'b', 'b', 'a', 'a', 'b', 'b', 'a']
    assert {k: len(v) for k, v in times.items()} == {'a': 4, 'b': 4}
    calls.clear()
    fns3 = {name: (lambda n=name: calls.append(n)) for name in ('a', 'b', 'c')}
    st.interleave(fns3, repeat=3, warmup=0)
    assert calls == ['a', 'b', 'c', 'b', 'c', 'a', 'c', 'a', 'b']


def test_main_runs_all_checks_on_tiny_inputs(tiny_project, tmp_path, capsys):
    out = tmp_path / 'targets.json'
    res = st.main([
        '--checks', 'inference', 'metric', 'train', '--config', tiny_project['config'], '--shape',
        '32', '32', '--repeat', '3', '--warmup', '1', '--num-pairs', '5', '--pair-shape', '16',
        '20', '--block', '2', '--train-config', tiny_project['config'], '--train-iters', '3',
        '--train-skip', '1', '--train-images', '4', '--train-img-size', '24', '36', '--out',
        str(out)
    ])
    data = json.loads(out.read_text())
    assert data == json.loads(json.dumps(res))
    assert set(data) >= {'note', 'inference', 'metric', 'train', 'torch_threads'}
    assert 'interleaved' in data['note']

    inf = data['inference']
    med_a = float(np.median(inf['inference_ms']['all']))
    med_b = float(np.median(inf['tensor_ms']['all']))
    assert inf['ratio'] == pytest.approx(med_a / med_b)
    assert inf['target'] == 1.15 and inf['passed'] == (inf['ratio'] <= 1.15)
    assert len(inf['inference_ms']['all']) == len(inf['tensor_ms']['all']) == 3
    # both sides compute the same map: probability = sigmoid(logits)
    assert inf['max_abs_diff'] < 1e-6

    met = data['metric']
    assert met['num_pairs'] == 5 and met['num_blocks'] == 3  # blocks of 2, 2, 1
    assert met['ratio'] == pytest.approx(met['sodmetric_s'] / met['pysodmetrics_s'])
    assert met['sodmetric_s'] >= sum(met['sodmetric_block_s'])
    assert met['target'] == 1.2 and met['passed'] == (met['ratio'] <= 1.2)
    assert set(met['results_sodmetric']) == set(SOD_METRICS)
    assert met['max_abs_diff'] == 0.0  # same numbers as pysodmetrics, bit for bit

    tr = data['train']
    assert tr['iters'] == 3 and tr['kept_iters'] == [2, 3]
    assert tr['ratio'] == pytest.approx(sum(tr['data_time_s']) / sum(tr['time_s']))
    assert 0 <= tr['ratio'] < 1 and 0 <= tr['ratio_all_iters'] < 1
    assert tr['dataloader']['batch_size'] == 2 and tr['dataloader']['num_workers'] == 0
    assert tr['target'] == 0.10 and tr['passed'] == (tr['ratio'] < 0.10)
    printed = capsys.readouterr().out
    assert 'inference: inference_model / model(x, mode=tensor) =' in printed
    assert 'metric: SODMetric / pysodmetrics =' in printed


def test_data_time_ratio_arithmetic():
    records = [
        dict(iter=1, data_time=5.0, time=6.0),
        dict(iter=2, data_time=0.1, time=1.0),
        dict(iter=3, data_time=0.3, time=3.0)
    ]
    res = st.data_time_ratio(records, skip=1)
    assert res['ratio'] == pytest.approx(0.4 / 4.0)
    assert res['ratio_median_of_iters'] == pytest.approx(0.1)
    assert res['ratio_all_iters'] == pytest.approx(5.4 / 10.0)
    assert res['first_iters_data_time_s'] == [5.0]
    with pytest.raises(ValueError, match='after the first 3'):
        st.data_time_ratio(records, skip=3)


def test_write_train_data_follows_the_dataset_layout(tmp_path):
    ds = dict(
        data_prefix=dict(
            img_path='train/images', seg_map_path='train/masks', depth_map_path='train/depth'),
        img_suffix='.jpg',
        seg_map_suffix='.bmp',
        ann_file='train.txt')
    options = st.write_train_data(str(tmp_path), ds, num_images=3, img_size=(20, 30))
    assert options == {
        'train_dataloader.dataset.data_root': str(tmp_path),
        'train_dataloader.dataset.ann_file': 'train_list.txt'
    }
    assert sorted(p.name for p in (tmp_path / 'train' / 'images').iterdir()) == [
        'train_0000.jpg', 'train_0001.jpg', 'train_0002.jpg'
    ]
    assert len(list((tmp_path / 'train' / 'masks').glob('*.bmp'))) == 3
    assert len(list((tmp_path / 'train' / 'depth').glob('*.png'))) == 3
    assert (tmp_path /
            'train_list.txt').read_text().split() == ['train_0000', 'train_0001', 'train_0002']


def _pysodmetrics_per_image(pred_u8, gt_u8):
    """pysodmetrics' evaluators on one image (the reference of the fast path), with the E-measure
    clipped at ``EM_MAX`` as dbdseg does (pysodmetrics divides by H W - 1: above 1 for near-perfect
    maps and tiny images; docs/en/evaluation.md)."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        fm = psm.Fmeasure(beta=0.3)
    ev = dict(
        fm=fm, mae=psm.MAE(), sm=psm.Smeasure(), em=psm.Emeasure(), wfm=psm.WeightedFmeasure())
    for e in ev.values():
        e.step(pred_u8, gt_u8, normalize=True)
    f, e = ev['fm'].get_results(), ev['em'].get_results()['em']
    return dict(
        fm_curve=f['fm']['curve'],
        fm_adp=f['fm']['adp'],
        precision=f['pr']['p'],
        recall=f['pr']['r'],
        mae=ev['mae'].get_results()['mae'],
        sm=ev['sm'].get_results()['sm'],
        em_curve=np.minimum(e['curve'], EM_MAX),
        em_adp=min(e['adp'], EM_MAX),
        wfm=ev['wfm'].get_results()['wfm'])


@pytest.mark.parametrize(
    'case', ['random', 'empty_mask', 'full_mask', 'constant_pred', 'binary_pred', 'one_pixel'])
def test_fast_sod_measures_equal_pysodmetrics_bit_for_bit(case):
    rng = np.random.default_rng(3)
    h, w = (1, 1) if case == 'one_pixel' else (23, 17)
    gt = (rng.random((h, w)) < 0.4).astype(np.uint8)
    pred = rng.random((h, w))
    if case == 'empty_mask':
        gt[:] = 0
    elif case == 'full_mask':
        gt[:] = 1
    elif case == 'constant_pred':
        pred[:] = 0.3
    elif case == 'binary_pred':
        pred = gt.astype(float)
    u = np.rint(pred * 255).astype(np.uint8)
    mine = image_sod_measures(u / 255, gt, with_curves=True)
    ref = _pysodmetrics_per_image(u, gt * 255)
    assert set(mine) == set(ref)
    for key, value in ref.items():
        assert np.array_equal(mine[key], np.asarray(value, dtype=np.float64), equal_nan=True), key
    assert summarize_sod_measures([mine])['maxF'] == float(np.max(ref['fm_curve']))
