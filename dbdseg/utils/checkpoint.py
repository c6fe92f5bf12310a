"""Checkpoint loading on torch >= 2.6 with ``weights_only`` kept on.

torch >= 2.6 loads checkpoints with ``torch.load(..., weights_only=True)`` by default, which
unpickles only tensors, containers and allow-listed types. mmengine 0.10.7 checkpoints also hold the
runner's message hub (``mmengine.logging.HistoryBuffer`` objects whose state is numpy arrays) and
numpy scalars in ``meta``, so ``tools/train.py --resume`` and ``load_from`` fail there. dbdseg
allow-lists exactly those types with ``torch.serialization.add_safe_globals`` (the types are listed
in :func:`mmengine_safe_globals`) instead of turning ``weights_only`` off: a checkpoint that needs
any other class is still refused by torch.

One detail: pickle protocol 2 (torch's default) stores the statistics methods a ``HistoryBuffer``
carries (``HistoryBuffer.min``, ``.max``, ``.current``, ``.mean``) as ``getattr(HistoryBuffer,
'min')``. Allowing the builtin ``getattr`` would let a crafted file reach any attribute of any
allowed class, so the name ``builtins.getattr`` is mapped to :func:`history_buffer_getattr`, which
resolves exactly those methods and refuses everything else.

Checkpoints are data, not code (dbdseg issue 9): every loader of mmengine's
``CheckpointLoader`` (local files, URLs, ``torchvision://`` ...) is wrapped by
:func:`guard_checkpoint_loaders` so that a file that needs arbitrary unpickling is refused with
:class:`UnsafeCheckpointError`, whose message says why and how to allow that one file
deliberately: :func:`trust_checkpoint` (the tools' flag ``--unsafe-load-trusted-checkpoint``
calls it) or the environment variable ``DBDSEG_TRUSTED_CHECKPOINTS`` (local paths, separated by
``os.pathsep``). Only trusted *local files* can be loaded with ``weights_only=False``; nothing
ever turns it off for all files.

Entry points (the tools, :func:`dbdseg.apis.init_model`, ``RNGStateHook``) install both the
allow-list and the guard with one call, :func:`install_checkpoint_guard`; ``import dbdseg`` patches
nothing. Atomic file writes live in :mod:`dbdseg.utils.fileio`.
"""
import functools
import logging
import os
import os.path as osp
import pickle
from typing import Union

import numpy as np
import torch

__all__ = [
    'TRUSTED_CHECKPOINTS_ENV', 'UnsafeCheckpointError', 'guard_checkpoint_loaders',
    'history_buffer_getattr', 'install_checkpoint_guard', 'is_trusted_checkpoint',
    'mmengine_safe_globals', 'register_safe_globals', 'trust_checkpoint'
]

#: Environment variable listing local checkpoint files (``os.pathsep``-separated) that may be loaded
#: with ``weights_only=False`` (arbitrary unpickling). Read at every load.
TRUSTED_CHECKPOINTS_ENV = 'DBDSEG_TRUSTED_CHECKPOINTS'


def _numpy_dtype_classes():
    """The ``numpy.dtypes.*DType`` classes of numeric and bool dtypes (numpy >= 1.25 pickles a
    dtype as its class plus arguments)."""
    names = ('BoolDType', 'Int8DType', 'UInt8DType', 'Int16DType', 'UInt16DType', 'Int32DType',
             'UInt32DType', 'Int64DType', 'UInt64DType', 'Float16DType', 'Float32DType',
             'Float64DType', 'LongDType', 'ULongDType', 'LongLongDType', 'ULongLongDType',
             'ByteDType', 'UByteDType', 'ShortDType', 'UShortDType', 'IntDType', 'UIntDType')
    dtypes = getattr(np, 'dtypes', None)
    return [getattr(dtypes, n) for n in names if dtypes is not None and hasattr(dtypes, n)]


def history_buffer_getattr(obj, name):
    """``getattr`` restricted to the statistics methods of mmengine's ``HistoryBuffer``.

    Stands in for ``builtins.getattr`` while torch unpickles with ``weights_only=True``.

    Args:
        obj: the object the pickle asks an attribute of; must be the ``HistoryBuffer`` class.
        name (str): the attribute; must name a registered statistics method (``min``, ``max``,
            ``current``, ``mean`` or one added with ``HistoryBuffer.register_statistics``).

    Returns:
        function: ``HistoryBuffer.<name>``.

    Raises:
        pickle.UnpicklingError: any other object or attribute, naming both.
    """
    from mmengine.logging import HistoryBuffer

    allowed = {'min', 'max', 'current', 'mean'} | set(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and isinstance(name, str) and name in allowed:
        value = getattr(HistoryBuffer, name, None)
        if callable(value):
            return value
    raise pickle.UnpicklingError(
        f'refused getattr({obj!r}, {name!r}) while loading a checkpoint with weights_only=True: '
        'dbdseg allows getattr only for the statistics methods of mmengine.logging.HistoryBuffer. '
        'Load the file with torch.load(..., weights_only=False) only if you trust its source.')


def mmengine_safe_globals():
    """The globals an mmengine 0.10.x checkpoint pickles besides tensors and containers.

    Returns:
        list: classes/functions, and ``(callable, 'qualified.name')`` aliases so that checkpoints
        written under numpy 1.x (``numpy.core.multiarray.*``) load under numpy 2.x
        (``numpy._core.multiarray.*``) and the other way round. Only these are allowed:
        ``HistoryBuffer`` (message hub logs), numpy arrays/dtypes/scalars (their state), nothing
        that runs arbitrary code.
    """
    from mmengine.logging import HistoryBuffer

    multiarray = getattr(np, '_core', None)
    multiarray = multiarray.multiarray if multiarray is not None else np.core.multiarray
    out = [HistoryBuffer, np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar]
    for alias in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        out.append((multiarray._reconstruct, f'{alias}._reconstruct'))
        out.append((multiarray.scalar, f'{alias}.scalar'))
    out.extend(_numpy_dtype_classes())
    out.append((history_buffer_getattr, 'builtins.getattr'))
    return out


_REGISTERED = False


def register_safe_globals():
    """Allow-list :func:`mmengine_safe_globals` for ``torch.load(weights_only=True)``.

    Idempotent. A no-op on torch builds without ``torch.serialization.add_safe_globals``
    (torch < 2.4, where ``weights_only`` is off by default). Entry points call
    :func:`install_checkpoint_guard`, which calls this.
    """
    global _REGISTERED
    if _REGISTERED or not hasattr(torch.serialization, 'add_safe_globals'):
        return
    torch.serialization.add_safe_globals(mmengine_safe_globals())
    _REGISTERED = True


def install_checkpoint_guard() -> None:
    """The one call an entry point makes before it loads a checkpoint.

    Allow-lists the globals of mmengine checkpoints (:func:`register_safe_globals`, so
    ``--resume`` and ``load_from`` work with ``weights_only=True``) and wraps mmengine's
    checkpoint loaders with the refusal policy (:func:`guard_checkpoint_loaders`). Idempotent.
    Called by ``tools/train.py``, ``tools/test.py``, ``tools/infer.py``,
    :func:`dbdseg.apis.init_model` and ``RNGStateHook`` (so mmseg's own tools resume dbdseg
    checkpoints too); ``import dbdseg`` patches nothing.
    """
    register_safe_globals()
    guard_checkpoint_loaders()


# --------------------------------------------------------------------------------------------
# Refusing checkpoints that need arbitrary unpickling (issue 9, item 4)
# --------------------------------------------------------------------------------------------
class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds objects that ``torch.load(..., weights_only=True)`` refuses.

    Loading such a file would unpickle arbitrary Python objects, i.e. run code from the file. The
    message names the file, torch's reason (the refused global) and the deliberate ways to allow
    this one file (:func:`trust_checkpoint`, ``--unsafe-load-trusted-checkpoint``,
    ``DBDSEG_TRUSTED_CHECKPOINTS``). A subclass of ``pickle.UnpicklingError``, which is what torch
    itself raises, so existing ``except`` clauses keep working.
    """


_TRUSTED = set()


def _canonical(path: str) -> str:
    return osp.realpath(osp.expanduser(str(path)))


def trust_checkpoint(path: Union[str, os.PathLike]) -> str:
    """Allow one local checkpoint file to be loaded with ``weights_only=False`` in this process.

    Only for files whose source you trust: unpickling runs arbitrary code. A checkpoint that loads
    with ``weights_only=True`` (every checkpoint dbdseg and mmengine write) never needs this.

    Args:
        path (str | os.PathLike): the checkpoint file; compared by real path (symlinks resolved).

    Returns:
        str: the canonical path that is now trusted.

    Raises:
        ValueError: ``path`` is a URL (``scheme://``): download it and trust the local file.
    """
    if '://' in str(path):
        raise ValueError(f'only local checkpoint files can be trusted for unsafe loading, got '
                         f'{path!r}; download it and trust the local file')
    canonical = _canonical(path)
    _TRUSTED.add(canonical)
    return canonical


def is_trusted_checkpoint(path: Union[str, os.PathLike]) -> bool:
    """True when ``path`` was passed to :func:`trust_checkpoint` or is listed in the environment
    variable ``DBDSEG_TRUSTED_CHECKPOINTS`` (``os.pathsep``-separated local paths). URLs are never
    trusted."""
    if '://' in str(path):
        return False
    canonical = _canonical(path)
    if canonical in _TRUSTED:
        return True
    listed = os.environ.get(TRUSTED_CHECKPOINTS_ENV, '')
    return any(entry and _canonical(entry) == canonical for entry in listed.split(os.pathsep))


def _refusal_message(filename: str, error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    reason = next((line for line in lines if 'WeightsUnpickler error' in line
                   or 'Unsupported global' in line or 'refused getattr' in line), None)
    reason = reason or (lines[0] if lines else type(error).__name__)
    reason = reason.split(' Please use ')[0].rstrip('. ')  # torch's own advice: allow-list it
    how = ('Allow exactly this file, only if you trust its source: pass '
           '--unsafe-load-trusted-checkpoint to tools/train.py, tools/test.py or tools/infer.py, '
           f'or set {TRUSTED_CHECKPOINTS_ENV}={_canonical(filename)} (several files separated by '
           f'"{os.pathsep}"), or call dbdseg.utils.checkpoint.trust_checkpoint(path) before '
           'loading.')
    if '://' in str(filename):
        how = ('Remote checkpoints are never loaded unsafely: download the file, check its source, '
               'then trust the local copy (--unsafe-load-trusted-checkpoint or '
               f'{TRUSTED_CHECKPOINTS_ENV}).')
    return (
        f'refused to load checkpoint {filename}: it contains Python objects other than '
        f'tensors and plain data ({reason}). Loading it would unpickle arbitrary objects, which '
        f'can run code from the file, so dbdseg keeps torch.load(weights_only=True). {how} '
        'Better: load it once in a trusted environment and re-save only the weights '
        '(state_dict and meta of plain types).')


class _ForceUnsafeLoad:
    """Context manager: torch.load calls that do not pass ``weights_only`` use
    ``weights_only=False`` (torch reads ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` at every call)."""

    _VAR = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'

    def __enter__(self):
        self._old = os.environ.get(self._VAR)
        os.environ[self._VAR] = '1'

    def __exit__(self, *exc):
        if self._old is None:
            os.environ.pop(self._VAR, None)
        else:
            os.environ[self._VAR] = self._old
        return False


def _guard(loader):
    """Wrap one ``CheckpointLoader`` scheme function (see :func:`guard_checkpoint_loaders`)."""
    if getattr(loader, '_dbdseg_guarded', False):
        return loader

    @functools.wraps(loader)
    def guarded(filename, map_location=None, *args, **kwargs):
        try:
            return loader(filename, map_location, *args, **kwargs)
        except pickle.UnpicklingError as e:
            if isinstance(e, UnsafeCheckpointError):
                raise
            if is_trusted_checkpoint(filename):
                from mmengine.logging import print_log
                print_log(
                    f'loading the trusted checkpoint {filename} with weights_only=False '
                    '(arbitrary unpickling) as explicitly allowed',
                    logger='current',
                    level=logging.WARNING)
                with _ForceUnsafeLoad():
                    return loader(filename, map_location, *args, **kwargs)
            raise UnsafeCheckpointError(_refusal_message(str(filename), e)) from e

    guarded._dbdseg_guarded = True
    return guarded


def guard_checkpoint_loaders() -> int:
    """Wrap every scheme of mmengine's ``CheckpointLoader`` with dbdseg's refusal policy.

    mmengine loads every checkpoint (``load_from``, ``--resume``, ``init_model``, ``Pretrained``
    init) through ``CheckpointLoader``; its scheme functions call ``torch.load`` without
    ``weights_only``, which torch >= 2.6 treats as ``weights_only=True``. The wrapper turns torch's
    ``UnpicklingError`` into :class:`UnsafeCheckpointError` with a message that says why and how to
    allow the file, and retries with ``weights_only=False`` only for files trusted through
    :func:`trust_checkpoint` / ``DBDSEG_TRUSTED_CHECKPOINTS`` (local files only). Idempotent;
    schemes registered after this call are not wrapped.

    Returns:
        int: how many scheme functions were wrapped by this call.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    n = 0
    for prefix, loader in list(CheckpointLoader._schemes.items()):
        if not getattr(loader, '_dbdseg_guarded', False):
            CheckpointLoader._schemes[prefix] = _guard(loader)
            n += 1
    return n
