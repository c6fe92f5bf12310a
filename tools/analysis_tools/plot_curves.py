"""Draw the PR curves and F-measure curves of several models on one figure, as in the papers.

Usage::

    python tools/analysis_tools/plot_curves.py RESULTS [RESULTS ...] --out FIG.png
        [--labels NAME ...] [--sets SET ...] [--threshold-scale 255|1] [--dpi N]

Each RESULTS is what ``SODMetric(curve_dir=...)`` writes (``tools/test.py`` sets ``curve_dir`` to
the work dir): a ``curves.json`` file, or a folder holding ``curves.json`` (one test set) and/or
``<set>/curves.json`` sub-folders (several test sets in one run, ``MultiSetDataset``). The curves
are the dataset-averaged precision, recall and F-measure (beta^2 = 0.3) over the 256 thresholds of
the 8-bit maps (``dbdseg.evaluation.functional.curves``).

The figure has one row per test set (the union of the sets found, in order of first appearance,
or ``--sets``), each with the precision-recall curve (left) and the F-measure against the threshold
(right, on the 0-255 threshold axis every dbdseg curve plot uses, as the papers' figures;
``--threshold-scale 1`` for probabilities);
every model is one line, labelled with its maxF. Models missing a set are left out of that row (and
listed on stderr). A single set without a name is one untitled row.

Labels: ``--labels`` (one per RESULTS), else the folder name of each RESULTS (the work dir
name), else the file name.
"""
import argparse
import os
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='PR and F-measure curves of several models')
    parser.add_argument(
        'results',
        nargs='+',
        help='curves.json files or folders holding curves.json / <set>/curves.json')
    parser.add_argument('--out', required=True, help='output PNG')
    parser.add_argument('--labels', nargs='+', default=None, help='one legend label per RESULTS')
    parser.add_argument(
        '--sets',
        nargs='+',
        default=None,
        help='test sets to draw, in this order (default: all found)')
    parser.add_argument(
        '--threshold-scale',
        type=float,
        default=255.0,
        help='x range of the F-measure panels: 255 (default, as the papers) or 1')
    parser.add_argument('--dpi', type=int, default=100)
    return parser.parse_args(argv)


def read_results(path: str) -> Dict[Optional[str], dict]:
    """The curves of one RESULTS argument, by test set (None for an unnamed single set).

    Raises:
        FileNotFoundError: ``path`` does not exist, or a folder holds no curves.json.
        ValueError: a file is not a curves dict (lacks the curve keys).
    """
    from dbdseg.evaluation.functional import load_curves_json
    if not osp.exists(path):
        raise FileNotFoundError(f'not found: {path}')
    files = []
    if osp.isfile(path):
        files.append(path)
    else:
        if osp.isfile(osp.join(path, 'curves.json')):
            files.append(osp.join(path, 'curves.json'))
        for name in sorted(os.listdir(path)):
            sub = osp.join(path, name, 'curves.json')
            if osp.isfile(sub):
                files.append(sub)
        if not files:
            raise FileNotFoundError(f'{path} holds neither curves.json nor <set>/curves.json '
                                    '(SODMetric writes them when curve_dir is set)')
    out: Dict[Optional[str], dict] = OrderedDict()
    for file in files:
        curves = load_curves_json(file)
        missing = [k for k in ('thresholds', 'precision', 'recall', 'fmeasure') if k not in curves]
        if missing:
            raise ValueError(f'{file} is not a curves.json of SODMetric: it lacks {missing}')
        set_name = (curves.get('settings') or {}).get('set_name')
        if set_name is None and osp.dirname(osp.abspath(file)) != osp.abspath(path) \
                and osp.isdir(path):
            set_name = osp.basename(osp.dirname(file))  # <dir>/<set>/curves.json
        out[set_name] = curves
    return out


def default_label(path: str) -> str:
    """The work dir name of a RESULTS argument (its folder; for a file, the file's folder)."""
    path = osp.abspath(path)
    folder = path if osp.isdir(path) else osp.dirname(path)
    return osp.basename(folder) or osp.basename(path)


def build_rows(results: Sequence[Dict[Optional[str], dict]],
               labels: Sequence[str],
               sets: Optional[Sequence[str]] = None):
    """Rows of :func:`plot_curves_grid`: ``(set name, curves list, labels)`` per set.

    Raises:
        ValueError: a set of ``sets`` that no RESULTS holds.
    """
    found: List[Optional[str]] = list(OrderedDict.fromkeys(k for r in results for k in r))
    if sets:
        unknown = [s for s in sets if s not in found]
        if unknown:
            raise ValueError(f'sets {unknown} are in none of the results (found: '
                             f'{[s for s in found if s is not None]})')
        order: List[Optional[str]] = list(sets)
    else:
        order = found
    rows = []
    for set_name in order:
        curves, names = [], []
        for res, label in zip(results, labels):
            if set_name in res:
                curves.append(res[set_name])
                names.append(label)
            else:
                print(
                    f'plot_curves: {label} has no curves of set {set_name!r} (left out of that '
                    'row)',
                    file=sys.stderr)
        if curves:
            rows.append(('' if set_name is None else str(set_name), curves, names))
    return rows


def main(argv=None) -> str:
    args = parse_args(argv)
    from dbdseg.evaluation.functional import plot_curves_grid
    if args.labels is not None and len(args.labels) != len(args.results):
        raise SystemExit(f'plot_curves.py: {len(args.results)} RESULTS but {len(args.labels)} '
                         'labels; give one label per RESULTS')
    try:
        results = [read_results(p) for p in args.results]
        labels = args.labels or [default_label(p) for p in args.results]
        rows = build_rows(results, labels, args.sets)
        plot_curves_grid(rows, args.out, threshold_scale=args.threshold_scale, dpi=args.dpi)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f'plot_curves.py: {err}')
    sets = ', '.join(title or '(one set)' for title, _, _ in rows)
    print(f'{args.out}: {len(results)} model(s), sets: {sets}')
    return args.out


if __name__ == '__main__':
    main()
