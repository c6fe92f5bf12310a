"""Score folders of saved prediction maps on a config's test set, with the config's own metric.

A prediction folder holds one grey PNG per test image, ``<stem>.png`` (what ``tools/test.py
--out``, ``tools/infer.py`` and the pseudo-label tools write: value / max = probability of label
1, i.e. in-focus or salient). :func:`evaluate_folders` reads each test mask through the config's
dataset class (so polarity and the 128 threshold apply exactly as in ``tools/test.py``), feeds
map and mask to the config's ``test_evaluator`` (``SODMetric``) and returns one metrics dict per
folder, so saved maps of other methods sit beside model metrics on the same protocol.
``tools/analysis_tools/eval_pred_folder.py`` is its command line.
"""
import copy
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import DATASETS, METRICS
from mmseg.structures import SegDataSample
from tqdm import tqdm

from dbdseg.utils.saliency import centre_prior as centre_prior_map

__all__ = ['evaluate_folders', 'read_prediction']


def read_prediction(path: str, shape: Tuple[int, int], resize: bool = False) -> np.ndarray:
    """Read a saved prediction map as a probability map of the mask's size.

    Args:
        path (str): 8- or 16-bit grey image file (a colour image is converted to grey with
            OpenCV's ``COLOR_BGR2GRAY``; an alpha channel is dropped).
        shape (tuple[int, int]): (H, W) of the mask.
        resize (bool): resize (bilinear) a map of another size instead of raising.
            Defaults to False.

    Returns:
        np.ndarray: (H, W) float32 in [0, 1] (value / 255, or / 65535 for 16-bit files).

    Raises:
        FileNotFoundError: the file is missing (the message names it).
        ValueError: the file cannot be read as an image, or its size differs from ``shape``
            without ``resize`` (the message names it).
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
            raise ValueError(f'prediction map {path} is {prob.shape[1]}x{prob.shape[0]} but its '
                             f'mask is {shape[1]}x{shape[0]} (pass --resize to resize it)')
        prob = cv2.resize(prob, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return np.clip(prob, 0.0, 1.0)


def evaluate_folders(cfg,
                     pred_dirs: Sequence[str],
                     names: Optional[Sequence[str]] = None,
                     pred_suffix: str = '.png',
                     resize: bool = False,
                     centre_prior: bool = False,
                     centre_sigma: float = 0.25,
                     progress: bool = True) -> Dict[str, Dict[str, float]]:
    """Score prediction folders (and optionally a centre prior) on ``cfg``'s test set.

    The test dataset is built with the pipeline ``[LoadBinaryAnnotations]`` (masks at their
    original size); every map is scored at that size by a fresh copy of ``cfg.test_evaluator``
    (the first metric of a list; its ``output_dir`` and ``curve_dir`` are dropped, so nothing is
    written). mmseg's and dbdseg's modules must be registered
    (:func:`dbdseg.utils.register_all_modules`).

    The centre-prior row is the usual centre-bias reference of saliency benchmarks: an isotropic
    Gaussian centred on the image, sigma = ``centre_sigma`` x the image side per axis
    (:func:`dbdseg.utils.saliency.centre_prior` in single precision), which uses no image
    content.

    Args:
        cfg (mmengine.Config): a config with a labelled ``test_dataloader`` and an
            ``SODMetric``-like ``test_evaluator`` (a metric that reads ``seg_logits`` and
            ``gt_sem_seg``).
        pred_dirs (Sequence[str]): folders of ``<stem><pred_suffix>`` maps.
        names (Sequence[str], optional): a row name per folder. Defaults to None: the folder
            names.
        pred_suffix (str): suffix of the prediction files. Defaults to ``'.png'``.
        resize (bool): resize maps whose size differs from the mask. Defaults to False.
        centre_prior (bool): add a ``'centre-prior'`` row. Defaults to False.
        centre_sigma (float): its sigma as a fraction of the image side, > 0. Defaults to 0.25.
        progress (bool): show a tqdm progress bar (stderr). Defaults to True.

    Returns:
        dict[str, dict[str, float]]: the metrics of each row, rows in the order of ``pred_dirs``
        (then ``'centre-prior'``).

    Raises:
        ValueError: the test set is empty; a map cannot be read or has the wrong size (see
            :func:`read_prediction`); ``centre_sigma`` is not > 0.
        FileNotFoundError: a map is missing.
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
    for idx in tqdm(range(len(dataset)), desc='scoring', unit='img', disable=not progress):
        results = dataset[idx]
        gt = results['gt_seg_map']
        # the name tools/test.py --out saved the map under (sub-folders kept)
        stem = results.get('stem') or osp.splitext(osp.basename(results['img_path']))[0]
        for name, folder in rows.items():
            if folder is None:
                prob = centre_prior_map(*gt.shape, sigma=centre_sigma, compute_dtype=np.float32)
            else:
                prob = read_prediction(osp.join(folder, stem + pred_suffix), gt.shape, resize)
            sample = SegDataSample(
                metainfo=dict(
                    img_path=results['img_path'],
                    ori_shape=gt.shape,
                    set_name=results.get('set_name')))
            sample.seg_logits = PixelData(data=torch.from_numpy(prob)[None])
            sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt.astype(np.int64))[None])
            metrics[name].process([], [sample.to_dict()])
    return {name: metric.evaluate(len(dataset)) for name, metric in metrics.items()}
