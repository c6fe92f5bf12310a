"""tools/analysis_tools/browse_dataset.py: image | mask | overlay pictures, polarity, sets
(end to end; the drawing itself: tests/test_visualization/test_browse.py)."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py

browse = tiny.load_tool('analysis_tools/browse_dataset')

CROP = 32  # the tiny config resizes to 32 x 32
T = 16  # default_title_height(32)


@pytest.fixture(scope='module')
def config(tmp_path_factory):
    root = tmp_path_factory.mktemp('browse')
    data_root = tiny.write_dataset(root / 'data')
    return tiny.write_config(root / 'tiny_browse.py', data_root)


def _expected_label(h=CROP, w=CROP):
    """Label 1 of the tiny masks after the train pipeline's Resize (nearest)."""
    mask = (tiny.make_mask() > 128).astype(np.uint8)
    return cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)


def _run(config, out, *extra):
    return browse.main([config, '--output-dir', str(out), '--not-show', *extra])


def test_train_split_pictures(config, tmp_path, capsys):
    out = tmp_path / 'out'
    written = _run(config, out)
    folder = out / 'data'
    assert sorted(os.listdir(folder)) == sorted(f'{s}.jpg' for s in tiny.STEMS)
    assert sorted(written) == sorted(str(folder / f'{s}.jpg') for s in tiny.STEMS)
    assert 'wrote 4 of 4 train samples' in capsys.readouterr().out
    label = _expected_label()
    for stem in tiny.STEMS:
        pic = cv2.imread(str(folder / f'{stem}.jpg'))
        assert pic.shape == (CROP + T, 3 * CROP, 3)
        mask_panel = pic[T:, CROP:2 * CROP].astype(int)
        assert np.array_equal(mask_panel.mean(-1) > 127, label), stem
        # overlay: label 1 tinted red (BGR), label 0 close to the image
        overlay = pic[T:, 2 * CROP:].astype(int)
        image = pic[T:, :CROP].astype(int)
        inner = label.copy()
        inner[:, :-1] &= label[:, 1:]
        inner[:, 1:] &= label[:, :-1]
        assert (overlay[inner][:, 2] - overlay[inner][:, 0]).mean() > 60
        assert np.abs(overlay[~label] - image[~label]).mean() < 8


def test_invert_flag_shows_inverted_label(config, tmp_path):
    out = tmp_path / 'inv'
    _run(config, out, '--max-images', '2', '--cfg-options', 'train_dataloader.dataset.invert=True')
    files = sorted(os.listdir(out / 'data'))
    assert files == ['img_a.jpg', 'img_b.jpg']
    pic = cv2.imread(str(out / 'data' / 'img_a.jpg'))
    mask_panel = pic[T:, CROP:2 * CROP].mean(-1)
    assert np.array_equal(mask_panel > 127, ~_expected_label())


def test_val_split_mask_at_original_size(config, tmp_path):
    """The val pipeline loads the mask after Resize: shown resized (nearest) next to the image."""
    out = tmp_path / 'val'
    _run(config, out, '--split', 'val', '--max-images', '1')
    pic = cv2.imread(str(out / 'data' / 'img_a.jpg'))
    assert pic.shape == (CROP + T, 3 * CROP, 3)
    mask = (tiny.make_mask() > 128).astype(np.uint8)
    shown = cv2.resize(mask, (CROP, CROP), interpolation=cv2.INTER_NEAREST).astype(bool)
    assert np.array_equal(pic[T:, CROP:2 * CROP].mean(-1) > 127, shown)


def test_unlabeled_dataset(config, tmp_path):
    out = tmp_path / 'unlabeled'
    _run(config, out, '--cfg-options', 'train_dataloader.dataset.data_prefix.seg_map_path=None')
    pic = cv2.imread(str(out / 'data' / 'img_c.jpg'))
    assert pic.shape == (CROP + T, CROP, 3)  # image only, titled 'image - no mask'
    assert len(os.listdir(out / 'data')) == 4


def test_concat_dataset_sets(config, tmp_path):
    data_root = tiny.write_dataset(tmp_path / 'data2', stems=('other', ))
    extra = f'''
_ds = test_dataloader['dataset']
test_dataloader = dict(test_dataloader, dataset=dict(type='ConcatDataset', datasets=[
    _ds, dict(_ds, data_root={data_root!r}, invert=True)]))
'''
    cfg2 = tiny.write_config(tmp_path / 'concat.py', osp.dirname(config) + '/data', extra)
    out = tmp_path / 'concat'
    written = _run(cfg2, out, '--split', 'test')
    assert len(written) == 5
    # set names: the datasets' set_name (their data_root folder names)
    assert sorted(os.listdir(out)) == ['data', 'data2']
    assert os.listdir(out / 'data2') == ['other.jpg']
    pic = cv2.imread(str(out / 'data2' / 'other.jpg'))
    mask = (tiny.make_mask() > 128).astype(np.uint8)
    shown = cv2.resize(mask, (CROP, CROP), interpolation=cv2.INTER_NEAREST).astype(bool)
    assert np.array_equal(pic[T:, CROP:2 * CROP].mean(-1) > 127, ~shown)  # inverted member


def test_multi_set_dataset_names(config, tmp_path):
    data_root = tiny.write_dataset(tmp_path / 'data2', stems=('other', ))
    extra = f'''
_ds = val_dataloader['dataset']
val_dataloader = dict(val_dataloader, dataset=dict(type='MultiSetDataset', set_names=['A', 'B'],
                      datasets=[_ds, dict(_ds, data_root={data_root!r})]))
'''
    cfg2 = tiny.write_config(tmp_path / 'multi.py', osp.dirname(config) + '/data', extra)
    out = tmp_path / 'multi'
    written = _run(cfg2, out, '--split', 'val', '--max-images', '5')
    assert sorted(os.listdir(out)) == ['A', 'B'] and len(written) == 5
    assert os.listdir(out / 'B') == ['other.jpg'] and len(os.listdir(out / 'A')) == 4


def test_errors(config, tmp_path):
    with pytest.raises(SystemExit, match='config file not found'):
        browse.main([str(tmp_path / 'nope.py'), '--not-show'])
    bad = tiny.write_config(tmp_path / 'bad.py', tmp_path, '\ntrain_dataloader = None\n')
    with pytest.raises(SystemExit, match=r'bad\.py has no train_dataloader\.dataset'):
        browse.main([bad, '--not-show'])
    with pytest.raises(SystemExit):
        browse.main([config, '--max-images', '0'])
