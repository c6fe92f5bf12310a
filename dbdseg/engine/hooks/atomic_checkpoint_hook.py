"""AtomicCheckpointHook: mmengine's CheckpointHook whose files are never partially written.

mmengine 0.10.7 writes a checkpoint with ``open(path, 'wb').write(...)`` (``LocalBackend.put``) and
the ``last_checkpoint`` record with ``open(path, 'w')``. A process killed while writing (SIGKILL,
out-of-memory killer, pre-emption) leaves a truncated file; worse, ``CheckpointHook`` re-saves the
*same* ``iter_N.pth`` after a new best score (``_save_best_checkpoint``), so a kill at that moment
corrupts the very checkpoint ``last_checkpoint`` points to, and a truncated ``last_checkpoint``
makes ``--resume`` start from scratch.

Here every checkpoint is written to a hidden temporary file ``.tmp_<pid>_<name>.part`` in the
output folder, flushed to disk and moved over the final name with ``os.replace`` (atomic on POSIX
and Windows); ``last_checkpoint`` is written the same way
(:func:`dbdseg.utils.fileio.atomic_write_text`). A kill at any moment leaves the previous
complete file. Stray ``.tmp_*.part`` files of killed runs are removed at the next ``before_train``.
Only local output folders are made atomic; other file backends (``s3://``, ...) are written as
mmengine does.

dbdseg's configs name this hook in ``default_hooks.checkpoint``
(``checkpoint=dict(type='AtomicCheckpointHook', ...)``, in ``configs/_base_/default_runtime.py``
and the schedules); a config that names mmengine's plain ``CheckpointHook`` writes as mmengine
does.
"""
import contextlib
import glob
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log

from dbdseg.registry import HOOKS
from dbdseg.utils.fileio import atomic_write_text, commit_file

__all__ = ['AtomicCheckpointHook']

_TMP_PREFIX = '.tmp_'
_TMP_SUFFIX = '.part'


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` that writes checkpoints and ``last_checkpoint`` atomically.

    Same arguments and behaviour as mmengine's ``CheckpointHook`` (interval, ``save_best``,
    ``max_keep_ckpts``, ...), plus:

    Args:
        fsync (bool): flush each finished file (and its folder entry) to disk before it replaces
            the old one, so that also a power loss cannot leave a partial file. Defaults to True.
            (A killed process alone never does: the kernel keeps what was written.)
        *args, **kwargs: mmengine ``CheckpointHook`` arguments.

    Raises:
        OSError: a checkpoint cannot be moved into place (names both files).
    """

    def __init__(self, *args, fsync: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fsync = fsync

    # ------------------------------------------------------------------ mmengine hook API
    def before_train(self, runner) -> None:
        super().before_train(runner)  # sets out_dir and file_backend
        if is_main_process() and self._is_local():
            pattern = osp.join(glob.escape(self.out_dir), f'{_TMP_PREFIX}*{_TMP_SUFFIX}')
            for stale in glob.glob(pattern):
                try:
                    os.remove(stale)
                    print_log(
                        f'removed {stale}, left by a run killed while saving', logger='current')
                except OSError:  # pragma: no cover - e.g. removed meanwhile
                    pass

    # ------------------------------------------------------------------ saving
    def _is_local(self) -> bool:
        return isinstance(getattr(self, 'file_backend', None), LocalBackend)

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
            tmp_path = osp.join(out_dir, tmp_name)
            if is_main_process() and osp.isfile(tmp_path):
                commit_file(tmp_path, osp.join(out_dir, filename), fsync=fsync)

        runner.save_checkpoint = save_checkpoint
        runner._dbdseg_atomic = True
        try:
            yield
        finally:
            del runner.save_checkpoint  # the instance attribute: back to Runner.save_checkpoint
            del runner._dbdseg_atomic

    def _save_checkpoint_with_step(self, runner, step, meta):
        # mmengine 0.10.7 CheckpointHook._save_checkpoint_with_step (Apache-2.0), with the
        # checkpoint and `last_checkpoint` written atomically.
        with self._atomic_saves(runner):
            if self.max_keep_ckpts > 0:
                if len(self.keep_ckpt_ids) > 0 and self.keep_ckpt_ids[-1] == step:
                    pass
                else:
                    if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                        _step = self.keep_ckpt_ids.popleft()
                        if is_main_process():
                            ckpt_path = self.file_backend.join_path(
                                self.out_dir, self.filename_tmpl.format(_step))
                            if self.file_backend.isfile(ckpt_path):
                                self.file_backend.remove(ckpt_path)
                            elif self.file_backend.isdir(ckpt_path):
                                self.file_backend.rmtree(ckpt_path)
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
                return
            atomic_write_text(
                osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt, fsync=self.fsync)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        with self._atomic_saves(runner):
            super()._save_best_checkpoint(runner, metrics)
