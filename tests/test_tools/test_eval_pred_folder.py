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
    printed = capsys.readouterr().out.splitlines()
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
