"""Per-image SOD/DBD measures and their dataset aggregation, computed with pysodmetrics.

The measures themselves are pysodmetrics' (``py_sod_metrics`` >= 1.4.4); this module is glue
that (1) brings a probability map and a {0, 1} mask into the form pysodmetrics expects, (2) runs a
*fresh* pysodmetrics evaluator per image and reads that image's values through the public
``get_results()`` (the mean over one image is the image's own value), and (3) averages the
per-image values over a set exactly as pysodmetrics' ``get_results()`` does (``np.mean`` over
float64 arrays). Keeping per-image values (a few scalars and 256-point curves) instead of full maps
keeps evaluation memory bounded and lets mmengine gather them across ranks in distributed testing.

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
from typing import Dict, List, Sequence

import numpy as np
import py_sod_metrics as psm

from .prediction_io import prob_to_uint8

__all__ = [
    'SOD_METRICS', 'FM_BETA2', 'WFM_BETA2', 'NUM_THRESHOLDS', 'sod_thresholds',
    'image_sod_measures', 'summarize_sod_measures', 'mean_sod_curves'
]

#: Names of the scalar measures, in the order they are reported.
SOD_METRICS = ('maxF', 'meanF', 'adpF', 'MAE', 'Sm', 'maxE', 'meanE', 'adpE', 'wF')
#: beta^2 of the F-measures (maxF, meanF, adpF and the F-measure curve).
FM_BETA2 = 0.3
#: beta^2 of the weighted F-measure (Margolin 2014; pysodmetrics' default).
WFM_BETA2 = 1.0
#: Length of the threshold sweep of the F-measure, precision, recall and E-measure curves.
NUM_THRESHOLDS = 256

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
                       with_curves: bool = False) -> Dict[str, np.ndarray]:
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

    Returns:
        dict: a subset of these keys (only what ``metrics`` / ``with_curves`` need), all float64:
        ``fm_curve`` (256,) F-measure (beta^2 = 0.3) per threshold of :func:`sod_thresholds`;
        ``precision``, ``recall`` (256,) per threshold; ``fm_adp`` () F-measure at the adaptive
        threshold ``min(2 * mean(p), 1)``, binarised with ``>=``; ``mae`` () mean |p - gt|;
        ``sm`` () S-measure (NaN when the mask's foreground centroid lies on the last row or
        column: pysodmetrics then scores an empty region, as the MATLAB original does);
        ``em_curve`` (256,) E-measure per threshold; ``em_adp`` () E-measure
        at the adaptive threshold; ``wfm`` () weighted F-measure (0 when the mask is empty).

    Raises:
        ValueError: unknown metric name; shapes of ``pred`` and ``gt`` differ or are not 2-D;
            ``pred`` has values outside [0, 1] or NaN; ``gt`` has values other than 0 and 1.
    """
    metrics = _check_metrics(metrics)
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.ndim != 2 or pred.shape != gt.shape:
        raise ValueError(f'pred and gt must be 2-D maps of the same shape, got pred {pred.shape} '
                         f'and gt {gt.shape}.')
    pred = pred.astype(np.float64)
    if np.isnan(pred).any() or pred.min() < 0 or pred.max() > 1:
        raise ValueError(f'pred must be a probability map in [0, 1] without NaN, got values in '
                         f'[{np.nanmin(pred)}, {np.nanmax(pred)}].')
    gt_values = np.unique(gt)
    if not np.isin(gt_values, (0, 1)).all():
        raise ValueError(f'gt must hold only 0 and 1, got values {gt_values.tolist()}.')
    gt = gt.astype(bool)

    if normalize_pred:
        pred_in = prob_to_uint8(pred)
        gt_in = gt.astype(np.uint8) * 255
    else:
        pred_in, gt_in = pred, gt

    needs = set()
    for m in metrics:
        needs.update(_NEEDS[m])
    if with_curves:
        needs.update(_CURVE_KEYS)

    out = {}

    def step(evaluator):
        evaluator.step(pred_in, gt_in, normalize=normalize_pred)
        return evaluator.get_results()

    if needs & {'fm_curve', 'fm_adp', 'precision', 'recall'}:
        handlers = {
            'fm':
            psm.FmeasureHandler(
                with_dynamic=bool(needs & {'fm_curve'}),
                with_adaptive=bool(needs & {'fm_adp'}),
                beta=FM_BETA2)
        }
        if needs & {'precision', 'recall'}:
            handlers['p'] = psm.PrecisionHandler(with_dynamic=True, with_adaptive=False)
            handlers['r'] = psm.RecallHandler(with_dynamic=True, with_adaptive=False)
        res = step(psm.FmeasureV2(metric_handlers=handlers))
        if 'fm_curve' in needs:
            out['fm_curve'] = res['fm']['dynamic']
        if 'fm_adp' in needs:
            out['fm_adp'] = res['fm']['adaptive']
        if 'p' in res:
            out['precision'] = res['p']['dynamic']
            out['recall'] = res['r']['dynamic']
    if 'mae' in needs:
        out['mae'] = step(psm.MAE())['mae']
    if 'sm' in needs:
        out['sm'] = step(psm.Smeasure(alpha=0.5))['sm']
    if needs & {'em_curve', 'em_adp'}:
        res = step(psm.Emeasure())['em']
        if 'em_curve' in needs:
            out['em_curve'] = res['curve']
        if 'em_adp' in needs:
            out['em_adp'] = res['adp']
    if 'wfm' in needs:
        out['wfm'] = step(psm.WeightedFmeasure(beta=WFM_BETA2))['wfm']
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


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
