"""Helpers of the GPU tests (tests/cuda), imported as ``dbdseg_tests_cuda_helpers`` (registered by
tests/cuda/conftest.py): the ``cuda`` marks, the paper configs, and a paper config on tiny data
(:func:`tiny_paper_config`)."""
import copy
import importlib.util
import os.path as osp

import pytest
import torch

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py

NO_CUDA_REASON = ('needs a CUDA GPU: torch sees none (on the GPU machine run '
                  '.dev_scripts/gpu/check.sh, or pytest -m cuda)')

#: One full-size config per paper model (the CUHK-DBD / MSRA-B configs of docs/en/gpu_check.md).
PAPER_CONFIGS = (
    'configs/realtime_dbd/realtime-dbd_gradunet_1xb64-bce-19k_cuhk-320x320.py',
    'configs/depth_distillation/dd_resnext101-32x4d_1xb6-10k_cuhk-320x320.py',
    'configs/afiu/afiu_r50_1xb8-32k_cuhk-320x320.py',
    'configs/a2s/a2s-stage1_r50-mocov2_1xb8-20e_msra-b-320x320.py',
    'configs/a2s/a2s-stage2_r50-mocov2_1xb8-25e_msra-b-320x320.py',
)


def cuda_marks():
    """``pytestmark`` of every module here: the marker and the skip without CUDA."""
    return [
        pytest.mark.cuda,
        pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA_REASON)
    ]


# ----------------------------------------------------------------------------------------------
# paper configs on tiny data
# ----------------------------------------------------------------------------------------------
def _load_speed_targets():
    """``.dev_scripts/speed_targets.py`` as a module (its ``write_train_data``)."""
    path = osp.join(tiny.REPO_ROOT, '.dev_scripts', 'speed_targets.py')
    spec = importlib.util.spec_from_file_location('dbdseg_dev_speed_targets', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def drop_pretrained(node):
    """Set every ``init_cfg`` of type ``Pretrained`` and every ``pretrained`` key to None (in
    place): the tests never download weights."""
    if isinstance(node, dict):
        init_cfg = node.get('init_cfg', None)
        cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
        if any(isinstance(c, dict) and c.get('type') == 'Pretrained' for c in cfgs):
            node['init_cfg'] = None
        if node.get('pretrained', None) is not None:
            node['pretrained'] = None
        for value in node.values():
            drop_pretrained(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            drop_pretrained(value)


def to_sync_bn(node) -> int:
    """Turn every ``norm_cfg=dict(type='BN', ...)`` into ``'SyncBN'`` (in place); returns how
    many (the inverse of ``dbdseg.utils.runtime.replace_sync_bn``)."""
    n = 0
    if isinstance(node, dict):
        for key, value in node.items():
            if key == 'norm_cfg' and isinstance(value, dict) and value.get('type') == 'BN':
                value['type'] = 'SyncBN'
                n += 1
            else:
                n += to_sync_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            n += to_sync_bn(value)
    return n


def _resize_pipeline(pipeline, size):
    """Set every ``Resize`` scale in a pipeline (nested ``transforms`` too) to ``size``."""
    for t in pipeline or []:
        if isinstance(t, dict):
            if t.get('type') == 'Resize':
                t['scale'] = (size, size)
            _resize_pipeline(t.get('transforms'), size)
        elif isinstance(t, list):
            _resize_pipeline(t, size)


def _innermost(ds):
    while isinstance(ds, dict) and 'pipeline' not in ds and ('dataset' in ds or 'datasets' in ds):
        ds = ds.get('dataset') or ds['datasets'][0]
    return ds


def tiny_paper_config(config, root, input_size=None, num_images=4, batch_size=2):
    """Write a copy of a paper config that trains 2 iterations and tests on tiny data.

    The model is the config's own (full size); only data, length, logging and checkpointing
    change: the training set is the config's innermost dataset (type, layout, pipeline, extra
    maps such as depth or pseudo labels) on ``num_images`` random images of 96 x 128 written by
    ``.dev_scripts/speed_targets.py``'s ``write_train_data``; the test set is a
    ``BinarySegDataset`` of the tiny project's images with the config's ``test_pipeline`` and
    ``SODMetric``; no validation; ``max_iters=2`` (epoch-based configs: one epoch of
    ``num_images / batch_size`` = 2 iterations, so epoch hooks run); a checkpoint at the end;
    pretrained initialisation and ``load_from`` dropped.

    Args:
        config (str): paper config, relative to the repository root.
        root (Path): empty folder for the data, the config and the work dir.
        input_size (int, optional): replace every ``Resize`` scale and the preprocessor's size
            by this square (for a quick check on a CPU); None keeps the config's 320 x 320.
        num_images (int): training images. Defaults to 4.
        batch_size (int): training batch size. Defaults to 2.

    Returns:
        dict: ``config`` (path of the written config), ``work_dir``, ``epoch_based`` (bool).
    """
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(tiny.REPO_ROOT, config))
    drop_pretrained(cfg.model)
    cfg.load_from = None
    cfg.resume = False
    train_ds = copy.deepcopy(_innermost(cfg.train_dataloader.dataset))
    train_root = str(root / 'train_data')
    options = _load_speed_targets().write_train_data(train_root, train_ds, num_images, (96, 128))
    train_ds['data_root'] = train_root
    if 'train_dataloader.dataset.ann_file' in options:
        train_ds['ann_file'] = options['train_dataloader.dataset.ann_file']
    test_pipeline = copy.deepcopy(
        cfg.get('test_pipeline', None) or _innermost(cfg.test_dataloader.dataset)['pipeline'])
    if input_size:
        _resize_pipeline(train_ds.get('pipeline'), input_size)
        _resize_pipeline(test_pipeline, input_size)
        if cfg.model.get('data_preprocessor', {}).get('size'):
            cfg.model.data_preprocessor.size = (input_size, input_size)
        cfg.crop_size = (input_size, input_size)
    cfg.train_dataloader = dict(
        batch_size=batch_size,
        num_workers=0,
        persistent_workers=False,
        sampler=cfg.train_dataloader.sampler,
        dataset=train_ds)
    test_root = tiny.write_dataset(root / 'test_data')
    cfg.test_dataloader = dict(
        batch_size=1,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='BinarySegDataset',
            data_root=test_root,
            data_prefix=dict(img_path='images', seg_map_path='masks'),
            img_suffix='.png',
            seg_map_suffix='.png',
            pipeline=test_pipeline))
    cfg.test_evaluator = dict(type='SODMetric')
    cfg.test_cfg = dict(type='TestLoop')
    cfg.val_dataloader = None
    cfg.val_evaluator = None
    cfg.val_cfg = None
    epoch_based = cfg.train_cfg.get('type') == 'EpochBasedTrainLoop'
    if epoch_based:
        cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1, val_interval=100)
    else:
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=100)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(
        type='AtomicCheckpointHook',
        by_epoch=epoch_based,
        interval=1 if epoch_based else 2,
        save_last=True)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1, log_metric_by_epoch=epoch_based)
    cfg.default_hooks.pop('visualization', None)
    cfg.log_processor = dict(by_epoch=epoch_based, window_size=1)
    cfg.experiment_name = tiny.unique_name('cuda')
    cfg.work_dir = str(root / 'work_dir')
    path = str(root / osp.basename(config))
    cfg.dump(path)
    return dict(config=path, work_dir=cfg.work_dir, epoch_based=epoch_based)
