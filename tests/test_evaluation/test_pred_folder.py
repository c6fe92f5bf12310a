"""dbdseg.evaluation.pred_folder: saved prediction maps read and scored on a config's test set."""
import glob
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine import Config

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py
from dbdseg.evaluation.pred_folder import evaluate_folders, read_prediction


@pytest.fixture(scope='module')
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp('pred_folder')
    data_root = tiny.write_dataset(root / 'data')
    return dict(data_root=data_root, config=tiny.write_config(root / 'tiny.py', data_root))


def _masks(data_root):
    return {
        osp.splitext(osp.basename(p))[0]: cv2.imread(p, 0)
        for p in sorted(glob.glob(data_root + '/masks/*.png'))
    }


def test_read_prediction_bit_depths_and_sizes(tmp_path):
    p16 = tmp_path / 'a.png'
    assert cv2.imwrite(str(p16), np.full((4, 6), 32768, np.uint16))
    prob = read_prediction(str(p16), (4, 6))
    assert prob.dtype == np.float32 and prob.shape == (4, 6)
    assert np.allclose(prob, 32768 / 65535)
    colour = tmp_path / 'c.png'
    assert cv2.imwrite(str(colour), np.full((4, 6, 3), 51, np.uint8))
    assert np.allclose(read_prediction(str(colour), (4, 6)), 0.2)
    small = tmp_path / 's.png'
    assert cv2.imwrite(str(small), np.full((2, 3), 255, np.uint8))
    with pytest.raises(ValueError, match=r's\.png is 3x2 but its mask is 6x4'):
        read_prediction(str(small), (4, 6))
    assert read_prediction(str(small), (4, 6), resize=True).shape == (4, 6)
    with pytest.raises(FileNotFoundError, match='gone.png'):
        read_prediction(str(tmp_path / 'gone.png'), (4, 6))
    text = tmp_path / 'text.png'
    text.write_text('not an image')
    with pytest.raises(ValueError, match='cannot be read'):
        read_prediction(str(text), (4, 6))


def test_perfect_inverted_resized_and_centre_rows(project, tmp_path):
    masks = _masks(project['data_root'])
    perfect, small = tmp_path / 'perfect', tmp_path / 'small'
    perfect.mkdir()
    small.mkdir()
    for stem, m in masks.items():
        assert cv2.imwrite(str(perfect / f'{stem}.png'), np.where(m > 128, 255, 0).astype(np.uint8))
        assert cv2.imwrite(str(small / f'{stem}.png'), np.zeros((3, 3), np.uint8))
    cfg = Config.fromfile(project['config'])
    res = evaluate_folders(
        cfg, [str(perfect), str(small)],
        names=['gt', 'zeros'],
        resize=True,
        centre_prior=True,
        progress=False)
    assert list(res) == ['gt', 'zeros', 'centre-prior']
    assert res['gt']['maxF'] == pytest.approx(1.0, abs=1e-6)
    assert res['gt']['MAE'] == pytest.approx(0.0, abs=1e-6)
    # an all-zero map (resized): MAE = the in-focus fraction of the masks
    frac = np.mean([(m > 128).mean() for m in masks.values()])
    assert res['zeros']['MAE'] == pytest.approx(frac, abs=1e-6)
    assert 0.0 < res['centre-prior']['MAE'] < 1.0
    # row names default to the folder names; no output files (output_dir/curve_dir dropped)
    res = evaluate_folders(cfg, [str(perfect)], progress=False)
    assert list(res) == ['perfect']
    assert sorted(p.name for p in tmp_path.iterdir()) == ['perfect', 'small']


def test_missing_map_and_bad_sigma(project, tmp_path):
    cfg = Config.fromfile(project['config'])
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='empty'):
        evaluate_folders(cfg, [str(tmp_path / 'empty')], progress=False)
    with pytest.raises(ValueError, match='sigma'):
        evaluate_folders(cfg, [], centre_prior=True, centre_sigma=0, progress=False)
