"""A tiny DBD project written into a temporary folder, for the tool and API tests.

Images are small non-square photos whose left part is sharp texture (in focus) and right part smooth
(blurred); masks are 0/255 PNGs (255 = in-focus). The model is mmseg's ``UNet`` with 4 channels and
two stages + ``FCNHead`` with one output channel (sigmoid), so training a few iterations, testing
and inference take about a second each on a CPU. The data uses dbdseg's ``BinarySegDataset``,
``LoadBinaryAnnotations``, ``PackBinarySegInputs`` and ``SODMetric``.

Not a test module: the test folders load it by path (``load_tiny_project``).
"""
import importlib.util
import os
import os.path as osp
import sys
import uuid
from pathlib import Path

import cv2
import numpy as np

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

STEMS = ('img_a', 'img_b', 'img_c', 'img_d')
IMG_H, IMG_W = 24, 36  # non-square on purpose

CONFIG_TEMPLATE = '''
default_scope = 'mmseg'
custom_imports = dict(
    imports=['dbdseg.datasets', 'dbdseg.engine', 'dbdseg.evaluation', 'dbdseg.models',
             'dbdseg.visualization'],
    allow_failed_imports=False)
crop_size = (32, 32)
data_root = {data_root!r}
dataset_type = 'BinarySegDataset'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='PackBinarySegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='LoadBinaryAnnotations'),
    dict(type='PackBinarySegInputs'),
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='images', seg_map_path='masks'),
                 img_suffix='.png', seg_map_suffix='.png', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='images', seg_map_path='masks'),
                 img_suffix='.png', seg_map_suffix='.png', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='SODMetric')
test_evaluator = val_evaluator

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[127.5] * 3, std=[64.0] * 3,
                           bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size=crop_size),
    backbone=dict(type='UNet', in_channels=3, base_channels=4, num_stages=2, strides=(1, 1),
                  enc_num_convs=(1, 1), dec_num_convs=(1, ), downsamples=(True, ),
                  enc_dilations=(1, 1), dec_dilations=(1, ), norm_cfg=norm_cfg,
                  upsample_cfg=dict(type='InterpConv')),
    decode_head=dict(type='FCNHead', in_channels=4, in_index=-1, channels=4, num_convs=1,
                     concat_input=False, dropout_ratio=0.0, num_classes=2, out_channels=1,
                     threshold=0.5, norm_cfg=norm_cfg, align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True,
                                      loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-2))
param_scheduler = []
train_cfg = dict(type='IterBasedTrainLoop', max_iters=4, val_interval=2)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=2, save_best='maxF',
                    rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'WARNING'
load_from = None
resume = False
randomness = dict(seed=0)
'''


def make_image(h=IMG_H, w=IMG_W, seed=0):
    """(h, w, 3) uint8 BGR image: sharp random texture on the left 40 %, smooth on the right."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    split = int(round(w * 0.4))
    smooth = cv2.GaussianBlur(img, (0, 0), sigmaX=4)
    img[:, split:] = smooth[:, split:]
    return img


def make_mask(h=IMG_H, w=IMG_W):
    """(h, w) uint8 mask, 255 = in focus (left 40 %)."""
    mask = np.zeros((h, w), np.uint8)
    mask[:, :int(round(w * 0.4))] = 255
    return mask


def write_dataset(root, stems=STEMS, h=IMG_H, w=IMG_W):
    """Write ``root/images/<stem>.png`` and ``root/masks/<stem>.png``; returns ``root``."""
    root = str(root)
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    os.makedirs(osp.join(root, 'masks'), exist_ok=True)
    for i, stem in enumerate(stems):
        assert cv2.imwrite(osp.join(root, 'images', f'{stem}.png'), make_image(h, w, seed=i))
        assert cv2.imwrite(osp.join(root, 'masks', f'{stem}.png'), make_mask(h, w))
    return root


def write_config(path, data_root, extra=''):
    """Write the tiny config (plus ``extra`` lines) to ``path``; returns ``path``."""
    with open(str(path), 'w') as f:
        f.write(CONFIG_TEMPLATE.format(data_root=str(data_root)))
        f.write(extra)
    return str(path)


def load_tool(name):
    """Import ``tools/<name>.py`` as a module (``dbdseg_tool_<name>``)."""
    mod_name = f'dbdseg_tool_{name}'
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    path = osp.join(REPO_ROOT, 'tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    spec.loader.exec_module(module)
    return module


def unique_name(prefix='t'):
    """A fresh mmengine experiment name (Runner instances share global loggers by name)."""
    return f'{prefix}_{uuid.uuid4().hex[:10]}'


def save_untrained_checkpoint(config_path, ckpt_path, dataset_meta=None):
    """Build the config's model and save its (initialised) weights as an mmengine checkpoint."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import dbdseg  # noqa: F401
    cfg = Config.fromfile(str(config_path))
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    meta = dict(
        dataset_meta=dataset_meta
        or dict(classes=('blurred', 'in-focus'), palette=[[0, 0, 0], [255, 255, 255]]))
    torch.save(dict(state_dict=model.state_dict(), meta=meta), str(ckpt_path))
    return str(ckpt_path)


def write_teacher(root):
    """The tiny model as a depth/saliency teacher under ``root``: ``dict(config, checkpoint,
    other)``, ``other`` a second checkpoint with perturbed weights (a different teacher)."""
    import torch
    root = Path(root)
    data_root = write_dataset(root / 'data')
    config = write_config(root / 'teacher.py', data_root)
    ckpt = save_untrained_checkpoint(config, root / 'teacher.pth')
    torch.manual_seed(1)
    other = torch.load(ckpt, map_location='cpu', weights_only=False)
    other['state_dict'] = {
        k: (v + torch.randn_like(v) * 0.1) if v.is_floating_point() else v
        for k, v in other['state_dict'].items()
    }
    other_path = str(root / 'teacher_other.pth')
    torch.save(other, other_path)
    return dict(config=config, checkpoint=ckpt, other=other_path)


def write_teacher_images(tmp_path, sizes):
    """Write ``tmp_path/data/images/<stem>.png`` for ``{stem: (h, w)}``; returns the data root."""
    root = Path(tmp_path) / 'data'
    os.makedirs(root / 'images')
    for i, (stem, (h, w)) in enumerate(sizes.items()):
        assert cv2.imwrite(str(root / 'images' / f'{stem}.png'), make_image(h, w, seed=i))
    return root
