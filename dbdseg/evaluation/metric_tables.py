"""Metrics as flat dicts and text tables: the summary ``tools/test.py`` prints and writes.

* :func:`flatten_metrics`: a runner's (possibly nested) metrics dict -> ``{key: float}``, the
  content of ``tools/test.py --metrics-out`` files;
* :func:`metric_blocks` / :func:`format_metric_blocks`: that dict grouped by test set
  (``MultiSetDataset`` keys ``<set>/<metric>``) and printed as one line or a table;
* :func:`read_metrics_files` / :func:`format_markdown_table`: several such files side by side as a
  Markdown table (one row per method), e.g. a model and the hand-crafted baselines of
  ``projects/classical_dbd`` (``tools/analysis_tools/metrics_table.py``, ``tools/demo.sh``);
* :func:`format_latex_table` / :func:`write_xlsx_table`: the same rows as a LaTeX (booktabs)
  table or an Excel sheet (openpyxl, optional), the exports PySODEvalToolkit users expect.
"""
import io
import json
import math
import numbers
from typing import Dict, Iterable, List, Mapping, Tuple

import numpy as np
import torch

__all__ = [
    'flatten_metrics', 'format_latex_table', 'format_markdown_table', 'format_metric_blocks',
    'lower_is_better', 'metric_blocks', 'read_metrics_files', 'write_xlsx_table'
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


def lower_is_better(key: str) -> bool:
    """Whether a smaller value of metric ``key`` is better: the MAE keys (``MAE``, ``ddMAE``,
    ``zyMAE``, ``a2sMAE``, also as ``<set>/<key>``); every other dbdseg key is higher-is-better."""
    return key.rpartition('/')[2].endswith('MAE')


_LATEX_SPECIAL = {
    '\\': r'\textbackslash{}',
    '&': r'\&',
    '%': r'\%',
    '$': r'\$',
    '#': r'\#',
    '_': r'\_',
    '{': r'\{',
    '}': r'\}',
    '~': r'\textasciitilde{}',
    '^': r'\textasciicircum{}',
}


def _latex_escape(text: str) -> str:
    return ''.join(_LATEX_SPECIAL.get(char, char) for char in text)


def _columns(rows: Mapping[str, Mapping[str, float]]) -> List[str]:
    if not rows:
        raise ValueError('no rows to tabulate')
    return list(next(iter(rows.values())))


def format_latex_table(rows: Mapping[str, Mapping[str, float]],
                       first_column: str = 'method',
                       decimals: int = 3,
                       bold_best: bool = True) -> str:
    """A LaTeX ``tabular`` (booktabs rules) with one row per entry of ``rows``.

    Columns are the keys of the first row (as :func:`format_markdown_table`), each headed with an
    arrow (``$\\downarrow$`` for the MAE keys, :func:`lower_is_better`, else ``$\\uparrow$``);
    values have ``decimals`` decimals, a missing or non-finite value is ``-``; with ``bold_best``
    the best value of each column (after rounding, ties all bold) is ``\\textbf``. Names are
    escaped for LaTeX. Needs ``\\usepackage{booktabs}``.

    Args:
        rows (Mapping[str, Mapping[str, float]]): row name -> metric name -> value (non-empty).
        first_column (str): header of the row-name column. Defaults to ``'method'``.
        decimals (int): decimals of the values, >= 0. Defaults to 3 (the papers' tables).
        bold_best (bool): bold the best value per column. Defaults to True.

    Returns:
        str: the table, ending with a newline.

    Raises:
        ValueError: ``rows`` is empty or ``decimals`` < 0.
    """
    keys = _columns(rows)
    if decimals < 0:
        raise ValueError(f'decimals must be >= 0, got {decimals}')

    def rounded(value):
        if isinstance(value, numbers.Number) and math.isfinite(value):
            return round(float(value), decimals)
        return None

    best = {}
    for key in keys:
        values = [rounded(r.get(key)) for r in rows.values()]
        values = [v for v in values if v is not None]
        if values:
            best[key] = min(values) if lower_is_better(key) else max(values)
    header = [_latex_escape(first_column)] + [
        _latex_escape(k) + (r' $\downarrow$' if lower_is_better(k) else r' $\uparrow$')
        for k in keys
    ]
    lines = [
        r'\begin{tabular}{l' + 'r' * len(keys) + '}', r'\toprule', ' & '.join(header) + r' \\',
        r'\midrule'
    ]
    for name, values in rows.items():
        cells = [_latex_escape(str(name))]
        for key in keys:
            value = rounded(values.get(key))
            if value is None:
                cells.append('-')
                continue
            text = f'{value:.{decimals}f}'
            cells.append(rf'\textbf{{{text}}}' if bold_best and value == best.get(key) else text)
        lines.append(' & '.join(cells) + r' \\')
    lines += [r'\bottomrule', r'\end{tabular}']
    return '\n'.join(lines) + '\n'


def write_xlsx_table(rows: Mapping[str, Mapping[str, float]],
                     path: str,
                     first_column: str = 'method') -> None:
    """Write the rows as an Excel sheet: a header line (``first_column``, then the keys of the first
    row), one line per row with the values as numbers (full precision; a missing value is an empty
    cell). Written atomically; needs the optional package openpyxl.

    Args:
        rows (Mapping[str, Mapping[str, float]]): row name -> metric name -> value (non-empty).
        path (str): the ``.xlsx`` file; parent folders are created.
        first_column (str): header of the row-name column. Defaults to ``'method'``.

    Raises:
        ValueError: ``rows`` is empty.
        ImportError: openpyxl is not installed (the message says how to install it).
    """
    keys = _columns(rows)
    try:
        from openpyxl import Workbook
    except ImportError as err:
        raise ImportError('writing .xlsx tables needs openpyxl: pip install openpyxl') from err
    from dbdseg.utils.fileio import atomic_write_bytes
    book = Workbook()
    sheet = book.active
    sheet.title = 'metrics'
    sheet.append([first_column] + keys)
    for name, values in rows.items():
        cells = []
        for key in keys:
            value = values.get(key)
            ok = isinstance(value, numbers.Number) and math.isfinite(value)
            cells.append(float(value) if ok else None)
        sheet.append([str(name)] + cells)
    buf = io.BytesIO()
    book.save(buf)
    atomic_write_bytes(path, buf.getvalue())
