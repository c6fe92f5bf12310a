"""Golden tests: dbdseg's reference protocols against the outputs of the reference code itself.

``tests/data/<name>_golden.json`` hold a few fixed prediction / mask arrays (grey-level masks with
values of 128, non-square odd sizes, a constant map; the recipe is in the file), the reference
repository and commit, how its evaluation was run (once, outside the repository), and its
outputs. dbdseg must reproduce every value within the file's tolerance (absolute 1e-6).
"""
import json
import os.path as osp

import cv2
import numpy as np
import pytest

from dbdseg.evaluation.functional.dbd_protocols import (dbd_image_counts, dbd_image_values,
                                                        summarize_dbd_protocols)
from dbdseg.evaluation.pred_folder import evaluate_pred_gt_folders, read_prediction, resize_map

DATA = osp.join(osp.dirname(osp.dirname(__file__)), 'data')


def load(name):
    with open(osp.join(DATA, f'{name}_golden.json')) as f:
        golden = json.load(f)
    preds = [np.array(p, dtype=np.float32) for p in golden['inputs']['pred']]
    greys = [np.array(g, dtype=np.uint8) for g in golden['inputs']['gt_grey']]
    return golden, preds, greys


def png_values(pred):
    """The saved prediction PNG of a float map, read back as value / 255 (float32)."""
    return (np.rint(pred.astype(np.float64) * 255).astype(np.uint8).astype(np.float32) /
            np.float32(255))


def run(preds, greys, protocols, **kwargs):
    records = [
        dbd_image_counts(p, g > 128, protocols, gt_grey=g, **kwargs) for p, g in zip(preds, greys)
    ]
    return summarize_dbd_protocols(records, protocols)


def test_inputs_cover_the_cases_the_protocols_differ_on():
    _, preds, greys = load('a2s')
    shapes = [g.shape for g in greys]
    assert all(h != w and h % 2 and w % 2 for h, w in shapes)
    assert all((g == 128).any() for g in greys[:3])
    assert any(g.min() > 0 for g in greys)  # A2S's min-max rule differs from v > 128
    assert any((g > 128).mean() >= 2 / 3 for g in greys)  # DD's mean rule empties this mask
    assert any(np.ptp(p) == 0 for p in preds) and any((p == 0.5).any() for p in preds)


def test_a2s_protocol_reproduces_a2s_eval():
    golden, preds, greys = load('a2s')
    assert golden['reference']['repository'] == 'moothes/A2S-USOD'
    ours = run(preds, greys, ['a2s'])
    assert list(ours) == ['a2sMaxF', 'a2sMeanF', 'a2sMAE', 'a2sSm', 'a2sEm', 'a2sWF']
    for key, value in golden['outputs'].items():
        assert abs(ours[key] - value) <= golden['tolerance'], key
    # the printed (3-decimal) values follow
    assert round(ours['a2sMeanF'], 3) == golden['printed']['Mean-F']
    assert round(ours['a2sMaxF'], 3) == golden['printed']['Max-F']


def test_dd_notebook_reproduced_with_its_options_and_differs_without():
    golden, preds, greys = load('dd')
    assert golden['reference']['repository'] == 'vinthony/depth-distillation'
    notebook = dict(dd_quantize='trunc', dd_binarize_gt=True)
    ours = run(preds, greys, ['dd_pooled', 'dd_mae'], **notebook)
    for key, value in golden['outputs'].items():
        assert abs(ours[key] - value) <= golden['tolerance'], key
    # dbdseg's defaults (rounding, the {0, 1} mask) are a different protocol on these inputs
    default = run(preds, greys, ['dd_pooled'])
    assert abs(default['ddpF'] - golden['outputs']['ddpF']) > 1e-3
    # without the grey masks (SODMetric: binarised at v > 128) the MAE is another number too
    binary = summarize_dbd_protocols(
        [dbd_image_counts(p, g > 128, ['dd_mae']) for p, g in zip(preds, greys)], ['dd_mae'])
    assert abs(binary['ddMAE'] - golden['outputs']['ddMAE']) > 1e-3


def test_ddffnet_scripts_reproduced():
    golden, preds, greys = load('ddffnet')
    assert golden['reference']['repository'] == 'yuxinjin-whu/D-DFFNet'
    tol, out = golden['tolerance'], golden['outputs']
    pngs = [png_values(p) for p in preds]
    # test1.py (per-image F at >= 0.5 of the saved maps, blurred class)
    assert abs(run(pngs, greys, ['fixed'], positive='blurred')['fixF'] - out['test1_fixF']) <= tol
    # test_iou1.py (saved maps) and test_iou.py (probabilities): one IoU pooled over the set, > 0.5
    pooled_png = run(pngs, greys, ['fixed_pooled'], positive='blurred')['fixpIoU']
    pooled_prob = run(preds, greys, ['fixed_pooled'], positive='blurred')['fixpIoU']
    assert abs(pooled_png - out['test_iou1_fixpIoU']) <= tol
    assert abs(pooled_prob - out['test_iou_fixpIoU']) <= tol
    # dbdseg's per-image mean IoU is another number
    assert abs(run(pngs, greys, ['fixed'], positive='blurred')['fixIoU'] - pooled_png) > 1e-3


def write_folders(tmp_path, preds, greys, pred_shape=None):
    pred_dir, gt_dir = tmp_path / 'pred', tmp_path / 'gt'
    pred_dir.mkdir()
    gt_dir.mkdir()
    for k, (p, g) in enumerate(zip(preds, greys)):
        q = np.rint(p.astype(np.float64) * 255).astype(np.uint8)
        assert cv2.imwrite(str(pred_dir / f'img{k}.png'), q)
        assert cv2.imwrite(str(gt_dir / f'img{k}.png'), g)
    return str(pred_dir), str(gt_dir)


def test_folder_mode_applies_each_protocols_mask_rule(tmp_path):
    golden, preds, greys = load('a2s')
    pred_dir, gt_dir = write_folders(tmp_path, preds, greys)
    res = evaluate_pred_gt_folders([pred_dir],
                                   gt_dir,
                                   sod_metrics=['MAE'],
                                   dbd_protocols=['a2s', 'fixed', 'fixed_pooled'],
                                   protocol_options=dict(positive='blurred'),
                                   per_image_dir=str(tmp_path / 'per_image'),
                                   progress=False)['pred']
    for key, value in golden['outputs'].items():
        assert abs(res[key] - value) <= 1e-6, key
    dd_golden = load('ddffnet')[0]['outputs']
    assert abs(res['fixF'] - dd_golden['test1_fixF']) <= 1e-6
    assert abs(res['fixpIoU'] - dd_golden['test_iou1_fixpIoU']) <= 1e-6
    # the per-image CSV: one row per mask, the set MAE is the mean of its column
    lines = (tmp_path / 'per_image' / 'pred.csv').read_text().splitlines()
    header = lines[0].split(',')
    assert header[:6] == ['stem', 'maxF', 'MAE', 'Sm', 'maxE', 'wF']
    assert header[6:] == list(golden['outputs']) + ['fixF', 'fixIoU', 'fixpIoU']
    rows = [dict(zip(header, line.split(','))) for line in lines[1:]]
    assert [r['stem'] for r in rows] == [f'img{k}' for k in range(5)]
    assert np.mean([float(r['MAE']) for r in rows]) == pytest.approx(res['MAE'], abs=1e-12)
    assert np.mean([float(r['a2sMAE']) for r in rows]) == pytest.approx(res['a2sMAE'], abs=1e-12)


def test_per_image_values_of_one_image_equal_its_set_of_one():
    _, preds, greys = load('a2s')
    protocols = ['dd', 'dd_pooled', 'dd_mae', 'fixed', 'fixed_pooled', 'zhang_yan', 'a2s']
    record = dbd_image_counts(preds[0], greys[0] > 128, protocols, gt_grey=greys[0])
    assert dbd_image_values(record, protocols) == summarize_dbd_protocols([record], protocols)


def test_zhang_yan_mae_of_the_binarised_output():
    # p >= 0.5 -> [1, 1, 0 | 0, 1, 0]; mask [1, 0, 0 | 1, 1, 0]: 2 of 6 pixels differ
    pred = np.array([[0.5, 0.9, 0.1], [0.49, 0.7, 0.0]])
    gt = np.array([[1, 0, 0], [1, 1, 0]])
    record = dbd_image_counts(pred, gt, ['zhang_yan'])
    assert summarize_dbd_protocols([record], ['zhang_yan']) == {'zyMAE': 2 / 6}


def test_resize_rules_match_their_sources(tmp_path):
    import torch
    import torch.nn.functional as F
    from PIL import Image
    rng = np.random.default_rng(3)
    q = rng.integers(0, 256, (7, 5), dtype=np.uint8)
    # A2S: PIL Image.resize (bicubic) of the 8-bit map
    pil = np.asarray(Image.fromarray(q).resize((11, 9), Image.BICUBIC))
    assert np.array_equal(resize_map(q, (9, 11), 'pil_bicubic'), pil)
    # D-DFFNet: F.interpolate(mode='nearest')
    t = torch.from_numpy(q.astype(np.float32))[None, None]
    for shape in ((9, 11), (3, 4), (13, 5)):
        near = F.interpolate(t, size=shape, mode='nearest')[0, 0].numpy().astype(np.uint8)
        assert np.array_equal(resize_map(q, shape, 'nearest'), near), shape
    # DD: F.interpolate(mode='bilinear') of the probability, within 3e-6 of OpenCV's
    prob = q.astype(np.float32) / 255
    bil = F.interpolate(torch.from_numpy(prob)[None, None], size=(9, 11), mode='bilinear')
    assert np.abs(resize_map(prob, (9, 11), 'bilinear') - bil[0, 0].numpy()).max() < 3e-6
    # read_prediction applies the named rule to the file's values
    path = str(tmp_path / 'q.png')
    assert cv2.imwrite(path, q)
    assert np.array_equal(read_prediction(path, (9, 11), 'pil_bicubic'), pil / np.float32(255))
    with pytest.raises(ValueError, match='unknown resize rule'):
        resize_map(q, (9, 11), 'lanczos')
