"""The ``'a2s'`` protocol: the numbers A2S's evaluation script prints (plain numpy / scipy).

Zhou et al., "Texture-guided saliency distilling for unsupervised salient object detection"
(A2S-v2, CVPR 2023) and "Activation to saliency" (A2S, TNNLS 2023) evaluate with ``eval.py`` of
moothes/A2S-USOD, which imports the ``metric.py`` of the same author's SALOD toolbox
(``MetricRecorder``: ``cal_fm``, ``cal_mae``, ``cal_sm``, ``cal_em``, ``cal_wfm``). That code
differs from pysodmetrics in ways that move the numbers (0.056 on PASCAL-S maxF), so this module
re-implements it step for step; ``tests/test_evaluation/test_golden_protocols.py`` pins it to the
reference code's outputs (``tests/data/a2s_golden.json``, absolute difference <= 1e-6).

Per image (``q`` the 8-bit prediction, ``v`` the 8-bit grey mask):

- prediction: ``p = (q - min q) / (max q - min q)``, or ``q / 255`` for a constant map
  (``normalize_pil``), float64;
- mask: ``(v - min v) / (max v - min v)`` (``Test_Dataset.load_data``), divided by its max
  ``+ 1e-8`` and binarised with ``> 0.5``: a constant mask is all background (NaN in the
  reference);
- ``Mean-F`` (printed as "Maen-F"/"Mean-F", key ``a2sMeanF``): the F-measure (beta^2 = 0.3) of
  ``p >= min(2 mean(p), 1)``, 0 when TP = 0 -- the *adaptive* F of the SOD literature, not the mean
  over thresholds;
- ``Max-F`` (``a2sMaxF``): 255 histogram bins of ``uint8(p * 255)``
  (``np.histogram(bins=range(256))``: values 254 and 255 share the last bin), precision
  ``TP / (TP + FP + 1e-8)`` and recall ``TP / |mask|`` per threshold, each averaged over the
  images; then F of the mean P and R, ``1.3 P R / (0.3 P + R + 1e-8)``, and its max over the 255
  thresholds;
- images whose mask is all background add zeros to the P, R and Mean-F averages (the reference
  leaves their rows at 0 and divides by the number of images);
- ``MAE`` (``a2sMAE``): mean ``|p - mask|``;
- ``SM`` (``a2sSm``): the S-measure (Fan et al. ICCV 2017, alpha = 0.5) as SALOD writes it:
  population (ddof = 0) standard deviations and variances, the mask statistics of each quadrant in
  float32, centroid ``round(scipy center_of_mass) + 1``, NaN when a quadrant is empty;
- ``EM`` (``a2sEm``): the E-measure (Fan et al. IJCAI 2018) at the adaptive threshold
  ``p >= min(2 mean(p), 1)``, the sum divided by ``H W - 1 + 1e-8`` (no clip at 1);
- ``Fbw`` (``a2sWF``): the weighted F-measure (Margolin et al. CVPR 2014, beta = 1) with the
  toolbox's ``eps = 1e-6``; 0 for an all-background mask.

The reference rounds the printed values to 3 decimals; the keys here are unrounded.
"""
from typing import Dict, Sequence

import numpy as np

from dbdseg.utils.fileio import prob_to_uint8

__all__ = [
    'A2S_KEYS', 'A2S_NUM_BINS', 'a2s_mask', 'a2s_normalize_pred', 'a2s_image_record',
    'summarize_a2s'
]

#: Result keys of the ``'a2s'`` protocol: A2S's printed Max-F, Mean-F, MAE, SM, EM, Fbw.
A2S_KEYS = ('a2sMaxF', 'a2sMeanF', 'a2sMAE', 'a2sSm', 'a2sEm', 'a2sWF')
#: Number of thresholds of A2S's F-measure curve (``np.histogram(bins=range(256))``).
A2S_NUM_BINS = 255


def a2s_mask(grey: np.ndarray) -> np.ndarray:
    """A2S's mask rule: ``(v - min) / (max - min)``, divided by its max + 1e-8, ``> 0.5``.

    Args:
        grey (np.ndarray): (H, W) grey mask, any numeric dtype (the 8-bit file values).

    Returns:
        np.ndarray: (H, W) bool; all False for a constant mask (NaN in the reference).
    """
    grey = np.asarray(grey, dtype=np.float64)
    lo, hi = grey.min(), grey.max()
    if hi == lo:
        return np.zeros(grey.shape, dtype=bool)
    gt = (grey - lo) / (hi - lo)
    gt = gt / (gt.max() + 1e-8)
    return gt > 0.5


def a2s_normalize_pred(q: np.ndarray) -> np.ndarray:
    """A2S's prediction rule: per-image min-max stretch of the 8-bit map, ``q / 255`` if constant.

    Args:
        q (np.ndarray): (H, W) 8-bit map (values 0 - 255), any numeric dtype.

    Returns:
        np.ndarray: (H, W) float64 in [0, 1].
    """
    q = np.asarray(q, dtype=np.float64)
    lo, hi = q.min(), q.max()
    if hi == lo:
        return q / 255
    return (q - lo) / (hi - lo)


def _gauss7() -> np.ndarray:
    """MATLAB's ``fspecial('gaussian', 7, 5)``."""
    y, x = np.ogrid[-3:4, -3:4]
    h = np.exp(-(x * x + y * y) / (2.0 * 5 * 5))
    h[h < np.finfo(h.dtype).eps * h.max()] = 0
    return h / h.sum()


def _ssim(pred: np.ndarray, gt: np.ndarray) -> float:
    gt = gt.astype(np.float32)
    n = pred.size
    x = np.mean(pred)
    y = np.mean(gt)
    sigma_x = np.var(pred)
    sigma_y = np.var(gt)
    sigma_xy = np.sum((pred - x) * (gt - y)) / (n - 1)
    alpha = 4 * x * y * sigma_xy
    beta = (x * x + y * y) * (sigma_x + sigma_y)
    if alpha != 0:
        return alpha / (beta + 1e-8)
    if beta == 0:
        return 1.0
    return 0.0


def _s_object(values: np.ndarray, region: np.ndarray) -> float:
    x = np.mean(values[region])
    sigma_x = np.std(values[region])
    return 2 * x / (x**2 + 1 + sigma_x + 1e-8)


def _smeasure(pred: np.ndarray, gt: np.ndarray) -> float:
    from scipy.ndimage import center_of_mass
    y = np.mean(gt)
    if y == 0:
        return float(1 - np.mean(pred))
    if y == 1:
        return float(np.mean(pred))
    gt_f = gt.astype(np.int64)
    obj = y * _s_object(pred * gt_f, gt) + (1 - y) * _s_object((1 - pred) * (1 - gt_f), ~gt)
    cy, cx = center_of_mass(gt)
    cy, cx = int(round(cy)) + 1, int(round(cx)) + 1
    h, w = gt.shape
    area = h * w
    weights = (cx * cy / area, cy * (w - cx) / area, (h - cy) * cx / area,
               (h - cy) * (w - cx) / area)
    quads = ((slice(0, cy), slice(0, cx)), (slice(0, cy), slice(cx, w)),
             (slice(cy, h), slice(0, cx)), (slice(cy, h), slice(cx, w)))
    region = 0.0
    for weight, quad in zip(weights, quads):
        region = region + weight * _ssim(pred[quad], gt[quad])
    return float(0.5 * obj + 0.5 * region)


def _adaptive_emeasure(pred: np.ndarray, gt: np.ndarray) -> float:
    th = min(2 * pred.mean(), 1)
    fm = (pred >= th).astype(np.float64)
    if gt.sum() == 0:
        enhanced = 1.0 - fm
    elif (~gt).sum() == 0:
        enhanced = fm
    else:
        d_gt = gt.astype(np.float64)
        a_fm = fm - np.mean(fm)
        a_gt = d_gt - np.mean(d_gt)
        align = 2.0 * (a_gt * a_fm) / (a_gt * a_gt + a_fm * a_fm + 1e-8)
        enhanced = np.power(align + 1, 2) / 4
    h, w = gt.shape
    return float(np.sum(enhanced) / (h * w - 1 + 1e-8))


def _weighted_fmeasure(pred: np.ndarray, gt: np.ndarray) -> float:
    from scipy.ndimage import convolve
    from scipy.ndimage import distance_transform_edt as bwdist
    if not gt.any():
        return 0.0
    dst, idxt = bwdist(~gt, return_indices=True)
    err = np.abs(pred - gt)
    err_t = np.copy(err)
    bg = ~gt
    err_t[bg] = err_t[idxt[0][bg], idxt[1][bg]]
    ea = convolve(err_t, weights=_gauss7(), mode='constant', cval=0)
    min_e_ea = np.where(gt & (ea < err), ea, err)
    b = np.where(bg, 2 - np.exp(np.log(0.5) / 5 * dst), np.ones(gt.shape))
    ew = min_e_ea * b
    tpw = np.sum(gt) - np.sum(ew[gt])
    fpw = np.sum(ew[bg])
    recall = 1 - np.mean(ew[gt])
    precision = tpw / (1e-6 + tpw + fpw)
    return float(2 * recall * precision / (1e-6 + recall + precision))


def a2s_image_record(pred: np.ndarray,
                     gt_grey: np.ndarray,
                     pred_is_uint8: bool = False) -> Dict[str, np.ndarray]:
    """One image's quantities of the ``'a2s'`` protocol (see the module docstring).

    Args:
        pred (np.ndarray): (H, W) probability in [0, 1] (quantised like a saved PNG,
            ``uint8(rint(p * 255))``), or the 8-bit map itself with ``pred_is_uint8``.
        gt_grey (np.ndarray): (H, W) grey mask on the 8-bit scale (0 - 255; a {0, 1} mask must be
            given as ``255 * mask``); binarised with :func:`a2s_mask`.
        pred_is_uint8 (bool): ``pred`` already holds 8-bit values. Defaults to False.

    Returns:
        dict: float64 values: ``a2s_precision``, ``a2s_recall`` (255,) per threshold
        (``uint8(p * 255) >= 254, 253, ..., 0``), ``a2s_meanf``, ``a2s_mae``, ``a2s_sm``,
        ``a2s_em``, ``a2s_wfm`` (scalars).

    Raises:
        ValueError: shapes differ or are not 2-D.
    """
    pred = np.asarray(pred)
    gt_grey = np.asarray(gt_grey)
    if pred.ndim != 2 or pred.shape != gt_grey.shape:
        raise ValueError(f'a2s: pred and gt must be 2-D maps of the same shape, got pred '
                         f'{pred.shape} and gt {gt_grey.shape}.')
    q = pred if pred_is_uint8 else prob_to_uint8(pred)
    p = a2s_normalize_pred(q)
    gt = a2s_mask(gt_grey)
    out = dict(
        a2s_precision=np.zeros(A2S_NUM_BINS), a2s_recall=np.zeros(A2S_NUM_BINS), a2s_meanf=0.0)
    if gt.any():
        th = min(2 * p.mean(), 1)
        binary = p >= th
        tp = np.count_nonzero(binary & gt)
        if tp:
            pre = tp / np.count_nonzero(binary)
            rec = tp / np.count_nonzero(gt)
            out['a2s_meanf'] = 1.3 * pre * rec / (0.3 * pre + rec)
        bins = np.minimum(np.uint8(p * 255), A2S_NUM_BINS - 1)
        tp_hist = np.bincount(bins[gt], minlength=A2S_NUM_BINS)
        fp_hist = np.bincount(bins[~gt], minlength=A2S_NUM_BINS)
        tps = np.cumsum(tp_hist[::-1]).astype(np.float64)
        fps = np.cumsum(fp_hist[::-1]).astype(np.float64)
        out['a2s_precision'] = tps / (tps + fps + 1e-8)
        out['a2s_recall'] = tps / np.count_nonzero(gt)
    out['a2s_mae'] = np.mean(np.abs(p - gt))
    with np.errstate(invalid='ignore', divide='ignore'):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)
            out['a2s_sm'] = _smeasure(p, gt)
    out['a2s_em'] = _adaptive_emeasure(p, gt)
    out['a2s_wfm'] = _weighted_fmeasure(p, gt)
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def summarize_a2s(records: Sequence[dict]) -> Dict[str, float]:
    """Aggregate :func:`a2s_image_record` outputs over a set, as A2S's ``MetricRecorder.show``.

    ``a2sMaxF`` = max over the 255 thresholds of ``1.3 P R / (0.3 P + R + 1e-8)`` with P and R the
    per-threshold means over the images; ``a2sMeanF``, ``a2sMAE``, ``a2sSm``, ``a2sEm``,
    ``a2sWF`` = means over the images (unrounded; the reference prints 3 decimals).

    Args:
        records (Sequence[dict]): per-image records (other keys are ignored), at least one.

    Returns:
        dict[str, float]: the keys of :data:`A2S_KEYS`, in that order.

    Raises:
        ValueError: no records.
        KeyError: a record lacks an ``a2s_*`` quantity.
    """
    if len(records) == 0:
        raise ValueError('Cannot summarise the a2s protocol over zero images.')
    try:
        precision = np.mean([r['a2s_precision'] for r in records], axis=0)
        recall = np.mean([r['a2s_recall'] for r in records], axis=0)
        scalars = {
            k: float(np.mean([r[k] for r in records]))
            for k in ('a2s_meanf', 'a2s_mae', 'a2s_sm', 'a2s_em', 'a2s_wfm')
        }
    except KeyError as err:
        raise KeyError(f'per-image record lacks {err.args[0]!r}; compute it with '
                       'a2s_image_record.') from None
    fmeasure = 1.3 * precision * recall / (0.3 * precision + recall + 1e-8)
    return dict(
        a2sMaxF=float(fmeasure.max()),
        a2sMeanF=scalars['a2s_meanf'],
        a2sMAE=scalars['a2s_mae'],
        a2sSm=scalars['a2s_sm'],
        a2sEm=scalars['a2s_em'],
        a2sWF=scalars['a2s_wfm'])
