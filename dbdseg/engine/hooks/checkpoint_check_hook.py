"""CheckpointCheckHook: checks that the checkpoint mmengine's runner loads fits the model.

mmengine 0.10.7's ``Runner.load_or_resume`` loads ``load_from`` with ``strict=False`` (a missing
or mismatched key is a log line, the run goes on with random weights there) and ``Runner.resume``
reads ``checkpoint['meta']`` without checking it is there (a bare ``KeyError: 'meta'``). The
runner calls ``after_load_checkpoint(runner, checkpoint)`` after reading the file and *before*
it copies the weights into the model; this hook checks the checkpoint there, on every rank, so
a wrong file stops the run before anything is computed (dbdseg issue 17, item 5):

* resume (``runner._resume``): the checkpoint must hold the training state
  (:func:`~dbdseg.utils.checkpoint.check_resume_checkpoint`) and fit the model exactly
  (:func:`~dbdseg.utils.checkpoint.check_checkpoint_fits`);
* ``strict=True`` (``tools/test.py``): the weights must fit the model exactly;
* ``strict=False`` (``load_from`` of a training run, i.e. fine-tuning): not one fitting
  parameter is an error, a partial fit a warning listing the keys
  (:func:`~dbdseg.utils.checkpoint.check_load_from`).

Errors are :class:`~dbdseg.utils.checkpoint.CheckpointError` (a ``RuntimeError``); the tools
print them as ``tools/<tool>.py: error: ...``. The hook runs first among the
``after_load_checkpoint`` hooks (priority ``HIGHEST``).
"""
from typing import Optional

from mmengine.hooks import Hook

from dbdseg.registry import HOOKS
from dbdseg.utils.checkpoint import check_checkpoint_fits, check_load_from, check_resume_checkpoint

__all__ = ['CheckpointCheckHook', 'add_checkpoint_check']


@HOOKS.register_module()
class CheckpointCheckHook(Hook):
    """Check the checkpoint the runner loads (``load_from`` / ``--resume``) against the model.

    Args:
        strict (bool): True: a checkpoint loaded without resuming must fit the model exactly
            (testing, evaluation). False: it may fit partly, with a warning listing the keys it
            does not provide, but must provide at least one parameter (fine-tuning). Resuming is
            always strict. Defaults to True.
        filename (str, optional): the checkpoint, for the messages. Defaults to None: the
            runner's ``load_from``.

    Raises (from ``after_load_checkpoint``):
        dbdseg.utils.checkpoint.CheckpointError: a resume checkpoint without ``meta`` /
            ``message_hub``, or a file that holds no dict of weights.
        dbdseg.utils.checkpoint.CheckpointMismatchError: the weights do not fit (see above).
    """

    priority = 'HIGHEST'

    def __init__(self, strict: bool = True, filename: Optional[str] = None) -> None:
        self.strict = strict
        self.filename = filename
        self.report = None  # KeyReport of the last check

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        filename = str(self.filename or getattr(runner, '_load_from', None) or 'the checkpoint')
        if getattr(runner, '_resume', False):
            check_resume_checkpoint(checkpoint, filename)
            self.report = check_checkpoint_fits(runner.model, checkpoint, filename, 'resuming')
        elif self.strict:
            self.report = check_checkpoint_fits(runner.model, checkpoint, filename, 'testing')
        else:
            self.report = check_load_from(runner.model, checkpoint, filename)


def add_checkpoint_check(runner, strict: bool, filename: Optional[str] = None):
    """Register a :class:`CheckpointCheckHook` on a built runner (what the tools call).

    Args:
        runner (mmengine.runner.Runner): the runner, before ``train()`` / ``test()``.
        strict (bool): see :class:`CheckpointCheckHook`.
        filename (str, optional): the checkpoint, for the messages. Defaults to None.

    Returns:
        CheckpointCheckHook: the registered hook (``hook.report`` holds the comparison once the
        checkpoint is loaded).
    """
    hook = CheckpointCheckHook(strict=strict, filename=filename)
    runner.register_hook(hook)
    return hook
