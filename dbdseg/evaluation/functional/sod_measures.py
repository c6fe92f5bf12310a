"""Per-image SOD/DBD measures and their dataset aggregation, computed with pysodmetrics.

The measures themselves are pysodmetrics' (``py_sod_metrics`` >= 1.4.4); this module is glue
that (1) brings a probability map and a {0, 1} mask into the form pysodmetrics expects, (2)
computes that image's values, and (3) averages the per-image values over a set exactly as
pysodmetrics' ``get_results()`` does (``np.mean`` over float64 arrays). Keeping per-image values (a
few scalars and 256-point curves) instead of full maps keeps evaluation memory bounded and lets
mmengine gather them across ranks in distributed testing.

How (2) is computed, and why it gives pysodmetrics' numbers bit for bit: running one pysodmetrics
evaluator per measure repeats the same work for every measure (each ``step`` re-normalises the
prediction, and the F-measure and E-measure evaluators each build the same two 256-bin histograms
with ``np.histogram`` over explicit bin edges, which sorts the pixels). Here the prediction is
normalised once with pysodmetrics' own ``prepare_data``, the two histograms (pixels of each value
``uint8(p * 255)`` inside / outside the mask) are counted once with ``np.bincount`` (the same
integer counts: the bins are the integers 0..255), and the measures are computed from them with
pysodmetrics' own per-image functions: the F-measure / precision / recall handlers of
``FmeasureV2`` on the cumulative counts, ``FmeasureV2.adaptively_binarizing``,
``Emeasure.cal_adaptive_em`` and ``Emeasure.generate_parts_numel_combinations``, ``MAE.cal_mae``,
``Smeasure.cal_sm`` and ``WeightedFmeasure.cal_wfm``. Only the E-measure curve's last step (the
enhanced-alignment value of each of the four regions times its pixel count, summed and divided by
``H W - 1``; Fan et al. IJCAI 2018, Eq. 5-6) is written here, in pysodmetrics' order of operations.
``tests/test_evaluation/test_sod_metric.py`` pins equality with pysodmetrics' evaluators.

One deliberate difference, the E-measure clip: the paper's score is the *mean* of the
enhanced-alignment matrix (Eq. 6, ``1 / (w h)`` times the sum), whose values lie in [0, 1], but
the MATLAB code and pysodmetrics divide the sum by ``H W - 1 + eps``. A near-perfect map of an
``H x W`` image then scores up to ``H W / (H W - 1)`` (1.33 for 2 x 2; 4.5e15 for a 1 x 1 image,
which then dominated a whole set's maxE). Every per-image E-measure value (curve and adaptive) is
therefore clipped to at most 1 (:data:`EM_MAX`): values pysodmetrics puts at or below 1 are its
own numbers bit for bit, values above 1 become 1 (for a normal image they exceed 1 by at most
``1 / (H W - 1)``, e.g. 8e-6 at 352 x 352). Images of any size, 1 x 1 included, are accepted.

Sources of the formulas (all implemented by pysodmetrics):

- F-measure: Achanta et al., "Frequency-tuned salient region detection", CVPR 2009;
  ``F = (1 + b2) P R / (b2 P + R)`` with ``b2 = beta^2 = 0.3``.
- MAE: Perazzi et al., "Saliency filters", CVPR 2012.
- S-measure: Fan et al., "Structure-measure: A new way to evaluate foreground maps", ICCV 2017
  (alpha = 0.5).
- E-measure: Fan et al., "Enhanced-alignment measure for binary foreground map evaluation",
  IJCAI 2018.
- Weighted F-measure: Margolin et al., "How to evaluate foreground maps?", CVPR 2014 (beta^2 = 1,
  the pysodmetrics and MATLAB default).
"""
from typing import Dict, List, Sequence, Tuple

import numpy as np
import py_sod_metrics as psm
from py_sod_metrics.utils import EPS as _PSM_EPS
from py_sod_metrics.utils import prepare_data as _psm_prepare_data

from dbdseg.utils.fileio import prob_to_uint8

__all__ = [
    'SOD_METRICS', 'FM_BETA2', 'WFM_BETA2', 'NUM_THRESHOLDS', 'EM_MAX', 'sod_thresholds',
    'check_pred_gt', 'is_binary_mask', 'image_sod_measures', 'summarize_sod_measures',
    'mean_sod_curves'
]

#: Names of the scalar measures, in the order they are reported.
SOD_METRICS = ('maxF', 'meanF', 'adpF', 'MAE', 'Sm', 'maxE', 'meanE', 'adpE', 'wF')
#: beta^2 of the F-measures (maxF, meanF, adpF and the F-measure curve).
FM_BETA2 = 0.3
#: beta^2 of the weighted F-measure (Margolin 2014; pysodmetrics' default).
WFM_BETA2 = 1.0
#: Length of the threshold sweep of the F-measure, precision, recall and E-measure curves.
NUM_THRESHOLDS = 256
#: Upper bound of every per-image E-measure value: the mean of the enhanced-alignment matrix
#: (Fan et al. IJCAI 2018, Eq. 6) cannot exceed 1; pysodmetrics' ``/ (H W - 1 + eps)`` can.
EM_MAX = 1.0

# per-image quantities each scalar measure needs
_NEEDS = {
    'maxF': ('fm_curve', ),
    'meanF': ('fm_curve', ),
    'adpF': ('fm_adp', ),
    'MAE': ('mae', ),
    'Sm': ('sm', ),
    'maxE': ('em_curve', ),
    'meanE': ('em_curve', ),
    'adpE': ('em_adp', ),
    'wF': ('wfm', ),
}
# per-image quantities the curves need
_CURVE_KEYS = ('fm_curve', 'precision', 'recall', 'em_curve')


def sod_thresholds() -> np.ndarray:
    """Thresholds of the 256-point curves, in pysodmetrics' (descending) order.

    Entry ``i`` of every curve binarises the (stretched) prediction ``p`` in [0, 1] as
    ``uint8(p * 255) >= 255 - i`` (pysodmetrics truncates ``p * 255`` to uint8), so its threshold on
    the [0, 1] scale is ``(255 - i) / 255``: 1.0, 254/255, ..., 1/255, 0.0.

    Returns:
        np.ndarray: float64 array of shape (256,), values in [0, 1], descending.
    """
    return (255 - np.arange(NUM_THRESHOLDS, dtype=np.float64)) / 255


def _check_metrics(metrics: Sequence[str]) -> List[str]:
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    unknown = [m for m in metrics if m not in SOD_METRICS]
    if unknown:
        raise ValueError(f'Unknown SOD metric(s) {unknown}; valid names are {list(SOD_METRICS)}.')
    return metrics


def image_sod_measures(pred: np.ndarray,
                       gt: np.ndarray,
                       metrics: Sequence[str] = SOD_METRICS,
                       normalize_pred: bool = True,
                       with_curves: bool = False,
                       check_inputs: bool = True) -> Dict[str, np.ndarray]:
    """Compute one image's per-image SOD quantities with pysodmetrics.

    Input conversion:

    - ``normalize_pred=True`` (the SOD toolboxes' protocol): the probability map is quantised
      like a saved 8-bit PNG, ``uint8(rint(pred * 255))`` (see :func:`prob_to_uint8`), and the
      mask becomes ``gt * 255``; both are given to pysodmetrics with ``normalize=True``, which
      divides the prediction by 255 and min-max stretches it to [0, 1] per image (unless it is
      constant) and binarises the mask with ``> 128``. Evaluating the PNGs written by
      ``SODMetric(output_dir=...)`` with any pysodmetrics-based toolbox therefore gives the same
      numbers.
    - ``normalize_pred=False``: the probability is used as it is (float64 in [0, 1], no
      quantisation, no stretch) and the mask as bool; pysodmetrics ``normalize=False``.

    In both modes pysodmetrics' curves bin ``uint8(p * 255)`` (truncation) of the prediction ``p``
    it works on.

    Args:
        pred (np.ndarray): probability map, shape (H, W), any float dtype, values in [0, 1].
        gt (np.ndarray): ground-truth mask, shape (H, W), bool or integer with values in {0, 1}
            (1 = in-focus / salient).
        metrics (Sequence[str]): names from :data:`SOD_METRICS` whose per-image quantities are
            computed. Defaults to all.
        normalize_pred (bool): see above. Defaults to True.
        with_curves (bool): also compute the F-measure, precision, recall and E-measure curves
            (needed to save curves), whatever ``metrics`` says. Defaults to False.
        check_inputs (bool): check shapes and values with :func:`check_pred_gt` (default). False
            skips the checks for callers that already made them (``SODMetric`` checks each
            sample once); the inputs must then be valid.

    Returns:
        dict: a subset of these keys (only what ``metrics`` / ``with_curves`` need), all float64:
        ``fm_curve`` (256,) F-measure (beta^2 = 0.3) per threshold of :func:`sod_thresholds`;
        ``precision``, ``recall`` (256,) per threshold; ``fm_adp`` () F-measure at the adaptive
        threshold ``min(2 * mean(p), 1)``, binarised with ``>=``; ``mae`` () mean |p - gt|;
        ``sm`` () S-measure (NaN when the mask's foreground centroid lies on the last row or
        column: pysodmetrics then scores an empty region, as the MATLAB original does);
        ``em_curve`` (256,) E-measure per threshold; ``em_adp`` () E-measure
        at the adaptive threshold, both in [0, 1] (pysodmetrics' values clipped at
        :data:`EM_MAX`, see the module docstring); ``wfm`` () weighted F-measure (0 when the mask
        is empty).

    Raises:
        ValueError: unknown metric name; shapes of ``pred`` and ``gt`` differ or are not 2-D;
            ``pred`` has values outside [0, 1] or NaN; ``gt`` has values other than 0 and 1.
    """
    metrics = _check_metrics(metrics)
    if check_inputs:
        pred, gt = check_pred_gt(pred, gt)
    else:
        pred = np.asarray(pred, dtype=np.float64)
        gt = np.asarray(gt, dtype=bool)

    needs = set()
    for m in metrics:
        needs.update(_NEEDS[m])
    if with_curves:
        needs.update(_CURVE_KEYS)
    if not needs:
        return {}

    if normalize_pred:
        # pysodmetrics' own normalisation: / 255, per-image min-max stretch; mask > 128
        pred_n, gt_n = _psm_prepare_data(prob_to_uint8(pred), gt.view(np.uint8) * np.uint8(255))
    else:
        pred_n, gt_n = pred, gt
    fg = int(np.count_nonzero(gt_n))
    bg = gt_n.size - fg

    out = {}
    if needs & {'fm_curve', 'precision', 'recall', 'em_curve'}:
        tps, fps = _cumulative_counts(pred_n, gt_n)
        dynamic = dict(tp=tps, fp=fps, tn=bg - fps, fn=fg - tps)
        if 'fm_curve' in needs:
            out['fm_curve'] = psm.FmeasureHandler(False, False, beta=FM_BETA2)(**dynamic)
        if needs & {'precision', 'recall'}:
            out['precision'] = psm.PrecisionHandler(False, False)(**dynamic)
            out['recall'] = psm.RecallHandler(False, False)(**dynamic)
    if 'fm_adp' in needs:
        adaptive = _FMV2.adaptively_binarizing(pred=pred_n, gt=gt_n, FG=fg, BG=bg)
        out['fm_adp'] = psm.FmeasureHandler(False, False, beta=FM_BETA2)(**adaptive)
    if 'mae' in needs:
        out['mae'] = psm.MAE().cal_mae(pred_n, gt_n)
    if 'sm' in needs:
        out['sm'] = psm.Smeasure(alpha=0.5).cal_sm(pred_n, gt_n)
    if needs & {'em_curve', 'em_adp'}:
        em = psm.Emeasure()
        em.gt_fg_numel = fg
        em.gt_size = gt_n.shape[0] * gt_n.shape[1]
        if 'em_curve' in needs:
            out['em_curve'] = _emeasure_curve(em, tps, fps)
        if 'em_adp' in needs:
            out['em_adp'] = min(em.cal_adaptive_em(pred_n, gt_n), EM_MAX)
    if 'wfm' in needs:
        out['wfm'] = 0 if fg == 0 else psm.WeightedFmeasure(beta=WFM_BETA2).cal_wfm(pred_n, gt_n)
    # pysodmetrics' get_results() over one image: np.mean of a float64 array of one value (exact)
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


# a stateless FmeasureV2 whose ``adaptively_binarizing`` method is reused per image
_FMV2 = psm.FmeasureV2()


def _cumulative_counts(pred_n: np.ndarray, gt_n: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Pixels with ``uint8(pred_n * 255) >= t`` inside (TP) and outside (FP) the mask, for
    ``t = 255, 254, ..., 0`` (pysodmetrics' curve order and binning): int64 arrays of shape (256,).

    One ``np.bincount`` over ``value + 256 * in_mask`` counts both histograms in one pass; the
    counts equal pysodmetrics' ``np.histogram(..., bins=np.linspace(0, 256, 257))`` of the pixels
    inside / outside the mask (integer values, integer bin edges, last bin closed at 256).
    """
    index = gt_n.ravel().astype(np.intp)
    index <<= 8
    index += (pred_n * 255).astype(np.uint8).ravel()
    hist = np.bincount(index, minlength=512)
    fp_hist, tp_hist = hist[:256], hist[256:]
    return np.cumsum(tp_hist[::-1]), np.cumsum(fp_hist[::-1])


def _emeasure_curve(em: 'psm.Emeasure', tps: np.ndarray, fps: np.ndarray) -> np.ndarray:
    """E-measure of every threshold from the cumulative counts (Fan et al. IJCAI 2018, Eq. 5-6).

    The region sizes and the de-meaned values of each (prediction, mask) region come from
    pysodmetrics' ``Emeasure.generate_parts_numel_combinations``; each region contributes
    ``((2 a b / (a^2 + b^2 + eps) + 1)^2 / 4) * size`` and the sum is divided by ``H W - 1 + eps``
    (pysodmetrics' and the MATLAB original's normalisation). An all-background mask scores the
    number of predicted-background pixels, an all-foreground mask the predicted-foreground ones.
    Values above :data:`EM_MAX` (possible only because of the ``- 1``) are clipped to it.

    Args:
        em (psm.Emeasure): evaluator with ``gt_fg_numel`` and ``gt_size`` set for this image.
        tps, fps (np.ndarray): int64 (256,) outputs of :func:`_cumulative_counts`.

    Returns:
        np.ndarray: float64 (256,) in [0, 1], curve order of :func:`sod_thresholds`.
    """
    pred_fg = tps + fps
    pred_bg = em.gt_size - pred_fg
    if em.gt_fg_numel == 0:
        total = pred_bg
    elif em.gt_fg_numel == em.gt_size:
        total = pred_fg
    else:
        sizes, combinations = em.generate_parts_numel_combinations(
            fg_fg_numel=tps, fg_bg_numel=fps, pred_fg_numel=pred_fg, pred_bg_numel=pred_bg)
        parts = np.empty((4, len(tps)), dtype=np.float64)
        for i, (size, (a, b)) in enumerate(zip(sizes, combinations)):
            align = 2 * (a * b) / (a**2 + b**2 + _PSM_EPS)
            parts[i] = (align + 1)**2 / 4 * size
        total = parts.sum(axis=0)
    return np.minimum(total / (em.gt_size - 1 + _PSM_EPS), EM_MAX)


def is_binary_mask(gt: np.ndarray) -> bool:
    """True when every value of ``gt`` is 0 or 1, checked without sorting the map (bool: always;
    integers: min >= 0 and max <= 1; other dtypes: elementwise).

    Args:
        gt (np.ndarray): a mask of any shape and dtype.

    Returns:
        bool: whether all values are in {0, 1} (True for an empty array).
    """
    if gt.dtype == bool:
        return True
    if gt.size == 0:
        return True
    if np.issubdtype(gt.dtype, np.integer):
        return bool(gt.min() >= 0 and gt.max() <= 1)
    return bool(np.all((gt == 0) | (gt == 1)))


def check_pred_gt(pred: np.ndarray, gt: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Check a probability map and a {0, 1} mask and convert them for the measures.

    Args:
        pred (np.ndarray): probability map, shape (H, W), any float dtype, values in [0, 1].
        gt (np.ndarray): mask, shape (H, W), bool or numbers with values in {0, 1}.

    Returns:
        tuple: ``(pred, gt)`` as float64 and bool arrays (no copy when already so).

    Raises:
        ValueError: shapes differ or are not 2-D; ``pred`` has values outside [0, 1] or NaN;
            ``gt`` has values other than 0 and 1 (the message lists them).
    """
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.ndim != 2 or pred.shape != gt.shape:
        raise ValueError(f'pred and gt must be 2-D maps of the same shape, got pred {pred.shape} '
                         f'and gt {gt.shape}.')
    pred = pred.astype(np.float64, copy=False)
    if np.isnan(pred).any() or pred.min() < 0 or pred.max() > 1:
        raise ValueError(f'pred must be a probability map in [0, 1] without NaN, got values in '
                         f'[{np.nanmin(pred)}, {np.nanmax(pred)}].')
    if not is_binary_mask(gt):
        raise ValueError(f'gt must hold only 0 and 1, got values {np.unique(gt).tolist()}.')
    return pred, gt.astype(bool, copy=False)


def _mean(per_image: Sequence[dict], key: str) -> np.ndarray:
    values = [r[key] for r in per_image if key in r]
    if len(values) != len(per_image):
        raise KeyError(
            f'per-image results lack {key!r}; compute them with the metric that needs it.')
    # exactly pysodmetrics' get_results(): np.mean over a float64 array, axis 0
    return np.mean(np.array(values, dtype=np.float64), axis=0)


def summarize_sod_measures(per_image: Sequence[dict],
                           metrics: Sequence[str] = SOD_METRICS) -> Dict[str, float]:
    """Aggregate per-image quantities of :func:`image_sod_measures` over a set.

    Every per-image quantity is averaged over the images (as pysodmetrics does), then:
    ``maxF`` / ``meanF`` = max / mean over the 256 thresholds of the dataset-averaged F-measure
    curve (not the mean of per-image maxima); ``adpF`` = mean of per-image adaptive F-measures;
    ``MAE`` = mean of per-image MAE; ``Sm`` = mean S-measure; ``maxE`` / ``meanE`` = max / mean of
    the dataset-averaged E-measure curve; ``adpE`` = mean adaptive E-measure; ``wF`` = mean weighted
    F-measure.

    Args:
        per_image (Sequence[dict]): outputs of :func:`image_sod_measures`, one per image (at least
            one), computed with (a superset of) ``metrics``.
        metrics (Sequence[str]): names from :data:`SOD_METRICS`, reported in this order.

    Returns:
        dict[str, float]: one python float per name in ``metrics``.

    Raises:
        ValueError: no images, or an unknown metric name.
        KeyError: a per-image result lacks a quantity a metric needs.
    """
    metrics = _check_metrics(metrics)
    if len(per_image) == 0:
        raise ValueError('Cannot summarise SOD measures over zero images.')
    reducers = {
        'maxF': ('fm_curve', np.max),
        'meanF': ('fm_curve', np.mean),
        'adpF': ('fm_adp', None),
        'MAE': ('mae', None),
        'Sm': ('sm', None),
        'maxE': ('em_curve', np.max),
        'meanE': ('em_curve', np.mean),
        'adpE': ('em_adp', None),
        'wF': ('wfm', None),
    }
    cache = {}
    results = {}
    for name in metrics:
        key, reduce = reducers[name]
        if key not in cache:
            cache[key] = _mean(per_image, key)
        value = cache[key] if reduce is None else reduce(cache[key])
        results[name] = float(value)
    return results


def mean_sod_curves(per_image: Sequence[dict]) -> Dict[str, np.ndarray]:
    """Dataset curves: per-image curves of :func:`image_sod_measures` averaged over the images.

    Args:
        per_image (Sequence[dict]): outputs of :func:`image_sod_measures` computed with
            ``with_curves=True``, at least one.

    Returns:
        dict: float64 arrays of shape (256,), index ``i`` at threshold ``thresholds[i]``
        (descending, see :func:`sod_thresholds`): ``thresholds``, ``precision`` and ``recall``
        (mean per-image precision / recall: the PR curve of the SOD toolboxes), ``fmeasure``
        (mean per-image F-measure, beta^2 = 0.3; its max is maxF), ``emeasure`` (mean per-image
        E-measure; its max is maxE).

    Raises:
        ValueError: no images.
        KeyError: the per-image results were computed without curves.
    """
    if len(per_image) == 0:
        raise ValueError('Cannot average curves over zero images.')
    return dict(
        thresholds=sod_thresholds(),
        precision=_mean(per_image, 'precision'),
        recall=_mean(per_image, 'recall'),
        fmeasure=_mean(per_image, 'fm_curve'),
        emeasure=_mean(per_image, 'em_curve'))
