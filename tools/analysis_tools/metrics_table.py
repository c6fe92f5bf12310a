"""Print metrics files of several runs side by side as one Markdown table.

Each row is a ``NAME=FILE.json`` argument: a flat metrics file written by ``tools/test.py
--metrics-out`` (a trained model, or a hand-crafted baseline of ``projects/classical_dbd`` tested
with CHECKPOINT ``none``). The columns are the keys of the first row; a row without a key shows
``-``. ``tools/demo.sh`` prints its model-versus-baselines table with it.

``--latex FILE.tex`` also writes the table as a LaTeX booktabs ``tabular`` (3 decimals, best value
of each column bold: lowest for MAE keys, highest otherwise); ``--xlsx FILE.xlsx`` as an Excel
sheet (needs openpyxl).

Example::

    python tools/analysis_tools/metrics_table.py "trained model=work_dirs/demo/metrics.json" \
        lbp-sharpness=work_dirs/demo/lbp_sharpness/metrics.json --out work_dirs/demo/table.json \
        --latex work_dirs/demo/table.tex
"""
import argparse
import sys

from dbdseg.evaluation.metric_tables import (format_latex_table, format_markdown_table,
                                             read_metrics_files, write_xlsx_table)
from dbdseg.utils.fileio import atomic_write_json, atomic_write_text

PROG = 'tools/analysis_tools/metrics_table.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split('\n')[0])
    parser.add_argument(
        'rows',
        nargs='+',
        metavar='NAME=FILE.json',
        help='a row: its label and a metrics JSON file (tools/test.py '
        '--metrics-out)')
    parser.add_argument(
        '--first-column', default='method', help='header of the row-name column (default: method)')
    parser.add_argument('--out', help='also write {NAME: metrics} of all rows to this JSON file')
    parser.add_argument('--latex', metavar='FILE.tex', help='also write a LaTeX (booktabs) table')
    parser.add_argument(
        '--decimals', type=int, default=3, help='decimals of the LaTeX table (default 3)')
    parser.add_argument('--xlsx', metavar='FILE.xlsx', help='also write an Excel sheet (openpyxl)')
    return parser.parse_args(argv)


def main(argv=None):
    """Print the table; ``argv`` defaults to ``sys.argv[1:]``. Returns ``{NAME: metrics}``."""
    args = parse_args(argv)
    try:
        rows = read_metrics_files(args.rows)
    except ValueError as e:
        raise SystemExit(f'{PROG}: error: {e}')
    print(format_markdown_table(rows, first_column=args.first_column), flush=True)
    if args.out:
        try:
            atomic_write_json(args.out, rows)
        except OSError as e:
            raise SystemExit(f'{PROG}: error: {e}')
        print(f'metrics of {len(rows)} rows written to {args.out}')
    try:
        if args.latex:
            atomic_write_text(
                args.latex,
                format_latex_table(rows, first_column=args.first_column, decimals=args.decimals))
            print(f'LaTeX table written to {args.latex}')
        if args.xlsx:
            write_xlsx_table(rows, args.xlsx, first_column=args.first_column)
            print(f'Excel table written to {args.xlsx}')
    except (OSError, ImportError, ValueError) as e:
        raise SystemExit(f'{PROG}: error: {e}')
    return rows


if __name__ == '__main__':
    main(sys.argv[1:])
