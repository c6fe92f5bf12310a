"""Tests of the example project: registration, shapes, SoftIoULoss values and gradients, the
project config, and a 4-iteration training run through tools/train.py (about 15 s on a CPU).

Run from the repository root: ``python -m pytest projects/example_project/tests``.
"""
import glob
import importlib.util
import json
import math
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import dbdseg  # noqa: F401  (registers dbdseg's datasets, transforms and metric)
from projects.example_project.example_project import SoftIoULoss, TinySharpHead, TinySharpNet

PROJECT_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
REPO_ROOT = osp.dirname(osp.dirname(PROJECT_DIR))
CONFIG = osp.join(PROJECT_DIR, 'configs',
                  'tinysharp_tinysharpnet_1xb4-200it_synthetic-defocus-64x64.py')

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')

# The core tests' tiny-project helpers (dataset writer, tool loader); tests/conftest.py registers
# the same module under this name when the whole suite runs, so reuse it then.
TINY_NAME = 'dbdseg_tests_tiny_project'
if TINY_NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        TINY_NAME, osp.join(REPO_ROOT, 'tests', 'test_tools', 'tiny_project.py'))
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[TINY_NAME] = _module
    _spec.loader.exec_module(_module)
tiny = sys.modules[TINY_NAME]


def _head(**kwargs):
    cfg = dict(
        in_channels=(8, 16),
        in_index=(0, 1),
        channels=16,
        num_classes=2,
        out_channels=1,
        threshold=0.5,
        dropout_ratio=0.0,
        loss_decode=[
            dict(type='CrossEntropyLoss', use_sigmoid=True, avg_non_ignore=True),
            dict(type='SoftIoULoss')
        ])
    cfg.update(kwargs)
    return TinySharpHead(**cfg)


# ---------------------------------------------------------------------------- registration
def test_registry_lookups():
    init_default_scope('mmseg')
    assert MODELS.get('TinySharpNet') is TinySharpNet
    assert MODELS.get('TinySharpHead') is TinySharpHead
    assert MODELS.get('SoftIoULoss') is SoftIoULoss
    for cls in (TinySharpNet, TinySharpHead, SoftIoULoss):
        assert cls.__module__.startswith('projects.example_project.example_project.')
    loss = MODELS.build(dict(type='SoftIoULoss', loss_weight=0.5))
    assert isinstance(loss, SoftIoULoss) and loss.loss_weight == 0.5


def test_project_package_resolves_to_this_checkout():
    """``projects`` is a namespace package found through the repo root on sys.path."""
    spec = importlib.util.find_spec('projects.example_project.example_project')
    assert spec is not None
    assert osp.samefile(spec.origin, osp.join(PROJECT_DIR, 'example_project', '__init__.py'))


# ---------------------------------------------------------------------------- backbone
def test_backbone_output_shapes():
    net = TinySharpNet(in_channels=3, base_channels=8).eval()
    f1, f2 = net(torch.randn(2, 3, 20, 30))
    assert f1.shape == (2, 8, 20, 30)
    assert f2.shape == (2, 16, 10, 15)
    _, f2 = net(torch.randn(1, 3, 21, 31))  # odd sizes: stride-2 conv rounds up
    assert f2.shape == (1, 16, 11, 16)
    assert net.out_channels == (8, 16)


def test_backbone_laplacian_channel():
    net = TinySharpNet(use_laplacian=True)
    assert net.stage1[0].conv.in_channels == 4
    assert TinySharpNet(use_laplacian=False).stage1[0].conv.in_channels == 3
    # a constant image has no Laplacian response (replicated borders)
    assert net.laplacian(torch.full((1, 3, 5, 5), 7.0)).abs().max() == 0
    # an impulse of height 3 in every channel: |-4 * 3| at the centre, 3 at its 4 neighbours
    x = torch.zeros(1, 3, 5, 5)
    x[:, :, 2, 2] = 3.0
    lap = net.laplacian(x)[0, 0]
    assert lap.shape == (5, 5)
    assert lap[2, 2] == pytest.approx(12.0)
    for r, c in ((1, 2), (3, 2), (2, 1), (2, 3)):
        assert lap[r, c] == pytest.approx(3.0)
    assert lap[0, 0] == 0 and lap[1, 1] == 0
    # the kernel is a buffer: saved, not trained
    assert 'laplacian_kernel' in net.state_dict()
    assert all('laplacian' not in name for name, _ in net.named_parameters())


def test_backbone_errors():
    with pytest.raises(ValueError, match='base_channels'):
        TinySharpNet(base_channels=0)
    with pytest.raises(ValueError, match='num_convs'):
        TinySharpNet(num_convs=0)
    with pytest.raises(ValueError, match=r'\(B, 3, H, W\)'):
        TinySharpNet()(torch.randn(1, 4, 8, 8))


# ---------------------------------------------------------------------------- head
def test_head_output_shape_and_losses():
    torch.manual_seed(0)
    feats = TinySharpNet(base_channels=8)(torch.randn(2, 3, 20, 30))
    head = _head()
    logits = head(feats)
    assert logits.shape == (2, 1, 20, 30)
    samples = []
    for _ in range(2):
        gt = torch.zeros(1, 20, 30, dtype=torch.long)
        gt[:, :, :12] = 1
        gt[:, 0, :] = 255  # ignored row
        samples.append(SegDataSample(gt_sem_seg=PixelData(data=gt)))
    losses = head.loss_by_feat(logits, samples)
    assert {'loss_ce', 'loss_soft_iou', 'acc_seg'} <= set(losses)
    assert 0.0 <= losses['loss_soft_iou'].item() <= 1.0
    (losses['loss_ce'] + losses['loss_soft_iou']).backward()
    assert head.conv_seg.weight.grad.abs().sum() > 0
    # predict_by_feat resizes the logits to the padded input size
    out = head.predict_by_feat(logits.detach(), [dict(img_shape=(40, 60), pad_shape=(40, 60))])
    assert out.shape == (2, 1, 40, 60)


def test_head_errors():
    with pytest.raises(ValueError, match='exactly two'):
        _head(in_channels=(8, 16, 32), in_index=(0, 1, 2))
    with pytest.raises(ValueError, match='multiple_select'):
        _head(input_transform='resize_concat')


# ---------------------------------------------------------------------------- loss
def _half_target(b=2, h=8, w=8):
    target = torch.zeros(b, h, w, dtype=torch.long)
    target[:, :, :w // 2] = 1
    return target


def _confident_logits(target, correct=True, scale=30.0):
    sign = 1.0 if correct else -1.0
    return (sign * scale * (2.0 * target.float() - 1.0)).unsqueeze(1)


def test_soft_iou_perfect_and_wrong():
    target = _half_target()
    n = target[0].numel()
    right, wrong = _confident_logits(target), _confident_logits(target, correct=False)
    assert SoftIoULoss()(right, target).item() == pytest.approx(0.0, abs=1e-6)
    # all wrong: I = 0, U = every pixel (p = 1 on background, t = 1 on foreground)
    assert SoftIoULoss(smooth=0.0)(wrong, target).item() == pytest.approx(1.0, abs=1e-6)
    assert SoftIoULoss(smooth=1.0)(wrong, target).item() == pytest.approx(1 - 1 / (n + 1), abs=1e-6)


def test_soft_iou_hand_value_at_half_probability():
    # p = 0.5 everywhere, half the pixels positive: I = n/4, U = n/2 * 1 + n/2 * 0.5 = 3n/4
    target = _half_target(b=1)
    pred = torch.zeros(1, 1, 8, 8)
    assert SoftIoULoss(smooth=0.0)(pred, target).item() == pytest.approx(1 - 1 / 3, abs=1e-6)
    weighted = SoftIoULoss(smooth=0.0, loss_weight=3.0)(pred, target)
    assert weighted.item() == pytest.approx(2.0, abs=1e-5)


def test_soft_iou_ignores_255():
    torch.manual_seed(0)
    target = _half_target()
    target[:, :3, :] = 255  # top three rows ignored
    pred = torch.randn(2, 1, 8, 8)
    loss_fn = SoftIoULoss()
    base = loss_fn(pred, target)
    changed = pred.clone()
    changed[:, :, :3, :] = torch.randn(2, 1, 3, 8) * 10  # only where the label is 255
    assert loss_fn(changed, target).item() == pytest.approx(base.item(), abs=1e-6)
    # equals the loss on the valid rows alone
    assert loss_fn(pred[:, :, 3:], target[:, 3:]).item() == pytest.approx(base.item(), abs=1e-6)
    # changing a valid pixel does change it
    changed[:, :, 5, 0] += 5.0
    assert abs(loss_fn(changed, target).item() - base.item()) > 1e-4
    # 255 taken as a label (no ignore index) is an error, not a silent positive
    with pytest.raises(ValueError, match='labels must be 0, 1'):
        loss_fn(pred, target, ignore_index=None)


def test_soft_iou_weight_reduction_and_empty_images():
    torch.manual_seed(0)
    target = _half_target()
    pred = torch.randn(2, 1, 8, 8)
    weight = torch.ones(2, 8, 8)
    weight[:, :3, :] = 0  # zero weight = ignored
    ignored = target.clone()
    ignored[:, :3, :] = 255
    by_weight = SoftIoULoss()(pred, target, weight=weight).item()
    assert by_weight == pytest.approx(SoftIoULoss()(pred, ignored).item(), abs=1e-6)
    per_image = SoftIoULoss(reduction='none')(pred, target)
    assert per_image.shape == (2, )
    assert SoftIoULoss(reduction='sum')(pred, target).item() == pytest.approx(
        per_image.sum().item(), abs=1e-6)
    assert SoftIoULoss()(pred, target).item() == pytest.approx(per_image.mean().item(), abs=1e-6)
    # an image with every pixel ignored contributes 0, also without smoothing (no NaN)
    all_ignored = torch.full((1, 8, 8), 255, dtype=torch.long)
    assert SoftIoULoss(smooth=0.0)(pred[:1], all_ignored).item() == 0.0
    # (B, H, W) logits are accepted as well
    no_channel = SoftIoULoss()(pred[:, 0], target).item()
    assert no_channel == pytest.approx(SoftIoULoss()(pred, target).item())


def test_soft_iou_gradients():
    torch.manual_seed(0)
    target = _half_target()
    target[:, 0, :] = 255
    pred = torch.randn(2, 1, 8, 8, requires_grad=True)
    SoftIoULoss()(pred, target).backward()
    grad = pred.grad
    assert torch.isfinite(grad).all()
    assert grad[:, :, 1:].abs().min() > 0  # every valid pixel gets a gradient
    assert (grad[:, :, 0] == 0).all()  # ignored pixels get none
    # raising a foreground logit lowers the loss, raising a background logit raises it
    assert (grad[:, 0, 1:, :4] < 0).all() and (grad[:, 0, 1:, 4:] > 0).all()


def test_soft_iou_errors_and_name():
    assert SoftIoULoss().loss_name == 'loss_soft_iou'
    assert SoftIoULoss(loss_name='loss_iou2').loss_name == 'loss_iou2'
    with pytest.raises(ValueError, match="start with 'loss_'"):
        SoftIoULoss(loss_name='soft_iou')
    with pytest.raises(ValueError, match='smooth'):
        SoftIoULoss(smooth=-1)
    with pytest.raises(ValueError, match='reduction'):
        SoftIoULoss(reduction='max')
    target = _half_target()
    with pytest.raises(ValueError, match='1-channel'):
        SoftIoULoss()(torch.zeros(2, 2, 8, 8), target)
    with pytest.raises(ValueError, match='same shape'):
        SoftIoULoss()(torch.zeros(2, 1, 8, 6), target)
    bad = target.clone()
    bad[0, 0, 0] = 2
    with pytest.raises(ValueError, match='labels must be 0, 1'):
        SoftIoULoss()(torch.zeros(2, 1, 8, 8), bad)


# ---------------------------------------------------------------------------- config + training
def test_project_config():
    cfg = Config.fromfile(CONFIG)
    assert cfg.custom_imports.imports == [
        'dbdseg.datasets', 'dbdseg.engine', 'dbdseg.evaluation', 'dbdseg.models',
        'dbdseg.visualization', 'projects.example_project.example_project'
    ]
    assert cfg.custom_imports.allow_failed_imports is False
    assert cfg.model.backbone.type == 'TinySharpNet'
    assert cfg.model.decode_head.type == 'TinySharpHead'
    loss_types = [loss['type'] for loss in cfg.model.decode_head.loss_decode]
    assert loss_types == ['CrossEntropyLoss', 'SoftIoULoss']
    assert cfg.model.decode_head.loss_decode[0].use_sigmoid is True
    assert tuple(cfg.model.data_preprocessor.size) == (64, 64)
    # the dataset base's 320x320 pipelines are replaced, and the depth maps are not loaded
    for pipeline in (cfg.train_dataloader.dataset.pipeline, cfg.test_dataloader.dataset.pipeline):
        resize = [t for t in pipeline if t['type'] == 'Resize']
        assert [tuple(t['scale']) for t in resize] == [(64, 64)]
    assert dict(cfg.train_dataloader.dataset.data_prefix) == dict(
        img_path='images', seg_map_path='masks')
    assert cfg.train_cfg.max_iters == 200
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    model.eval()
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 64, 64), mode='tensor')
    assert logits.shape == (1, 1, 64, 64)


def test_train_with_tools_train(tmp_path):
    """4 iterations (validation at 4) of the project config through tools/train.py in-process,
    with the dataloaders' data_root set by --cfg-options as the README shows."""
    stems = tuple(f'img_{i}' for i in range(6))
    data_root = tiny.write_dataset(tmp_path / 'data', stems=stems, h=32, w=32)
    cfg_path = tmp_path / 'tiny_example_project.py'
    cfg_path.write_text(
        f'_base_ = [{CONFIG!r}]\n'
        "data = dict(img_suffix='.png', ann_file='')  # tiny.write_dataset: PNGs, no split file\n"
        'train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,\n'
        '                        dataset=data)\n'
        'val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=data)\n'
        'test_dataloader = val_dataloader\n'
        'train_cfg = dict(max_iters=4, val_interval=4)\n'
        "param_scheduler = [dict(type='PolyLR', eta_min=1e-5, power=1.0, begin=0, end=4,\n"
        '                        by_epoch=False)]\n'
        'default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=4))\n'
        "log_level = 'WARNING'\n")
    work_dir = tmp_path / 'work'
    train = tiny.load_tool('train')
    # fresh experiment / visualizer names: in one pytest process mmengine reuses instances by
    # name, and a visualizer made by an earlier test would write its scalars elsewhere
    name = tiny.unique_name('example_project')
    options = [f'experiment_name={name}', f'visualizer.name={name}', f'data_root={data_root}']
    options += [f'{loader}.dataset.data_root={data_root}' for loader in LOADERS]
    train.main([str(cfg_path), '--work-dir', str(work_dir), '--cfg-options'] + options)
    ckpt_path = work_dir / 'iter_4.pth'
    assert ckpt_path.is_file()
    assert glob.glob(str(work_dir / 'best_maxF_iter_4.pth'))
    ckpt = torch.load(str(ckpt_path), map_location='cpu')
    assert ckpt['meta']['iter'] == 4
    assert 'backbone.laplacian_kernel' in ckpt['state_dict']
    assert 'decode_head.lateral_coarse.conv.weight' in ckpt['state_dict']

    scalars = glob.glob(str(work_dir / '*' / 'vis_data' / 'scalars.json'))
    assert len(scalars) == 1
    records = [json.loads(line) for line in open(scalars[0]) if line.strip()]
    train_records = [r for r in records if 'decode.loss_soft_iou' in r]
    assert len(train_records) == 4  # one per iteration (logger interval 1)
    for r in train_records:
        siou, ce = r['decode.loss_soft_iou'], r['decode.loss_ce']
        assert 0.0 <= siou <= 1.0 and math.isfinite(ce)
        # the soft IoU term is part of the optimised total
        assert r['loss'] == pytest.approx(siou + ce, abs=1e-4)
    assert any('maxF' in r for r in records)  # validation ran at iteration 4
