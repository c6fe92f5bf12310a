"""Saving and drawing PR / F-measure curves.

A *curves* dict is what ``SODMetric(curve_dir=...)`` writes to ``curves.json`` (produced by
:func:`dbdseg.evaluation.functional.mean_sod_curves` plus ``metrics`` and ``settings``)::

    {
      'thresholds': [256 floats],  # (255 - i) / 255, descending (pysodmetrics' order)
      'precision':  [256 floats],  # mean per-image precision at thresholds[i]
      'recall':     [256 floats],  # mean per-image recall at thresholds[i]
      'fmeasure':   [256 floats],  # mean per-image F-measure (beta^2 = 0.3); max = maxF
      'emeasure':   [256 floats],  # mean per-image E-measure; max = maxE
      'metrics':    {'maxF': float, ...},   # the scalar results
      'settings':   {...},                  # how they were computed
    }

:func:`plot_curves` draws one or several such dicts (several models on one figure);
:func:`plot_curves_grid` draws several test sets, one row each
(``tools/analysis_tools/plot_curves.py`` is the command line).
"""
import io
import json
import math
from typing import Any, Dict, Sequence, Tuple

import numpy as np

from dbdseg.utils.fileio import atomic_write_bytes

__all__ = [
    'THRESHOLD_SCALE', 'save_curves_json', 'load_curves_json', 'plot_curves', 'plot_curves_grid'
]


def _to_builtin(obj: Any) -> Any:
    """Numpy arrays / scalars (nested in dicts, lists, tuples) -> python lists / floats / ints."""
    if isinstance(obj, dict):
        return {str(k): _to_builtin(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_builtin(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _to_builtin(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        return value if math.isfinite(value) else None
    return obj


def save_curves_json(curves: Dict[str, Any], path: str) -> None:
    """Write a curves dict (see the module docstring) as JSON, atomically.

    Numpy arrays become lists and numpy scalars python numbers; NaN / inf become ``null`` so the
    file is strict JSON. Parent folders are created.

    Args:
        curves (dict): curves dict; any JSON-able content (numpy allowed) is written as given.
        path (str): destination, normally ``<curve_dir>/curves.json``.

    Raises:
        TypeError: ``curves`` holds something JSON cannot represent.
    """
    text = json.dumps(_to_builtin(curves), indent=1, allow_nan=False)
    atomic_write_bytes(path, (text + '\n').encode('utf-8'))


def load_curves_json(path: str) -> Dict[str, Any]:
    """Read a file written by :func:`save_curves_json`; lists of numbers stay python lists.

    Args:
        path (str): a ``curves.json``.

    Returns:
        dict: the curves dict.
    """
    with open(path, encoding='utf-8') as f:
        return json.load(f)


#: x range of every F-measure-vs-threshold panel: the 8-bit threshold axis 0 - 255 of the SOD / DBD
#: papers' figures (Zhang & Yan 2020, Fig. 6: "binarized at each point in range of [0, 255]").
THRESHOLD_SCALE = 255.0


def _draw_panels(ax_pr,
                 ax_f,
                 curves_list: Sequence[Dict[str, Any]],
                 labels: Sequence[str],
                 threshold_scale: float = THRESHOLD_SCALE,
                 title: str = '') -> None:
    """Draw PR curves into ``ax_pr`` and F-measure-vs-threshold curves into ``ax_f``.

    Raises:
        ValueError: a curves dict lacks a key or has curves of different lengths.
    """
    for curves, label in zip(curves_list, labels):
        missing = [k for k in ('thresholds', 'precision', 'recall', 'fmeasure') if k not in curves]
        if missing:
            raise ValueError(f'curves of {label!r} lack {missing}.')
        thr = np.asarray(curves['thresholds'], dtype=np.float64)
        prec = np.asarray(curves['precision'], dtype=np.float64)
        rec = np.asarray(curves['recall'], dtype=np.float64)
        fm = np.asarray(curves['fmeasure'], dtype=np.float64)
        if not len(thr) == len(prec) == len(rec) == len(fm):
            raise ValueError(f'curves of {label!r} have different lengths.')
        max_f = (curves.get('metrics') or {}).get('maxF')
        if max_f is None:
            max_f = float(np.max(fm))
        text = f'{label} (maxF={max_f:.4f})'
        ax_pr.plot(rec, prec, label=text)
        order = np.argsort(thr)
        ax_f.plot(thr[order] * threshold_scale, fm[order], label=text)

    prefix = f'{title}: ' if title else ''
    ax_pr.set_xlabel('Recall')
    ax_pr.set_ylabel('Precision')
    ax_pr.set_title(f'{prefix}precision-recall curve' if title else 'Precision-recall curve')
    ax_f.set_xlabel(f'Threshold (0-{threshold_scale:g})')
    ax_f.set_ylabel(r'F-measure ($\beta^2$ = 0.3)')
    ax_f.set_title(f'{prefix}F-measure vs threshold' if title else 'F-measure vs threshold')
    ax_pr.set_xlim(0, 1)
    ax_f.set_xlim(0, threshold_scale)
    for ax in (ax_pr, ax_f):
        ax.set_ylim(0, 1.02)
        ax.grid(True, alpha=0.3)
        ax.legend(loc='lower left', fontsize='small')


def _save_figure(fig, path: str, dpi: int = 100) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=dpi)
    atomic_write_bytes(path, buf.getvalue())


def plot_curves(curves_list: Sequence[Dict[str, Any]], labels: Sequence[str], path: str) -> None:
    """Draw PR curves and F-measure-vs-threshold curves of one or several models into one PNG.

    Left panel: precision (y) against recall (x). Right panel: F-measure (beta^2 = 0.3, y) against
    the 8-bit threshold 0 - 255 (x; :data:`THRESHOLD_SCALE`, the axis of every dbdseg curve plot).
    One line per curves dict, labelled ``'<label> (maxF=0.xxxx)'`` where maxF is
    ``curves['metrics']['maxF']`` when present, else the max of ``curves['fmeasure']``.
    Drawn with matplotlib's Agg canvas (no display, global backend untouched); written atomically.

    Args:
        curves_list (Sequence[dict]): curves dicts (see the module docstring) holding at least
            ``thresholds``, ``precision``, ``recall`` and ``fmeasure`` (equal-length sequences).
        labels (Sequence[str]): one legend label per curves dict.
        path (str): destination PNG; parent folders are created.

    Raises:
        ValueError: ``curves_list`` is empty, its length differs from ``labels``, or a curves dict
            lacks a key or has curves of different lengths.
    """
    plot_curves_grid([('', curves_list, labels)], path)


def plot_curves_grid(rows: Sequence[Tuple[str, Sequence[Dict[str, Any]], Sequence[str]]],
                     path: str,
                     threshold_scale: float = THRESHOLD_SCALE,
                     dpi: int = 100) -> None:
    """Several test sets in one PNG: one row per set, PR curves left, F-measure curves right.

    Each row draws every model's curves of that set (as :func:`plot_curves` does for one set),
    titled by the set name. Thresholds are drawn on ``[0, threshold_scale]`` (255, the default:
    the 8-bit scale of the papers' F-measure-vs-threshold figures; 1: probabilities).

    Args:
        rows (Sequence[tuple]): ``(set name, curves dicts, labels)`` per row; an empty set name
            gives untitled panels.
        path (str): destination PNG; parent folders are created.
        threshold_scale (float): x range of the F-measure panels, > 0. Defaults to 255.
        dpi (int): resolution. Defaults to 100.

    Raises:
        ValueError: no rows, a row without curves, a row whose number of labels differs from its
            number of curves dicts, a curves dict lacking a key or with curves of different
            lengths, or ``threshold_scale`` not > 0.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = [(title, list(curves_list), list(labels)) for title, curves_list, labels in rows]
    if not rows:
        raise ValueError('plot_curves_grid needs at least one row.')
    if not threshold_scale > 0:
        raise ValueError(f'threshold_scale must be > 0, got {threshold_scale}.')
    for title, curves_list, labels in rows:
        if not curves_list:
            raise ValueError('plot_curves needs at least one curves dict' +
                             (f' (set {title!r}).' if title else '.'))
        if len(curves_list) != len(labels):
            raise ValueError(f'plot_curves got {len(curves_list)} curves dicts but '
                             f'{len(labels)} labels' + (f' (set {title!r}).' if title else '.'))

    fig = Figure(figsize=(11, 4.5 * len(rows)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(rows), 2, squeeze=False)
    for (title, curves_list, labels), (ax_pr, ax_f) in zip(rows, axes):
        _draw_panels(ax_pr, ax_f, curves_list, labels, threshold_scale, title)
    fig.tight_layout()
    _save_figure(fig, path, dpi)
