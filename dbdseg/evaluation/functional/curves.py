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

:func:`plot_curves` draws one or several such dicts (several models on one figure).
"""
import io
import json
import math
from typing import Any, Dict, Sequence

import numpy as np

from .prediction_io import atomic_write_bytes

__all__ = ['save_curves_json', 'load_curves_json', 'plot_curves']


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


def plot_curves(curves_list: Sequence[Dict[str, Any]], labels: Sequence[str], path: str) -> None:
    """Draw PR curves and F-measure-vs-threshold curves of one or several models into one PNG.

    Left panel: precision (y) against recall (x). Right panel: F-measure (beta^2 = 0.3, y) against
    threshold in [0, 1] (x). One line per curves dict, labelled ``'<label> (maxF=0.xxxx)'`` where
    maxF is ``curves['metrics']['maxF']`` when present, else the max of ``curves['fmeasure']``.
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
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    curves_list, labels = list(curves_list), list(labels)
    if not curves_list:
        raise ValueError('plot_curves needs at least one curves dict.')
    if len(curves_list) != len(labels):
        raise ValueError(
            f'plot_curves got {len(curves_list)} curves dicts but {len(labels)} labels.')

    fig = Figure(figsize=(11, 4.5))
    FigureCanvasAgg(fig)
    ax_pr, ax_f = fig.subplots(1, 2)
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
        ax_f.plot(thr[order], fm[order], label=text)

    ax_pr.set_xlabel('Recall')
    ax_pr.set_ylabel('Precision')
    ax_pr.set_title('Precision-recall curve')
    ax_f.set_xlabel('Threshold')
    ax_f.set_ylabel(r'F-measure ($\beta^2$ = 0.3)')
    ax_f.set_title('F-measure vs threshold')
    for ax in (ax_pr, ax_f):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(True, alpha=0.3)
        ax.legend(loc='lower left', fontsize='small')
    fig.tight_layout()

    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=100)
    atomic_write_bytes(path, buf.getvalue())
