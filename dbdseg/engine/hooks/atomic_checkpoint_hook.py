"""AtomicCheckpointHook: mmengine's CheckpointHook that never loses a checkpoint.

What mmengine 0.10.7's ``CheckpointHook`` does wrong, and what this hook does instead:

* **Partial files.** mmengine writes a checkpoint with ``open(path, 'wb').write(...)``
  (``LocalBackend.put``) and ``last_checkpoint`` with ``open(path, 'w')``: a process killed while
  writing (SIGKILL, out-of-memory killer, pre-emption) leaves a truncated file, also of the very
  checkpoint ``last_checkpoint`` names (``_save_best_checkpoint`` re-saves ``iter_N.pth`` after a
  new best score). Here every checkpoint is written to a hidden temporary file
  ``.tmp_<pid>_<name>.part`` in the output folder, flushed to disk and moved over the final name
  with ``os.replace`` (atomic on POSIX and Windows); ``last_checkpoint`` is written the same way
  (:func:`dbdseg.utils.fileio.atomic_write_text`).
* **Order.** mmengine deletes the oldest checkpoint (``max_keep_ckpts``) and the previous best
  checkpoint (``save_best``) *before* it writes the new one, so a kill in between leaves none (with
  ``max_keep_ckpts=1``) and a ``last_checkpoint`` that names a deleted file. Here the new
  checkpoint is committed first, then ``last_checkpoint``; old files are deleted after. The names
  to delete are recorded in the message hub (``dbdseg_pending_removals``) before the save, so the
  new checkpoint carries them: a run killed during the deletion finishes it when it is resumed.
  A best checkpoint is committed before the ``iter_N.pth`` re-save that records it; a run killed
  between the two finds the new best file when it resumes from ``iter_N.pth`` and adopts it (if
  it holds the weights of ``iter_N.pth``; its score is read from it) instead of leaving it
  behind. Hence a kill at any step of a save leaves the previous checkpoint (or the new one)
  complete and named by ``last_checkpoint``, for every ``max_keep_ckpts`` and with
  ``save_best``.
* **Two runs on one work dir.** A training run holds an exclusive lock on its work dir
  (:class:`dbdseg.utils.work_dir_lock.WorkDirLock`, the file ``.dbdseg_train.lock`` with the pid
  and host) from ``before_run`` to ``after_run`` (also released when training raises); a second
  run is refused with :class:`~dbdseg.utils.work_dir_lock.WorkDirLockedError` naming the other
  process, a lock left by a killed process is taken over with a warning naming it. (Validation or
  test runs on the work dir, e.g. ``tools/test.py`` on a checkpoint while training goes on, take
  no lock.) A commit whose temporary file has vanished raises instead of being skipped.
* **Stray temporary files** ``.tmp_*.part`` of killed runs are removed at the next
  ``before_train`` (with the lock held, all of them; without, those of dead processes).
* **Distributed gathering** of validation and test results goes to ``<work_dir>/.dist_test/``
  instead of the current folder, and is removed at the end (:mod:`dbdseg.engine.collect_dir`).

Only local output folders are made atomic; other file backends (``s3://``, ...) are written as
mmengine does (in the safe order). dbdseg's configs name this hook in ``default_hooks.checkpoint``
(``configs/_base_/default_runtime.py`` and the schedules), so it works with dbdseg's and with
mmseg's ``tools/train.py``; a config that names mmengine's plain ``CheckpointHook`` gets
mmengine's behaviour.
"""
import contextlib
import glob
import logging
import os
import os.path as osp
import re
from typing import List, Optional

from mmengine.dist import broadcast_object_list, get_world_size, is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmengine.runner import BaseLoop

from dbdseg.engine.collect_dir import remove_collect_dirs, use_work_dir_collect_dirs
from dbdseg.registry import HOOKS
from dbdseg.utils.fileio import atomic_write_text, commit_file
from dbdseg.utils.work_dir_lock import WorkDirLock, WorkDirLockedError, describe_holder, pid_alive

__all__ = ['AtomicCheckpointHook', 'PENDING_REMOVALS_KEY']

_TMP_PREFIX = '.tmp_'
_TMP_SUFFIX = '.part'
_TMP_PID = re.compile(r'^\.tmp_(\d+)_')

#: Message-hub key: names (relative to the output folder) of checkpoints to delete once the
#: checkpoint being saved is committed.
PENDING_REMOVALS_KEY = 'dbdseg_pending_removals'


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` that writes atomically, deletes old checkpoints only after the new one is
    committed, and locks the work dir of a training run (see the module docstring).

    Same arguments and behaviour as mmengine's ``CheckpointHook`` (interval, ``save_best``,
    ``max_keep_ckpts``, ...), plus:

    Args:
        fsync (bool): flush each finished file (and its folder entry) to disk before it replaces
            the old one, so that also a power loss cannot leave a partial file. Defaults to True.
            (A killed process alone never does: the kernel keeps what was written.)
        lock_work_dir (bool): hold an exclusive lock on the work dir during training. Defaults
            to True.
        *args, **kwargs: mmengine ``CheckpointHook`` arguments.

    Raises:
        WorkDirLockedError: (``before_run`` of a training run) another live process trains in
            the same work dir; the message names it and the lock file.
        OSError: a checkpoint cannot be moved into place, or its temporary file vanished before
            the commit (names the files).
    """

    def __init__(self, *args, fsync: bool = True, lock_work_dir: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fsync = fsync
        self.lock_work_dir = lock_work_dir
        self._lock: Optional[WorkDirLock] = None
        self._wrapped: List[tuple] = []
        self._collect_dirs: list = []

    # ------------------------------------------------------------------ mmengine hook API
    def before_run(self, runner) -> None:
        super().before_run(runner)
        self._collect_dirs = use_work_dir_collect_dirs(runner)
        # a training run: Runner.train() has built its train loop before `before_run`
        # (Runner.val()/test() have not, unless train() ran before)
        if self.lock_work_dir and isinstance(getattr(runner, '_train_loop', None), BaseLoop):
            self._lock_work_dir(runner)

    def after_run(self, runner) -> None:
        super().after_run(runner)
        self._release(runner)
        remove_collect_dirs(self._collect_dirs)
        self._collect_dirs = []

    def before_train(self, runner) -> None:
        super().before_train(runner)  # sets out_dir and file_backend
        if is_main_process() and self._is_local():
            self._remove_stale_temporary_files(runner)
        self._adopt_interrupted_best(runner)
        if is_main_process():
            self._remove_pending(runner, log=True)
        else:
            runner.message_hub.update_info(PENDING_REMOVALS_KEY, [])

    # ------------------------------------------------------------------ work dir lock
    def _lock_work_dir(self, runner) -> None:
        if self._lock is not None and self._lock.held:
            return
        error, lock = None, None
        if is_main_process():
            lock = WorkDirLock(runner.work_dir)
            try:
                lock.acquire()
            except Exception as e:  # noqa: BLE001 - re-raised below, on every rank
                error = (isinstance(e, WorkDirLockedError), str(e))
        if get_world_size() > 1:  # every rank raises the same error
            shared = [error]
            broadcast_object_list(shared, src=0)
            error = shared[0]
        if error is not None:
            if lock is not None:
                lock.release()
            raise (WorkDirLockedError if error[0] else OSError)(error[1])
        self._lock = lock
        if lock is not None and lock.stale is not None:
            state = {
                False: 'no longer runs',
                None: 'cannot be checked'
            }.get(lock.stale.get('alive'), 'does not hold it any more')
            print_log(
                f'{lock.path} was left by {describe_holder(lock.stale)}, which {state}: '
                'that run ended without releasing the work dir (killed?); lock taken over',
                logger='current',
                level=logging.WARNING)
        # release also when training raises (mmengine calls no hook then)
        for owner, name in ((runner, 'load_or_resume'), (runner, '_init_model_weights'),
                            (runner._train_loop, 'run')):
            self._wrap_release_on_error(runner, owner, name)

    def _wrap_release_on_error(self, runner, owner, name) -> None:
        original = getattr(owner, name)
        hook = self

        def call(*args, **kwargs):
            try:
                return original(*args, **kwargs)
            except BaseException:
                hook._release(runner)
                raise

        setattr(owner, name, call)
        self._wrapped.append((owner, name))

    def _release(self, runner) -> None:
        for owner, name in self._wrapped:
            try:
                delattr(owner, name)  # the instance attribute: back to the class's method
            except AttributeError:  # pragma: no cover
                pass
        self._wrapped = []
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # ------------------------------------------------------------------ saving
    def _is_local(self) -> bool:
        return isinstance(getattr(self, 'file_backend', None), LocalBackend)

    def _remove_stale_temporary_files(self, runner) -> None:
        locked = self._lock is not None and self._lock.held
        pattern = osp.join(glob.escape(self.out_dir), f'{_TMP_PREFIX}*{_TMP_SUFFIX}')
        for stale in glob.glob(pattern):
            match = _TMP_PID.match(osp.basename(stale))
            pid = int(match.group(1)) if match else None
            if not locked and pid is not None and pid != os.getpid() and pid_alive(pid):
                print_log(
                    f'kept {stale}: process {pid} that writes it still runs (another training '
                    'run in this work dir?)',
                    logger='current',
                    level=logging.WARNING)
                continue
            try:
                os.remove(stale)
                print_log(f'removed {stale}, left by a run killed while saving', logger='current')
            except OSError:  # pragma: no cover - e.g. removed meanwhile
                pass

    @contextlib.contextmanager
    def _atomic_saves(self, runner):
        """While active, ``runner.save_checkpoint(out_dir, name, ...)`` writes
        ``out_dir/.tmp_<pid>_<name>.part`` and then moves it to ``out_dir/name``. Re-entrant."""
        if not self._is_local() or '_dbdseg_atomic' in vars(runner):
            yield
            return
        original = runner.save_checkpoint
        fsync = self.fsync

        def save_checkpoint(out_dir, filename, *args, **kwargs):
            folder, name = osp.split(filename)
            tmp_name = osp.join(folder, f'{_TMP_PREFIX}{os.getpid()}_{name}{_TMP_SUFFIX}')
            original(out_dir, tmp_name, *args, **kwargs)  # master_only inside mmengine
            if not is_main_process():
                return
            tmp_path, path = osp.join(out_dir, tmp_name), osp.join(out_dir, filename)
            if not osp.isfile(tmp_path):
                raise OSError(f'checkpoint {path} not saved: its temporary file {tmp_path} '
                              'vanished before it could be committed (removed by another '
                              'process? another training run in this work dir?)')
            commit_file(tmp_path, path, fsync=fsync)

        runner.save_checkpoint = save_checkpoint
        runner._dbdseg_atomic = True
        try:
            yield
        finally:
            del runner.save_checkpoint  # the instance attribute: back to Runner.save_checkpoint
            del runner._dbdseg_atomic

    # ------------------------------------------------------------------ deleting after the commit
    def _queue_removal(self, runner, name: str) -> None:
        pending = list(runner.message_hub.get_info(PENDING_REMOVALS_KEY) or [])
        if name not in pending:
            pending.append(name)
        runner.message_hub.update_info(PENDING_REMOVALS_KEY, pending)

    def _protected_names(self) -> set:
        names = set()
        if self.max_keep_ckpts > 0:
            names.update(self.filename_tmpl.format(s) for s in getattr(self, 'keep_ckpt_ids', []))
        best = [getattr(self, 'best_ckpt_path', None)]
        best += list(getattr(self, 'best_ckpt_path_dict', {}).values())
        names.update(osp.basename(p) for p in best + [self.last_ckpt] if p)
        return names

    def _remove_pending(self, runner, log: bool = False) -> None:
        """Delete the queued checkpoints (main process), except any the run still uses."""
        pending = list(runner.message_hub.get_info(PENDING_REMOVALS_KEY) or [])
        runner.message_hub.update_info(PENDING_REMOVALS_KEY, [])
        protected = self._protected_names()
        for name in pending:
            if name in protected:
                continue
            path = self.file_backend.join_path(self.out_dir, name)
            try:
                if self.file_backend.isfile(path):
                    self.file_backend.remove(path)
                elif self.file_backend.isdir(path):
                    self.file_backend.rmtree(path)  # checkpoints saved by deepspeed
                else:
                    continue
            except OSError as e:
                print_log(
                    f'cannot remove the old checkpoint {path}: {e}',
                    logger='current',
                    level=logging.WARNING)
                continue
            if log:
                print_log(
                    f'removed {path}, which a killed run was about to delete', logger='current')
            elif name.startswith('best_'):
                runner.logger.info(f'The previous best checkpoint {path} is removed')

    def _save_checkpoint_with_step(self, runner, step, meta):
        # mmengine 0.10.7 CheckpointHook._save_checkpoint_with_step (Apache-2.0), with the
        # checkpoint and `last_checkpoint` written atomically and the oldest checkpoint deleted
        # after them, not before.
        with self._atomic_saves(runner):
            if self.max_keep_ckpts > 0:
                if len(self.keep_ckpt_ids) > 0 and self.keep_ckpt_ids[-1] == step:
                    pass
                else:
                    if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                        _step = self.keep_ckpt_ids.popleft()
                        self._queue_removal(runner, self.filename_tmpl.format(_step))
                    self.keep_ckpt_ids.append(step)
                    runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

            ckpt_filename = self.filename_tmpl.format(step)
            self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
            runner.message_hub.update_info('last_ckpt', self.last_ckpt)

            runner.save_checkpoint(
                self.out_dir,
                ckpt_filename,
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args)

            if not is_main_process():
                runner.message_hub.update_info(PENDING_REMOVALS_KEY, [])
                return
            atomic_write_text(
                osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt, fsync=self.fsync)
            self._remove_pending(runner)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        # mmengine 0.10.7 CheckpointHook._save_best_checkpoint (Apache-2.0), with the previous
        # best checkpoint deleted after the new one and the re-saved last checkpoint (which
        # records it) are committed, not before.
        if not self.save_best:
            return
        with self._atomic_saves(runner):
            if self.by_epoch:
                ckpt_filename = self.filename_tmpl.format(runner.epoch)
                cur_type, cur_time = 'epoch', runner.epoch
            else:
                ckpt_filename = self.filename_tmpl.format(runner.iter)
                cur_type, cur_time = 'iter', runner.iter
            meta = dict(epoch=runner.epoch, iter=runner.iter)
            if 'auto' in self.key_indicators:
                self._init_rule(self.rules, [list(metrics.keys())[0]])

            best_ckpt_updated = False
            for key_indicator, rule in zip(self.key_indicators, self.rules):
                key_score = metrics[key_indicator]
                score_key, best_key, old_path = self._best_keys(key_indicator)
                if score_key not in runner.message_hub.runtime_info:
                    best_score = self.init_value_map[rule]
                else:
                    best_score = runner.message_hub.get_info(score_key)
                if key_score is None or not self.is_better_than[key_indicator](key_score,
                                                                               best_score):
                    continue
                best_ckpt_updated = True
                best_score = key_score
                runner.message_hub.update_info(score_key, best_score)

                best_ckpt_name = f'best_{key_indicator}_{ckpt_filename}'.replace('/', '_')
                if old_path and osp.basename(old_path) != best_ckpt_name:
                    self._queue_removal(runner, osp.basename(old_path))
                new_path = self.file_backend.join_path(self.out_dir, best_ckpt_name)
                self._set_best_path(key_indicator, new_path)
                runner.message_hub.update_info(best_key, new_path)
                runner.save_checkpoint(
                    self.out_dir,
                    filename=best_ckpt_name,
                    file_client_args=self.file_client_args,
                    save_optimizer=False,
                    save_param_scheduler=False,
                    meta=meta,
                    by_epoch=False,
                    backend_args=self.backend_args)
                runner.logger.info(f'The best checkpoint with {best_score:0.4f} {key_indicator} '
                                   f'at {cur_time} {cur_type} is saved to {best_ckpt_name}.')

            # save the last checkpoint again: it records the new best score and path (and the
            # names to delete); the previous best is deleted after that
            if best_ckpt_updated and self.last_ckpt is not None:
                self._save_checkpoint_with_step(runner, cur_time, meta)
            elif is_main_process():
                self._remove_pending(runner)
            else:
                runner.message_hub.update_info(PENDING_REMOVALS_KEY, [])

    def _best_keys(self, key_indicator):
        """(best-score key, best-checkpoint key, current best path) in the message hub."""
        if len(self.key_indicators) == 1:
            return 'best_score', 'best_ckpt', self.best_ckpt_path
        return (f'best_score_{key_indicator}', f'best_ckpt_{key_indicator}',
                self.best_ckpt_path_dict[key_indicator])

    def _set_best_path(self, key_indicator, path) -> None:
        if len(self.key_indicators) == 1:
            self.best_ckpt_path = path
        else:
            self.best_ckpt_path_dict[key_indicator] = path

    def _adopt_interrupted_best(self, runner) -> None:
        """A run killed after committing a new best checkpoint but before re-saving the last
        checkpoint that records it: the resumed last checkpoint names the previous best. Adopt
        the best file of the resumed step if it holds the weights of the resumed checkpoint (so
        it is of this run; its score is read from it) and queue the previous best for deletion.
        Rank 0 decides, every rank records the result."""
        found = self._find_interrupted_best(runner) if is_main_process() else None
        if get_world_size() > 1:
            shared = [found]
            broadcast_object_list(shared, src=0)
            found = shared[0]
        for key_indicator, score, path in found or []:
            score_key, best_key, old_path = self._best_keys(key_indicator)
            runner.message_hub.update_info(score_key, score)
            runner.message_hub.update_info(best_key, path)
            self._set_best_path(key_indicator, path)
            if old_path:
                self._queue_removal(runner, osp.basename(old_path))
            print_log(
                f'adopted {path} (a best checkpoint committed just before the run was killed) as '
                f'the best checkpoint, {key_indicator} = {score}',
                logger='current')

    def _find_interrupted_best(self, runner) -> list:
        """[(key indicator, score, path)] of the best files to adopt (see above)."""
        if (self.save_best is None or 'auto' in self.key_indicators or not self._is_local()
                or not runner._has_loaded or max(runner.iter, runner.epoch) == 0):
            return []
        resumed = runner.message_hub.get_info('last_ckpt')
        resumed = osp.join(self.out_dir, osp.basename(resumed)) if resumed else None
        step = runner.epoch if self.by_epoch else runner.iter
        ckpt_filename = self.filename_tmpl.format(step)
        found = []
        for key_indicator in self.key_indicators:
            score_key, _, old_path = self._best_keys(key_indicator)
            name = f'best_{key_indicator}_{ckpt_filename}'.replace('/', '_')
            path = osp.join(self.out_dir, name)
            if (old_path and osp.basename(old_path) == name) or not osp.isfile(path):
                continue
            try:
                found.append((key_indicator, _read_best_score(path, resumed, score_key), path))
            except Exception as e:  # noqa: BLE001 - a damaged or foreign file is left alone
                print_log(
                    f'kept {path} as it is, not adopted as the best checkpoint: {e}',
                    logger='current',
                    level=logging.WARNING)
        return found


def _read_best_score(path: str, resumed: Optional[str], score_key: str):
    """The score ``score_key`` recorded in the best checkpoint ``path``.

    Raises:
        ValueError: its weights differ from those of the checkpoint ``resumed`` (it is another
            run's file), or ``resumed`` is unknown or missing, or it records no such score.
    """
    import torch

    from dbdseg.utils.checkpoint import install_checkpoint_guard
    install_checkpoint_guard()
    if not resumed or not osp.isfile(resumed):
        raise ValueError(f'the resumed checkpoint {resumed} is not there to compare weights')
    best = torch.load(path, map_location='cpu', weights_only=True, mmap=True)
    last = torch.load(resumed, map_location='cpu', weights_only=True, mmap=True)
    ours, theirs = last.get('state_dict', {}), best.get('state_dict', {})
    if not ours or set(ours) != set(theirs) or any(not torch.equal(ours[k], theirs[k])
                                                   for k in ours):
        raise ValueError(f'its weights are not those of the resumed checkpoint {resumed}')
    info = best.get('message_hub', {}).get('runtime_info', {})
    if score_key not in info:
        raise ValueError(f'it records no {score_key}')
    return info[score_key]
