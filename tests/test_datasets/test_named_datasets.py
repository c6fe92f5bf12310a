"""Named datasets: each class knows its release's set name, classes, suffixes and mask polarity
(the defaults of ``img_suffix``, ``seg_map_suffix``, ``invert``), and they can be overridden.

The configs that use them are built in tests/test_config.py."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest

import dbdseg.datasets as dbd_datasets
from dbdseg.datasets import BinarySegDataset
from dbdseg.registry import DATASETS

DBD = ('blurred', 'in-focus')
SOD = ('background', 'salient')
# class name: (SET_NAME, classes, img_suffix, seg_map_suffix, invert)
NAMED = {
    'CUHKDBDDataset': ('CUHK', DBD, '.jpg', '.png', True),
    'DUTDBDDataset': ('DUT', DBD, '.jpg', '.bmp', False),
    'DUTSDataset': ('DUTS', SOD, '.jpg', '.png', False),
    'ECSSDDataset': ('ECSSD', SOD, '.jpg', '.png', False),
    'HKUISDataset': ('HKU-IS', SOD, '.png', '.png', False),
    'PASCALSDataset': ('PASCAL-S', SOD, '.jpg', '.png', False),
    'DUTOMRONDataset': ('DUT-OMRON', SOD, '.jpg', '.png', False),
    'SODDataset': ('SOD', SOD, '.jpg', '.png', False),
    'MSRABDataset': ('MSRA-B', SOD, '.jpg', '.png', False),
}
H, W = 8, 12  # fake images: non-square; masks white on the left quarter (W // 4 = 3 columns)
WHITE_COLS = W // 4


def _write(path, arr):
    os.makedirs(osp.dirname(str(path)), exist_ok=True)
    assert cv2.imwrite(str(path), arr), path


def _white_left_mask(h=H, w=W):
    mask = np.zeros((h, w), np.uint8)
    mask[:, :w // 4] = 255
    return mask


def _write_pairs(root,
                 img_suffix,
                 seg_suffix,
                 stems=('p0', 'p1'),
                 img_dir='images',
                 mask_dir='masks'):
    for i, stem in enumerate(stems):
        img = np.full((H, W, 3), 50 + 10 * i, np.uint8)
        _write(osp.join(str(root), img_dir, stem + img_suffix), img)
        _write(osp.join(str(root), mask_dir, stem + seg_suffix), _white_left_mask())


# ----------------------------------------------------------------------------- the classes
def test_all_named_datasets_exported_and_registered():
    for name in list(NAMED) + ['BinarySegDataset', 'MultiSetDataset']:
        assert name in dbd_datasets.__all__, name
        assert DATASETS.get(name) is getattr(dbd_datasets, name), name


@pytest.mark.parametrize('name', list(NAMED))
def test_named_dataset_defaults(tmp_path, name):
    set_name, classes, img_suffix, seg_suffix, invert = NAMED[name]
    cls = getattr(dbd_datasets, name)
    assert issubclass(cls, BinarySegDataset) and cls.SET_NAME == set_name
    assert cls.__doc__ and 'data/' in cls.__doc__ and 'Not verified' in cls.__doc__
    root = tmp_path / 'some_folder'
    _write_pairs(root, img_suffix, seg_suffix)
    ds = cls(data_root=str(root), data_prefix=dict(img_path='images', seg_map_path='masks'))
    assert len(ds) == 2
    assert ds.img_suffix == img_suffix and ds.seg_map_suffix == seg_suffix
    assert ds.set_name == set_name  # the class name wins over the folder name
    assert ds.metainfo['classes'] == classes
    info = ds.get_data_info(1)
    assert info['invert'] is invert and info['set_name'] == set_name
    assert info['img_path'] == osp.join(str(root), 'images', 'p1' + img_suffix)
    assert info['seg_map_path'] == osp.join(str(root), 'masks', 'p1' + seg_suffix)


@pytest.mark.parametrize('name', list(NAMED))
def test_named_dataset_defaults_can_be_overridden(tmp_path, name):
    _, _, _, _, invert = NAMED[name]
    root = tmp_path / 'reconverted'
    _write_pairs(root, '.bmp', '.tif')
    ds = DATASETS.build(
        dict(
            type=name,
            data_root=str(root),
            data_prefix=dict(img_path='images', seg_map_path='masks'),
            img_suffix='.bmp',
            seg_map_suffix='.tif',
            invert=not invert,
            set_name='Mine'))
    assert len(ds) == 2 and ds.set_name == 'Mine'
    info = ds.get_data_info(0)
    assert info['invert'] is (not invert) and info['set_name'] == 'Mine'
    assert info['seg_map_path'].endswith('p0.tif')


@pytest.mark.parametrize(
    'name,white_label',
    [
        ('CUHKDBDDataset', 0),  # release: white = blurred -> inverted
        ('DUTDBDDataset', 1),  # .bmp, white = in-focus
        ('ECSSDDataset', 1),
        ('HKUISDataset', 1),
    ])
def test_named_dataset_polarity_through_loading(tmp_path, name, white_label):
    _, _, img_suffix, seg_suffix, _ = NAMED[name]
    root = tmp_path / 'd'
    _write_pairs(root, img_suffix, seg_suffix, stems=('p0', ))
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadBinaryAnnotations'),
        dict(type='PackBinarySegInputs')
    ]
    ds = DATASETS.build(
        dict(
            type=name,
            data_root=str(root),
            pipeline=pipeline,
            data_prefix=dict(img_path='images', seg_map_path='masks')))
    gt = ds[0]['data_samples'].gt_sem_seg.data[0]
    assert gt.shape == (H, W)
    assert gt[:, :WHITE_COLS].eq(white_label).all()
    assert gt[:, WHITE_COLS:].eq(1 - white_label).all()


def test_pascal_s_grey_masks_thresholded_at_128(tmp_path):
    root = tmp_path / 'pascal_s'
    _write(root / 'images' / 'g.jpg', np.zeros((2, 4, 3), np.uint8))
    _write(root / 'masks' / 'g.png', np.array([[0, 128, 129, 255], [64, 127, 200, 1]], np.uint8))
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadBinaryAnnotations'),
        dict(type='PackBinarySegInputs')
    ]
    ds = DATASETS.build(
        dict(
            type='PASCALSDataset',
            data_root=str(root),
            pipeline=pipeline,
            data_prefix=dict(img_path='images', seg_map_path='masks')))
    gt = ds[0]['data_samples'].gt_sem_seg.data[0]
    assert gt.tolist() == [[0, 0, 1, 1], [0, 0, 1, 0]]


# ----------------------------------------------------------------------------- polarity check
def _polarity_root(tmp_path, n, white_cols, img_suffix='.jpg', seg_suffix='.png'):
    """``n`` pairs whose masks are white on the first ``white_cols`` of W columns."""
    root = tmp_path / f'polarity_{n}_{white_cols}'
    for i in range(n):
        _write(root / 'images' / f'p{i}{img_suffix}', np.full((H, W, 3), 60, np.uint8))
        mask = np.zeros((H, W), np.uint8)
        mask[:, :white_cols] = 255
        _write(root / 'masks' / f'p{i}{seg_suffix}', mask)
    return root


def _build_logged(tmp_path, log_name, **cfg):
    """Build a dataset config; return the text the current MMLogger wrote while building it."""
    from mmengine.logging import MMLogger
    log_file = tmp_path / f'{log_name}.log'
    MMLogger.get_instance(log_name, log_file=str(log_file))
    cfg.setdefault('data_prefix', dict(img_path='images', seg_map_path='masks'))
    DATASETS.build(cfg)
    return log_file.read_text() if log_file.exists() else ''


@pytest.mark.parametrize('name', list(NAMED))
def test_named_datasets_state_an_expected_foreground_range(name):
    cls = getattr(dbd_datasets, name)
    low, high = cls.FG_FRACTION_RANGE
    assert 0 <= low < high <= 0.5  # label 1 is the minority on average in every named release
    assert 'FG_FRACTION_RANGE' in cls.__doc__  # where the numbers come from
    assert BinarySegDataset.FG_FRACTION_RANGE is None


def test_white_blurred_cuhk_set_without_invert_warns_naming_the_polarity(tmp_path):
    """Issue 17: CUHK originals (white = blurred, blurred = 3/4 of each image) read with
    invert=False make in-focus the majority: a warning names the invert setting."""
    root = _polarity_root(tmp_path, 6, white_cols=W - WHITE_COLS)
    text = _build_logged(
        tmp_path, 'cuhk_wrong', type='CUHKDBDDataset', data_root=str(root), invert=False)
    assert 'WARNING' in text and 'CUHKDBDDataset' in text and "'CUHK'" in text
    assert 'in-focus' in text and '0.75' in text and '[0.01, 0.5]' in text
    assert 'invert=False' in text and 'invert=True' in text
    # the release default (invert=True): in-focus = 1/4, as expected, no warning
    text = _build_logged(tmp_path, 'cuhk_right', type='CUHKDBDDataset', data_root=str(root))
    assert 'polarity' not in text


def test_white_background_sod_set_warns_generic_dataset_does_not(tmp_path):
    root = _polarity_root(tmp_path, 5, white_cols=W - WHITE_COLS)  # white = background
    text = _build_logged(tmp_path, 'duts_wrong', type='DUTSDataset', data_root=str(root))
    assert 'DUTSDataset' in text and 'salient' in text and 'invert=True' in text
    # a generic BinarySegDataset has no expectation: no warning, no masks read
    text = _build_logged(tmp_path, 'generic', type='BinarySegDataset', data_root=str(root))
    assert 'polarity' not in text
    # an expectation given to a generic dataset is checked
    text = _build_logged(
        tmp_path,
        'generic_range',
        type='BinarySegDataset',
        data_root=str(root),
        fg_fraction_range=(0.0, 0.5))
    assert 'BinarySegDataset' in text and 'polarity' in text and 'invert=False' in text


def test_polarity_check_needs_five_masks_and_reads_a_sample(tmp_path, monkeypatch):
    root = _polarity_root(tmp_path, 4, white_cols=W - WHITE_COLS)
    text = _build_logged(tmp_path, 'few', type='ECSSDDataset', data_root=str(root))
    assert 'polarity' not in text  # 4 masks say too little
    import dbdseg.datasets.binary_seg_dataset as module
    reads = []
    real = module.read_mask

    def counting(path, *args, **kwargs):
        reads.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(module, 'read_mask', counting)
    monkeypatch.setattr(module, 'POLARITY_CHECK_SAMPLES', 5)
    root = _polarity_root(tmp_path, 9, white_cols=W - WHITE_COLS)
    text = _build_logged(tmp_path, 'sampled', type='ECSSDDataset', data_root=str(root))
    assert 'mean fraction of label 1 (salient) in 5 of its 9 masks is 0.75' in text
    assert [osp.basename(p) for p in reads] == ['p0.png', 'p2.png', 'p4.png', 'p6.png', 'p8.png']
