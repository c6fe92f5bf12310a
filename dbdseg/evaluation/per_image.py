"""Per-image metric tables (CSV), to find the failure cases of a test run.

One row per image: its name (``stem``; ``set`` with several test sets), then the SOD measures of
that image alone (``maxF`` = max over the 256 thresholds of the image's own F-measure curve,
``MAE``, ``Sm``, ``maxE``, ``wF`` and any other ``sod_metrics`` asked for) and the values of the
DBD / reference protocols on that image alone
(:func:`dbdseg.evaluation.functional.dbd_protocols.dbd_image_values`; a pooled key such as
``ddpF`` is then the image's own F, and the set value is not the mean of the column).
``SODMetric(per_image_csv=...)`` and ``tools/analysis_tools/eval_pred_folder.py --per-image-csv``
write it.
"""
import csv
import io
import math
from typing import Dict, List, Optional, Sequence

from dbdseg.utils.fileio import atomic_write_text
from .functional import SOD_METRICS, summarize_sod_measures
from .functional.dbd_protocols import dbd_image_values

__all__ = ['PER_IMAGE_SOD_KEYS', 'per_image_rows', 'write_per_image_csv']

#: SOD measures every per-image table holds (whatever ``sod_metrics`` says).
PER_IMAGE_SOD_KEYS = ('maxF', 'MAE', 'Sm', 'maxE', 'wF')


def per_image_rows(
    records: Sequence[dict], sod_metrics: Sequence[str] = (), protocols: Sequence[str] = ()
) -> List[Dict[str, object]]:
    """Rows of the per-image table.

    Args:
        records (Sequence[dict]): per-image records of ``SODMetric.process`` (or of
            ``image_sod_measures`` + ``dbd_image_counts``), each with ``stem`` (else ``img_path``),
            optionally ``set_name``, and the quantities of :data:`PER_IMAGE_SOD_KEYS`.
        sod_metrics (Sequence[str]): more SOD measures to add after :data:`PER_IMAGE_SOD_KEYS`
            (names of ``SOD_METRICS``; duplicates dropped). Defaults to none.
        protocols (Sequence[str]): DBD / reference protocols whose keys follow. Defaults to none.

    Returns:
        list[dict]: one dict per record, in order: ``stem``, ``set`` (only when the records hold
        several test sets), then float values (SOD measures in the order of ``SOD_METRICS``).

    Raises:
        KeyError: a record lacks a quantity of a requested column.
    """
    metrics = list(dict.fromkeys(list(PER_IMAGE_SOD_KEYS) + list(sod_metrics)))
    metrics = [m for m in SOD_METRICS if m in metrics]
    with_set = len({r.get('set_name') for r in records} - {None}) > 1
    rows = []
    for record in records:
        row: Dict[str, object] = dict(stem=record.get('stem') or record.get('img_path'))
        if with_set:
            row['set'] = record.get('set_name')
        row.update(summarize_sod_measures([record], metrics))
        row.update(dbd_image_values(record, protocols))
        rows.append(row)
    return rows


def _cell(value: object) -> object:
    if isinstance(value, float):
        return '' if math.isnan(value) else repr(value)
    return '' if value is None else value


def write_per_image_csv(rows: Sequence[Dict[str, object]],
                        path: str,
                        columns: Optional[Sequence[str]] = None) -> None:
    """Write per-image rows as CSV (comma-separated, a header line, full float precision, NaN as an
    empty cell), atomically; parent folders are created.

    Args:
        rows (Sequence[dict]): output of :func:`per_image_rows` (at least one).
        path (str): the CSV file.
        columns (Sequence[str], optional): column order. Defaults to the keys of the first row.

    Raises:
        ValueError: no rows.
    """
    if not rows:
        raise ValueError('no per-image rows to write')
    columns = list(columns or rows[0])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    atomic_write_text(path, buf.getvalue())
