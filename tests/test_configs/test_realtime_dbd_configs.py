"""configs/realtime_dbd: the configs of Zhang & Yan (ECCV 2020, Tables 1-2) and the CPU ablation
hold the paper's settings; each builds its model and its datasets with the release's polarity.

Moved here from tests/test_models/test_backbones/test_gradient_unet.py (the configs' value
checks) and tests/test_datasets/test_named_datasets.py (their datasets); every config's model,
pipelines and datasets are also built in tests/test_config.py.
"""
import glob
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from dbdseg.registry import DATASETS, MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'realtime_dbd', '*.py')))
ABLATION = sorted(  # the half-width GradientUNet ablation (not the Lite0 claim-test arms)
    glob.glob(
        osp.join(ROOT, 'configs', 'realtime_dbd', 'cpu_experiment',
                 'realtime-dbd_*-half_1xb8-*-400it_*.py')))
DEFAULTS = dict(img_suffix='IMG_SUFFIX', seg_map_suffix='SEG_MAP_SUFFIX', invert='INVERT')


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmseg')


def _resolved(dcfg, arg):
    """``img_suffix`` / ``seg_map_suffix`` / ``invert`` of a dataset config: its value, else the
    dataset class's default."""
    return dcfg.get(arg, getattr(DATASETS.get(dcfg['type']), DEFAULTS[arg]))


def test_realtime_dbd_configs_exist():
    names = {osp.basename(c) for c in CONFIGS}
    expected = set()
    for data in ('cuhk', 'dut'):
        # Table 1 rows and the Table 2 lambda_s sweep (0.2 is the bce-self config)
        for variant in [
                'gradunet_1xb64-bce', 'unet-nograd_1xb64-bce', 'gradunet_1xb64-bce-self',
                'gradunet_1xb64-bce-self-hard'
        ] + [f'gradunet_1xb64-bce-self-ls{ls}' for ls in ('0.0', '0.1', '0.3', '0.4', '0.5')]:
            expected.add(f'realtime-dbd_{variant}-19k_{data}-320x320.py')
        # the SOD -> DBD transfer pair (AFIU's strategy): DUTS pre-training, then load_from
        expected.add(f'realtime-dbd_gradunet_1xb64-bce-19k_sod2dbd_{data}-320x320.py')
    expected.add('realtime-dbd_gradunet_1xb64-bce-19k_duts-320x320.py')
    assert names == expected


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_realtime_dbd_config_loads_and_builds(path):
    cfg = Config.fromfile(path)
    name = osp.basename(path)
    backbone = cfg.model.backbone
    assert backbone.type == 'GradientUNet'
    assert backbone.use_gradients == ('nograd' not in name)
    assert backbone.mean == cfg.model.data_preprocessor.mean
    assert backbone.std == cfg.model.data_preprocessor.std
    assert cfg.model.data_preprocessor.size == (320, 320)
    assert cfg.model.decode_head.in_channels == backbone.decoder_widths[-1]
    assert cfg.model.decode_head.out_channels == 1 and cfg.model.decode_head.threshold == 0.5
    assert cfg.model.test_cfg.mode == 'whole'
    assert cfg.train_dataloader.batch_size == 64
    assert any(t.type == 'RandomRotate' for t in cfg.train_dataloader.dataset.pipeline)
    root = ('data/dut_dbd'
            if '_dut-' in name else 'data/duts' if '_duts-' in name else 'data/cuhk_dbd')
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        assert loader.dataset.data_root == root
        # the CUHK originals are white = blurred: inverted on load; DUT and DUTS are not
        assert _resolved(loader.dataset, 'invert') == ('_cuhk-' in name)
        assert _resolved(loader.dataset,
                         'seg_map_suffix') == ('.bmp' if '_dut-' in name else '.png')
    if '_sod2dbd_' in name:  # step 2 of the transfer starts from the DUTS checkpoint
        assert cfg.load_from == ('work_dirs/realtime-dbd_gradunet_1xb64-bce-19k_duts-320x320/'
                                 'iter_19000.pth')
    else:
        assert cfg.get('load_from') is None
    assert cfg.optim_wrapper.optimizer == dict(
        type='Adam', lr=2e-5, betas=(0.9, 0.999), weight_decay=5e-4)
    assert cfg.param_scheduler[0].eta_min == 2e-6
    assert cfg.param_scheduler[0].end == cfg.train_cfg.max_iters == 19000
    assert cfg.default_hooks.checkpoint.save_best == 'maxF'
    train_prefix = cfg.train_dataloader.dataset.data_prefix
    if '-bce-self' in name:
        assert cfg.model.type == 'PatchSwapEncoderDecoder' and cfg.model.patch_size == 64
        ls = name.split('-ls')[1].split('-')[0] if '-ls' in name else '0.2'
        assert cfg.model.lambda_self == float(ls)
        assert cfg.model.get('hard_mining', False) == ('-hard' in name)
        assert ('saliency_map_path' in train_prefix) == ('-hard' in name)
    else:
        assert cfg.model.type == 'EncoderDecoder' and 'saliency_map_path' not in train_prefix
    if '-hard' in name:
        assert cfg.model.w_hard == 2.0 and train_prefix.saliency_map_path == 'train/saliency'
        assert train_prefix.img_path == 'train/images'  # merged into the base prefix
    model = MODELS.build(cfg.model)
    assert model.backbone.use_gradients == backbone.use_gradients
    assert type(model).__name__ == cfg.model.type


def test_cpu_ablation_configs_differ_only_in_the_objective():
    """The four CPU ablation variants share data, schedule, seed and widths."""

    def key(path):
        return (osp.basename(path).split('_1xb8-')[1].split('-400it')[0] +
                ('-nograd' if 'nograd' in path else ''))

    cfgs = {key(p): Config.fromfile(p) for p in ABLATION}
    assert set(cfgs) == {'bce', 'bce-nograd', 'bce-self', 'bce-self-hard'}
    ref = cfgs['bce']
    for key, cfg in cfgs.items():
        assert cfg.train_cfg.max_iters == 400 and cfg.param_scheduler[-1].end == 400
        assert cfg.randomness == ref.randomness and cfg.crop_size == (192, 192)
        assert cfg.train_dataloader.batch_size == ref.train_dataloader.batch_size == 8
        assert cfg.model.backbone.widths == ref.model.backbone.widths
        assert cfg.model.backbone.use_gradients == (key != 'bce-nograd')
        assert (cfg.model.type == 'PatchSwapEncoderDecoder') == key.startswith('bce-self')
        assert cfg.model.get('hard_mining', False) == (key == 'bce-self-hard')
        model = MODELS.build(cfg.model)
        assert type(model).__name__ == cfg.model.type
    for key in ('bce-self', 'bce-self-hard'):  # the same patch swap
        assert cfgs[key].model.patch_size == 40 and cfgs[key].model.lambda_self == 0.2
    assert cfgs['bce-self-hard'].model.w_hard == 2.0
    prefix = cfgs['bce-self-hard'].train_dataloader.dataset.data_prefix
    assert prefix.saliency_map_path == 'saliency'


H, W = 8, 12  # fake images: masks white on the left quarter
WHITE_COLS = W // 4


def _write(path, arr):
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, arr), path


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_realtime_dbd_configs_build_their_datasets(tmp_path, path):
    """Each loader reads its set's files, and the masks load with the release's polarity: the CUHK
    originals (white = blurred) are inverted, DUT (white = in-focus) and DUTS (white = salient)
    are not."""
    cfg = Config.fromfile(path)
    name = osp.basename(path)
    is_dut, is_duts = '_dut-' in name, '_duts-' in name
    white = 1 if is_dut or is_duts else 0
    mask = np.zeros((H, W), np.uint8)
    mask[:, :WHITE_COLS] = 255
    for loader_name in ('train', 'val', 'test'):
        dcfg = cfg[f'{loader_name}_dataloader'].dataset.copy()
        root = str(tmp_path / loader_name / osp.basename(dcfg.data_root))
        prefix = dcfg.data_prefix
        for stem in ('p0', 'p1'):
            _write(
                osp.join(root, prefix.img_path, stem + _resolved(dcfg, 'img_suffix')),
                np.full((H, W, 3), 90, np.uint8))
            _write(
                osp.join(root, prefix.seg_map_path, stem + _resolved(dcfg, 'seg_map_suffix')), mask)
            if prefix.get('saliency_map_path'):
                _write(osp.join(root, prefix.saliency_map_path, stem + '.png'), mask)
        if dcfg.get('ann_file'):  # the validation split lists (DBD sets)
            os.makedirs(osp.dirname(osp.join(root, dcfg.ann_file)), exist_ok=True)
            with open(osp.join(root, dcfg.ann_file), 'w') as f:
                f.write('p0\np1\n')
        dcfg.data_root = root
        if loader_name == 'train':  # deterministic: no flip / rotation
            dcfg.pipeline = [
                t for t in dcfg.pipeline if t['type'] not in ('RandomFlip', 'RandomRotate')
            ]
        dataset = DATASETS.build(dcfg)
        assert len(dataset) == 2
        gt = dataset[0]['data_samples'].gt_sem_seg.data[0]
        cols = gt.shape[1] * WHITE_COLS // W
        assert gt[:, :cols].eq(white).all() and gt[:, cols:].eq(1 - white).all()
