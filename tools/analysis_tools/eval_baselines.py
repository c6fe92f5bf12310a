"""Score non-learned DBD baselines on a config's test set, beside a model's metrics.

Baselines (ARCHITECTURE.md / issue "Foundation" item 9):
  * ``all-in-focus``: a constant probability map of 1 (every pixel predicted in-focus);
  * ``gradient-energy``: local mean of the squared Laplacian (:func:`dbdseg.utils.gradient_energy_map`).

They are evaluated with the config's own ``test_evaluator`` (``SODMetric``) on the same images and masks
(at original size), so their numbers sit beside the model's ``metrics.json`` on the same protocol.

Example::

    python tools/analysis_tools/eval_baselines.py work_dirs/demo/config.py \
        --model-metrics work_dirs/demo/metrics.json --out work_dirs/demo/baselines.json
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from tqdm import tqdm

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
import dbdseg  # noqa: E402,F401
from dbdseg.utils import gradient_energy_map  # noqa: E402
from mmseg.registry import DATASETS, METRICS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402

BASELINES = {
    'all-in-focus': lambda img, args: np.ones(img.shape[:2], np.float32),
    'gradient-energy': lambda img, args: gradient_energy_map(img, window=args.window),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config whose test_dataloader/test_evaluator are used')
    parser.add_argument('--model-metrics', help='metrics.json of a model (tools/test.py --metrics-out) '
                        'to print beside the baselines')
    parser.add_argument('--model-name', default='trained model', help='row label of --model-metrics')
    parser.add_argument(
        '--extra-metrics', nargs='+', default=[], metavar='NAME=FILE.json',
        help='more rows: metrics JSON files written by tools/test.py --metrics-out (e.g. the '
        'classical baselines of projects/classical_dbd), each labelled NAME')
    parser.add_argument('--window', type=int, default=15, help='gradient-energy box window (pixels)')
    parser.add_argument('--out', help='write the baselines\' metrics to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, as in tools/test.py')
    return parser.parse_args(argv)


def evaluate_baselines(cfg, window=15, names=tuple(BASELINES)):
    """Evaluate the baselines on ``cfg.test_dataloader.dataset`` with ``cfg.test_evaluator``.

    Args:
        cfg (Config): a dbdseg config with a labelled test set.
        window (int): gradient-energy window in pixels.
        names (tuple[str]): which baselines.

    Returns:
        dict[str, dict[str, float]]: metrics per baseline.

    Raises:
        ValueError: the test set is empty.
    """
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    ds_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
    # Image and mask at their original size, no resizing: the maps are computed at full resolution.
    ds_cfg.pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadBinaryAnnotations')]
    dataset = DATASETS.build(ds_cfg)
    if len(dataset) == 0:
        raise ValueError(f'the test set of {cfg.filename} is empty')
    ev_cfg = copy.deepcopy(cfg.test_evaluator)
    ev_cfg = ev_cfg[0] if isinstance(ev_cfg, (list, tuple)) else ev_cfg
    for key in ('output_dir', 'curve_dir'):
        ev_cfg.pop(key, None)
    metrics = {name: METRICS.build(copy.deepcopy(ev_cfg)) for name in names}
    args = argparse.Namespace(window=window)
    for idx in tqdm(range(len(dataset)), desc='baselines', unit='img'):
        results = dataset[idx]
        img, gt = results['img'], results['gt_seg_map']
        for name, metric in metrics.items():
            prob = BASELINES[name](img, args)
            sample = SegDataSample(metainfo=dict(img_path=results['img_path'],
                                                 ori_shape=img.shape[:2]))
            sample.seg_logits = PixelData(data=torch.from_numpy(prob)[None])
            sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt.astype(np.int64))[None])
            metric.process([], [sample.to_dict()])
    return {name: metric.evaluate(len(dataset)) for name, metric in metrics.items()}


def format_table(rows):
    """Markdown table of ``{row name: {metric: value}}`` over the keys of the first row."""
    keys = [k for k in next(iter(rows.values()))]
    lines = ['| method | ' + ' | '.join(keys) + ' |', '|---|' + '---:|' * len(keys)]
    for name, values in rows.items():
        cells = [f'{values[k]:.4f}' if k in values else '-' for k in keys]
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def read_extra_metrics(items):
    """``['NAME=FILE.json', ...]`` -> ``{NAME: metrics}`` (files written by tools/test.py).

    Raises:
        SystemExit: an item without ``=``, a missing or unreadable file, or a file that is not a
            JSON object.
    """
    rows = {}
    for item in items:
        name, sep, path = item.partition('=')
        if not sep or not name or not path:
            raise SystemExit(f'eval_baselines.py: error: --extra-metrics takes NAME=FILE.json, '
                             f'got {item!r}')
        try:
            with open(path) as f:
                metrics = json.load(f)
        except (OSError, ValueError) as e:
            raise SystemExit(f'eval_baselines.py: error: cannot read metrics file {path!r} of '
                             f'{name!r}: {e}')
        if not isinstance(metrics, dict):
            raise SystemExit(f'eval_baselines.py: error: {path!r} of {name!r} is not a JSON '
                             'object of metrics')
        rows[name] = metrics
    return rows


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    results = evaluate_baselines(cfg, window=args.window)
    rows = {}
    if args.model_metrics:
        with open(args.model_metrics) as f:
            rows[args.model_name] = json.load(f)
    rows.update(results)
    rows.update(read_extra_metrics(args.extra_metrics))
    print(format_table(rows))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)
        print(f'baseline metrics written to {args.out}')


if __name__ == '__main__':
    main()
