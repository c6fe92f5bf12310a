"""Per-level configuration fields: one value for every level, or one value per level.

The decoders and necks of dbdseg (``RSUStackHead``, ``SABHead``, ``AIMSIMNeck``) take many
arguments either as a single value (used at every level) or as a sequence with one value per
level; :func:`per_level` is the one place that broadcasts and checks them.
"""
from typing import Any, Optional, Tuple

__all__ = ['per_level']


def _is_kind(value: Any, kind: type) -> bool:
    """``isinstance`` for config values: bools are not ints or floats, ints are floats."""
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)


def per_level(value: Any,
              num_levels: int,
              name: str,
              owner: str,
              kind: type = int,
              allow_none: bool = False,
              minimum: Optional[float] = None) -> Tuple:
    """Broadcast a per-level config field to a tuple of ``num_levels`` values.

    Args:
        value: one value of type ``kind`` (used at every level) or a list / tuple of exactly
            ``num_levels`` such values (finest or first level first, as the caller documents).
        num_levels (int): number of levels, >= 1.
        name (str): the argument's name, for error messages.
        owner (str): the class that takes the argument, for error messages (e.g.
            ``'RSUStackHead'``).
        kind (type): ``int``, ``float`` or ``bool``. Bools are never accepted as ``int`` or
            ``float``; ints are accepted as ``float`` and converted. Defaults to ``int``.
        allow_none (bool): ``None`` (as the single value, or as an element) is accepted and kept,
            e.g. for "derive this width". Defaults to False.
        minimum (float, optional): every value that is not None must be >= ``minimum`` (e.g. 1
            for positive widths, 0 for loss weights). Defaults to None (no bound).

    Returns:
        tuple: ``num_levels`` values (floats when ``kind`` is ``float``).

    Raises:
        ValueError: ``value`` is neither one ``kind`` value nor a sequence of ``num_levels`` of
            them, or a value is below ``minimum``; the message names ``owner`` and ``name``.
    """
    expected = f'one {kind.__name__} or a sequence of {num_levels} (one per level)'
    if allow_none:
        expected += ', None allowed'
    if value is None and allow_none:
        return (None, ) * num_levels
    if _is_kind(value, kind):
        values = (value, ) * num_levels
    elif isinstance(value, (list, tuple)) and len(value) == num_levels:
        values = tuple(value)
    else:
        raise ValueError(f'{owner}: {name} must be {expected}, got {value!r}')
    for v in values:
        if v is None and allow_none:
            continue
        if not _is_kind(v, kind):
            raise ValueError(f'{owner}: {name} must be {expected}, got {value!r}')
        if minimum is not None and v < minimum:
            raise ValueError(f'{owner}: every {name} value must be >= {minimum}, got {value!r}')
    if kind is float:
        values = tuple(None if v is None else float(v) for v in values)
    return values
