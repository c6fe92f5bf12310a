"""configs/a2s stage-1 configs: load, build, one forward; the frozen encoder (weights and BN
statistics); the reference's drifting-BN variant; unlabeled datasets; one epoch with the Runner."""
import copy
import glob
import os.path as osp
import uuid

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmseg.structures import SegDataSample

from dbdseg.registry import DATASETS, MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(ROOT, 'configs', 'a2s')
PRIMITIVE = osp.join(CFG_DIR, 'a2s-stage1_r50-mocov2_1xb8-20e_msra-b-320x320.py')
FOLDER = osp.join(CFG_DIR, 'a2s-stage1_r50-mocov2_1xb8-20e_folder-320x320.py')
CONFIGS = sorted(glob.glob(osp.join(CFG_DIR, 'a2s-stage1_*.py')))
R18 = {
    'model.backbone.depth': 18,
    'model.backbone.init_cfg': None,
    'model.decode_head.in_channels': (128, 256, 512)
}


@pytest.fixture(autouse=True, scope='module')
def _scope():
    init_default_scope('mmseg')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _batch(n=2, size=64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    inputs = [
        torch.randint(0, 256, (3, size, size), generator=gen, dtype=torch.uint8) for _ in range(n)
    ]
    samples = [
        SegDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size)))
        for _ in range(n)
    ]  # unlabeled: no gt_sem_seg
    return dict(inputs=inputs, data_samples=samples)


def _model(path, overrides=None, size=64):
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(overrides or {'model.backbone.init_cfg': None})
    cfg.model.data_preprocessor.size = (size, size)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return cfg, model


def test_the_configs_exist():
    names = [osp.basename(p) for p in CONFIGS]
    assert 'a2s-stage1_r50-mocov2_1xb8-20e_msra-b-320x320.py' in names
    assert 'a2s-stage1_r50-mocov2_1xb8-20e_folder-320x320.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_loads_builds_and_runs(path):
    cfg = Config.fromfile(path)
    bb, head = cfg.model.backbone, cfg.model.decode_head
    assert bb.type == 'ResNetWithStem' and bb.depth == 50
    assert bb.frozen_stages == 4 and bb.norm_eval is True
    assert bb.init_cfg == dict(type='Pretrained', checkpoint='checkpoints/mocov2_r50_800ep.pth')
    assert head.type == 'ActivationHead' and head.in_channels == (512, 1024, 2048)
    assert head.in_index == (2, 3, 4) and head.out_channels == 1
    assert head.loss_decode == dict(
        type='ADBLoss', alpha=0.1, drop_ratio=0.5, offset=0.0, loss_weight=1.0)
    assert cfg.model.data_preprocessor.size == (320, 320)
    # the paper's schedule: SGD lr 1, 20 epochs, x0.1 at the 10th and 16th epochs, batch 8
    assert cfg.optim_wrapper.optimizer.type == 'SGD' and cfg.optim_wrapper.optimizer.lr == 1.0
    assert cfg.param_scheduler[0].milestones == [9, 15]
    assert cfg.train_cfg == dict(type='EpochBasedTrainLoop', max_epochs=20)
    assert cfg.train_dataloader.batch_size == 8
    # no labels: no mask loading in training, no validation
    datasets = cfg.train_dataloader.dataset.get('datasets', [cfg.train_dataloader.dataset])
    for ds in datasets:
        assert ds.data_prefix.seg_map_path is None
        types = [t.type for t in ds.pipeline]
        assert types == ['LoadImageFromFile', 'Resize', 'RandomFlip', 'PackBinarySegInputs']
        assert ds.pipeline[1].scale == (320, 320) and ds.pipeline[2].direction == 'horizontal'
    assert cfg.val_dataloader is None and cfg.val_cfg is None and cfg.val_evaluator is None

    _, model = _model(path)  # ResNet-50 as configured, pretrained off
    n_backbone = sum(p.numel() for p in model.backbone.parameters())
    n_head = sum(p.numel() for p in model.decode_head.parameters())
    assert (n_backbone, n_head) == (23508032, 2192384)  # reference: 25,557,032 - fc; 2,192,896
    model.eval()
    data = model.data_preprocessor(_batch(n=1), False)
    with torch.no_grad():
        logits = model(data['inputs'], mode='tensor')
        results = model(data['inputs'], data['data_samples'], mode='predict')
    assert logits.shape == (1, 1, 32, 32)  # stride 2
    prob = results[0].seg_logits.data
    assert prob.shape == (1, 64, 64) and 0 <= prob.min() and prob.max() <= 1
    assert (results[0].pred_sem_seg.data == (prob > 0.5)).all()


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _step(cfg, model, steps=2):
    wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    model.train()
    logs = None
    for i in range(steps):
        logs = model.train_step(_batch(seed=i), wrapper)
    return logs


def test_frozen_encoder_weights_and_bn_statistics():
    cfg, model = _model(PRIMITIVE, R18)
    before_bb, before_head = _snapshot(model.backbone), _snapshot(model.decode_head)
    logs = _step(cfg, model)
    assert {
        'decode.loss_adb', 'decode.loss_adb_f3', 'decode.loss_adb_f4', 'decode.loss_adb_f5',
        'decode.fg_frac', 'loss'
    } <= set(logs)
    assert all(not p.requires_grad and p.grad is None for p in model.backbone.parameters())
    assert not any(m.training
                   for m in model.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d))
    after_bb = model.backbone.state_dict()
    for key, value in before_bb.items():
        assert torch.equal(value, after_bb[key]), key  # weights AND running stats unchanged
    after_head = model.decode_head.state_dict()
    assert any(not torch.equal(v, after_head[k]) for k, v in before_head.items())


def test_reference_variant_lets_bn_statistics_drift_but_keeps_weights():
    overrides = dict(R18, **{'model.backbone.frozen_stages': -1, 'model.backbone.norm_eval': False})
    cfg, model = _model(PRIMITIVE, overrides)
    before = _snapshot(model.backbone)
    _step(cfg, model)
    after = model.backbone.state_dict()
    stats = [k for k in before if k.endswith('running_mean')]
    weights = [k for k in before if k.endswith('weight')]
    assert stats and all(not torch.equal(before[k], after[k]) for k in stats)
    assert weights and all(torch.equal(before[k], after[k]) for k in weights)  # lr_mult 0


def _write_images(folder, names, size=(48, 56)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        cv2.imwrite(str(folder / name), rng.integers(0, 256, size + (3, )).astype(np.uint8))


def test_unlabeled_datasets(tmp_path):
    msra = tmp_path / 'msra_b'
    _write_images(msra / 'train' / 'images', ['a.jpg', 'b.jpg'])
    _write_images(msra / 'val' / 'images', ['c.jpg'])
    cfg = Config.fromfile(PRIMITIVE)
    for ds in cfg.train_dataloader.dataset.datasets:
        ds.data_root = str(msra)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == 3  # train + val
    sample = dataset[0]
    assert 'gt_sem_seg' not in sample['data_samples']
    assert tuple(sample['inputs'].shape) == (3, 320, 320)

    photos = tmp_path / 'photos'
    _write_images(photos, ['x.png', 'y.png'])
    cfg = Config.fromfile(FOLDER)
    cfg.merge_from_dict({
        'train_dataloader.dataset.data_root': str(photos),
        'train_dataloader.dataset.img_suffix': '.png'
    })
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == 2
    assert 'gt_sem_seg' not in dataset[1]['data_samples']


def test_one_epoch_through_the_runner(tmp_path):
    from mmengine.runner import Runner
    photos = tmp_path / 'photos'
    _write_images(photos, ['p0.jpg', 'p1.jpg', 'p2.jpg', 'p3.jpg'])
    cfg = Config.fromfile(FOLDER)
    cfg.merge_from_dict(
        dict(
            R18, **{
                'train_dataloader.dataset.data_root': str(photos),
                'train_dataloader.batch_size': 2,
                'train_dataloader.num_workers': 0,
                'train_dataloader.persistent_workers': False,
                'train_cfg.max_epochs': 1,
                'default_hooks.logger.interval': 1,
            }))
    cfg.crop_size = (64, 64)
    cfg.model.data_preprocessor.size = (64, 64)
    cfg.train_dataloader.dataset.pipeline[1].scale = (64, 64)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'a2s_stage1_{uuid.uuid4().hex[:8]}'
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook', draw=False)
    cfg.env_cfg.dist_cfg = dict(backend='gloo')
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert osp.isfile(osp.join(cfg.work_dir, 'epoch_1.pth'))
    ckpt = torch.load(osp.join(cfg.work_dir, 'epoch_1.pth'), map_location='cpu', weights_only=False)
    assert 'decode_head.fuse_block.conv.weight' in ckpt['state_dict']


def test_metafile_and_readme():
    import yaml
    with open(osp.join(CFG_DIR, 'metafile.yaml')) as f:
        meta = yaml.safe_load(f)
    entries = {m['Name']: m for m in meta['Models']}
    for path in CONFIGS:
        name = osp.splitext(osp.basename(path))[0]
        assert name in entries, name
        assert entries[name]['Config'] == f'configs/a2s/{name}.py'
        assert entries[name]['Metadata']['Parameters'] == 23508032 + 2192384
    with open(osp.join(CFG_DIR, 'README.md')) as f:
        readme = f.read()
    for section in ('## Stage 1: model', '## Pseudo labels', '## Stage 2', '## CPU experiment'):
        assert f'\n{section}' in readme, section
