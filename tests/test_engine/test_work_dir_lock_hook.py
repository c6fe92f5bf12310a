"""Two training runs on one work dir (issue 17, item 3): ``AtomicCheckpointHook`` locks the work
dir of a training run; a second run is refused naming the first one; a lock left by a killed run
is taken over and reported; the lock goes with the run's end, also when it fails; a commit whose
temporary file vanished raises instead of being skipped."""
import json
import os
import os.path as osp
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest
import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric
from mmengine.fileio.backends.local_backend import LocalBackend
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from dbdseg.registry import DATASETS, HOOKS, METRICS, MODELS
from dbdseg.utils.checkpoint import install_checkpoint_guard
from dbdseg.utils.work_dir_lock import LOCK_NAME, WorkDirLock, WorkDirLockedError

install_checkpoint_guard()  # as the entry points do before loading a checkpoint

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MODULE = osp.splitext(osp.basename(__file__))[0]


@MODELS.register_module(force=True)
class _LockToyModel(BaseModel):

    def __init__(self, fail_at=None):
        super().__init__()
        self.linear = nn.Linear(2, 1)
        self.fail_at = fail_at
        self.calls = 0

    def forward(self, inputs, targets=None, mode='tensor'):
        self.calls += 1
        if self.fail_at is not None and self.calls >= self.fail_at and mode == 'loss':
            raise RuntimeError('training failed')
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=((out - targets)**2).mean())
        return out


@DATASETS.register_module(force=True)
class _LockToyData(Dataset):
    metainfo = dict(classes=('background', 'foreground'))

    def __len__(self):
        return 4

    def __getitem__(self, idx):
        return dict(inputs=torch.tensor([float(idx), 1.0]), targets=torch.tensor([float(idx)]))


@METRICS.register_module(force=True)
class _LockCountMetric(BaseMetric):

    def process(self, data_batch, data_samples):
        self.results.extend([1] * len(data_samples))

    def compute_metrics(self, results):
        return dict(n=len(results))


@HOOKS.register_module(force=True)
class _PauseHook(Hook):
    """At iteration ``at``: records the lock file, writes ``ready``, waits for ``go``."""

    def __init__(self, at=2, folder=None):
        self.at, self.folder = at, folder

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 != self.at:
            return
        lock = osp.join(runner.work_dir, LOCK_NAME)
        record = open(lock).read() if osp.isfile(lock) else None
        with open(osp.join(self.folder, 'ready'), 'w') as f:
            json.dump(dict(lock=record), f)
        deadline = time.time() + 120
        while not osp.exists(osp.join(self.folder, 'go')) and time.time() < deadline:
            time.sleep(0.05)


def _runner(work_dir,
            max_iters=4,
            custom_hooks=(),
            fail_at=None,
            resume=False,
            load_from=None,
            **ckpt):
    return Runner.from_cfg(
        dict(
            default_scope='mmseg',
            model=dict(type='_LockToyModel', fail_at=fail_at),
            work_dir=str(work_dir),
            train_dataloader=dict(
                dataset=dict(type='_LockToyData'),
                sampler=dict(type='InfiniteSampler', shuffle=False),
                collate_fn=dict(type='default_collate'),
                batch_size=2,
                num_workers=0),
            train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
            default_hooks=dict(
                checkpoint=dict(
                    type='AtomicCheckpointHook', by_epoch=False, interval=2, fsync=False, **ckpt)),
            custom_hooks=list(custom_hooks),
            resume=resume,
            load_from=load_from,
            log_level='WARNING',
            experiment_name=f'lock_{uuid.uuid4().hex[:10]}',
            randomness=dict(seed=0),
            env_cfg=dict(dist_cfg=dict(backend='gloo'))))


def _env():
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    env['PYTHONPATH'] = os.pathsep.join(
        [REPO_ROOT, osp.dirname(__file__),
         env.get('PYTHONPATH', '')])
    return env


FIRST_RUN = '''
import sys
from dbdseg.utils import register_all_modules
register_all_modules(init_default_scope=False)
import {module} as t
t._runner(sys.argv[1], custom_hooks=[dict(type='_PauseHook', at=3, folder=sys.argv[2])]).train()
'''


def _wait_for(path, proc, timeout=120):
    deadline = time.time() + timeout
    while not osp.exists(path):
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read()[-3000:])
        assert time.time() < deadline, 'the first run did not start'
        time.sleep(0.05)


def test_second_training_run_on_the_same_work_dir_is_refused(tmp_path):
    work, signals = tmp_path / 'work', tmp_path / 'signals'
    signals.mkdir()
    script = tmp_path / 'first.py'
    script.write_text(FIRST_RUN.format(module=MODULE))
    first = subprocess.Popen([sys.executable, str(script),
                              str(work), str(signals)],
                             stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE,
                             text=True,
                             env=_env(),
                             cwd=str(tmp_path))
    try:
        _wait_for(signals / 'ready', first)  # the first run is in iteration 3, iter_2.pth saved
        record = json.loads(json.loads((signals / 'ready').read_text())['lock'])
        assert record['pid'] == first.pid and record['host'] == socket.gethostname()
        (work / f'.tmp_{first.pid}_iter_4.pth.part').write_bytes(b'in flight')  # as while saving
        before = sorted(os.listdir(work))

        with pytest.raises(WorkDirLockedError) as info:
            _runner(work, max_iters=6).train()
        message = str(info.value)
        assert f'pid {first.pid} on host {socket.gethostname()}' in message
        assert str(work / LOCK_NAME) in message and 'in use by another training run' in message
        # the second run touched nothing of the first run's checkpoints
        assert [n for n in sorted(os.listdir(work)) if n in before] == before
        assert (work / f'.tmp_{first.pid}_iter_4.pth.part').read_bytes() == b'in flight'
        (work / f'.tmp_{first.pid}_iter_4.pth.part').unlink()
    finally:
        (signals / 'go').write_text('')
        _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-3000:]
    assert torch.load(str(work / 'iter_4.pth'))['meta']['iter'] == 4
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_4.pth')
    assert not (work / LOCK_NAME).exists()  # released at the end
    # now the work dir is free: the second run resumes the first one
    runner = _runner(work, max_iters=6, resume=True)
    runner.train()
    assert runner.iter == 6


HOLD_LOCK = '''
import sys, time
from dbdseg.utils.work_dir_lock import WorkDirLock
lock = WorkDirLock(sys.argv[1]).acquire()
print('locked', flush=True)
time.sleep(300)
'''


def test_lock_of_a_killed_run_is_taken_over_and_reported(tmp_path, capsys):
    work = tmp_path / 'work'
    holder = subprocess.Popen(
        [sys.executable, '-c', HOLD_LOCK, str(work)], stdout=subprocess.PIPE, text=True, env=_env())
    assert holder.stdout.readline().strip() == 'locked'
    with pytest.raises(WorkDirLockedError, match=f'pid {holder.pid} '):
        _runner(work).train()
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=60)
    assert json.loads((work / LOCK_NAME).read_text())['pid'] == holder.pid  # left behind

    capsys.readouterr()
    runner = _runner(work)
    runner.train()
    assert runner.iter == 4
    out = capsys.readouterr().out
    assert f'was left by pid {holder.pid} on host {socket.gethostname()}' in out
    assert 'no longer runs' in out and 'lock taken over' in out
    assert not (work / LOCK_NAME).exists()


def _lock_record(work):
    return json.loads((work / LOCK_NAME).read_text())


def test_lock_is_held_during_training_and_released_on_errors(tmp_path):
    signals = tmp_path / 'signals'
    signals.mkdir()
    (signals / 'go').write_text('')
    work = tmp_path / 'work'
    runner = _runner(work, custom_hooks=[dict(type='_PauseHook', at=1, folder=str(signals))])
    runner.train()
    held = json.loads(json.loads((signals / 'ready').read_text())['lock'])
    assert held['pid'] == os.getpid() and held['host'] == socket.gethostname()
    assert not (work / LOCK_NAME).exists()

    # an exception in training (mmengine calls no hook then): released
    with pytest.raises(RuntimeError, match='training failed'):
        _runner(work, max_iters=8, fail_at=3).train()
    assert not (work / LOCK_NAME).exists()
    # an exception while resuming (a damaged checkpoint): released
    (work / 'broken.pth').write_bytes(b'not a checkpoint')
    with pytest.raises(Exception):
        _runner(work, max_iters=8, load_from=str(work / 'broken.pth'), resume=True).train()
    assert not (work / LOCK_NAME).exists()
    # and the work dir can be trained in again
    runner = _runner(work, max_iters=6, resume=True)
    runner.train()
    assert runner.iter == 6


def test_validation_and_test_runs_take_no_lock(tmp_path):
    """``tools/test.py`` on a work dir while it trains: allowed (it writes no checkpoints)."""
    work = tmp_path / 'work'
    _runner(work, max_iters=2).train()
    with WorkDirLock(work):  # a training run holds the work dir
        loader = dict(
            dataset=dict(type='_LockToyData'),
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=2)
        cfg = _runner(work).cfg
        cfg.update(
            val_dataloader=loader,
            val_cfg=dict(type='ValLoop'),
            val_evaluator=dict(type='_LockCountMetric'),
            load_from=str(work / 'iter_2.pth'),
            experiment_name=f'lockval_{uuid.uuid4().hex[:10]}')
        metrics = Runner.from_cfg(cfg).val()
    assert metrics == dict(n=4)


def test_vanished_temporary_file_is_not_skipped_silently(tmp_path, monkeypatch):
    """Another process removing the in-flight temporary file (what a second run's start-up did)
    must fail the save, not let ``last_checkpoint`` name a file that was never written."""
    real_put = LocalBackend.put

    def put(backend, obj, filepath):
        real_put(backend, obj, filepath)
        if 'iter_4.pth' in filepath:
            os.remove(filepath)

    monkeypatch.setattr(LocalBackend, 'put', put)
    with pytest.raises(OSError, match='vanished') as info:
        _runner(tmp_path).train()
    assert str(tmp_path / 'iter_4.pth') in str(info.value)
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'iter_2.pth')
    assert not (tmp_path / LOCK_NAME).exists()
