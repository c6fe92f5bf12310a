"""configs/a2s stage-2 configs: load, schedule and OLR settings, no human labels in training,
build (ResNet-18 widths for speed) and one forward / one OLR loss step; the datasets on tiny
files."""
import glob
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from dbdseg.engine.label_bank import OLRLabelBank
from dbdseg.registry import DATASETS, MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(ROOT, 'configs', 'a2s')
PRIMITIVE = osp.join(CFG_DIR, 'a2s-stage2_r50-mocov2_1xb8-25e_msra-b-320x320.py')
FOLDER = osp.join(CFG_DIR, 'a2s-stage2_r50-mocov2_1xb8-25e_folder-320x320.py')
SOD2DBD = osp.join(CFG_DIR, 'a2s-stage2_r50-mocov2_1xb8-25e_sod2dbd_dut-320x320.py')
CONFIGS = sorted(glob.glob(osp.join(CFG_DIR, 'a2s-stage2_*.py')))
SIZE = 64
R18 = {
    'model.backbone.depth': 18,
    'model.backbone.init_cfg': None,
    'model.decode_head.in_channels': (64, 64, 128, 256, 512),
    'model.data_preprocessor.size': (SIZE, SIZE),
}


@pytest.fixture(autouse=True, scope='module')
def _scope():
    init_default_scope('mmseg')


def _model(path):
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(R18)
    torch.manual_seed(0)
    return cfg, MODELS.build(cfg.model)


def test_the_configs_exist():
    assert sorted(map(osp.basename,
                      CONFIGS)) == sorted(map(osp.basename, (PRIMITIVE, FOLDER, SOD2DBD)))


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_common_fields(path):
    cfg = Config.fromfile(path)
    bb, head = cfg.model.backbone, cfg.model.decode_head
    assert bb.type == 'ResNetWithStem' and bb.depth == 50 and bb.out_indices == (0, 1, 2, 3, 4)
    assert bb.norm_eval is False and bb.frozen_stages == -1  # stage 2 fine-tunes the encoder
    assert head.type == 'RAMHead' and head.channels == 64 and head.out_channels == 1
    assert [loss['type']
            for loss in head.loss_decode] == ['CrossEntropyLoss', 'SSIMLoss', 'IoULoss']
    assert head.loss_decode[0]['use_sigmoid'] and head.loss_decode[0]['avg_non_ignore']
    assert cfg.model.data_preprocessor.size == (320, 320)
    # Sec. IV-A: SGD lr 0.005, 25 epochs, x0.1 at the 15th and 20th (0-based 14, 19), batch 8
    assert cfg.optim_wrapper.optimizer.type == 'SGD' and cfg.optim_wrapper.optimizer.lr == 0.005
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys['backbone']['lr_mult'] == 0.1
    (sched, ) = cfg.param_scheduler
    assert sched.type == 'MultiStepLR' and sched.by_epoch and sched.milestones == [14, 19]
    assert cfg.train_cfg.type == 'EpochBasedTrainLoop' and cfg.train_cfg.max_epochs == 25
    assert cfg.train_dataloader.batch_size == 8
    assert cfg.train_dataloader.sampler.type == 'DefaultSampler'
    pipeline = (
        cfg.train_dataloader.dataset.get('pipeline')
        or cfg.train_dataloader.dataset.datasets[0].pipeline)
    resize = next(t for t in pipeline if t['type'] == 'Resize')
    flip = next(t for t in pipeline if t['type'] == 'RandomFlip')
    assert resize['scale'] == (320, 320) and resize['keep_ratio'] is False
    assert flip['prob'] == 0.5 and flip.get('direction', 'horizontal') == 'horizontal'


@pytest.mark.parametrize('path', (PRIMITIVE, FOLDER), ids=osp.basename)
def test_olr_configs_use_no_human_labels(path):
    cfg = Config.fromfile(path)
    assert cfg.model.type == 'OLREncoderDecoder'
    hooks = {h['type']: h for h in cfg.custom_hooks}
    assert hooks['OLRHook']['warmup_epochs'] == 2 and hooks['OLRHook']['lam'] == 0.4
    assert 'RNGStateHook' in hooks  # kept from default_runtime.py
    ds = cfg.train_dataloader.dataset
    for d in ds.get('datasets', [ds]):
        assert d.data_prefix.get('seg_map_path') is None
        assert d.data_prefix['pseudo_label_path']
    assert cfg.val_dataloader is None and cfg.val_cfg is None


def test_sod2dbd_fields():
    cfg = Config.fromfile(SOD2DBD)
    assert cfg.model.type == 'EncoderDecoder'
    assert 'OLRHook' not in [h['type'] for h in cfg.get('custom_hooks', [])]
    assert cfg.load_from.endswith('a2s-stage2_r50-mocov2_1xb8-25e_msra-b-320x320/epoch_25.pth')
    assert cfg.model.backbone.init_cfg is None
    assert cfg.train_dataloader.dataset.type == 'DUTDBDDataset'
    assert cfg.train_dataloader.dataset.data_prefix.seg_map_path == 'train/masks'  # human labels
    assert cfg.default_hooks.checkpoint.save_best == 'maxF'


def test_primitive_olr_loss_step(tmp_path):
    cfg, model = _model(PRIMITIVE)
    model.train()
    paths = ['/x/a.jpg', '/x/b.jpg', '/x/c.jpg']
    model.olr_bank = OLRLabelBank(str(tmp_path / 'bank'), paths, SIZE, SIZE)
    model.olr_lambda = 0.4
    gen = torch.Generator().manual_seed(1)
    samples = []
    for p, flip in zip(paths[:2], (False, True)):
        label = (torch.rand(1, SIZE, SIZE, generator=gen) > 0.5).float()
        samples.append(
            SegDataSample(
                metainfo=dict(
                    img_path=p,
                    img_shape=(SIZE, SIZE),
                    ori_shape=(SIZE, SIZE),
                    flip=flip,
                    flip_direction='horizontal'),
                gt_pseudo_label=PixelData(data=label)))
    data = dict(
        inputs=[
            torch.randint(0, 256, (3, SIZE, SIZE), generator=gen, dtype=torch.uint8)
            for _ in samples
        ],
        data_samples=samples)
    data = model.data_preprocessor(data, True)
    losses = model(**data, mode='loss')
    assert {'decode.loss_bce', 'decode.loss_ssim', 'decode.loss_iou'} <= set(losses)
    assert all(torch.isfinite(v) for v in losses.values())
    bank = model.olr_bank
    assert bank.is_initialised(np.arange(3)).tolist() == [True, True, False]
    g = bank.read(np.arange(3))
    assert (g[2] == 0).all()  # an image of no batch: untouched
    assert not np.array_equal(g[0], samples[0].gt_pseudo_label.data[0].numpy())  # updated


def _write_images(folder, stems, h=20, w=28):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    for s in stems:
        cv2.imwrite(osp.join(folder, f'{s}.jpg'), rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def _write_labels(folder, stems, h=20, w=28):
    os.makedirs(folder, exist_ok=True)
    for s in stems:
        lab = np.zeros((h, w), np.uint8)
        lab[5:15, 4:12] = 255
        cv2.imwrite(osp.join(folder, f'{s}.png'), lab)


def test_datasets_on_tiny_files(tmp_path):
    root = str(tmp_path / 'msra_b')
    _write_images(osp.join(root, 'train', 'images'), ['t1', 't2'])
    _write_images(osp.join(root, 'val', 'images'), ['v1'])
    _write_labels(osp.join(root, 'a2s_pseudo'), ['t1', 't2', 'v1'])
    cfg = Config.fromfile(PRIMITIVE)
    ds_cfg = cfg.train_dataloader.dataset
    for d in ds_cfg.datasets:
        d.data_root = root
    dataset = DATASETS.build(ds_cfg)
    assert len(dataset) == 3
    paths = [dataset.get_data_info(i)['img_path'] for i in range(3)]
    assert len(set(paths)) == 3  # one OLR bank row each
    sample = dataset[0]['data_samples']
    assert 'gt_sem_seg' not in sample  # no human labels
    assert sample.gt_pseudo_label.data.shape == (1, 320, 320)
    assert set(sample.gt_pseudo_label.data.unique().tolist()) == {0.0, 1.0}
    assert 'flip' in sample.metainfo and 'flip_direction' in sample.metainfo
    folder = str(tmp_path / 'unlabeled')
    _write_images(osp.join(folder, 'images'), ['p1', 'p2'])
    _write_labels(osp.join(folder, 'pseudo_labels'), ['p1', 'p2'])
    cfg = Config.fromfile(FOLDER)
    cfg.train_dataloader.dataset.data_root = folder
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == 2 and 'gt_pseudo_label' in dataset[1]['data_samples']
