"""A kill at any step of a checkpoint save leaves a loadable checkpoint (issue 17, item 2).

mmengine's ``CheckpointHook`` deletes the oldest checkpoint (``max_keep_ckpts``) and the previous
best checkpoint (``save_best``) *before* it writes the new one, so a kill while saving could leave
no checkpoint at all. ``AtomicCheckpointHook`` commits the new file and ``last_checkpoint`` first
and deletes the old files after.

Here a toy run saves every 4 iterations (with a validation whose score rises every time, so every
validation writes a new best checkpoint) and is "killed" at iteration 8 at one step of one save: a
``BaseException`` raised at that step (nothing of the hook catches it, so the files stay as a
SIGKILL would leave them; ``test_resume_after_kill.py`` and the SIGKILL test below do it with a
real kill). Then, as a fresh process would see the work dir:

* ``last_checkpoint`` names a complete checkpoint of iteration 4 or 8;
* the best checkpoint recorded in it exists and loads;
* ``--resume`` continues from it (not from iteration 0) and ends with exactly the checkpoints that
  ``max_keep_ckpts`` and ``save_best`` ask for (nothing lost, nothing left over).
"""
import itertools
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import uuid

import pytest
import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric
from mmengine.fileio.backends.local_backend import LocalBackend
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import dbdseg.engine.hooks.atomic_checkpoint_hook as hook_module
from dbdseg.registry import DATASETS, METRICS, MODELS
from dbdseg.utils.checkpoint import install_checkpoint_guard

install_checkpoint_guard()  # as the entry points do before loading a checkpoint

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class _Killed(BaseException):
    """Stands for SIGKILL: no ``except Exception`` catches it."""


@MODELS.register_module(force=True)
class _KillStepToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, targets=None, mode='tensor'):
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=((out - targets)**2).mean())
        return out


@DATASETS.register_module(force=True)
class _KillStepToyData(Dataset):
    metainfo = dict(classes=('background', 'foreground'))

    def __len__(self):
        return 4

    def __getitem__(self, idx):
        return dict(inputs=torch.tensor([float(idx), 1.0]), targets=torch.tensor([float(idx)]))


_SCORES = itertools.count(1)


@METRICS.register_module(force=True)
class _RisingScoreMetric(BaseMetric):
    """A score that rises at every evaluation: every validation is a new best."""

    def process(self, data_batch, data_samples):
        self.results.append(1)

    def compute_metrics(self, results):
        return dict(score=float(next(_SCORES)))


def _runner(work_dir, max_keep_ckpts, max_iters=8, resume=False):
    # InfiniteSampler: mmengine sleeps 2 s each time a DefaultSampler's epoch ends in training
    loader = dict(
        dataset=dict(type='_KillStepToyData'),
        sampler=dict(type='InfiniteSampler', shuffle=False),
        collate_fn=dict(type='default_collate'),
        batch_size=2,
        num_workers=0)
    return Runner.from_cfg(
        dict(
            default_scope='mmseg',
            model=dict(type='_KillStepToyModel'),
            work_dir=str(work_dir),
            train_dataloader=loader,
            val_dataloader=dict(loader, sampler=dict(type='DefaultSampler', shuffle=False)),
            val_evaluator=dict(type='_RisingScoreMetric'),
            train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=4),
            val_cfg=dict(type='ValLoop'),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
            default_hooks=dict(
                checkpoint=dict(
                    type='AtomicCheckpointHook',
                    by_epoch=False,
                    interval=4,
                    max_keep_ckpts=max_keep_ckpts,
                    save_best='score',
                    rule='greater',
                    fsync=False)),
            resume=resume,
            log_level='WARNING',
            experiment_name=f'killstep_{uuid.uuid4().hex[:10]}',
            randomness=dict(seed=0),
            env_cfg=dict(dist_cfg=dict(backend='gloo'))))


def _arm(monkeypatch, target, step, at, old_iter):
    """Raise ``_Killed`` at ``step`` of the save of ``target`` at iteration ``at``.

    target 'iter': the regular save of ``iter_<at>.pth`` (and the deletion of
    ``iter_<old_iter>.pth`` that ``max_keep_ckpts`` asks for); 'best': the save of the new best
    checkpoint ``best_score_iter_<at>.pth`` (step 'resave': the re-save of ``iter_<at>.pth`` that
    records it; 'deletion': the deletion of the previous best ``best_score_iter_<at - 4>.pth``).
    """
    iter_name, best_name = f'iter_{at}.pth', f'best_score_iter_{at}.pth'
    name = iter_name if target == 'iter' else best_name
    old = f'iter_{old_iter}.pth' if target == 'iter' else f'best_score_iter_{at - 4}.pth'
    real_put, real_remove = LocalBackend.put, LocalBackend.remove
    real_commit, real_text = hook_module.commit_file, hook_module.atomic_write_text
    best_written = []

    def writes(filepath, ckpt_name):  # a write of `ckpt_name`, directly or as a temporary file
        base = osp.basename(filepath)
        return base == ckpt_name or re.fullmatch(rf'\.tmp_\d+_{re.escape(ckpt_name)}\.part', base)

    def half_write_and_die(obj, filepath):
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2])
        raise _Killed(filepath)

    def put(backend, obj, filepath):
        if writes(filepath, best_name):
            best_written.append(filepath)
        if step == 'resave':
            if best_written and writes(filepath, iter_name):
                half_write_and_die(obj, filepath)
        elif writes(filepath, name):
            if step == 'before_temp':
                raise _Killed(filepath)
            if step == 'during_temp':
                half_write_and_die(obj, filepath)
        return real_put(backend, obj, filepath)

    def commit_file(tmp, dst, **kwargs):
        real_commit(tmp, dst, **kwargs)
        if step == 'after_rename' and osp.basename(dst) == name:
            raise _Killed(dst)

    def atomic_write_text(path, text, **kwargs):
        if step == 'last_checkpoint' and text.endswith(name):
            raise _Killed(path)
        return real_text(path, text, **kwargs)

    def remove(backend, filepath):
        if step == 'deletion' and osp.basename(filepath) == old:
            raise _Killed(filepath)
        return real_remove(backend, filepath)

    monkeypatch.setattr(LocalBackend, 'put', put)
    monkeypatch.setattr(LocalBackend, 'remove', remove)
    monkeypatch.setattr(hook_module, 'commit_file', commit_file)
    monkeypatch.setattr(hook_module, 'atomic_write_text', atomic_write_text)


def _load(path):
    return torch.load(str(path), map_location='cpu')


def _check_work_dir_after_kill(work, at=8):
    """What a new process finds: a complete last checkpoint, its best checkpoint present."""
    record = work / 'last_checkpoint'
    assert record.is_file(), sorted(os.listdir(work))
    last = work / osp.basename(record.read_text())
    assert last.is_file(), (f'last_checkpoint names a missing file {last.name}',
                            sorted(os.listdir(work)))
    ckpt = _load(last)  # complete: loads
    assert ckpt['meta']['iter'] in (at - 4, at)
    best = ckpt['message_hub']['runtime_info'].get('best_ckpt')
    assert best is not None
    assert (work / osp.basename(best)).is_file(), (f'the recorded best {best} is missing',
                                                   sorted(os.listdir(work)))
    _load(work / osp.basename(best))
    return ckpt['meta']['iter']


def _expected_files(max_keep_ckpts, last=12):
    iters = list(range(4, last + 1, 4))
    iters = iters[-max_keep_ckpts:] if max_keep_ckpts > 0 else iters
    return sorted([f'iter_{i}.pth' for i in iters] + [f'best_score_iter_{last}.pth'])


ITER_STEPS = ['before_temp', 'during_temp', 'after_rename', 'last_checkpoint', 'deletion']
BEST_STEPS = ['before_temp', 'during_temp', 'after_rename', 'resave', 'deletion']
CASES = [(k, 'iter', s) for k in (1, 2, -1) for s in ITER_STEPS
         if not (k == -1 and s == 'deletion')]
CASES += [(k, 'best', s) for k in (1, 2, -1) for s in BEST_STEPS]


@pytest.mark.parametrize('max_keep_ckpts,target,step', CASES)
def test_kill_at_each_step_of_a_save_loses_nothing(tmp_path, monkeypatch, max_keep_ckpts, target,
                                                   step):
    # with max_keep_ckpts=2 the first deletion comes with the third checkpoint (iteration 12)
    at = 12 if max_keep_ckpts == 2 else 8
    work = tmp_path / 'work'
    _arm(monkeypatch, target, step, at, at - 4 * max(max_keep_ckpts, 1))
    with pytest.raises(_Killed):
        _runner(work, max_keep_ckpts, max_iters=at).train()
    monkeypatch.undo()

    resumed_from = _check_work_dir_after_kill(work, at)
    if step in ('before_temp', 'during_temp') and target == 'iter':
        assert resumed_from == at - 4  # the new one was never committed: the previous is intact

    runner = _runner(work, max_keep_ckpts, max_iters=at + 4, resume=True)
    runner.train()
    assert runner.iter == at + 4
    files = sorted(n for n in os.listdir(work) if n.endswith('.pth') and not n.startswith('.'))
    assert files == _expected_files(max_keep_ckpts, at + 4)
    assert (work / 'last_checkpoint').read_text() == str(work / f'iter_{at + 4}.pth')
    assert not [n for n in os.listdir(work) if n.endswith(('.part', '.tmp'))]


@pytest.mark.parametrize('max_keep_ckpts', [1, 2, -1])
def test_uninterrupted_run_keeps_what_max_keep_ckpts_asks(tmp_path, max_keep_ckpts):
    runner = _runner(tmp_path, max_keep_ckpts, max_iters=12)
    runner.train()
    files = sorted(n for n in os.listdir(tmp_path) if n.endswith('.pth'))
    assert files == _expected_files(max_keep_ckpts)
    assert _load(tmp_path / 'iter_12.pth')['message_hub']['runtime_info']['best_ckpt'] == str(
        tmp_path / 'best_score_iter_12.pth')


KILL_SCRIPT = '''
import os, signal, sys
sys.path.insert(0, {test_dir!r})
import {module} as t
from mmengine.fileio.backends.local_backend import LocalBackend
from dbdseg.utils import register_all_modules
register_all_modules(init_default_scope=False)
real_remove = LocalBackend.remove

def remove(backend, filepath):  # SIGKILL in the middle of the deletion of the old checkpoint
    if not {during_write!r} and os.path.basename(filepath) == 'iter_4.pth':
        os.kill(os.getpid(), signal.SIGKILL)
    return real_remove(backend, filepath)

real_put = LocalBackend.put

def put(backend, obj, filepath):  # SIGKILL half-way through writing iter_8.pth
    if {during_write!r} and 'iter_8.pth' in filepath:
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2])
            f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return real_put(backend, obj, filepath)

LocalBackend.remove = remove
LocalBackend.put = put
t._runner({work!r}, 1).train()
'''


@pytest.mark.parametrize('during_write', [True, False], ids=['while_writing', 'while_deleting'])
def test_sigkill_while_saving_with_max_keep_ckpts_1(tmp_path, during_write):
    """A real SIGKILL (a subprocess): while ``iter_8.pth`` is written, and while ``iter_4.pth``
    is deleted; ``max_keep_ckpts=1`` as the demo config."""
    work = tmp_path / 'work'
    script = tmp_path / 'kill.py'
    script.write_text(
        KILL_SCRIPT.format(
            test_dir=osp.dirname(__file__),
            module=osp.splitext(osp.basename(__file__))[0],
            during_write=during_write,
            work=str(work)))
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    env['PYTHONPATH'] = os.pathsep.join([REPO_ROOT, env.get('PYTHONPATH', '')])
    proc = subprocess.run([sys.executable, str(script)],
                          capture_output=True,
                          text=True,
                          env=env,
                          timeout=300,
                          cwd=str(tmp_path))
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    resumed_from = _check_work_dir_after_kill(work)
    assert resumed_from == (4 if during_write else 8)
    runner = _runner(work, 1, max_iters=12, resume=True)
    runner.train()
    assert runner.iter == 12
    assert sorted(n for n in os.listdir(work) if n.endswith('.pth')) == _expected_files(1)


def test_a_best_file_of_another_run_is_not_adopted(tmp_path, monkeypatch, capsys):
    """Resuming from ``iter_8.pth`` whose recorded best is ``best_score_iter_4.pth``, with a
    ``best_score_iter_8.pth`` of other weights in the folder (left by another run): kept as it is,
    not taken for this run's best."""
    work = tmp_path / 'work'
    _arm(monkeypatch, 'best', 'before_temp', 8, 4)
    with pytest.raises(_Killed):
        _runner(work, -1).train()
    monkeypatch.undo()
    foreign = work / 'best_score_iter_8.pth'
    foreign.write_bytes((work / 'iter_4.pth').read_bytes())  # weights of iteration 4, not 8
    capsys.readouterr()
    runner = _runner(work, -1, max_iters=12, resume=True)
    runner.train()
    assert 'not adopted as the best checkpoint' in capsys.readouterr().out
    assert foreign.read_bytes() == (work / 'iter_4.pth').read_bytes()
    files = sorted(n for n in os.listdir(work) if n.endswith('.pth'))
    assert files == [
        'best_score_iter_12.pth', 'best_score_iter_8.pth', 'iter_12.pth', 'iter_4.pth', 'iter_8.pth'
    ]
