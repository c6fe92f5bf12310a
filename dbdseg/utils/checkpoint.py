"""Checkpoint loading on torch >= 2.6 with ``weights_only`` kept on.

torch >= 2.6 loads checkpoints with ``torch.load(..., weights_only=True)`` by default, which unpickles only
tensors, containers and allow-listed types. mmengine 0.10.7 checkpoints also hold the runner's message hub
(``mmengine.logging.HistoryBuffer`` objects whose state is numpy arrays) and numpy scalars in ``meta``, so
``tools/train.py --resume`` and ``load_from`` fail there. dbdseg allow-lists exactly those types with
``torch.serialization.add_safe_globals`` (ARCHITECTURE.md Section 1) instead of turning ``weights_only``
off: a checkpoint that needs any other class is still refused by torch.

One detail: pickle protocol 2 (torch's default) stores the statistics methods a ``HistoryBuffer`` carries
(``HistoryBuffer.min``, ``.max``, ``.current``, ``.mean``) as ``getattr(HistoryBuffer, 'min')``. Allowing the
builtin ``getattr`` would let a crafted file reach any attribute of any allowed class, so the name
``builtins.getattr`` is mapped to :func:`history_buffer_getattr`, which resolves exactly those methods and
refuses everything else.
"""
import pickle

import numpy as np
import torch

__all__ = ['history_buffer_getattr', 'mmengine_safe_globals', 'register_safe_globals']


def _numpy_dtype_classes():
    """The ``numpy.dtypes.*DType`` classes of numeric and bool dtypes (numpy >= 1.25 pickles a dtype as
    its class plus arguments)."""
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
        f'refused getattr({obj!r}, {name!r}) while loading a checkpoint with weights_only=True: dbdseg '
        'allows getattr only for the statistics methods of mmengine.logging.HistoryBuffer. Load the file '
        'with torch.load(..., weights_only=False) only if you trust its source.')


def mmengine_safe_globals():
    """The globals an mmengine 0.10.x checkpoint pickles besides tensors and containers.

    Returns:
        list: classes/functions, and ``(callable, 'qualified.name')`` aliases so that checkpoints written
        under numpy 1.x (``numpy.core.multiarray.*``) load under numpy 2.x (``numpy._core.multiarray.*``)
        and the other way round. Only these are allowed: ``HistoryBuffer`` (message hub logs), numpy
        arrays/dtypes/scalars (their state), nothing that runs arbitrary code.
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

    Called once by ``import dbdseg``; idempotent. A no-op on torch builds without
    ``torch.serialization.add_safe_globals`` (torch < 2.4, where ``weights_only`` is off by default).
    """
    global _REGISTERED
    if _REGISTERED or not hasattr(torch.serialization, 'add_safe_globals'):
        return
    torch.serialization.add_safe_globals(mmengine_safe_globals())
    _REGISTERED = True
