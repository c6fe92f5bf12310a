"""Atomic checkpoint writes: AtomicCheckpointHook, the RNGStateHook upgrade, atomic_write_*.

A "kill while saving" is simulated by a file backend that writes half of the checkpoint and then
raises (``test_resume_after_kill.py`` does it with a real SIGKILL). With mmengine's plain
CheckpointHook the same leaves a truncated checkpoint under its final name (the control case).
"""
import os
import stat
import uuid

import pytest
import torch
import torch.nn as nn
from mmengine.fileio.backends.local_backend import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import dbdseg  # noqa: F401
from dbdseg.engine.hooks import AtomicCheckpointHook, RNGStateHook
from dbdseg.registry import DATASETS, MODELS
from dbdseg.utils import checkpoint as ckpt_utils


class _Killed(BaseException):
    pass


@MODELS.register_module(force=True)
class _AtomicToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, targets, mode='tensor'):
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=((out - targets) ** 2).mean())
        return out


@DATASETS.register_module(force=True)
class _AtomicToyData(Dataset):
    metainfo = dict(classes=('background', 'foreground'))

    def __len__(self):
        return 4

    def __getitem__(self, idx):
        return dict(inputs=torch.tensor([float(idx), 1.0]), targets=torch.tensor([float(idx)]))


class _ExtraCheckpointHook(CheckpointHook):
    """A user subclass: left alone by the upgrade."""


def _runner(work_dir, checkpoint_type='CheckpointHook', custom_hooks=(), max_iters=2, **ckpt):
    return Runner.from_cfg(dict(
        default_scope='mmseg',
        model=dict(type='_AtomicToyModel'),
        work_dir=str(work_dir),
        train_dataloader=dict(dataset=dict(type='_AtomicToyData'),
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              collate_fn=dict(type='default_collate'), batch_size=2,
                              num_workers=0),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=dict(type=checkpoint_type, by_epoch=False, interval=2,
                                           **ckpt)),
        custom_hooks=list(custom_hooks),
        log_level='WARNING',
        experiment_name=f'atomic_{uuid.uuid4().hex[:10]}',
        randomness=dict(seed=0),
        env_cfg=dict(dist_cfg=dict(backend='gloo'))))


def _checkpoint_hook(runner):
    return next(h for h in runner.hooks if isinstance(h, CheckpointHook))


def _half_write_then_die(monkeypatch):
    def put(backend, obj, filepath):
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2])
        raise _Killed(filepath)

    monkeypatch.setattr(LocalBackend, 'put', put)


def _resave(runner):
    """What CheckpointHook._save_best_checkpoint does after a new best score: write the last
    checkpoint again under the same name."""
    hook = _checkpoint_hook(runner)
    hook._save_checkpoint_with_step(runner, runner.iter, dict(epoch=0, iter=runner.iter))


@pytest.mark.parametrize('checkpoint_type', ['AtomicCheckpointHook', 'CheckpointHook'])
def test_kill_while_overwriting_the_last_checkpoint(tmp_path, monkeypatch, checkpoint_type):
    runner = _runner(tmp_path, checkpoint_type)
    runner.train()
    path = tmp_path / 'iter_2.pth'
    good = path.read_bytes()
    record = (tmp_path / 'last_checkpoint').read_text()
    _half_write_then_die(monkeypatch)
    with pytest.raises(_Killed):
        _resave(runner)
    monkeypatch.undo()
    if checkpoint_type == 'AtomicCheckpointHook':
        assert path.read_bytes() == good  # the complete previous file
        assert torch.load(str(path))['meta']['iter'] == 2
        assert (tmp_path / 'last_checkpoint').read_text() == record
        parts = [p.name for p in tmp_path.iterdir() if p.name.endswith('.part')]
        assert len(parts) == 1 and parts[0].startswith(f'.tmp_{os.getpid()}_iter_2.pth')
        # the next run removes the stale temporary file and resumes from the intact checkpoint
        resumed = _runner(tmp_path, checkpoint_type, max_iters=4)
        resumed._resume = True
        resumed.train()
        assert resumed.iter == 4
        assert not [p for p in tmp_path.iterdir() if p.name.endswith('.part')]
    else:  # mmengine's hook: the latest checkpoint is truncated and cannot be loaded
        assert len(path.read_bytes()) == len(good) // 2
        with pytest.raises(Exception):
            torch.load(str(path))


def test_last_checkpoint_is_written_atomically(tmp_path, monkeypatch):
    calls = []
    real = ckpt_utils.atomic_write_text

    def spy(path, text, **kwargs):
        calls.append((os.path.basename(path), text))
        return real(path, text, **kwargs)

    import dbdseg.engine.hooks.atomic_checkpoint_hook as mod
    monkeypatch.setattr(mod, 'atomic_write_text', spy)
    runner = _runner(tmp_path, 'AtomicCheckpointHook', max_iters=4, fsync=False)
    runner.train()
    assert calls == [('last_checkpoint', str(tmp_path / 'iter_2.pth')),
                     ('last_checkpoint', str(tmp_path / 'iter_4.pth'))]
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'iter_4.pth')
    assert _checkpoint_hook(runner).fsync is False


def test_rng_state_hook_upgrades_plain_checkpoint_hooks(tmp_path):
    runner = _runner(tmp_path / 'a', custom_hooks=[dict(type='RNGStateHook')])
    runner.call_hook('before_run')
    hook = _checkpoint_hook(runner)
    assert type(hook) is AtomicCheckpointHook and hook.interval == 2  # settings kept
    off = _runner(tmp_path / 'b', custom_hooks=[dict(type='RNGStateHook',
                                                     atomic_checkpoints=False)])
    off.call_hook('before_run')
    assert type(_checkpoint_hook(off)) is CheckpointHook
    runner = _runner(tmp_path / 'c', custom_hooks=[dict(type='RNGStateHook')])
    runner._hooks = [h for h in runner._hooks if not isinstance(h, CheckpointHook)]
    runner.register_hook(_ExtraCheckpointHook(interval=2, by_epoch=False), 'VERY_LOW')
    assert AtomicCheckpointHook.upgrade(runner) == 0
    assert type(_checkpoint_hook(runner)) is _ExtraCheckpointHook
    assert isinstance(RNGStateHook(), RNGStateHook)


def test_atomic_write_bytes_keeps_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / 'sub' / 'record.txt'
    ckpt_utils.atomic_write_text(str(target), 'first')
    assert target.read_text() == 'first'
    mode = stat.S_IMODE(os.stat(target).st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # as open() would create it, not mkstemp's 0600

    def boom(src, dst):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'replace', boom)
    with pytest.raises(OSError, match='record.txt'):
        ckpt_utils.atomic_write_text(str(target), 'second')
    monkeypatch.undo()
    assert target.read_text() == 'first'
    assert os.listdir(target.parent) == ['record.txt']  # the temporary file was removed


def test_atomic_write_into_unwritable_place_names_it(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('x')
    with pytest.raises(OSError, match='a_file'):
        ckpt_utils.atomic_write_bytes(str(blocker / 'inside.bin'), b'data')
