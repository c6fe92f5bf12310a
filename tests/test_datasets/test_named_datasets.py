"""Named datasets (ARCHITECTURE.md Section 4) and every base dataset config end to end."""
import copy
import glob
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import dbdseg  # noqa: F401  (registers everything)
import dbdseg.datasets as dbd_datasets
from dbdseg.datasets import BinarySegDataset, MultiSetDataset
from dbdseg.registry import DATASETS

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
BASE_DATASETS = osp.join(REPO, 'configs', '_base_', 'datasets')

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


def _write_pairs(root, img_suffix, seg_suffix, stems=('p0', 'p1'), img_dir='images',
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
    ds = DATASETS.build(dict(type=name, data_root=str(root),
                             data_prefix=dict(img_path='images', seg_map_path='masks'),
                             img_suffix='.bmp', seg_map_suffix='.tif', invert=not invert,
                             set_name='Mine'))
    assert len(ds) == 2 and ds.set_name == 'Mine'
    info = ds.get_data_info(0)
    assert info['invert'] is (not invert) and info['set_name'] == 'Mine'
    assert info['seg_map_path'].endswith('p0.tif')


@pytest.mark.parametrize('name,white_label', [
    ('CUHKDBDDataset', 0),  # release: white = blurred -> inverted
    ('DUTDBDDataset', 1),   # .bmp, white = in-focus
    ('ECSSDDataset', 1),
    ('HKUISDataset', 1),
])
def test_named_dataset_polarity_through_loading(tmp_path, name, white_label):
    _, _, img_suffix, seg_suffix, _ = NAMED[name]
    root = tmp_path / 'd'
    _write_pairs(root, img_suffix, seg_suffix, stems=('p0', ))
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadBinaryAnnotations'),
                dict(type='PackBinarySegInputs')]
    ds = DATASETS.build(dict(type=name, data_root=str(root), pipeline=pipeline,
                             data_prefix=dict(img_path='images', seg_map_path='masks')))
    gt = ds[0]['data_samples'].gt_sem_seg.data[0]
    assert gt.shape == (H, W)
    assert gt[:, :WHITE_COLS].eq(white_label).all()
    assert gt[:, WHITE_COLS:].eq(1 - white_label).all()


def test_pascal_s_grey_masks_thresholded_at_128(tmp_path):
    root = tmp_path / 'pascal_s'
    _write(root / 'images' / 'g.jpg', np.zeros((2, 4, 3), np.uint8))
    _write(root / 'masks' / 'g.png', np.array([[0, 128, 129, 255], [64, 127, 200, 1]], np.uint8))
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadBinaryAnnotations'),
                dict(type='PackBinarySegInputs')]
    ds = DATASETS.build(dict(type='PASCALSDataset', data_root=str(root), pipeline=pipeline,
                             data_prefix=dict(img_path='images', seg_map_path='masks')))
    gt = ds[0]['data_samples'].gt_sem_seg.data[0]
    assert gt.tolist() == [[0, 0, 1, 1], [0, 0, 1, 0]]


# ----------------------------------------------------------------------------- every base config
# config: loader -> expected set name (list for a MultiSetDataset); the synthetic set has no
# name of its own and is named after its data_root folder.
EXPECTED = {
    'cuhk_dbd.py': dict(train='CUHK', val='CUHK', test='CUHK'),
    'dut_dbd.py': dict(train='DUT', val='DUT', test='DUT'),
    'synthetic_defocus.py': dict(train='synthetic_defocus', val='synthetic_defocus',
                                 test='synthetic_defocus'),
    'duts.py': dict(train='DUTS-TR', val='DUTS-TE', test='DUTS-TE'),
    'ecssd.py': dict(val='ECSSD', test='ECSSD'),
    'hku_is.py': dict(val='HKU-IS', test='HKU-IS'),
    'pascal_s.py': dict(val='PASCAL-S', test='PASCAL-S'),
    'dut_omron.py': dict(val='DUT-OMRON', test='DUT-OMRON'),
    'sod.py': dict(val='SOD', test='SOD'),
    'msra_b.py': dict(train='MSRA-B-train', val='MSRA-B-val', test='MSRA-B'),
    'sod_benchmarks.py': dict(
        train='DUTS-TR', val='DUTS-TE',
        test=['DUTS-TE', 'ECSSD', 'HKU-IS', 'PASCAL-S', 'DUT-OMRON', 'SOD']),
    'dbd_benchmarks.py': dict(train='DUT', val='DUT', test=['CUHK', 'DUT']),
}
# label of the white mask pixels after loading, per dataset type (CUHK masks: white = blurred)
WHITE_LABEL = {'CUHKDBDDataset': 0}
# data roots the configs must point at (the converters' layout)
DATA_ROOTS = {
    'CUHKDBDDataset': 'data/cuhk_dbd', 'DUTDBDDataset': 'data/dut_dbd', 'DUTSDataset': 'data/duts',
    'ECSSDDataset': 'data/ecssd', 'HKUISDataset': 'data/hku_is', 'PASCALSDataset': 'data/pascal_s',
    'DUTOMRONDataset': 'data/dut_omron', 'SODDataset': 'data/sod', 'MSRABDataset': 'data/msra_b',
    'BinarySegDataset': 'data/synthetic_defocus',
}
CONFIGS = sorted(osp.basename(p) for p in glob.glob(osp.join(BASE_DATASETS, '*.py')))


def _default(type_name, arg):
    """The class default of ``img_suffix`` / ``seg_map_suffix`` / ``invert`` (class attributes
    ``IMG_SUFFIX``, ``SEG_MAP_SUFFIX``, ``INVERT``)."""
    cls = DATASETS.get(type_name)
    return getattr(cls, dict(img_suffix='IMG_SUFFIX', seg_map_suffix='SEG_MAP_SUFFIX',
                             invert='INVERT')[arg])


def _leaf_datasets(dcfg):
    """The dataset configs a loader's dataset config holds (itself, or a MultiSetDataset's)."""
    return list(dcfg['datasets']) if dcfg['type'] == 'MultiSetDataset' else [dcfg]


def _fake_layout(dcfg, base, check_root=True):
    """Write 2 image/mask pairs (and extra maps, ann_file) where ``dcfg`` looks, under ``base``.

    The fake root keeps the folder name of the config's data_root, so derived set names match.
    Returns ``dcfg`` with data_root pointing at the fake root.
    """
    dcfg = copy.deepcopy(dcfg)
    if check_root:
        assert dcfg['data_root'] == DATA_ROOTS[dcfg['type']], (dcfg['type'], dcfg['data_root'])
    root = osp.join(str(base), osp.basename(dcfg['data_root']))
    img_suffix = dcfg.get('img_suffix', _default(dcfg['type'], 'img_suffix'))
    seg_suffix = dcfg.get('seg_map_suffix', _default(dcfg['type'], 'seg_map_suffix'))
    prefix = dcfg['data_prefix']
    _write_pairs(root, img_suffix, seg_suffix, img_dir=prefix['img_path'],
                 mask_dir=prefix['seg_map_path'])
    for key in ('depth_map_path', 'saliency_map_path', 'pseudo_label_path'):
        if prefix.get(key):
            for stem in ('p0', 'p1'):
                _write(osp.join(root, prefix[key], stem + '.png'), np.zeros((H, W), np.uint8))
    if dcfg.get('ann_file'):
        with open(osp.join(root, dcfg['ann_file']), 'w') as f:
            f.write('p0\np1\n')
    dcfg['data_root'] = root
    return dcfg


def _with_fake_layout(loader_dataset, base):
    dcfg = copy.deepcopy(loader_dataset)
    if dcfg['type'] == 'MultiSetDataset':
        dcfg['datasets'] = [_fake_layout(d, osp.join(str(base), str(i)))
                            for i, d in enumerate(dcfg['datasets'])]
        return dcfg
    return _fake_layout(dcfg, base)


def _set_pipeline(dcfg, pipeline):
    for leaf in _leaf_datasets(dcfg):
        leaf['pipeline'] = copy.deepcopy(pipeline)


def _white_label(dcfg_leaf):
    return WHITE_LABEL.get(dcfg_leaf['type'], 1)


def test_every_base_dataset_config_is_covered():
    assert set(CONFIGS) == set(EXPECTED)


@pytest.mark.parametrize('cfg_name', CONFIGS)
def test_base_dataset_config_end_to_end(tmp_path, cfg_name):
    init_default_scope('mmseg')
    cfg = Config.fromfile(osp.join(BASE_DATASETS, cfg_name))
    expected = EXPECTED[cfg_name]
    assert cfg.crop_size == (320, 320)
    assert cfg.val_evaluator == dict(type='SODMetric')
    assert cfg.test_evaluator == dict(type='SODMetric')
    assert ('train_dataloader' in cfg) == ('train' in expected)
    assert 'tta_model' not in cfg  # lives in default_runtime.py

    for loader_name in ('train', 'val', 'test'):
        if loader_name not in expected:
            continue
        loader = cfg[f'{loader_name}_dataloader']
        assert loader.sampler.type == ('InfiniteSampler' if loader_name == 'train'
                                       else 'DefaultSampler')
        dcfg = _with_fake_layout(loader.dataset, tmp_path / loader_name)
        ds = DATASETS.build(dcfg)
        want = expected[loader_name]
        leaves = _leaf_datasets(dcfg)
        if isinstance(want, list):
            assert isinstance(ds, MultiSetDataset)
            assert ds.metainfo['set_names'] == want and ds.set_names == want
        else:
            assert not isinstance(ds, MultiSetDataset)
        names = want if isinstance(want, list) else [want]
        assert len(ds) == 2 * len(names)
        for i in range(len(ds)):
            leaf = leaves[i // 2]
            white = _white_label(leaf)
            out = ds[i]
            sample = out['data_samples']
            assert sample.metainfo['set_name'] == names[i // 2]
            assert out['inputs'].shape == (3, 320, 320) and out['inputs'].dtype == torch.uint8
            gt = sample.gt_sem_seg.data[0]
            if loader_name == 'train':
                # RandomFlip may mirror the mask, the fraction of white pixels stays 1/4
                assert gt.shape == (320, 320)
                frac_white = float(gt.eq(white).float().mean())
                assert abs(frac_white - WHITE_COLS / W) < 0.01, (leaf['type'], frac_white)
            else:
                assert gt.shape == (H, W)  # ground truth at the original size
                assert gt[:, :WHITE_COLS].eq(white).all(), leaf['type']
                assert gt[:, WHITE_COLS:].eq(1 - white).all(), leaf['type']
                assert sample.ori_shape == (H, W)
            if 'depth_map_path' in leaf['data_prefix'] and loader_name == 'train':
                assert sample.gt_depth_map.data.shape == (1, 320, 320)


@pytest.mark.parametrize('cfg_name', CONFIGS)
def test_base_dataset_config_tta_pipeline(tmp_path, cfg_name):
    init_default_scope('mmseg')
    cfg = Config.fromfile(osp.join(BASE_DATASETS, cfg_name))
    tta = cfg.tta_pipeline
    assert tta[0].type == 'LoadImageFromFile' and tta[1].type == 'TestTimeAug'
    dcfg = _with_fake_layout(cfg.test_dataloader.dataset, tmp_path)
    _set_pipeline(dcfg, tta)  # as tools/test.py --tta does
    ds = DATASETS.build(dcfg)
    names = EXPECTED[cfg_name]['test']
    names = names if isinstance(names, list) else [names]
    leaves = _leaf_datasets(dcfg)
    for i in (0, len(ds) - 1):  # the first and the last set
        out = ds[i]
        white = _white_label(leaves[i // 2])
        assert len(out['inputs']) == 6 and len(out['data_samples']) == 6
        sizes = [tuple(x.shape[1:]) for x in out['inputs']]
        assert sizes == [(224, 224)] * 2 + [(320, 320)] * 2 + [(416, 416)] * 2
        assert all(s % 32 == 0 for hw in sizes for s in hw)
        assert [s.flip for s in out['data_samples']] == [False, True] * 3
        img0 = out['inputs'][2]
        assert torch.equal(out['inputs'][3], img0.flip(-1))  # the flipped view at 320
        for sample in out['data_samples']:
            assert sample.metainfo['set_name'] == names[i // 2]
            gt = sample.gt_sem_seg.data[0]
            assert gt.shape == (H, W)  # original size and orientation for every view
            assert gt[:, :WHITE_COLS].eq(white).all() and gt[:, WHITE_COLS:].eq(1 - white).all()


# ----------------------------------------------------------------------------- realtime configs
@pytest.mark.parametrize('cfg_path', sorted(glob.glob(osp.join(REPO, 'configs', 'realtime_dbd',
                                                                '*.py'))), ids=osp.basename)
def test_realtime_dbd_configs_still_build_their_datasets(tmp_path, cfg_path):
    init_default_scope('mmseg')
    cfg = Config.fromfile(cfg_path)
    name = osp.basename(cfg_path)
    is_dut, is_duts = '_dut-' in name, '_duts-' in name  # DUTS: the SOD pre-training config
    # DUT: white = in-focus; DUTS: white = salient; CUHK: white = blurred
    white = 1 if is_dut or is_duts else 0
    root = 'data/dut_dbd' if is_dut else 'data/duts' if is_duts else 'data/cuhk_dbd'
    for loader_name in ('train', 'val', 'test'):
        dcfg = copy.deepcopy(cfg[f'{loader_name}_dataloader'].dataset)
        assert dcfg['data_root'] == root
        assert dcfg['seg_map_suffix'] == ('.bmp' if is_dut else '.png')
        dcfg = _fake_layout(dcfg, tmp_path / loader_name, check_root=False)
        if loader_name == 'train':  # deterministic: no flip / rotation
            dcfg['pipeline'] = [t for t in dcfg['pipeline']
                                if t['type'] not in ('RandomFlip', 'RandomRotate')]
        out = DATASETS.build(dcfg)[0]
        gt = out['data_samples'].gt_sem_seg.data[0]
        cols = gt.shape[1] * WHITE_COLS // W
        assert gt[:, :cols].eq(white).all() and gt[:, cols:].eq(1 - white).all()
