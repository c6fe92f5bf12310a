"""tools/analysis_tools/eval_pred_folder.py: the command line (the scoring loop is tested in
tests/test_evaluation/test_pred_folder.py)."""
import glob
import json
import os.path as osp

import cv2
import numpy as np
import pytest

import dbdseg_tests_tiny_project as tiny  # registered by conftest.py


def _masks(data_root):
    return {
        osp.splitext(osp.basename(p))[0]: cv2.imread(p, 0)
        for p in sorted(glob.glob(data_root + '/masks/*.png'))
    }


def test_perfect_inverted_and_centre_rows(tiny_project, tmp_path, capsys):
    tool = tiny.load_tool('analysis_tools/eval_pred_folder')
    masks = _masks(tiny_project['data_root'])
    perfect, inverted = tmp_path / 'perfect', tmp_path / 'inverted'
    perfect.mkdir()
    inverted.mkdir()
    for stem, m in masks.items():
        binary = np.where(m > 128, 255, 0).astype(np.uint8)
        assert cv2.imwrite(str(perfect / f'{stem}.png'), binary)
        assert cv2.imwrite(str(inverted / f'{stem}.png'), 255 - binary)
    out = tmp_path / 'scores.json'
    tool.main([
        tiny_project['config'],
        str(perfect),
        str(inverted), '--names', 'gt', 'inv', '--centre-prior', '--out',
        str(out)
    ])
    res = json.loads(out.read_text())
    assert list(res) == ['gt', 'inv', 'centre-prior']
    assert res['gt']['maxF'] == pytest.approx(1.0, abs=1e-6)
    assert res['gt']['MAE'] == pytest.approx(0.0, abs=1e-6)
    assert res['inv']['MAE'] == pytest.approx(1.0, abs=1e-6)
    assert 0.0 < res['centre-prior']['MAE'] < 1.0
    # the table lines (mmengine's logger may print to stdout too when it is created in this test)
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith('|')]
    assert printed[0].startswith('| maps | ') and printed[1].startswith('|---|---:|')
    assert printed[2].startswith('| gt | ')
    assert '| inv | ' + ' | '.join(f'{v:.4f}' for v in res['inv'].values()) + ' |' in printed


def test_missing_and_wrong_size_maps_name_the_file(tiny_project, tmp_path):
    tool = tiny.load_tool('analysis_tools/eval_pred_folder')
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match='empty'):
        tool.main([tiny_project['config'], str(empty)])
    small = tmp_path / 'small'
    small.mkdir()
    for stem in _masks(tiny_project['data_root']):
        assert cv2.imwrite(str(small / f'{stem}.png'), np.zeros((3, 3), np.uint8))
    with pytest.raises(ValueError, match=r'small.*--resize'):
        tool.main([tiny_project['config'], str(small)])
    res = tool.main([tiny_project['config'], str(small), '--resize'])
    # an all-zero map (resized): MAE = the in-focus fraction of the masks
    frac = np.mean([(m > 128).mean() for m in _masks(tiny_project['data_root']).values()])
    assert res['small']['MAE'] == pytest.approx(frac, abs=1e-6)


def test_argument_errors(tiny_project, tmp_path):
    tool = tiny.load_tool('analysis_tools/eval_pred_folder')
    with pytest.raises(SystemExit):
        tool.parse_args([tiny_project['config']])  # no folder and no --centre-prior
    with pytest.raises(SystemExit):
        tool.parse_args([tiny_project['config'], 'a', 'b', '--names', 'x'])


def test_config_mode_per_image_dir(tiny_project, tmp_path):
    tool = tiny.load_tool('analysis_tools/eval_pred_folder')
    masks = _masks(tiny_project['data_root'])
    perfect = tmp_path / 'perfect'
    perfect.mkdir()
    for stem, m in masks.items():
        assert cv2.imwrite(str(perfect / f'{stem}.png'), np.where(m > 128, 255, 0).astype(np.uint8))
    tool.main([tiny_project['config'], str(perfect), '--per-image-dir', str(tmp_path / 'pi')])
    lines = (tmp_path / 'pi' / 'perfect.csv').read_text().splitlines()
    # the config's metric has every SOD measure: they come in SODMetric's order
    assert lines[0].split(',') == [
        'stem', 'maxF', 'meanF', 'adpF', 'MAE', 'Sm', 'maxE', 'meanE', 'adpE', 'wF'
    ]
    rows = [dict(zip(lines[0].split(','), line.split(','))) for line in lines[1:]]
    assert sorted(r['stem'] for r in rows) == sorted(masks)
    assert all(float(r['MAE']) == 0.0 for r in rows)


def test_config_free_folder_mode_with_invert_and_protocol_resize(tmp_path, capsys):
    tool = tiny.load_tool('analysis_tools/eval_pred_folder')
    gt_dir, pred_dir = tmp_path / 'gt', tmp_path / 'pred'
    gt_dir.mkdir()
    pred_dir.mkdir()
    # masks mark the blurred class (white = blurred), 5 x 7; maps (in-focus = white) are 3 x 3
    mask = np.zeros((5, 7), np.uint8)
    mask[:, 4:] = 255
    assert cv2.imwrite(str(gt_dir / 'a.png'), mask)
    pred = np.zeros((3, 3), np.uint8)
    pred[:, :1] = 255
    assert cv2.imwrite(str(pred_dir / 'a.png'), pred)
    argv = ['--pred', str(pred_dir), '--gt', str(gt_dir), '--invert', '--protocols', 'fixed']
    with pytest.raises(ValueError, match=r'a\.png is 3x3 but its mask is 7x5.*--resize'):
        tool.main(argv)
    res = tool.main(argv + ['--resize', '--out', str(tmp_path / 'r.json')])['pred']
    # nearest (D-DFFNet's rule for 'fixed'): columns 0..6 take source columns floor(j * 3 / 7)
    # = 0 0 0 1 1 2 2 -> in-focus at columns 0-2; the mask's in-focus columns are 0-3:
    # TP = 5 * 3, FP = 0, FN = 5 -> P = 1, R = 0.75, F = 1.3 * 0.75 / 1.05, IoU = 0.75
    assert res['fixF'] == pytest.approx(1.3 * 0.75 / 1.05, abs=1e-12)
    assert res['fixIoU'] == pytest.approx(0.75, abs=1e-12)
    assert json.loads((tmp_path / 'r.json').read_text())['pred']['fixF'] == res['fixF']
    assert '| pred | ' in capsys.readouterr().out
    # bilinear for every key: column j samples x = (j + 0.5) 3 / 7 - 0.5: column 1 -> 0.14,
    # 255 * 0.86 >= 128; column 2 -> 0.57, 255 * 0.43 < 128: in-focus columns 0-1, IoU = 10 / 20
    bil = tool.main(argv + ['--resize', 'bilinear'])['pred']
    assert bil['fixIoU'] == pytest.approx(0.5, abs=1e-12)


def test_folder_mode_argument_errors(tiny_project):
    tool = tiny.load_tool('analysis_tools/eval_pred_folder')
    for argv in (
        [],  # neither a config nor --gt
        [tiny_project['config'], '--pred', 'a', '--gt', 'g'],  # a config in folder mode
        [tiny_project['config'], 'a', '--invert'],  # folder-mode option with a config
        ['--pred', 'a', '--gt', 'g', '--resize', 'lanczos'],
    ):
        with pytest.raises(SystemExit):
            tool.parse_args(argv)
    args = tool.parse_args(['--pred', 'a', 'b', '--gt', 'g', '--protocols', 'a2s'])
    assert args.pred_dirs == ['a', 'b'] and args.config is None and args.resize is False
