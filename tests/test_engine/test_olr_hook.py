"""A2S Online Label Rectification: OLREncoderDecoder's update (Eq. 14), OLRHook's lambda schedule,
snapshots and resume, and a tiny end-to-end Runner training (the bank: ``test_label_bank.py``)."""
import os
import os.path as osp
import types
import uuid

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope
from mmengine.runner import EpochBasedTrainLoop, Runner
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from dbdseg.engine import OLRLabelBank
from dbdseg.engine.hooks import OLRHook
from dbdseg.models.segmentors import OLREncoderDecoder
from dbdseg.models.segmentors.olr_encoder_decoder import flip_map
from dbdseg.registry import HOOKS, MODELS

init_default_scope('mmseg')

H = W = 32
HEAD = dict(
    type='RAMHead',
    in_channels=(8, 8, 16, 32, 64),
    channels=8,
    global_channels=16,
    norm_cfg=dict(type='GN', num_groups=4),
    global_norm_cfg=dict(type='GN', num_groups=8),
    loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=True, avg_non_ignore=True, loss_name='loss_bce'),
        dict(type='SSIMLoss'),
        dict(type='IoULoss')
    ])
MODEL = dict(
    type='OLREncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[127.5] * 3,
        std=[64.0] * 3,
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=(H, W)),
    backbone=dict(type='ResNetWithStem', depth=18, stem_channels=8, base_channels=8),
    decode_head=HEAD,
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
PATHS = [f'/data/img_{i}.jpg' for i in range(4)]


def _model(**kw):
    torch.manual_seed(0)
    cfg = dict(MODEL)
    cfg.update(kw)
    return MODELS.build(cfg)


def _bank(tmp_path, name='bank', paths=PATHS):
    return OLRLabelBank(str(tmp_path / name), paths, H, W, mode='create')


def _sample(path, label, flip=False, direction='horizontal'):
    meta = dict(
        img_path=path,
        img_shape=(H, W),
        ori_shape=(H, W),
        flip=flip,
        flip_direction=direction if flip else None)
    return SegDataSample(metainfo=meta, gt_pseudo_label=PixelData(data=label[None].float()))


def _rand(seed, shape=(H, W)):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------------- segmentor
@pytest.mark.parametrize('direction', ['horizontal', 'vertical', 'diagonal'])
def test_flip_map_is_its_own_inverse(direction):
    x = _rand(0, (2, 3, 5))
    y = flip_map(x, True, direction)
    assert not torch.equal(x, y) and torch.equal(flip_map(y, True, direction), x)
    assert flip_map(x, False, None) is x
    with pytest.raises(ValueError, match='flip_direction'):
        flip_map(x, True, 'sideways')


def _olr_batch(bank, g):
    """Samples of rows 1 (not flipped) and 3 (flipped horizontally, 255 padding on 4 rows)."""
    bank.init_rows(np.arange(4), g)
    packed1 = _rand(21)
    packed3 = flip_map(torch.from_numpy(g[3]), True, 'horizontal').clone()
    packed3[-4:] = 255  # padding (sample orientation)
    return [_sample(PATHS[1], packed1), _sample(PATHS[3], packed3, flip=True)]


def test_olr_writes_exactly_eq14_for_the_batch(tmp_path):
    model = _model().train()
    bank = _bank(tmp_path)
    g = np.stack([_rand(i).numpy() for i in range(4)])
    samples = _olr_batch(bank, g)
    model.olr_bank, model.olr_lambda = bank, 0.4
    inputs = torch.randn(2, 3, H, W, generator=torch.Generator().manual_seed(3))
    losses = model.loss(inputs, samples)
    assert set(losses) == {
        'decode.loss_bce', 'decode.loss_ssim', 'decode.loss_iou', 'decode.acc_seg'
    }
    # targets: the bank rows (before the update) in the samples' orientation, 255 on padding
    t1 = samples[0].gt_sem_seg.data[0]
    t3 = samples[1].gt_sem_seg.data[0]
    assert torch.equal(t1, torch.from_numpy(g[1]))
    flipped3 = torch.from_numpy(g[3]).flip(-1)
    assert torch.equal(t3[:-4], flipped3[:-4]) and (t3[-4:] == 255).all()
    # the same forward pass again (no optimizer step, BN in train mode uses batch statistics)
    with torch.no_grad():
        y = model.decode_head.forward(model.extract_feat(inputs))
        y = F.interpolate(y, size=(H, W), mode='bilinear', align_corners=False).sigmoid()[:, 0]
    out = bank.read(np.arange(4))
    np.testing.assert_array_equal(out[0], g[0])  # other rows untouched
    np.testing.assert_array_equal(out[2], g[2])
    np.testing.assert_allclose(out[1], 0.4 * g[1] + 0.6 * y[0].numpy(), atol=1e-6)
    y3 = y[1].flip(-1).numpy()  # flip undone
    # padded rows of the flipped sample are the last 4 rows (vertical position unchanged by a
    # horizontal flip): untouched
    np.testing.assert_array_equal(out[3][-4:], g[3][-4:])
    np.testing.assert_allclose(out[3][:-4], (0.4 * g[3] + 0.6 * y3)[:-4], atol=1e-6)
    # gradients flow from the loss
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0


def test_olr_lambda_one_writes_nothing_but_initialises(tmp_path):
    model = _model().train()
    bank = _bank(tmp_path)
    model.olr_bank, model.olr_lambda = bank, 1.0
    packed = [_rand(30), _rand(31)]
    samples = [_sample(PATHS[0], packed[0]), _sample(PATHS[2], packed[1], flip=True)]
    before = bank.read(np.arange(4))
    model.loss(torch.randn(2, 3, H, W), samples)
    out = bank.read(np.arange(4))
    assert bank.is_initialised(np.array([0, 2])).all()
    assert not bank.is_initialised(np.array([1, 3])).any()
    np.testing.assert_array_equal(out[0], packed[0].numpy())  # G^1 = G
    np.testing.assert_array_equal(out[2], packed[1].flip(-1).numpy())  # stored unflipped
    np.testing.assert_array_equal(out[[1, 3]], before[[1, 3]])
    # the target of a first-seen image is its own pseudo label
    assert torch.equal(samples[1].gt_sem_seg.data[0], packed[1])
    # lambda 1 again: the bank stays bitwise equal
    model.loss(torch.randn(2, 3, H, W), samples)
    np.testing.assert_array_equal(bank.read(np.arange(4)), out)


def test_olr_segmentor_errors(tmp_path):
    model = _model().eval()  # batch of one: BatchNorm in eval mode
    samples = [_sample(PATHS[0], _rand(0))]
    with pytest.raises(ValueError, match='OLRHook'):
        model.loss(torch.randn(1, 3, H, W), samples)
    no_bank = _model(require_bank=False).eval()
    losses = no_bank.loss(torch.randn(1, 3, H, W), samples)  # fixed pseudo labels
    assert torch.isfinite(losses['decode.loss_bce'])
    model.olr_bank = _bank(tmp_path)
    bare = SegDataSample(metainfo=dict(img_path='/data/x.jpg'))
    with pytest.raises(ValueError, match='x.jpg.*pseudo_label_path'):
        model.loss(torch.randn(1, 3, H, W), [bare])
    with pytest.raises(ValueError, match='fixed size'):
        model.loss(torch.randn(1, 3, H, W), [_sample(PATHS[0], _rand(0, (H, W - 2)))])
    with pytest.raises(ValueError, match='not in the label bank'):
        model.loss(torch.randn(1, 3, H, W), [_sample('/data/new.jpg', _rand(0))])
    with pytest.raises(ValueError, match='auxiliary_head'):
        _model(auxiliary_head=dict(type='FCNHead', in_channels=64, channels=4, num_classes=2))


# ---------------------------------------------------------------------------------------- hook
def test_lambda_schedule():
    hook = OLRHook()
    assert [hook.lambda_at(e) for e in range(5)] == [1.0, 1.0, 0.4, 0.4, 0.4]
    hook = OLRHook(warmup_epochs=1, lam=0.7, warmup_lam=0.9)
    assert [hook.lambda_at(e) for e in range(3)] == [0.9, 0.7, 0.7]
    assert OLRHook(warmup_epochs=0).lambda_at(0) == 0.4
    for bad in (dict(lam=1.5), dict(warmup_lam=-0.1), dict(warmup_epochs=-1),
                dict(checkpoint_mode='disk'), dict(resolution=(0, 3))):
        with pytest.raises(ValueError):
            OLRHook(**bad)


class _Dataset:

    def __init__(self, paths):
        self.paths = paths

    def __len__(self):
        return len(self.paths)

    def get_data_info(self, i):
        return dict(img_path=self.paths[i])

    def __getitem__(self, i):
        torch.rand(1), np.random.rand()  # a pipeline with random transforms
        return dict(inputs=torch.zeros(3, H, W))


def _fake_runner(tmp_path, model, epoch=0, it=0):
    logger = types.SimpleNamespace(info=lambda *a, **k: None, warning=lambda *a, **k: None)
    return types.SimpleNamespace(
        model=model,
        train_loop=EpochBasedTrainLoop.__new__(EpochBasedTrainLoop),
        train_dataloader=types.SimpleNamespace(dataset=_Dataset(PATHS)),
        work_dir=str(tmp_path),
        epoch=epoch,
        iter=it,
        logger=logger)


@pytest.mark.parametrize('mode', ['snapshot', 'embed'])
def test_hook_restores_bank_on_resume_only(tmp_path, mode):
    model = types.SimpleNamespace(olr_bank=None, olr_lambda=1.0)
    hook = OLRHook(checkpoint_mode=mode)
    runner = _fake_runner(tmp_path, model)
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    hook.before_train(runner)
    # inferring the resolution from dataset[0] leaves the random streams as they were
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert (np.random.get_state()[1] == np_state[1]).all()
    assert np.random.get_state()[2] == np_state[2]
    bank = model.olr_bank
    assert bank is hook.bank and bank.shape == (H, W) and len(bank) == 4
    assert osp.isfile(osp.join(str(tmp_path), 'olr_bank', 'live', 'labels.npy'))
    g = np.stack([_rand(i).numpy() for i in range(4)])
    bank.init_rows(np.arange(4), g)
    ckpt = dict(meta=dict(epoch=3, iter=12))
    hook.before_save_checkpoint(runner, ckpt)
    assert ckpt['olr_bank']['mode'] == mode and ckpt['olr_bank']['name'] == 'epoch_3_iter_12'
    bank.update(np.arange(4), np.zeros((4, H, W), np.float32), 0.0)  # training went on
    # resume (epoch 3): the checkpoint's bank comes back, not the later live state
    model2 = types.SimpleNamespace(olr_bank=None, olr_lambda=1.0)
    hook2 = OLRHook(checkpoint_mode=mode)
    runner2 = _fake_runner(tmp_path, model2, epoch=3, it=12)
    hook2.after_load_checkpoint(runner2, ckpt)
    hook2.before_train(runner2)
    np.testing.assert_array_equal(model2.olr_bank.read(np.arange(4)), g)
    hook2.before_train_epoch(runner2)
    assert model2.olr_lambda == 0.4
    # load_from (epoch 0): a fresh bank, the checkpoint's is not used
    model3 = types.SimpleNamespace(olr_bank=None, olr_lambda=1.0)
    hook3 = OLRHook(checkpoint_mode=mode)
    runner3 = _fake_runner(tmp_path, model3)
    hook3.after_load_checkpoint(runner3, ckpt)
    hook3.before_train(runner3)
    assert not model3.olr_bank.is_initialised(np.arange(4)).any()
    assert model3.olr_bank.read(np.arange(4)).max() == 0


def test_hook_resume_errors_and_pruning(tmp_path):
    model = types.SimpleNamespace(olr_bank=None, olr_lambda=1.0)
    hook = OLRHook(max_keep_snapshots=2)
    runner = _fake_runner(tmp_path, model)
    hook.before_train(runner)
    for e in (1, 2, 3):
        hook.before_save_checkpoint(runner, dict(meta=dict(epoch=e, iter=2 * e)))
    snaps = sorted(os.listdir(osp.join(str(tmp_path), 'olr_bank', 'snapshots')))
    assert snaps == ['epoch_2_iter_4', 'epoch_3_iter_6']
    resumed = _fake_runner(
        tmp_path, types.SimpleNamespace(olr_bank=None, olr_lambda=1.0), epoch=1, it=2)
    gone = dict(olr_bank=dict(mode='snapshot', name='epoch_1_iter_2', snapshot_dir='/nowhere'))
    hook2 = OLRHook()
    hook2.after_load_checkpoint(resumed, gone)
    with pytest.raises(FileNotFoundError, match='reinit_on_missing'):
        hook2.before_train(resumed)
    hook3 = OLRHook()
    hook3.after_load_checkpoint(resumed, dict(meta={}))
    with pytest.raises(ValueError, match='no OLR label bank'):
        hook3.before_train(resumed)
    hook4 = OLRHook(reinit_on_missing=True)
    hook4.after_load_checkpoint(resumed, gone)
    hook4.before_train(resumed)  # warns, starts again
    with pytest.raises(ValueError, match='OLREncoderDecoder'):
        OLRHook().before_train(_fake_runner(tmp_path, types.SimpleNamespace()))
    bad_loop = _fake_runner(tmp_path, model)
    bad_loop.train_loop = object()
    with pytest.raises(ValueError, match='EpochBasedTrainLoop'):
        OLRHook().before_train(bad_loop)


# ------------------------------------------------------------------------------ end to end
_SEEN = []


@HOOKS.register_module(force=True)
class _BankProbeHook(Hook):
    """Test helper: copies the bank at the start of every training epoch."""
    priority = 'LOWEST'

    def before_train_epoch(self, runner):
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        _SEEN.append((runner.epoch, model.olr_lambda, model.olr_bank.read(np.arange(4))))


def _write_data(root):
    os.makedirs(osp.join(root, 'images'))
    os.makedirs(osp.join(root, 'pseudo'))
    rng = np.random.default_rng(0)
    labels = []
    for i in range(4):
        img = rng.integers(0, 256, size=(24, 36, 3), dtype=np.uint8)
        lab = np.zeros((24, 36), np.uint8)
        lab[4:20, 3 + 4 * i:20 + 4 * i] = 255  # asymmetric, so flips matter
        assert cv2.imwrite(osp.join(root, 'images', f'im{i}.png'), img)
        assert cv2.imwrite(osp.join(root, 'pseudo', f'im{i}.png'), lab)
        labels.append(cv2.resize(lab, (W, H), interpolation=cv2.INTER_NEAREST) / 255.0)
    return np.stack(labels).astype(np.float32)


def _cfg(root, work_dir, **kw):
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadBinaryAnnotations'),
        dict(type='Resize', scale=(W, H), keep_ratio=False),
        # every sample flipped: the bank must store the labels un-flipped (deterministic check)
        dict(type='RandomFlip', prob=1.0, direction='horizontal'),
        dict(type='PackBinarySegInputs'),
    ]
    cfg = dict(
        default_scope='mmseg',
        experiment_name=f'olr_{uuid.uuid4().hex[:8]}',
        work_dir=work_dir,
        model=MODEL,
        train_dataloader=dict(
            batch_size=2,
            num_workers=0,
            persistent_workers=False,
            sampler=dict(type='DefaultSampler', shuffle=True),
            dataset=dict(
                type='BinarySegDataset',
                data_root=root,
                data_prefix=dict(img_path='images', seg_map_path=None, pseudo_label_path='pseudo'),
                img_suffix='.png',
                pipeline=pipeline)),
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=2),
        optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[dict(type='OLRHook', warmup_epochs=1, lam=0.4),
                      dict(type='_BankProbeHook')],
        randomness=dict(seed=0),
        log_level='WARNING')
    cfg.update(kw)
    return cfg


def test_runner_two_epochs_and_resume(tmp_path, monkeypatch):
    root = str(tmp_path / 'data')
    labels = _write_data(root)
    work_dir = str(tmp_path / 'work')
    updates = []
    original = OLRLabelBank.update

    def recording_update(self, rows, y, lam, mask=None):
        updates.append((np.array(rows), np.array(y), lam, np.array(mask)))
        return original(self, rows, y, lam, mask)

    monkeypatch.setattr(OLRLabelBank, 'update', recording_update)
    flips = []
    original_targets = OLREncoderDecoder._bank_targets

    def recording_targets(self, inputs, data_samples):
        flips.extend(bool(s.metainfo.get('flip')) for s in data_samples)
        return original_targets(self, inputs, data_samples)

    monkeypatch.setattr(OLREncoderDecoder, '_bank_targets', recording_targets)
    cfg = _cfg(root, work_dir)
    runner = Runner.from_cfg(cfg)
    _SEEN.clear()
    runner.train()
    seen = list(_SEEN)
    assert [(e, lam) for e, lam, _ in seen] == [(0, 1.0), (1, 0.4)]
    bank = runner.model.olr_bank
    order = bank.rows_of([osp.join(root, 'images', f'im{i}.png') for i in range(4)])
    assert flips == [True] * 8
    # after epoch 1 (lambda 1): exactly the pseudo labels at the training size, unflipped
    after1 = seen[1][2]
    np.testing.assert_array_equal(after1[order], labels)
    snap1 = np.load(osp.join(work_dir, 'olr_bank', 'snapshots', 'epoch_1_iter_2', 'labels.npy'))
    np.testing.assert_array_equal(snap1, after1)
    # epoch 2 (lambda 0.4): each image updated once with G <- 0.4 G + 0.6 Y
    assert len(updates) == 2 and all(lam == 0.4 for _, _, lam, _ in updates)
    rows = np.concatenate([r for r, _, _, _ in updates])
    assert sorted(rows.tolist()) == [0, 1, 2, 3]
    y = np.concatenate([u for _, u, _, _ in updates])
    assert (y >= 0).all() and (y <= 1).all()
    final = bank.read(np.arange(4))
    np.testing.assert_allclose(final[rows], 0.4 * after1[rows] + 0.6 * y, atol=1e-6)
    assert not np.allclose(final, after1)
    ckpt = torch.load(osp.join(work_dir, 'epoch_2.pth'), map_location='cpu')
    assert ckpt['olr_bank']['name'] == 'epoch_2_iter_4'
    assert ckpt['olr_bank']['num_images'] == 4
    # resume from epoch 1 in the same work dir: the live bank (epoch-2 labels) is replaced by the
    # epoch-1 snapshot before the resumed epoch starts
    cfg2 = _cfg(root, work_dir, resume=True, load_from=osp.join(work_dir, 'epoch_1.pth'))
    runner2 = Runner.from_cfg(cfg2)
    _SEEN.clear()
    runner2.train()
    seen2 = list(_SEEN)
    assert [(e, lam) for e, lam, _ in seen2] == [(1, 0.4)]
    np.testing.assert_array_equal(seen2[0][2], after1)
