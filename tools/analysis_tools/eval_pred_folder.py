"""Score folders of saved prediction maps (saliency maps, in-focus maps, pseudo labels) on a config's test set.

Each folder holds one 8- or 16-bit grey PNG per test image, ``<stem>.png`` (what ``tools/test.py --out``,
``tools/infer.py`` and ``tools/a2s/generate_pseudo_labels.py`` write: value / max = probability of label 1,
i.e. in-focus or salient). The maps are scored against the config's test masks (read by the config's
dataset class, so ``invert`` and the 128 threshold apply exactly as in ``tools/test.py``) with the config's
``test_evaluator`` (``SODMetric``), so the numbers sit beside model metrics on the same protocol.

``--centre-prior`` adds the usual centre-bias reference row: an isotropic Gaussian centred on the image,
sigma = ``--centre-sigma`` x the image side (per axis), a map that uses no image content.

Example (A2S pseudo labels against the PASCAL-S masks)::

    python tools/analysis_tools/eval_pred_folder.py CONFIG work_dirs/pseudo_ft work_dirs/pseudo_model \
        --names ft model --centre-prior --out work_dirs/pseudo_eval.json
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys

import cv2
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from tqdm import tqdm

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
import dbdseg  # noqa: E402,F401
from mmseg.registry import DATASETS, METRICS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config whose test_dataloader/test_evaluator are used')
    parser.add_argument('pred_dirs', nargs='*', help='folders of <stem>.png prediction maps')
    parser.add_argument('--names', nargs='+', help='row names of the folders (default: folder names)')
    parser.add_argument('--pred-suffix', default='.png', help='suffix of the prediction files')
    parser.add_argument('--resize', action='store_true',
                        help='bilinearly resize a map whose size differs from its mask (default: error)')
    parser.add_argument('--centre-prior', action='store_true', help='add a centre-prior Gaussian row')
    parser.add_argument('--centre-sigma', type=float, default=0.25,
                        help='centre prior sigma as a fraction of the image side (default 0.25)')
    parser.add_argument('--out', help='write {name: metrics} to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, as in tools/test.py')
    args = parser.parse_args(argv)
    if not args.pred_dirs and not args.centre_prior:
        parser.error('give at least one prediction folder or --centre-prior')
    if args.names and len(args.names) != len(args.pred_dirs):
        parser.error(f'--names has {len(args.names)} names for {len(args.pred_dirs)} folders')
    return args


def centre_prior_map(height, width, sigma=0.25):
    """Centre-bias map: ``exp(-((x - cx)^2 / (2 (sigma W)^2) + (y - cy)^2 / (2 (sigma H)^2)))``.

    Args:
        height, width (int): map size in pixels.
        sigma (float): standard deviation as a fraction of the side, > 0.

    Returns:
        np.ndarray: (height, width) float32 in (0, 1], 1 at the centre.

    Raises:
        ValueError: sigma <= 0 or an empty size.
    """
    if sigma <= 0 or height <= 0 or width <= 0:
        raise ValueError(f'centre prior needs sigma > 0 and a non-empty size, got sigma={sigma}, '
                         f'size={height}x{width}')
    y = (np.arange(height, dtype=np.float32) + 0.5 - height / 2) / (sigma * height)
    x = (np.arange(width, dtype=np.float32) + 0.5 - width / 2) / (sigma * width)
    return np.exp(-0.5 * (y[:, None]**2 + x[None, :]**2)).astype(np.float32)


def read_prediction(path, shape, resize=False):
    """Read a saved prediction map as a probability map of the mask's size.

    Args:
        path (str): 8- or 16-bit grey (or colour: converted to grey) image file.
        shape (tuple[int, int]): (H, W) of the mask.
        resize (bool): resize a map of another size instead of raising.

    Returns:
        np.ndarray: (H, W) float32 in [0, 1] (value / 255, or / 65535 for 16-bit files).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: unreadable file, or a size that differs from the mask without ``resize``.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'prediction map {path} is missing (every test image needs one)')
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f'prediction map {path} cannot be read as an image')
    if img.ndim == 3:
        img = cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2GRAY)
    scale = 65535.0 if img.dtype == np.uint16 else 255.0
    prob = img.astype(np.float32) / scale
    if prob.shape != tuple(shape):
        if not resize:
            raise ValueError(f'prediction map {path} is {prob.shape[1]}x{prob.shape[0]} but its mask '
                             f'is {shape[1]}x{shape[0]} (pass --resize to resize it)')
        prob = cv2.resize(prob, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return np.clip(prob, 0.0, 1.0)


def evaluate_folders(cfg, pred_dirs, names=None, pred_suffix='.png', resize=False,
                     centre_prior=False, centre_sigma=0.25):
    """Score prediction folders (and optionally a centre prior) on ``cfg``'s test set.

    Args:
        cfg (Config): a config with a labelled ``test_dataloader`` and an ``SODMetric`` evaluator.
        pred_dirs (list[str]): folders of ``<stem><pred_suffix>`` maps.
        names (list[str], optional): row names (default: the folder names).
        pred_suffix (str): suffix of the prediction files.
        resize (bool): resize maps whose size differs from the mask.
        centre_prior (bool): add a ``centre-prior`` row.
        centre_sigma (float): its sigma (fraction of the image side).

    Returns:
        dict[str, dict[str, float]]: metrics per row.

    Raises:
        ValueError: empty test set; unreadable or wrongly sized map; FileNotFoundError: missing map.
    """
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    ds_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
    ds_cfg.pipeline = [dict(type='LoadBinaryAnnotations')]
    dataset = DATASETS.build(ds_cfg)
    if len(dataset) == 0:
        raise ValueError(f'the test set of {cfg.filename} is empty')
    names = list(names) if names else [osp.basename(osp.normpath(d)) for d in pred_dirs]
    rows = dict(zip(names, pred_dirs))
    if centre_prior:
        rows['centre-prior'] = None
    ev_cfg = copy.deepcopy(cfg.test_evaluator)
    ev_cfg = ev_cfg[0] if isinstance(ev_cfg, (list, tuple)) else ev_cfg
    for key in ('output_dir', 'curve_dir'):
        ev_cfg.pop(key, None)
    metrics = {name: METRICS.build(copy.deepcopy(ev_cfg)) for name in rows}
    for idx in tqdm(range(len(dataset)), desc='scoring', unit='img'):
        results = dataset[idx]
        gt = results['gt_seg_map']
        stem = osp.splitext(osp.basename(results['img_path']))[0]
        for name, folder in rows.items():
            if folder is None:
                prob = centre_prior_map(*gt.shape, sigma=centre_sigma)
            else:
                prob = read_prediction(osp.join(folder, stem + pred_suffix), gt.shape, resize)
            sample = SegDataSample(metainfo=dict(img_path=results['img_path'], ori_shape=gt.shape,
                                                 set_name=results.get('set_name')))
            sample.seg_logits = PixelData(data=torch.from_numpy(prob)[None])
            sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt.astype(np.int64))[None])
            metrics[name].process([], [sample.to_dict()])
    return {name: metric.evaluate(len(dataset)) for name, metric in metrics.items()}


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    results = evaluate_folders(cfg, args.pred_dirs, args.names, args.pred_suffix, args.resize,
                               args.centre_prior, args.centre_sigma)
    keys = list(next(iter(results.values())))
    print('| maps | ' + ' | '.join(keys) + ' |')
    print('|---|' + '---:|' * len(keys))
    for name, values in results.items():
        print(f'| {name} | ' + ' | '.join(f'{values[k]:.4f}' for k in keys) + ' |')
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)
        print(f'metrics written to {args.out}')


if __name__ == '__main__':
    main()
