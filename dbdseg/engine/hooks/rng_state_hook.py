"""RNGStateHook: random-number states in checkpoints, for bit-exact resume after a kill.

mmengine 0.10.7 resumes weights, optimizer, schedulers and the message hub, and re-seeds the global
generators with the config's seed, but it does not store the random-number states. A run killed
after ``iter_k.pth`` and resumed with ``--resume`` therefore draws different random crops, flips,
dropout masks and patch swaps than the uninterrupted run from iteration k on, and ends with other
weights. This hook stores and restores them (dbdseg issue 9, item 2).

What is stored (``checkpoint['rng_state']``, only tensors and plain types, so it loads with
``weights_only=True``):

* per rank (gathered to rank 0 in a distributed run): Python ``random``, NumPy's global
  ``np.random`` (MT19937), torch's CPU generator and, when CUDA has been used, every CUDA
  device's generator;
* the training sampler (type, ``seed``, ``shuffle``, ``epoch``, world size, batch size, workers)
  and the epoch counter of mmengine's infinite-iterator wrapper, to check on resume that the data
  order is reproduced.

When they are captured: the states are the *training stream*, i.e. as they are right after
iteration k-1 finished (``after_train_iter``, priority 85, just before ``CheckpointHook`` at 90).
With ``isolate_validation=True`` (default) the hook also saves the states before each validation
and restores them after it, so validation never consumes training randomness (a resumed run does
not repeat the validation that followed the checkpoint in the killed run); best-score checkpoints
written during validation get the training stream too.

When they are restored: ``IterBasedTrainLoop`` resumes by fetching (and discarding) the first k
batches again to put the sampler and the dataloader workers where they were; that replay runs the
data transforms, which consume random numbers in the main process when ``num_workers=0``. The
hook therefore restores the states right *before batch k is fetched* (it wraps the loop's
dataloader iterator for that one call), not when the checkpoint is read. For
``EpochBasedTrainLoop`` (checkpoints at epoch ends) it restores them at the start of the first
resumed epoch.

What is exact (same final weights as an uninterrupted run of the same length, tested on CPU in
``tests/test_engine/test_resume_after_kill.py`` with a real SIGKILL):

* a fixed ``randomness=dict(seed=...)`` in the config (without it mmengine draws a new seed, the
  dataloader workers of the resumed run get other seeds);
* ``IterBasedTrainLoop`` with ``InfiniteSampler`` or ``DefaultSampler``, ``num_workers=0`` or
  ``> 0``, ``persistent_workers`` either way: workers are seeded by mmengine's
  ``worker_init_fn`` (``seed + rank * num_workers + worker_id``) when the iterator starts, batch i
  always goes to worker ``i % num_workers``, and the replay of k batches re-runs every worker's
  transforms, so each worker's generators are where they were; the main process is restored by
  this hook;
* ``EpochBasedTrainLoop`` when checkpoints are saved at epoch ends and workers are *not*
  persistent (a new iterator re-seeds the workers each epoch, identically in both runs);
* the same world size and the same per-rank batch size as the killed run;
* on CUDA additionally ``randomness.deterministic=True`` (cuDNN) and no non-deterministic
  kernels (atomics in some backward passes) — not checked by the CPU test suite.

What is not exact (resume works, the random streams differ; a warning says so where detectable):
``EpochBasedTrainLoop`` with ``persistent_workers=True`` and ``num_workers > 0`` (workers keep
their generators across epochs, the resumed run's workers start fresh), checkpoints saved in the
middle of an epoch of ``EpochBasedTrainLoop`` (mmengine restarts that epoch), a changed world
size, seed, sampler or batch size, and checkpoints without ``rng_state`` (written without this
hook).

Other training state (label banks such as A2S's online label refinement, EMA weights, ...): a hook
stores it in ``before_save_checkpoint(runner, checkpoint)`` under its own key (tensors / numpy
arrays / plain types only; ``before_save_checkpoint`` runs on rank 0 only, so per-rank state must
be gathered before, e.g. in ``after_train_iter``) and reads it back in
``after_load_checkpoint(runner, checkpoint)``. ``after_load_checkpoint`` also runs for
``load_from`` (fine-tuning): like this hook, keep what was read and decide in ``before_train``
(``runner.iter > 0`` means a resume). State kept outside the checkpoint (a memory-mapped bank on
disk) must be snapshotted with the checkpoint (e.g. ``<checkpoint>.<name>.npy`` written with
:func:`dbdseg.utils.fileio.atomic_write_bytes`), because the file on disk has moved on
since the checkpoint the run resumes from.
"""
import logging
import random
from typing import List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.runner import BaseLoop

from dbdseg.registry import HOOKS
from dbdseg.utils.checkpoint import install_checkpoint_guard

__all__ = ['RNGStateHook', 'capture_rng_state', 'restore_rng_state']

#: Key of the hook's entry in a checkpoint dict.
CHECKPOINT_KEY = 'rng_state'
_VERSION = 1


def capture_rng_state() -> dict:
    """The global random-number states of this process.

    Returns:
        dict: ``python`` (dict: ``version`` int, ``internal`` int64 tensor (625,), ``gauss``
        float or None), ``numpy`` (dict: ``keys`` int64 tensor (624,), ``pos``, ``has_gauss``
        ints, ``gauss`` float), ``torch`` (uint8 tensor, the CPU generator) and ``cuda`` (list of
        uint8 tensors, one per device, or None when CUDA has not been initialised). Only tensors
        and plain types: ``torch.load(weights_only=True)`` reads it.
    """
    py_version, py_internal, py_gauss = random.getstate()
    np_state = np.random.get_state(legacy=True)
    if np_state[0] != 'MT19937':  # pragma: no cover - legacy get_state is always MT19937
        raise RuntimeError(f'unexpected numpy generator {np_state[0]}')
    cuda = None
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda = [s.clone() for s in torch.cuda.get_rng_state_all()]
    return dict(
        python=dict(
            version=int(py_version),
            internal=torch.tensor(py_internal, dtype=torch.int64),
            gauss=None if py_gauss is None else float(py_gauss)),
        numpy=dict(
            keys=torch.from_numpy(np_state[1].astype(np.int64)),
            pos=int(np_state[2]),
            has_gauss=int(np_state[3]),
            gauss=float(np_state[4])),
        torch=torch.get_rng_state().clone(),
        cuda=cuda)


def restore_rng_state(state: dict) -> None:
    """Set the global generators of this process from :func:`capture_rng_state`'s dict.

    CUDA states are restored when CUDA is available (as many devices as both have).

    Raises:
        KeyError, ValueError: ``state`` is not such a dict.
    """
    py = state['python']
    random.setstate(
        (int(py['version']), tuple(int(v) for v in py['internal'].tolist()), py['gauss']))
    npy = state['numpy']
    np.random.set_state(('MT19937', npy['keys'].numpy().astype(np.uint32), int(npy['pos']),
                         int(npy['has_gauss']), float(npy['gauss'])))
    torch.set_rng_state(state['torch'])
    cuda = state.get('cuda')
    if cuda and torch.cuda.is_available():
        n = min(len(cuda), torch.cuda.device_count())
        for device in range(n):
            torch.cuda.set_rng_state(cuda[device], device)


def _loader_sampler(dataloader):
    """The sampler that orders the data: the batch sampler's sampler (torch wraps ``sampler=`` in
    a ``BatchSampler``; a custom ``batch_sampler`` holds its own), else ``dataloader.sampler``."""
    inner = getattr(getattr(dataloader, 'batch_sampler', None), 'sampler', None)
    return inner if inner is not None else getattr(dataloader, 'sampler', None)


def sampler_state(runner) -> dict:
    """Plain-type description of the training sampler and data iterator (see module docstring).

    Keys: ``type``, ``seed``, ``shuffle``, ``epoch``, ``world_size``, ``round_up`` (None when the
    sampler has no such attribute), ``batch_size``, ``num_workers``, ``persistent_workers``,
    ``iterator_epoch`` (mmengine's ``_InfiniteDataloaderIterator._epoch`` or None), ``loop``.
    """
    loop = getattr(runner, '_train_loop', None)
    if not isinstance(loop, BaseLoop):  # saved outside training: no loop was built
        return {}
    dataloader = getattr(loop, 'dataloader', None)
    sampler = _loader_sampler(dataloader)

    def plain(value):
        return value if isinstance(value, (bool, int, float, str)) or value is None else str(value)

    iterator = getattr(loop, 'dataloader_iterator', None)
    iterator = getattr(iterator, '_dbdseg_inner', iterator)
    return dict(
        type=type(sampler).__name__ if sampler is not None else None,
        seed=plain(getattr(sampler, 'seed', None)),
        shuffle=plain(getattr(sampler, 'shuffle', None)),
        epoch=plain(getattr(sampler, 'epoch', None)),
        world_size=plain(getattr(sampler, 'world_size', None)),
        round_up=plain(getattr(sampler, 'round_up', None)),
        batch_size=plain(getattr(dataloader, 'batch_size', None)),
        num_workers=plain(getattr(dataloader, 'num_workers', None)),
        persistent_workers=plain(getattr(dataloader, 'persistent_workers', None)),
        iterator_epoch=plain(getattr(iterator, '_epoch', None)),
        loop=type(loop).__name__)


class _RestoreBeforeFetch:
    """Iterator wrapper: restores the RNG states right before fetch number ``skip`` (0-based),
    i.e. after IterBasedTrainLoop's replay of ``skip`` batches, then hands the loop its own
    iterator back."""

    def __init__(self, loop, inner, skip: int, on_restore):
        self._loop = loop
        self._dbdseg_inner = inner
        self._skip = skip
        self._count = 0
        self._on_restore = on_restore

    def __iter__(self):
        return self

    def __next__(self):
        if self._count == self._skip:
            self._on_restore()
            self._loop.dataloader_iterator = self._dbdseg_inner
        self._count += 1
        return next(self._dbdseg_inner)

    def __getattr__(self, name):  # e.g. ``_epoch``, ``_dataloader`` of the wrapped iterator
        return getattr(self._dbdseg_inner, name)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Store the random-number and sampler states in every checkpoint; restore them on resume.

    Enabled for every dbdseg config in ``configs/_base_/default_runtime.py`` (``custom_hooks``).
    See the module docstring for what is stored, when it is captured and restored, and under which
    settings a resumed run is bit-exact. Checkpoints are written atomically by
    :class:`~dbdseg.engine.hooks.AtomicCheckpointHook`, which the configs name in
    ``default_hooks.checkpoint``; this hook works with any ``CheckpointHook``.

    Args:
        isolate_validation (bool): save the states before validation during training and restore
            them after it, so that validation does not consume training randomness (needed for an
            exact resume when validation runs at a checkpoint iteration). dbdseg's choice; the
            training stream then does not depend on how often one validates. Defaults to True.
        strict (bool): when resuming from a checkpoint without ``rng_state``, or with another
            world size or data order, raise ``RuntimeError`` instead of logging a warning.
            Defaults to False.

    Raises:
        RuntimeError: with ``strict=True`` only, see above.
    """

    priority = 85  # after every standard hook but CheckpointHook (VERY_LOW = 90)

    def __init__(self, isolate_validation: bool = True, strict: bool = False):
        # The checkpoints this hook writes hold numpy RNG states and message-hub buffers that
        # torch >= 2.6 loads only once they are allow-listed: install the guard here, so that
        # resuming works from any entry point (also mmseg's own tools/train.py).
        install_checkpoint_guard()
        self.isolate_validation = isolate_validation
        self.strict = strict
        self._captured: Optional[List[dict]] = None  # per-rank training-stream states
        self._captured_iter: Optional[int] = None  # the checkpoint meta 'iter' they belong to
        self._val_state: Optional[dict] = None
        self._pending: Optional[dict] = None  # rng_state of the checkpoint just loaded
        self._pending_missing = False
        self._restore_at_epoch = None  # callable restoring the states at the next epoch start

    # ------------------------------------------------------------------ helpers
    def _problem(self, msg: str) -> None:
        if self.strict:
            raise RuntimeError(f'RNGStateHook: {msg}')
        print_log(f'RNGStateHook: {msg}', logger='current', level=logging.WARNING)

    @staticmethod
    def _checkpoint_hooks(runner):
        return [h for h in runner.hooks if isinstance(h, CheckpointHook)]

    def _save_due_after_iter(self, runner) -> bool:
        """Will an iteration-based CheckpointHook save in this ``after_train_iter``?"""
        for h in self._checkpoint_hooks(runner):
            if h.by_epoch:
                continue
            if (h.interval > 0 and h.every_n_train_iters(runner, h.interval, h.save_begin)) or (
                    h.save_last and h.is_last_train_iter(runner)):
                return True
        return False

    def _save_due_after_epoch(self, runner) -> bool:
        for h in self._checkpoint_hooks(runner):
            if not h.by_epoch:
                continue
            if (h.interval > 0 and h.every_n_epochs(runner, h.interval, h.save_begin)) or (
                    h.save_last and h.is_last_train_epoch(runner)):
                return True
        return False

    def _capture(self, meta_iter: int) -> None:
        """Capture the training-stream state of every rank (a collective call when distributed:
        all ranks reach it at the same iterations)."""
        state = capture_rng_state()
        _, world_size = get_dist_info()
        self._captured = all_gather_object(state) if world_size > 1 else [state]
        self._captured_iter = meta_iter

    # ------------------------------------------------------------------ run / train / val
    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self._save_due_after_iter(runner):
            # checkpoint meta of an iteration-based save: iter = runner.iter + 1
            self._capture(runner.iter + 1)

    def after_train_epoch(self, runner) -> None:
        if self._save_due_after_epoch(runner):
            self._capture(runner.iter)  # epoch saves: meta iter = runner.iter

    def before_val(self, runner) -> None:
        loop = getattr(runner, '_train_loop', None)
        if not isinstance(loop, BaseLoop) or loop.iter == 0:  # not validating during training
            return
        # best-score checkpoints are written during validation (meta iter = runner.iter)
        self._capture(runner.iter)
        if self.isolate_validation:
            self._val_state = capture_rng_state()

    def after_val(self, runner) -> None:
        if self._val_state is not None:
            restore_rng_state(self._val_state)
            self._val_state = None

    # ------------------------------------------------------------------ checkpoints
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.get('meta', {})
        meta_iter = meta.get('iter')
        _, world_size = get_dist_info()
        states = self._captured if self._captured_iter == meta_iter else None
        if states is None:
            if world_size == 1:
                states = [self._val_state or capture_rng_state()]
            else:
                print_log(
                    'RNGStateHook: a checkpoint is saved at a moment the hook did not '
                    'expect (not by CheckpointHook); only rank 0\'s random state is stored',
                    logger='current',
                    level=logging.WARNING)
                states = [capture_rng_state()]
        checkpoint[CHECKPOINT_KEY] = dict(
            version=_VERSION,
            iter=meta_iter,
            epoch=meta.get('epoch'),
            world_size=world_size,
            ranks=states,
            sampler=sampler_state(runner))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = checkpoint.get(CHECKPOINT_KEY)
        self._pending_missing = self._pending is None

    def before_train(self, runner) -> None:
        pending, self._pending = self._pending, None
        missing, self._pending_missing = self._pending_missing, False
        if runner.iter == 0:  # a fresh run or load_from (fine-tuning): nothing to restore
            return
        if pending is None:
            if missing:
                self._problem(f'the checkpoint resumed at iteration {runner.iter} has no '
                              f'{CHECKPOINT_KEY!r} (written without RNGStateHook): training '
                              'continues, but its random numbers differ from an uninterrupted run')
            return
        if pending.get('version') != _VERSION:
            self._problem(f'unknown {CHECKPOINT_KEY} version {pending.get("version")}; '
                          'not restored')
            return
        if pending.get('iter') != runner.iter:
            self._problem(f'{CHECKPOINT_KEY} belongs to iteration {pending.get("iter")} but the '
                          f'run resumes at {runner.iter}; not restored')
            return
        rank, world_size = get_dist_info()
        if pending['world_size'] != world_size:
            self._problem(f'the checkpoint was written by {pending["world_size"]} process(es), '
                          f'this run has {world_size}: the random streams and the data order '
                          'differ from an uninterrupted run')
        if rank >= len(pending['ranks']):
            return
        mine = pending['ranks'][rank]
        expected = pending.get('sampler') or {}

        def restore():
            restore_rng_state(mine)
            self._check_sampler(runner, expected)

        loop = runner.train_loop
        if hasattr(loop, 'dataloader_iterator'):  # IterBasedTrainLoop: after its replay
            loop.dataloader_iterator = _RestoreBeforeFetch(loop, loop.dataloader_iterator,
                                                           runner.iter, restore)
        else:  # EpochBasedTrainLoop: at the start of the first resumed epoch
            self._restore_at_epoch = restore
            dl = getattr(loop, 'dataloader', None)
            if getattr(dl, 'persistent_workers', False) and getattr(dl, 'num_workers', 0) > 0:
                self._problem('EpochBasedTrainLoop with persistent dataloader workers: the '
                              'workers\' random streams restart at resume (not exact); use '
                              'persistent_workers=False for an exact resume')

    def before_train_epoch(self, runner) -> None:
        if self._restore_at_epoch is not None:
            restore, self._restore_at_epoch = self._restore_at_epoch, None
            restore()

    def _check_sampler(self, runner, expected: dict) -> None:
        current = sampler_state(runner)
        keys = ('type', 'seed', 'shuffle', 'world_size', 'batch_size', 'num_workers', 'epoch',
                'iterator_epoch')
        diff = [
            f'{k}: {expected.get(k)!r} -> {current.get(k)!r}' for k in keys
            if k in expected and expected.get(k) != current.get(k)
        ]
        if diff:
            self._problem('the training data order differs from the interrupted run (' +
                          ', '.join(diff) + ')')
