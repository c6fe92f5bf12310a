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
ever turns it off for all files: mmengine's loaders pass ``weights_only`` explicitly
(:func:`pass_weights_only_in_mmengine`), so torch's environment variable
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` does not switch safe loading off (dbdseg issue 17, item 6).
A file that is no checkpoint at all (empty, truncated, neither a zip archive nor a pickle) is
reported as such (:class:`NotACheckpointError`), not as unsafe.

Checkpoints must fit the model (dbdseg issue 17, item 5): :func:`load_checkpoint_strict`
(inference) and :func:`check_checkpoint_fits` (test, resume) refuse missing, unexpected and
shape-mismatched keys with :class:`CheckpointMismatchError`, naming the converter in
``tools/model_converters/`` when the keys look like an official model's
(:func:`suggest_converter`); :func:`check_load_from` (fine-tuning) refuses a checkpoint that
provides no parameter of the model and warns with the list otherwise;
:func:`check_resume_checkpoint` says when a file lacks the training state ``--resume`` needs.
``dbdseg.engine.hooks.checkpoint_check_hook`` runs these checks inside mmengine's runner.

Entry points (the tools, :func:`dbdseg.apis.init_model`, ``RNGStateHook``) install both the
allow-list and the guard with one call, :func:`install_checkpoint_guard`; ``import dbdseg`` patches
nothing. Atomic file writes live in :mod:`dbdseg.utils.fileio`.
"""
import contextlib
import functools
import inspect
import io
import logging
import os
import os.path as osp
import pickle
import pickletools
import re
import threading
import types
import zipfile
from collections import OrderedDict
from typing import Dict, Iterable, List, NamedTuple, Optional, Tuple, Union

import numpy as np
import torch

__all__ = [
    'MAX_LISTED_KEYS', 'OFFICIAL_CHECKPOINTS', 'TRUSTED_CHECKPOINTS_ENV', 'CheckpointError',
    'CheckpointMismatchError', 'KeyReport', 'NotACheckpointError', 'UnsafeCheckpointError',
    'check_checkpoint_fits', 'check_load_from', 'check_resume_checkpoint', 'checkpoint_state_dict',
    'compare_state_dict', 'format_key_report', 'guard_checkpoint_loaders', 'history_buffer_getattr',
    'install_checkpoint_guard', 'is_trusted_checkpoint', 'load_checkpoint_strict',
    'mmengine_safe_globals', 'not_a_checkpoint_reason', 'pass_weights_only_in_mmengine',
    'register_safe_globals', 'suggest_converter', 'trust_checkpoint', 'unwrap_model'
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
    ``--resume`` and ``load_from`` work with ``weights_only=True``), makes mmengine's loaders
    pass ``weights_only`` explicitly (:func:`pass_weights_only_in_mmengine`, so
    ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` cannot turn it off) and wraps them with the refusal
    policy (:func:`guard_checkpoint_loaders`). Idempotent.
    Called by ``tools/train.py``, ``tools/test.py``, ``tools/infer.py``,
    :func:`dbdseg.apis.init_model` and ``RNGStateHook`` (so mmseg's own tools resume dbdseg
    checkpoints too); ``import dbdseg`` patches nothing.
    """
    register_safe_globals()
    pass_weights_only_in_mmengine()
    guard_checkpoint_loaders()


# --------------------------------------------------------------------------------------------
# Refusing checkpoints that need arbitrary unpickling (issue 9, item 4)
# --------------------------------------------------------------------------------------------
class CheckpointError(RuntimeError):
    """A checkpoint file cannot be used as asked (base class of dbdseg's checkpoint errors except
    :class:`UnsafeCheckpointError`). A ``RuntimeError``, so callers that report runtime errors
    (``tools/infer.py``) report it; the message always names the file."""


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


class NotACheckpointError(CheckpointError):
    """A file given as a checkpoint is not one: empty, truncated, or neither a zip archive nor a
    pickle (a text file, random bytes, an HTML error page saved as ``.pth`` ...).

    Raised instead of torch's bare ``EOFError`` / ``RuntimeError`` / ``UnpicklingError``; the
    message names the file and says which of these it is. Such a file is never reported as
    unsafe: ``--unsafe-load-trusted-checkpoint`` could not load it either.
    """


# Whether the torch.load calls of this thread are an explicitly trusted (unsafe) load.
_LOAD_STATE = threading.local()


@contextlib.contextmanager
def _trusted_load():
    """Within the block, mmengine's loads in this thread pass ``weights_only=False``."""
    old = getattr(_LOAD_STATE, 'unsafe', False)
    _LOAD_STATE.unsafe = True
    try:
        yield
    finally:
        _LOAD_STATE.unsafe = old


def _weights_only_load(f, *args, **kwargs):
    """``torch.load`` with ``weights_only`` always passed explicitly.

    ``True``, except inside :func:`_trusted_load` (a file the user trusted explicitly). An
    explicit argument is what torch obeys even when ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` is set
    in the environment (torch >= 2.6 applies that variable only to calls that pass nothing).
    """
    kwargs['weights_only'] = not getattr(_LOAD_STATE, 'unsafe', False)
    return torch.load(f, *args, **kwargs)


class _TorchWithWeightsOnlyLoad(types.ModuleType):
    """Stands for the name ``torch`` inside ``mmengine.runner.checkpoint``: every attribute is
    torch's own except ``load``, which is :func:`_weights_only_load`. mmengine 0.10.7's scheme
    functions call ``torch.load(filename, map_location=...)`` without ``weights_only``."""

    def __init__(self):
        super().__init__('torch', 'torch, with load() passing weights_only explicitly (dbdseg)')

    def __getattr__(self, name):
        return getattr(torch, name)

    load = staticmethod(_weights_only_load)


def _weights_only_load_url(load_url):
    """Wrap ``torch.hub.load_state_dict_from_url`` (mmengine's ``load_url`` for http(s),
    ``torchvision://`` and ``open-mmlab://`` checkpoints), whose own default is
    ``weights_only=False``: remote files are loaded with ``weights_only=True``, always."""
    if getattr(load_url, '_dbdseg_weights_only', False):
        return load_url
    if 'weights_only' not in inspect.signature(load_url).parameters:
        return load_url  # torch < 1.13: no such argument (and no weights_only loading at all)

    @functools.wraps(load_url)
    def wrapped(url, *args, **kwargs):
        kwargs['weights_only'] = True
        return load_url(url, *args, **kwargs)

    wrapped._dbdseg_weights_only = True
    return wrapped


def pass_weights_only_in_mmengine() -> None:
    """Make every ``torch.load`` of mmengine's checkpoint loaders pass ``weights_only``.

    Replaces, in the namespace of ``mmengine.runner.checkpoint`` only, the name ``torch`` by a
    stand-in whose ``load`` passes ``weights_only=True`` explicitly (``False`` only for a file
    trusted with :func:`trust_checkpoint` / ``DBDSEG_TRUSTED_CHECKPOINTS``, during that load) and
    ``load_url`` by a wrapper that passes ``weights_only=True``. Without this, mmengine passes
    nothing, so the environment variable ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` (a common torch
    2.6 workaround) would turn safe loading off for every checkpoint, and http(s) checkpoints
    would be loaded with ``torch.hub``'s default ``weights_only=False``. Idempotent; called by
    :func:`install_checkpoint_guard`.
    """
    import mmengine.runner.checkpoint as mm_checkpoint
    if not isinstance(mm_checkpoint.torch, _TorchWithWeightsOnlyLoad):
        mm_checkpoint.torch = _TorchWithWeightsOnlyLoad()
    mm_checkpoint.load_url = _weights_only_load_url(mm_checkpoint.load_url)


_TORCH_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c  # first pickle of a torch.save(..., legacy) file


def _read_pickle(f) -> list:
    """Parse one pickle from the file object ``f`` without running it (``pickletools.genops``
    decodes opcodes only: nothing is imported or called). Returns ``[(opcode name, arg)]``;
    ``f`` is left after the STOP opcode. Raises ValueError for a damaged or truncated pickle."""
    try:
        return [(op.name, arg) for op, arg, _ in pickletools.genops(f)]
    except Exception as e:  # noqa: BLE001 - pickletools raises ValueError and others
        raise ValueError(str(e)) from e


def _pickle_problem(f, head: bytes) -> Optional[str]:
    """Why a (non-zip) file is not a torch checkpoint, or None when its pickles are intact."""
    try:
        first = _read_pickle(f)
    except ValueError as e:
        if len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5 and 'exhausted' in str(e):
            return 'truncated: the pickle data ends early'
        return f'not a zip or pickle: the file starts with {head[:16]!r}'
    if [name for name, _ in first] != ['PROTO', 'LONG1', 'STOP'] or \
            first[1][1] != _TORCH_LEGACY_MAGIC:
        return ('not a torch checkpoint: a Python pickle without torch\'s magic number '
                '(written by pickle.dump, not torch.save)')
    # torch.save's legacy format: magic, protocol, sys info, the object, the storage keys
    for _ in range(4):
        try:
            _read_pickle(f)
        except ValueError:
            return 'truncated: the pickle data ends early'
    return None


def not_a_checkpoint_reason(path: str, error: Optional[BaseException] = None) -> Optional[str]:
    """Why a local file is not a checkpoint torch can read, or None when it looks like one.

    Looks at the structure only (nothing is unpickled): size 0; a zip archive (torch >= 1.6
    format) that is cut short or has no ``data.pkl``, or whose ``data.pkl`` is damaged; a pickle
    that is cut short or lacks torch's magic number (legacy format); anything else. Used after a
    load failed, so that such a file is not reported as unsafe.

    Args:
        path (str): a local file.
        error (BaseException, optional): the error the load raised; torch's "unexpected EOF"
            marks tensor data cut short in an otherwise intact legacy file. Defaults to None.

    Returns:
        str | None: ``'empty: ...'``, ``'truncated: ...'``, ``'not a zip or pickle: ...'``,
        ``'not a torch checkpoint: ...'``, or None.
    """
    try:
        size = os.path.getsize(path)
    except OSError:
        return None
    if size == 0:
        return 'empty: the file has 0 bytes'
    with open(path, 'rb') as f:
        head = f.read(16)
        if head.startswith(b'PK'):
            if not zipfile.is_zipfile(path):
                return (f'truncated: a zip archive without its end (central directory), {size} '
                        'bytes; an interrupted download, copy or save?')
            try:
                with zipfile.ZipFile(path) as archive:
                    pkls = [n for n in archive.namelist() if n.split('/')[-1] == 'data.pkl']
                    if not pkls:
                        return 'not a torch checkpoint: a zip archive without data.pkl'
                    _read_pickle(io.BytesIO(archive.read(pkls[0])))  # also checks the CRC
            except Exception as e:  # noqa: BLE001 - BadZipFile, CRC, compression ...
                return f'truncated or damaged zip archive ({e})'
            problem = None
        else:
            f.seek(0)
            problem = _pickle_problem(f, head)
    cut_short = isinstance(error, EOFError) or 'unexpected EOF' in str(error)
    if problem is None and error is not None and cut_short:
        problem = 'truncated: the tensor data ends early'
    return problem


def _not_a_checkpoint(filename: str, reason: str) -> NotACheckpointError:
    return NotACheckpointError(
        f'{filename} is not a checkpoint ({reason}). torch.load cannot read it: check the path '
        'and copy or download the file again.')


def _guard(loader):
    """Wrap one ``CheckpointLoader`` scheme function (see :func:`guard_checkpoint_loaders`)."""
    if getattr(loader, '_dbdseg_guarded', False):
        return loader

    @functools.wraps(loader)
    def guarded(filename, map_location=None, *args, **kwargs):
        try:
            return loader(filename, map_location, *args, **kwargs)
        except (UnsafeCheckpointError, FileNotFoundError):
            raise
        except Exception as e:  # noqa: BLE001 - classified below, re-raised otherwise
            local = osp.expanduser(str(filename))
            reason = None
            if '://' not in str(filename) and osp.isfile(local):
                reason = not_a_checkpoint_reason(local, e)
            if reason is not None:
                raise _not_a_checkpoint(str(filename), reason) from e
            if not isinstance(e, pickle.UnpicklingError):
                raise
            if is_trusted_checkpoint(filename):
                from mmengine.logging import print_log
                print_log(
                    f'loading the trusted checkpoint {filename} with weights_only=False '
                    '(arbitrary unpickling) as explicitly allowed',
                    logger='current',
                    level=logging.WARNING)
                with _trusted_load():
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


# --------------------------------------------------------------------------------------------
# Does the checkpoint fit the model? (issue 17, item 5)
# --------------------------------------------------------------------------------------------
class CheckpointMismatchError(CheckpointError):
    """A checkpoint's weights do not fit the model: keys missing, unexpected or of another shape.

    Raised by the strict loads (inference, test, resume) and by ``load_from`` when not one
    parameter fits. The message names the file, lists the keys (at most
    :data:`MAX_LISTED_KEYS` of each kind, with the total) and names the converter in
    ``tools/model_converters/`` when the keys look like an official model's.
    """


#: How many keys of each kind (missing / unexpected / shape mismatch) a message lists.
MAX_LISTED_KEYS = 20

#: Key patterns of the official checkpoints dbdseg converts, with the converter to run first.
#: They are the first-level names of those state dicts as the converters read them (after a
#: ``state_dict`` wrapper and a ``module.`` prefix are removed, except for MoCo, whose
#: ``module.encoder_q.`` is part of its pattern). See the converters' own docstrings.
OFFICIAL_CHECKPOINTS = (
    (r'^module\.encoder_q\.|^encoder_q\.', 'MoCo-v1/v2 ResNet (pre-training)',
     'mocov2_to_dbdseg.py'),
    (r'^decoder\.(ad2|adapter0)\.', 'A2S-v1 (moothes/A2S-USOD)', 'a2s2dbdseg.py'),
    (r'^pretrained_net\.(layer0|features)\.|^4\.\d+\.0\.0\.0\.0\.weight$',
     'depth distillation (vinthony/depth-distillation) or its Torch7 ImageNet ResNeXt',
     'dd2dbdseg.py'),
    (r'^div_(2|4|8|16|32)\.', 'MINet-Res50 (lartpang/MINet)', 'minet2dbdseg.py'),
    (r'^stage\d+d?\.rebnconv', 'U2-Net / U2-Net-lite (xuebinqin/U-2-Net)', 'u2net2dbdseg.py'),
)


class KeyReport(NamedTuple):
    """How a state dict fits a model (see :func:`compare_state_dict`).

    Attributes:
        missing (list[str]): model keys the checkpoint lacks (BN ``num_batches_tracked`` left
            out: mmengine tolerates them missing).
        unexpected (list[str]): checkpoint keys the model does not have.
        mismatched (list[tuple]): ``(key, checkpoint shape, model shape)`` of keys in both with
            different shapes (the model keeps its own value for them).
        matched (list[str]): keys in both with equal shapes.
        matched_params (int): how many of ``matched`` are parameters (not buffers).
        n_params (int): how many parameters the model has.
    """
    missing: List[str]
    unexpected: List[str]
    mismatched: List[Tuple[str, tuple, tuple]]
    matched: List[str]
    matched_params: int
    n_params: int

    @property
    def fits(self) -> bool:
        """True when every key is in both with the same shape."""
        return not (self.missing or self.unexpected or self.mismatched)


def unwrap_model(model):
    """The model whose weights a checkpoint holds: mmengine's model wrappers (DDP ...) and
    test-time-augmentation wrappers (``BaseTTAModel``) removed, as mmengine's loader does."""
    from mmengine.model import BaseTTAModel, is_model_wrapper
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


def checkpoint_state_dict(checkpoint, filename: str = 'the checkpoint') -> 'OrderedDict':
    """The weights of a loaded checkpoint, as mmengine's loader reads them.

    Args:
        checkpoint (dict): what ``torch.load`` returned: ``{'state_dict': ..., ...}`` or a bare
            state dict.
        filename (str): the file, for the message. Defaults to ``'the checkpoint'``.

    Returns:
        OrderedDict: ``checkpoint['state_dict']`` (else ``checkpoint``) with a leading
        ``module.`` removed from every key (mmengine's default ``revise_keys``).

    Raises:
        CheckpointError: ``checkpoint`` (or its ``state_dict``) is not a dict.
    """
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'{filename} holds a {type(checkpoint).__name__}, not a dict of '
                              'weights: no state_dict found')
    state = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state, dict):
        raise CheckpointError(f'{filename}: its state_dict is a {type(state).__name__}, not a '
                              'dict of weights')
    return OrderedDict((re.sub(r'^module\.', '', str(k)), v) for k, v in state.items())


def _shape(value) -> Optional[tuple]:
    return tuple(value.shape) if torch.is_tensor(value) else None


def compare_state_dict(model: torch.nn.Module, state_dict: Dict) -> KeyReport:
    """Compare a state dict with a model's, by key and shape, without loading anything.

    Args:
        model (nn.Module): the model (wrappers are removed with :func:`unwrap_model`).
        state_dict (dict): the weights (e.g. from :func:`checkpoint_state_dict`).

    Returns:
        KeyReport: missing, unexpected, mismatched and matched keys (sorted as in the model,
        unexpected ones as in the checkpoint).
    """
    model = unwrap_model(model)
    own = model.state_dict()
    params = {name for name, _ in model.named_parameters()}
    missing, mismatched, matched = [], [], []
    for key, value in own.items():
        if key not in state_dict:
            if not key.endswith('num_batches_tracked'):
                missing.append(key)
            continue
        theirs, mine = _shape(state_dict[key]), _shape(value)
        if theirs is not None and mine is not None and theirs != mine:
            mismatched.append((key, theirs, mine))
        else:
            matched.append(key)
    unexpected = [k for k in state_dict if k not in own]
    return KeyReport(missing, unexpected, mismatched, matched, sum(k in params for k in matched),
                     len(params))


def suggest_converter(keys: Iterable[str]) -> Optional[str]:
    """The converter to run when checkpoint keys look like an official model's.

    Args:
        keys (Iterable[str]): the checkpoint's state-dict keys (a ``module.`` prefix is fine).

    Returns:
        str | None: an instruction naming ``tools/model_converters/<script>`` and the model
        family (:data:`OFFICIAL_CHECKPOINTS`), or None when no pattern matches.
    """
    keys = [str(k) for k in keys]
    stripped = [re.sub(r'^module\.', '', k) for k in keys]
    for pattern, family, script in OFFICIAL_CHECKPOINTS:
        regex = re.compile(pattern)
        if any(regex.search(k) for k in keys) or any(regex.search(k) for k in stripped):
            return (f'the keys look like an official {family} checkpoint: convert it first with '
                    f'python tools/model_converters/{script} SRC DST (see its --help) and load '
                    'DST')
    return None


def _listing(title: str, items: List[str]) -> str:
    """``title (n; by module: a 3, b 2): key, key, ... and m more``."""
    counts = OrderedDict()
    for item in items:
        top = item.split('.')[0]
        counts[top] = counts.get(top, 0) + 1
    by_module = ', '.join(f'{k} {v}' for k, v in counts.items())
    shown = ', '.join(items[:MAX_LISTED_KEYS])
    more = f' ... and {len(items) - MAX_LISTED_KEYS} more' if len(items) > MAX_LISTED_KEYS else ''
    return f'  {title} ({len(items)}; by module: {by_module}): {shown}{more}'


def format_key_report(report: KeyReport, state_dict: Dict) -> str:
    """Lines listing the missing, unexpected and shape-mismatched keys of ``report`` and, when
    the checkpoint's keys look like an official model's, the converter to use
    (:func:`suggest_converter`)."""
    lines = []
    if report.missing:
        lines.append(_listing('missing in the checkpoint', report.missing))
    if report.unexpected:
        lines.append(_listing('unexpected (not in the model)', report.unexpected))
    if report.mismatched:
        lines.append(
            _listing('different shape (checkpoint vs model)',
                     [f'{k} {tuple(a)} vs {tuple(b)}' for k, a, b in report.mismatched]))
    hint = suggest_converter(state_dict)
    if hint:
        lines.append(f'  Hint: {hint}.')
    return '\n'.join(lines)


def check_checkpoint_fits(model: torch.nn.Module,
                          checkpoint,
                          filename: str,
                          purpose: str = 'inference') -> KeyReport:
    """Strict check for inference, test and resume: every key in both, every shape equal.

    mmengine loads ``load_from`` and ``init_model`` checkpoints with ``strict=False``, which
    only logs a warning: a checkpoint of another architecture would give maps and metrics of a
    randomly initialised model. BN ``num_batches_tracked`` buffers may be absent and a leading
    ``module.`` is removed, as mmengine allows.

    Args:
        model (nn.Module): the model the weights are for (wrappers removed).
        checkpoint (dict): the loaded checkpoint (see :func:`checkpoint_state_dict`).
        filename (str): the file, for the message.
        purpose (str): what the weights are loaded for, in the message. Defaults to
            ``'inference'``.

    Returns:
        KeyReport: the comparison (it fits).

    Raises:
        CheckpointError: the checkpoint holds no dict of weights.
        CheckpointMismatchError: any key missing, unexpected or of another shape; lists them.
    """
    state = checkpoint_state_dict(checkpoint, filename)
    report = compare_state_dict(model, state)
    if not report.fits:
        raise CheckpointMismatchError(
            f'checkpoint {filename} does not fit the model ({type(unwrap_model(model)).__name__}'
            f', {len(report.matched)} of {len(report.matched) + len(report.missing)} keys '
            f'match); refusing to use it for {purpose}, which would run with '
            f'{"partly " if report.matched else ""}random weights:\n'
            f'{format_key_report(report, state)}')
    return report


def check_load_from(model: torch.nn.Module, checkpoint, filename: str) -> KeyReport:
    """Check a ``load_from`` (fine-tuning) checkpoint: loud about what it does not provide.

    Fine-tuning may load part of a model on purpose (e.g. a backbone, with a new head), so a
    partial fit is allowed, with a warning that lists the missing, unexpected and
    shape-mismatched keys (those parameters keep their initialisation). A checkpoint that
    provides not one of the model's parameters is a wrong file and an error.

    Args:
        model (nn.Module): the model being trained (wrappers removed).
        checkpoint (dict): the loaded checkpoint.
        filename (str): the file, for the messages.

    Returns:
        KeyReport: the comparison.

    Raises:
        CheckpointError: the checkpoint holds no dict of weights.
        CheckpointMismatchError: no parameter of the model is in the checkpoint with its
            shape (the model has parameters).
    """
    from mmengine.logging import print_log
    state = checkpoint_state_dict(checkpoint, filename)
    report = compare_state_dict(model, state)
    if report.n_params and not report.matched_params:
        raise CheckpointMismatchError(
            f'load_from={filename} fits none of the model\'s {report.n_params} parameters '
            f'({type(unwrap_model(model)).__name__}): it is not a checkpoint of this model; '
            f'training would start from scratch\n{format_key_report(report, state)}')
    if not report.fits:
        print_log(
            f'load_from={filename} does NOT fit the model completely: '
            f'{len(report.missing)} key(s) missing and {len(report.mismatched)} of another shape '
            'keep their initialisation, '
            f'{len(report.unexpected)} unexpected key(s) are ignored '
            f'({report.matched_params} of {report.n_params} parameters loaded)\n'
            f'{format_key_report(report, state)}',
            logger='current',
            level=logging.WARNING)
    return report


def check_resume_checkpoint(checkpoint, filename: str) -> None:
    """Check that a checkpoint holds the training state ``--resume`` needs.

    mmengine's ``Runner.resume`` reads ``checkpoint['meta']['epoch']``, ``['iter']`` and
    ``checkpoint['message_hub']`` and fails with a bare ``KeyError`` without them (a converted
    or weights-only file).

    Args:
        checkpoint (dict): the loaded checkpoint.
        filename (str): the file, for the message.

    Raises:
        CheckpointError: ``meta`` (with ``epoch`` and ``iter``) or ``message_hub`` is missing;
            the message says to use ``load_from`` to start from the weights instead.
    """
    if not isinstance(checkpoint, dict):
        checkpoint_state_dict(checkpoint, filename)  # raises with the type
    meta = checkpoint.get('meta')
    what = None
    if not isinstance(meta, dict):
        what = "no 'meta' (the epoch / iteration it was saved at)"
    elif 'iter' not in meta or 'epoch' not in meta:
        what = f"'meta' without 'epoch' / 'iter' (has {sorted(meta)})"
    elif 'message_hub' not in checkpoint:
        what = "no 'message_hub' (the training logs mmengine restores)"
    if what:
        raise CheckpointError(
            f'cannot resume from {filename}: it has {what}, so it is not a checkpoint saved by a '
            'training run (a converted or weights-only file?). To start a new run from its '
            f'weights, use load_from={filename} (--cfg-options load_from=...) without --resume.')


def load_checkpoint_strict(model: torch.nn.Module,
                           filename: str,
                           map_location: Union[str, None] = 'cpu',
                           purpose: str = 'inference') -> dict:
    """Load a checkpoint into ``model`` for inference: strict, refusing what does not fit.

    The file is read through mmengine's ``CheckpointLoader`` (so local files, URLs and
    ``torchvision://`` names work, guarded by :func:`install_checkpoint_guard`), checked with
    :func:`check_checkpoint_fits`, then loaded with mmengine's ``load_state_dict``.

    Args:
        model (nn.Module): the model (wrappers removed).
        filename (str): checkpoint file or URL.
        map_location (str, optional): as in ``torch.load``. Defaults to ``'cpu'``.
        purpose (str): for the message. Defaults to ``'inference'``.

    Returns:
        dict: the loaded checkpoint.

    Raises:
        FileNotFoundError: the file does not exist.
        NotACheckpointError: the file is empty, truncated or not a zip / pickle.
        UnsafeCheckpointError: the file needs arbitrary unpickling and is not trusted.
        CheckpointMismatchError: the weights do not fit (keys listed).
    """
    from mmengine.runner.checkpoint import CheckpointLoader, load_state_dict
    install_checkpoint_guard()
    checkpoint = CheckpointLoader.load_checkpoint(filename, map_location=map_location)
    check_checkpoint_fits(model, checkpoint, str(filename), purpose)
    load_state_dict(unwrap_model(model), checkpoint_state_dict(checkpoint, str(filename)))
    return checkpoint
