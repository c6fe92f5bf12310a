"""Score folders of saved prediction maps on a config's test set, with the config's own metric.

A prediction folder holds one grey PNG per test image, ``<stem>.png`` (what ``tools/test.py
--out``, ``tools/infer.py`` and the pseudo-label tools write: value / max = probability of label
1, i.e. in-focus or salient). :func:`evaluate_folders` reads each test mask through the config's
dataset class (so polarity and the 128 threshold apply exactly as in ``tools/test.py``), feeds
map and mask to the config's ``test_evaluator`` (``SODMetric``) and returns one metrics dict per
folder, so saved maps of other methods sit beside model metrics on the same protocol.
``tools/analysis_tools/eval_pred_folder.py`` is its command line.

:func:`evaluate_pred_gt_folders` is the config-free mode (``eval_pred_folder.py --pred DIR --gt
DIR [--invert]``): it reads the mask files itself, so each protocol can apply the mask rule of its
reference code to the grey values (``PROTOCOL_MASK_RULES``), and each protocol's resizing rule
(:data:`RESIZE_RULES`, ``PROTOCOL_RESIZE``) when a map and its mask differ in size.
"""
import copy
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import DATASETS, METRICS
from mmseg.structures import SegDataSample
from tqdm import tqdm

from dbdseg.utils.fileio import list_images
from dbdseg.utils.saliency import centre_prior as centre_prior_map
from .functional import (SOD_METRICS, dbd_image_counts, image_sod_measures, summarize_dbd_protocols,
                         summarize_sod_measures)
from .functional.dbd_protocols import PROTOCOL_RESIZE, check_dbd_protocols
from .per_image import PER_IMAGE_SOD_KEYS, per_image_rows, write_per_image_csv

__all__ = [
    'RESIZE_RULES', 'evaluate_folders', 'evaluate_pred_gt_folders', 'read_prediction', 'resize_map',
    'read_grey_mask'
]

#: Resizing rules of saved maps (``eval_pred_folder.py --resize RULE``): ``'bilinear'`` (OpenCV
#: ``INTER_LINEAR`` of the probability; equal to DD's ``F.interpolate(mode='bilinear')`` within
#: 3e-6), ``'nearest'`` (PyTorch's ``F.interpolate(mode='nearest')``: source index
#: ``floor(i * in / out)``, D-DFFNet), ``'pil_bicubic'`` (PIL ``Image.resize`` default bicubic of
#: the 8-bit map, A2S's ``eval.py``).
RESIZE_RULES = ('bilinear', 'nearest', 'pil_bicubic')


def resize_map(img: np.ndarray, shape: Tuple[int, int], rule: str = 'bilinear') -> np.ndarray:
    """Resize a decoded grey map to ``shape`` by one of :data:`RESIZE_RULES`.

    Args:
        img (np.ndarray): (h, w) map, uint8, uint16 or float32.
        shape (tuple[int, int]): target (H, W).
        rule (str): a name of :data:`RESIZE_RULES`. Defaults to ``'bilinear'``.

    Returns:
        np.ndarray: (H, W) map; ``'bilinear'`` float32 of ``img`` / its scale (probabilities),
        the other rules in ``img``'s dtype (``'pil_bicubic'`` of a uint8 map stays uint8, as PIL's
        mode L; other dtypes go through PIL's mode F).

    Raises:
        ValueError: an unknown rule.
    """
    h, w = int(shape[0]), int(shape[1])
    if rule == 'bilinear':
        return cv2.resize(img.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    if rule == 'nearest':
        rows = np.minimum((np.arange(h) * (img.shape[0] / h)).astype(np.int64), img.shape[0] - 1)
        cols = np.minimum((np.arange(w) * (img.shape[1] / w)).astype(np.int64), img.shape[1] - 1)
        return img[rows[:, None], cols[None, :]]
    if rule == 'pil_bicubic':
        from PIL import Image
        if img.dtype == np.uint8:
            return np.asarray(Image.fromarray(img).resize((w, h), Image.BICUBIC))
        out = Image.fromarray(img.astype(np.float32), mode='F').resize((w, h), Image.BICUBIC)
        return np.asarray(out).astype(img.dtype if img.dtype != np.uint16 else np.float32)
    raise ValueError(f'unknown resize rule {rule!r}; valid rules are {list(RESIZE_RULES)}')


def read_prediction(path: str,
                    shape: Tuple[int, int],
                    resize: Union[bool, str] = False) -> np.ndarray:
    """Read a saved prediction map as a probability map of the mask's size.

    Args:
        path (str): 8- or 16-bit grey image file (a colour image is converted to grey with
            OpenCV's ``COLOR_BGR2GRAY``; an alpha channel is dropped).
        shape (tuple[int, int]): (H, W) of the mask.
        resize (bool | str): resize a map of another size instead of raising: True or
            ``'bilinear'``, ``'nearest'`` or ``'pil_bicubic'`` (see :func:`resize_map`).
            Defaults to False.

    Returns:
        np.ndarray: (H, W) float32 in [0, 1] (value / 255, or / 65535 for 16-bit files).

    Raises:
        FileNotFoundError: the file is missing (the message names it).
        ValueError: the file cannot be read as an image, or its size differs from ``shape``
            without ``resize`` (the message names it); an unknown resize rule.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'prediction map {path} is missing (every test image needs one)')
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f'prediction map {path} cannot be read as an image')
    if img.ndim == 3:
        img = cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2GRAY)
    scale = 65535.0 if img.dtype == np.uint16 else 255.0
    if img.shape != tuple(shape):
        if not resize:
            raise ValueError(f'prediction map {path} is {img.shape[1]}x{img.shape[0]} but its '
                             f'mask is {shape[1]}x{shape[0]} (pass --resize to resize it)')
        rule = 'bilinear' if resize is True else resize
        if rule == 'bilinear':
            return np.clip(resize_map(img.astype(np.float32) / scale, shape, rule), 0.0, 1.0)
        img = resize_map(img, shape, rule)
    prob = img.astype(np.float32) / scale
    return np.clip(prob, 0.0, 1.0)


def evaluate_folders(cfg,
                     pred_dirs: Sequence[str],
                     names: Optional[Sequence[str]] = None,
                     pred_suffix: str = '.png',
                     resize: Union[bool, str] = False,
                     centre_prior: bool = False,
                     centre_sigma: float = 0.25,
                     progress: bool = True,
                     per_image_dir: Optional[str] = None) -> Dict[str, Dict[str, float]]:
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
        resize (bool | str): resize maps whose size differs from the mask: True = bilinear, or
            a rule of :data:`RESIZE_RULES` for every key. Defaults to False.
        centre_prior (bool): add a ``'centre-prior'`` row. Defaults to False.
        centre_sigma (float): its sigma as a fraction of the image side, > 0. Defaults to 0.25.
        progress (bool): show a tqdm progress bar (stderr). Defaults to True.
        per_image_dir (str, optional): write each row's per-image metrics to
            ``per_image_dir/<row name>.csv`` (``SODMetric(per_image_csv=...)``). Defaults to None.

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
    for key in ('output_dir', 'curve_dir', 'per_image_csv'):
        ev_cfg.pop(key, None)
    metrics = {}
    for name in rows:
        row_cfg = copy.deepcopy(ev_cfg)
        if per_image_dir is not None:
            row_cfg['per_image_csv'] = osp.join(per_image_dir, f'{name}.csv')
        metrics[name] = METRICS.build(row_cfg)
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
            meta = dict(
                img_path=results['img_path'], ori_shape=gt.shape, set_name=results.get('set_name'))
            if results.get('stem'):
                meta['stem'] = results['stem']
            sample = SegDataSample(metainfo=meta)
            sample.seg_logits = PixelData(data=torch.from_numpy(prob)[None])
            sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt.astype(np.int64))[None])
            metrics[name].process([], [sample.to_dict()])
    return {name: metric.evaluate(len(dataset)) for name, metric in metrics.items()}


def read_grey_mask(path: str, invert: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Read a mask file as dbdseg's {0, 1} labels and as its grey values on the 8-bit scale.

    The file is read and checked as :class:`~dbdseg.datasets.LoadBinaryAnnotations` does
    (``read_mask``, ``check_mask_values``, ``binarize_mask`` with dbdseg's ``v > 128``); a mask
    already holding labels {0, 1} has grey values ``255 * label``. With ``invert`` the polarity is
    flipped in both (grey ``255 - v``).

    Args:
        path (str): the mask file.
        invert (bool): masks mark the blurred / background class. Defaults to False.

    Returns:
        tuple: ``(labels, grey)``, (H, W) uint8 {0, 1} and (H, W) float64 in [0, 255].

    Raises:
        FileNotFoundError, ValueError: see ``read_mask`` / ``check_mask_values``.
    """
    from dbdseg.datasets.transforms.loading import (binarize_mask, check_mask_values, read_mask,
                                                    to_8bit_scale)
    raw = read_mask(path)
    check_mask_values(raw, 128, path)
    labels = binarize_mask(raw, 128, invert, path)
    if np.all((raw == 0) | (raw == 1)):
        grey = raw.astype(np.float64) * 255.0
    else:
        grey = to_8bit_scale(raw, path)
    if invert:
        grey = 255.0 - grey
    return labels, grey


def evaluate_pred_gt_folders(pred_dirs: Sequence[str],
                             gt_dir: str,
                             names: Optional[Sequence[str]] = None,
                             invert: bool = False,
                             sod_metrics: Optional[Sequence[str]] = None,
                             dbd_protocols: Optional[Sequence[str]] = None,
                             protocol_options: Optional[Dict[str, Any]] = None,
                             pred_suffix: str = '.png',
                             resize: Union[bool, str] = False,
                             centre_prior: bool = False,
                             centre_sigma: float = 0.25,
                             per_image_dir: Optional[str] = None,
                             progress: bool = True) -> Dict[str, Dict[str, float]]:
    """Score prediction folders against a folder of mask files, without a config.

    Every image file of ``gt_dir`` (not sub-folders; see ``dbdseg.utils.fileio.list_images``) is a
    test image ``<stem>.<ext>``; each folder of ``pred_dirs`` must hold ``<stem><pred_suffix>``.
    Masks are read by :func:`read_grey_mask`: the SOD measures use dbdseg's {0, 1} labels
    (``v > 128``), each protocol gets the grey values and applies its reference's mask rule
    (``dbd_protocols.PROTOCOL_MASK_RULES``). The numbers equal ``SODMetric`` with the same
    arguments on a config whose masks are read the same way, except where a protocol's mask rule
    differs from ``v > 128`` on grey masks.

    Resizing (a map whose size differs from its mask): ``resize=False`` raises; True applies to
    the SOD measures the bilinear rule and to each protocol its source's rule
    (``dbd_protocols.PROTOCOL_RESIZE``: DD bilinear, D-DFFNet nearest, A2S PIL bicubic); a rule
    name of :data:`RESIZE_RULES` applies that rule to every key.

    Args:
        pred_dirs (Sequence[str]): folders of prediction maps (8- or 16-bit grey, value / max =
            probability of the positive class).
        gt_dir (str): folder of mask files.
        names (Sequence[str], optional): a row name per folder. Defaults to the folder names.
        invert (bool): the masks mark the blurred / background class (CUHK, D-DFFNet's Shi set).
            Defaults to False.
        sod_metrics (Sequence[str], optional): names of ``SOD_METRICS``. Defaults to None: all.
        dbd_protocols (Sequence[str], optional): protocol names. Defaults to None: none.
        protocol_options (dict, optional): keyword arguments of ``dbd_image_counts``
            (``positive``, ``dd_factor``, ``dd_binarize_gt``, ``fixed_threshold``,
            ``dd_quantize``). Defaults to None.
        pred_suffix (str): suffix of the prediction files. Defaults to ``'.png'``.
        resize (bool | str): see above. Defaults to False.
        centre_prior (bool): add a ``'centre-prior'`` row. Defaults to False.
        centre_sigma (float): its sigma as a fraction of the image side, > 0. Defaults to 0.25.
        per_image_dir (str, optional): write ``per_image_dir/<row name>.csv`` per row (see
            :mod:`dbdseg.evaluation.per_image`). Defaults to None.
        progress (bool): show a tqdm progress bar. Defaults to True.

    Returns:
        dict[str, dict[str, float]]: per row, the SOD measures then the protocol keys.

    Raises:
        ValueError: no mask files, two masks with one stem, both ``sod_metrics`` and
            ``dbd_protocols`` empty, an unknown metric, protocol or resize rule, a map of the
            wrong size without ``resize``, a mask refused by ``check_mask_values``.
        FileNotFoundError: a prediction map is missing.
    """
    metrics = list(SOD_METRICS) if sod_metrics is None else list(sod_metrics)
    protocols = check_dbd_protocols(dbd_protocols)
    if not metrics and not protocols:
        raise ValueError('give at least one SOD metric or protocol')
    if isinstance(resize, str) and resize not in RESIZE_RULES:
        raise ValueError(f'unknown resize rule {resize!r}; valid rules are {list(RESIZE_RULES)}')
    options = dict(protocol_options or {})
    gt_files = list_images(gt_dir)
    if not gt_files:
        raise ValueError(f'{gt_dir} holds no mask files')
    stems: Dict[str, str] = {}
    for path in gt_files:
        stem = osp.splitext(osp.basename(path))[0]
        if stem in stems:
            raise ValueError(f'{stems[stem]} and {path} have the same stem {stem!r}')
        stems[stem] = path
    names = list(names) if names else [osp.basename(osp.normpath(d)) for d in pred_dirs]
    rows: Dict[str, Optional[str]] = dict(zip(names, pred_dirs))
    if centre_prior:
        rows['centre-prior'] = None
    needs = list(metrics)
    if per_image_dir is not None:
        needs = list(dict.fromkeys(needs + list(PER_IMAGE_SOD_KEYS)))
    # resize rule -> protocols that use it
    by_rule: Dict[str, List[str]] = {}
    for protocol in protocols:
        rule = resize if isinstance(resize, str) else PROTOCOL_RESIZE[protocol]
        by_rule.setdefault(rule, []).append(protocol)
    sod_rule = resize if isinstance(resize, str) else 'bilinear'
    records: Dict[str, List[dict]] = {name: [] for name in rows}
    for stem, gt_path in tqdm(stems.items(), desc='scoring', unit='img', disable=not progress):
        gt, grey = read_grey_mask(gt_path, invert)
        for name, folder in rows.items():
            if folder is None:
                prob = centre_prior_map(*gt.shape, sigma=centre_sigma, compute_dtype=np.float32)
                probs = {rule: prob for rule in set(by_rule) | {sod_rule}}
            else:
                path = osp.join(folder, stem + pred_suffix)
                probs = {
                    rule: read_prediction(path, gt.shape, rule if resize else False)
                    for rule in set(by_rule) | ({sod_rule} if needs else set())
                }
            record: Dict[str, Any] = dict(stem=stem, img_path=gt_path)
            if needs:
                record.update(image_sod_measures(probs[sod_rule], gt, metrics=needs))
            for rule, rule_protocols in by_rule.items():
                record.update(
                    dbd_image_counts(probs[rule], gt, rule_protocols, gt_grey=grey, **options))
            records[name].append(record)
    results: Dict[str, Dict[str, float]] = {}
    for name, row_records in records.items():
        values = summarize_sod_measures(row_records, metrics) if metrics else {}
        values.update(summarize_dbd_protocols(row_records, protocols))
        results[name] = values
        if per_image_dir is not None:
            write_per_image_csv(
                per_image_rows(row_records, metrics, protocols),
                osp.join(per_image_dir, f'{name}.csv'))
    return results
