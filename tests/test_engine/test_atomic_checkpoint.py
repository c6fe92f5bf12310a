"""Atomic checkpoint writes: AtomicCheckpointHook and dbdseg.utils.fileio's atomic_write_*.

A "kill while saving" is simulated by a file backend that writes half of the checkpoint and then
raises (``test_resume_after_kill.py`` does it with a real SIGKILL). With mmengine's plain
CheckpointHook the same leaves a truncated checkpoint under its final name (the control case).
"""
import os
import uuid

import pytest
import torch
import torch.nn as nn
from mmengine.fileio.backends.local_backend import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from dbdseg.engine.hooks import AtomicCheckpointHook, RNGStateHook
from dbdseg.registry import DATASETS, MODELS
from dbdseg.utils import fileio
from dbdseg.utils.checkpoint import install_checkpoint_guard

# as the entry points do before loading a checkpoint (the resumes and torch.load calls below)
install_checkpoint_guard()


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
            return dict(loss=((out - targets)**2).mean())
        return out


@DATASETS.register_module(force=True)
class _AtomicToyData(Dataset):
    metainfo = dict(classes=('background', 'foreground'))

    def __len__(self):
        return 4

    def __getitem__(self, idx):
        return dict(inputs=torch.tensor([float(idx), 1.0]), targets=torch.tensor([float(idx)]))


def _runner(work_dir, checkpoint_type='CheckpointHook', custom_hooks=(), max_iters=2, **ckpt):
    return Runner.from_cfg(
        dict(
            default_scope='mmseg',
            model=dict(type='_AtomicToyModel'),
            work_dir=str(work_dir),
            train_dataloader=dict(
                dataset=dict(type='_AtomicToyData'),
                sampler=dict(type='DefaultSampler', shuffle=False),
                collate_fn=dict(type='default_collate'),
                batch_size=2,
                num_workers=0),
            train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
            default_hooks=dict(
                checkpoint=dict(type=checkpoint_type, by_epoch=False, interval=2, **ckpt)),
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
    real = fileio.atomic_write_text

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


def test_checkpoint_hook_class_is_the_configs_choice(tmp_path):
    """RNGStateHook no longer swaps the class of the runner's CheckpointHook: a config gets atomic
    writes by naming AtomicCheckpointHook in default_hooks.checkpoint (as dbdseg's schedules do)
    and mmengine's plain behaviour by naming CheckpointHook."""
    plain = _runner(tmp_path / 'a', custom_hooks=[dict(type='RNGStateHook')])
    plain.call_hook('before_run')
    assert type(_checkpoint_hook(plain)) is CheckpointHook
    atomic = _runner(
        tmp_path / 'b', 'AtomicCheckpointHook', custom_hooks=[dict(type='RNGStateHook')])
    atomic.call_hook('before_run')
    hook = _checkpoint_hook(atomic)
    assert type(hook) is AtomicCheckpointHook and hook.interval == 2 and hook.fsync is True
    assert not hasattr(AtomicCheckpointHook, 'upgrade')
    with pytest.raises(TypeError, match='atomic_checkpoints'):
        RNGStateHook(atomic_checkpoints=True)
