"""Metrics as flat dicts and text tables: the summary ``tools/test.py`` prints and writes.

* :func:`flatten_metrics`: a runner's (possibly nested) metrics dict -> ``{key: float}``, the
  content of ``tools/test.py --metrics-out`` files;
* :func:`metric_blocks` / :func:`format_metric_blocks`: that dict grouped by test set
  (``MultiSetDataset`` keys ``<set>/<metric>``) and printed as one line or a table;
* :func:`read_metrics_files` / :func:`format_markdown_table`: several such files side by side as a
  Markdown table (one row per method), e.g. a model and the hand-crafted baselines of
  ``projects/classical_dbd`` (``tools/analysis_tools/metrics_table.py``, ``tools/demo.sh``).
"""
import json
import numbers
from typing import Dict, Iterable, List, Mapping, Tuple

import numpy as np
import torch

__all__ = [
    'flatten_metrics', 'format_markdown_table', 'format_metric_blocks', 'metric_blocks',
    'read_metrics_files'
]


def flatten_metrics(metrics: Mapping, prefix: str = '') -> Tuple[Dict[str, float], List[str]]:
    """Flatten a metrics dict into ``{key: float}``.

    Nested dicts are joined with ``/`` (``{'CUHK': {'MAE': x}}`` -> ``{'CUHK/MAE': x}``);
    numbers, numpy scalars and one-element arrays / tensors become Python floats; everything else
    (curves, strings) is left out. Order is kept.

    Args:
        metrics (Mapping): metric name -> value (what ``Runner.test()`` returns).
        prefix (str): prepended to every key. Defaults to ``''``.

    Returns:
        tuple[dict, list]: the flat dict and the (flat) keys left out.
    """
    flat, skipped = {}, []
    for key, value in metrics.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            sub, sub_skipped = flatten_metrics(value, prefix=f'{name}/')
            flat.update(sub)
            skipped.extend(sub_skipped)
        elif isinstance(value, numbers.Number):
            flat[name] = float(value)
        elif isinstance(value, torch.Tensor) and value.numel() == 1:
            flat[name] = float(value.item())
        elif isinstance(value, (np.ndarray, np.generic)) and np.size(value) == 1:
            flat[name] = float(np.asarray(value).reshape(-1)[0])
        else:
            skipped.append(name)
    return flat, skipped


def metric_blocks(flat: Mapping[str, float]) -> Dict[str, Dict[str, float]]:
    """Group flat metrics by test set: ``{'CUHK/maxF': x}`` -> ``{'CUHK': {'maxF': x}}``.

    The set is the part before the last ``/``; keys without ``/`` (a single test set) go to the
    block named ``''``. Order is kept.

    Args:
        flat (Mapping[str, float]): output of :func:`flatten_metrics`.

    Returns:
        dict[str, dict[str, float]]: set name -> metric name -> value.
    """
    blocks = {}
    for key, value in flat.items():
        set_name, _, name = key.rpartition('/')
        blocks.setdefault(set_name, {})[name] = value
    return blocks


def format_metric_blocks(flat: Mapping[str, float]) -> List[str]:
    """Lines that report the metrics of a test run.

    One line ``test metrics: maxF=0.9000, MAE=0.0500`` for a single test set, else a table with
    one row per set (``test metrics, N test sets:``, a header of right-aligned 9-character
    columns; sets with other keys than the previous one get their own header). Values have 4
    decimals.

    Args:
        flat (Mapping[str, float]): output of :func:`flatten_metrics`.

    Returns:
        list[str]: the lines (``['test metrics: (none)']`` for no metrics).
    """
    blocks = metric_blocks(flat)
    if not blocks:
        return ['test metrics: (none)']
    if list(blocks) == ['']:
        return ['test metrics: ' + ', '.join(f'{k}={v:.4f}' for k, v in blocks[''].items())]
    width = max(len(name) for name in blocks) + 2
    lines = [f'test metrics, {len(blocks)} test sets:']
    header = None
    for set_name, values in blocks.items():
        keys = list(values)
        if keys != header:
            header = keys
            lines.append(' ' * width + ''.join(f'{k:>9}' for k in keys))
        row = ''.join(f'{v:>9.4f}' for v in values.values())
        lines.append(f'{set_name or "-":<{width}}{row}')
    return lines


def read_metrics_files(items: Iterable[str]) -> Dict[str, Dict[str, float]]:
    """Read ``NAME=FILE.json`` items (``tools/test.py --metrics-out`` files) into table rows.

    Args:
        items (Iterable[str]): ``'NAME=FILE.json'`` strings; the row name is the part before the
            first ``=``. A later item with the same name replaces the earlier row.

    Returns:
        dict[str, dict]: row name -> the file's JSON object, in the order of ``items``.

    Raises:
        ValueError: an item without ``=`` or with an empty name or path, a file that cannot be
            read or parsed (the message names it), or a file whose JSON is not an object.
    """
    rows = {}
    for item in items:
        name, sep, path = item.partition('=')
        if not sep or not name or not path:
            raise ValueError(f'a metrics file is given as NAME=FILE.json, got {item!r}')
        try:
            with open(path) as f:
                metrics = json.load(f)
        except (OSError, ValueError) as e:
            raise ValueError(f'cannot read metrics file {path!r} of {name!r}: {e}') from e
        if not isinstance(metrics, dict):
            raise ValueError(f'{path!r} of {name!r} is not a JSON object of metrics')
        rows[name] = metrics
    return rows


def format_markdown_table(rows: Mapping[str, Mapping[str, float]],
                          first_column: str = 'method') -> str:
    """A Markdown table with one row per entry of ``rows``, columns = the keys of the first row.

    Values are printed with 4 decimals; a key missing from a row is ``-``; keys that only later
    rows have are left out.

    Args:
        rows (Mapping[str, Mapping[str, float]]): row name -> metric name -> value (non-empty).
        first_column (str): header of the row-name column. Defaults to ``'method'``.

    Returns:
        str: the table (header, alignment line, one line per row; no final newline).

    Raises:
        ValueError: ``rows`` is empty.
    """
    if not rows:
        raise ValueError('no rows to tabulate')
    keys = list(next(iter(rows.values())))
    lines = [f'| {first_column} | ' + ' | '.join(keys) + ' |', '|---|' + '---:|' * len(keys)]
    for name, values in rows.items():
        cells = [f'{values[k]:.4f}' if k in values else '-' for k in keys]
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)
