"""Score folders of saved prediction maps (saliency, in-focus maps, pseudo labels) on a test set.

Each folder holds one 8- or 16-bit grey PNG per test image, ``<stem>.png`` (what ``tools/test.py
--out``, ``tools/infer.py`` and ``tools/a2s/generate_pseudo_labels.py`` write: value / max =
probability of label 1, i.e. in-focus or salient). The maps are scored against the config's test
masks (read by the config's dataset class, so polarity and the 128 threshold apply exactly as in
``tools/test.py``) with the config's ``test_evaluator`` (``SODMetric``), so the numbers sit beside
model metrics on the same protocol (:func:`dbdseg.evaluation.pred_folder.evaluate_folders`).

``--centre-prior`` adds the usual centre-bias reference row: an isotropic Gaussian centred on the
image, sigma = ``--centre-sigma`` x the image side (per axis), a map that uses no image content.

Config-free mode: ``--pred DIR [DIR ...] --gt DIR [--invert]`` scores the maps against the mask
files of ``--gt`` (``--invert`` when they mark the blurred class), with ``--sod-metrics`` and
``--protocols`` (:func:`dbdseg.evaluation.pred_folder.evaluate_pred_gt_folders`); each protocol
then applies its reference code's mask rule to the grey masks.

``--resize [RULE]``: resize a map whose size differs from its mask (default: error). Without RULE,
config mode resizes bilinearly and folder mode applies each protocol's own rule (DD bilinear,
D-DFFNet nearest, A2S PIL bicubic; SOD measures bilinear); a RULE (bilinear, nearest,
pil_bicubic) applies to every key. ``--per-image-dir DIR`` writes ``DIR/<row name>.csv``, one row
per image (stem, maxF, MAE, Sm, maxE, wF, protocol values).

Examples (A2S pseudo labels against the PASCAL-S masks; a DBD folder on D-DFFNet's protocol)::

    python tools/analysis_tools/eval_pred_folder.py CONFIG work_dirs/pseudo_ft \
        work_dirs/pseudo_model --names ft model --centre-prior --out work_dirs/pseudo_eval.json
    python tools/analysis_tools/eval_pred_folder.py --pred maps/ --gt data/CUHK/gt --invert \
        --protocols fixed fixed_pooled --positive blurred --resize --per-image-dir per_image/
"""
import argparse

from mmengine.config import Config, DictAction

from dbdseg.evaluation.metric_tables import format_markdown_table
from dbdseg.evaluation.pred_folder import RESIZE_RULES, evaluate_folders, evaluate_pred_gt_folders
from dbdseg.utils import register_all_modules
from dbdseg.utils.fileio import atomic_write_json


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        'config',
        nargs='?',
        help='config whose test_dataloader/test_evaluator are used (not with --gt)')
    parser.add_argument('pred_dirs', nargs='*', help='folders of <stem>.png prediction maps')
    parser.add_argument(
        '--pred', nargs='+', default=[], help='folders of prediction maps (config-free mode)')
    parser.add_argument('--gt', help='folder of mask files: config-free mode')
    parser.add_argument(
        '--invert', action='store_true', help='--gt masks mark the blurred / background class')
    parser.add_argument(
        '--sod-metrics',
        nargs='*',
        default=None,
        help='config-free mode: SOD measures (default all)')
    parser.add_argument(
        '--protocols',
        nargs='+',
        default=None,
        help='config-free mode: DBD / reference protocols (dd dd_pooled dd_mae fixed fixed_pooled '
        'zhang_yan a2s)')
    parser.add_argument('--positive', default='in-focus', help='class scored by fixed protocols')
    parser.add_argument('--dd-quantize', default='round', choices=['round', 'trunc'])
    parser.add_argument(
        '--dd-binarize-gt', action='store_true', help="DD notebook's mean rule on the masks")
    parser.add_argument('--fixed-threshold', type=float, default=0.5)
    parser.add_argument(
        '--per-image-dir', help='write <row name>.csv of per-image metrics into this folder')
    parser.add_argument(
        '--names', nargs='+', help='row names of the folders (default: folder names)')
    parser.add_argument('--pred-suffix', default='.png', help='suffix of the prediction files')
    parser.add_argument(
        '--resize',
        nargs='?',
        const=True,
        default=False,
        choices=RESIZE_RULES,
        help='resize a map whose size differs from its mask (default: error); without RULE: '
        'bilinear (config mode) or each protocol\'s rule (folder mode)')
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
    if args.gt is not None:
        if args.config is not None or args.pred_dirs:
            parser.error('--gt (config-free mode) takes no config; give the folders with --pred')
        args.pred_dirs = args.pred
    elif args.config is None:
        parser.error('give a config, or --pred DIR --gt DIR')
    elif args.pred or args.invert or args.protocols or args.sod_metrics is not None:
        parser.error('--pred, --invert, --sod-metrics and --protocols belong to the config-free '
                     'mode (--gt); a config brings its own test set and test_evaluator')
    if not args.pred_dirs and not args.centre_prior:
        parser.error('give at least one prediction folder or --centre-prior')
    if args.names and len(args.names) != len(args.pred_dirs):
        parser.error(f'--names has {len(args.names)} names for {len(args.pred_dirs)} folders')
    return args


def main(argv=None):
    """Score the folders, print a Markdown table, write ``--out``; returns the metrics per row."""
    args = parse_args(argv)
    if args.gt is not None:
        options = dict(
            positive=args.positive,
            dd_quantize=args.dd_quantize,
            dd_binarize_gt=args.dd_binarize_gt,
            fixed_threshold=args.fixed_threshold)
        results = evaluate_pred_gt_folders(
            args.pred_dirs,
            args.gt,
            args.names,
            invert=args.invert,
            sod_metrics=args.sod_metrics,
            dbd_protocols=args.protocols,
            protocol_options=options,
            pred_suffix=args.pred_suffix,
            resize=args.resize,
            centre_prior=args.centre_prior,
            centre_sigma=args.centre_sigma,
            per_image_dir=args.per_image_dir)
    else:
        register_all_modules()
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        results = evaluate_folders(
            cfg,
            args.pred_dirs,
            args.names,
            args.pred_suffix,
            args.resize,
            args.centre_prior,
            args.centre_sigma,
            per_image_dir=args.per_image_dir)
    print(format_markdown_table(results, first_column='maps'))
    if args.out:
        atomic_write_json(args.out, results)
        print(f'metrics written to {args.out}')
    return results


if __name__ == '__main__':
    main()
