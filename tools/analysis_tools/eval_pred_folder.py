"""Score folders of saved prediction maps (saliency, in-focus maps, pseudo labels) on a test set.

Each folder holds one 8- or 16-bit grey PNG per test image, ``<stem>.png`` (what ``tools/test.py
--out``, ``tools/infer.py`` and ``tools/a2s/generate_pseudo_labels.py`` write: value / max =
probability of label 1, i.e. in-focus or salient). The maps are scored against the config's test
masks (read by the config's dataset class, so polarity and the 128 threshold apply exactly as in
``tools/test.py``) with the config's ``test_evaluator`` (``SODMetric``), so the numbers sit beside
model metrics on the same protocol (:func:`dbdseg.evaluation.pred_folder.evaluate_folders`).

``--centre-prior`` adds the usual centre-bias reference row: an isotropic Gaussian centred on the
image, sigma = ``--centre-sigma`` x the image side (per axis), a map that uses no image content.

Example (A2S pseudo labels against the PASCAL-S masks)::

    python tools/analysis_tools/eval_pred_folder.py CONFIG work_dirs/pseudo_ft \
        work_dirs/pseudo_model --names ft model --centre-prior --out work_dirs/pseudo_eval.json
"""
import argparse

from mmengine.config import Config, DictAction

from dbdseg.evaluation.metric_tables import format_markdown_table
from dbdseg.evaluation.pred_folder import evaluate_folders
from dbdseg.utils import register_all_modules
from dbdseg.utils.fileio import atomic_write_json


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config whose test_dataloader/test_evaluator are used')
    parser.add_argument('pred_dirs', nargs='*', help='folders of <stem>.png prediction maps')
    parser.add_argument(
        '--names', nargs='+', help='row names of the folders (default: folder names)')
    parser.add_argument('--pred-suffix', default='.png', help='suffix of the prediction files')
    parser.add_argument(
        '--resize',
        action='store_true',
        help='bilinearly resize a map whose size differs from its mask '
        '(default: error)')
    parser.add_argument(
        '--centre-prior', action='store_true', help='add a centre-prior Gaussian row')
    parser.add_argument(
        '--centre-sigma',
        type=float,
        default=0.25,
        help='centre prior sigma as a fraction of the image side (default 0.25)')
    parser.add_argument('--out', help='write {name: metrics} to this JSON file')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as in tools/test.py')
    args = parser.parse_args(argv)
    if not args.pred_dirs and not args.centre_prior:
        parser.error('give at least one prediction folder or --centre-prior')
    if args.names and len(args.names) != len(args.pred_dirs):
        parser.error(f'--names has {len(args.names)} names for {len(args.pred_dirs)} folders')
    return args


def main(argv=None):
    """Score the folders, print a Markdown table, write ``--out``; returns the metrics per row."""
    args = parse_args(argv)
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    results = evaluate_folders(cfg, args.pred_dirs, args.names, args.pred_suffix, args.resize,
                               args.centre_prior, args.centre_sigma)
    print(format_markdown_table(results, first_column='maps'))
    if args.out:
        atomic_write_json(args.out, results)
        print(f'metrics written to {args.out}')
    return results


if __name__ == '__main__':
    main()
