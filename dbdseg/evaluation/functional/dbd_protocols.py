"""Defocus-blur-detection (DBD) evaluation protocols: binarise, count, aggregate (plain numpy).

DBD papers report F-measures computed under different, mutually incomparable protocols (see
``docs/en/evaluation.md``, "DBD protocols"). This module implements three of them, named as in
``SODMetric(dbd_protocols=[...])``:

``'dd'`` -- Cun & Pun, "Defocus blur detection via depth distillation", ECCV 2020, Section 4
    (Metrics): "we compute the mean precision, recall and F-measure scores on the binarized results
    by an adaptive threshold. The threshold is determined by the 1.5 times of the mean pixel value",
    ``F = (1 + beta^2) P R / (beta^2 P + R)``, ``beta^2 = 0.3``, ``P = TP / (TP + FP)``,
    ``R = TP / (TP + FN)``. Per image: the prediction is quantised as a saved 8-bit PNG,
    ``q = uint8(rint(p * 255))`` (``p`` the probability, *not* min-max stretched), and binarised
    with ``q > t``, ``t = min(dd_factor * mean(q), 255)`` (strict ``>`` and the cap at 255 as in
    DD's ``eval.ipynb``; the paper states neither). The paper does not say whether "mean F" is the
    mean of per-image F or the F of the mean P and R; here ``ddF`` is the **mean over images of
    the per-image F**, and ``ddP`` / ``ddR`` the means of the per-image P / R (so in general
    ``ddF != F(ddP, ddR)``).
``'dd_pooled'`` -- DD's ``eval.ipynb``: the same per-image threshold and binarisation, but
    precision and recall are computed by scikit-learn over the concatenation of all pixels of all
    images of the set (micro / pooled): TP, FP and FN are summed over the set, then P, R and F are
    computed once.
``'fixed'`` -- D-DFFNet's test scripts (``test1.py`` / ``test_iou.py``): ``p >= fixed_threshold``
    (0.5) on the unquantised probability; per image F (beta^2 = 0.3) and
    ``IoU = TP / (TP + FP + FN)``, each averaged over the images. D-DFFNet scores the *blurred*
    class (prediction and mask both inverted): ``positive='blurred'``.

Conventions shared by all three:

- The ground truth is the {0, 1} mask (1 = in-focus), as it is. ``dd_binarize_gt=True``
  reproduces a quirk of DD's notebook, which also binarises the mask (as uint8 0 / 255) with
  ``gt255 > min(dd_factor * mean(gt255), 255)``: with ``dd_factor = 1.5`` a mask whose foreground
  covers >= 2/3 of the image gets ``t = 255`` and becomes all zero. Applies to ``'dd'`` and
  ``'dd_pooled'`` only.
- Any 0 / 0 (no predicted positives: P; no positive pixels in the mask: R; P = R = 0: F;
  TP = FP = FN = 0: IoU) is 0, like scikit-learn's ``zero_division=0`` the reference scripts rely
  on. An image where the positive class is absent from both mask and prediction therefore scores
  0, not 1.
- ``'dd'`` / ``'dd_pooled'`` always score the in-focus class (label 1; DD's convention);
  ``positive`` only applies to ``'fixed'``.

Per-image records are a handful of python ints (TP, FP, FN per binarisation), so they are cheap to
gather across ranks; all P / R / F / IoU values are computed from them by
:func:`summarize_dbd_protocols`.
"""
import math
from typing import Dict, List, Sequence, Tuple, Union

import numpy as np

from dbdseg.utils.fileio import prob_to_uint8
from .sod_measures import check_pred_gt

__all__ = [
    'DBD_PROTOCOLS', 'DBD_PROTOCOL_KEYS', 'DBD_BETA2', 'DD_FACTOR', 'FIXED_THRESHOLD',
    'POSITIVE_CLASSES', 'check_dbd_protocols', 'canonical_positive', 'check_dbd_options',
    'dbd_protocol_keys', 'dd_threshold', 'dd_binarize', 'binary_counts',
    'precision_recall_fmeasure', 'iou_from_counts', 'dbd_image_counts', 'summarize_dbd_protocols'
]

#: Protocol names, in the order they are documented.
DBD_PROTOCOLS = ('dd', 'dd_pooled', 'fixed')
#: Result keys of each protocol, in the order they are reported.
DBD_PROTOCOL_KEYS = {
    'dd': ('ddP', 'ddR', 'ddF'),
    'dd_pooled': ('ddpP', 'ddpR', 'ddpF'),
    'fixed': ('fixF', 'fixIoU'),
}
#: beta^2 of every DBD F-measure (DD paper and notebook, D-DFFNet scripts).
DBD_BETA2 = 0.3
#: Default factor of DD's adaptive threshold, ``t = min(DD_FACTOR * mean(q), 255)``.
DD_FACTOR = 1.5
#: Default threshold of the ``'fixed'`` protocol (``p >= 0.5``, D-DFFNet).
FIXED_THRESHOLD = 0.5
#: Accepted ``positive`` names -> canonical name; 'in-focus' scores label 1, 'blurred' label 0.
POSITIVE_CLASSES = {
    'in-focus': 'in-focus',
    'salient': 'in-focus',
    'foreground': 'in-focus',
    'blurred': 'blurred',
    'background': 'blurred',
}

# per-image count keys each protocol needs (dd and dd_pooled share one binarisation)
_COUNT_PREFIX = {'dd': 'dd', 'dd_pooled': 'dd', 'fixed': 'fixed'}


def check_dbd_protocols(protocols: Union[None, str, Sequence[str]]) -> List[str]:
    """Validate protocol names; drop duplicates, keep the order.

    Args:
        protocols (None | str | Sequence[str]): names from :data:`DBD_PROTOCOLS`; None = none.

    Returns:
        list[str]: the de-duplicated names.

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
    """
    if protocols is None:
        return []
    protocols = [protocols] if isinstance(protocols, str) else list(protocols)
    protocols = list(dict.fromkeys(protocols))
    unknown = [p for p in protocols if p not in DBD_PROTOCOLS]
    if unknown:
        raise ValueError(f'Unknown DBD protocol(s) {unknown}; valid names are '
                         f'{list(DBD_PROTOCOLS)}.')
    return protocols


def canonical_positive(positive: str) -> str:
    """Map a ``positive`` name to ``'in-focus'`` (label 1) or ``'blurred'`` (label 0).

    Args:
        positive (str): one of :data:`POSITIVE_CLASSES` ('in-focus', 'salient', 'foreground',
            'blurred', 'background').

    Returns:
        str: ``'in-focus'`` or ``'blurred'``.

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
    """
    if not isinstance(positive, str) or positive not in POSITIVE_CLASSES:
        raise ValueError(f'Unknown positive class {positive!r}; valid names are '
                         f'{list(POSITIVE_CLASSES)}.')
    return POSITIVE_CLASSES[positive]


def dbd_protocol_keys(protocols: Sequence[str]) -> List[str]:
    """Result keys of ``protocols``, in order (e.g. ``['ddP', 'ddR', 'ddF', 'fixF', 'fixIoU']``).

    Raises:
        ValueError: an unknown protocol name.
    """
    return [key for p in check_dbd_protocols(protocols) for key in DBD_PROTOCOL_KEYS[p]]


def _check_factor(dd_factor: float) -> float:
    dd_factor = float(dd_factor)
    if not math.isfinite(dd_factor) or dd_factor <= 0:
        raise ValueError(f'dd_factor must be a finite number > 0, got {dd_factor}.')
    return dd_factor


def _check_fixed_threshold(fixed_threshold: float) -> float:
    fixed_threshold = float(fixed_threshold)
    if not 0 <= fixed_threshold <= 1:  # also rejects NaN
        raise ValueError(f'fixed_threshold must lie in [0, 1], got {fixed_threshold}.')
    return fixed_threshold


def check_dbd_options(positive: str = 'in-focus',
                      dd_factor: float = DD_FACTOR,
                      fixed_threshold: float = FIXED_THRESHOLD) -> Tuple[str, float, float]:
    """Validate the protocol options.

    Args:
        positive (str): see :func:`canonical_positive`.
        dd_factor (float): factor of DD's threshold, a finite number > 0.
        fixed_threshold (float): threshold of ``'fixed'``, in [0, 1].

    Returns:
        tuple[str, float, float]: canonical positive name, ``dd_factor``, ``fixed_threshold``
        (floats).

    Raises:
        ValueError: an unknown ``positive``, ``dd_factor`` not a finite number > 0,
            ``fixed_threshold`` outside [0, 1].
    """
    return (canonical_positive(positive), _check_factor(dd_factor),
            _check_fixed_threshold(fixed_threshold))


def dd_threshold(values: np.ndarray, dd_factor: float = DD_FACTOR) -> float:
    """DD's adaptive threshold ``min(dd_factor * mean(values), 255)`` (Cun & Pun 2020, factor 1.5;
    the cap at 255 is DD's notebook's).

    Args:
        values (np.ndarray): an 8-bit map (0 - 255), any shape, any numeric dtype; the mean is
            taken in float64.
        dd_factor (float): the factor, > 0. Defaults to 1.5.

    Returns:
        float: the threshold, in [0, 255].

    Raises:
        ValueError: ``dd_factor`` is not a finite number > 0, or ``values`` is empty.
    """
    dd_factor = _check_factor(dd_factor)
    values = np.asarray(values)
    if values.size == 0:
        raise ValueError('dd_threshold needs a non-empty map.')
    return min(dd_factor * float(np.mean(values, dtype=np.float64)), 255.0)


def dd_binarize(values: np.ndarray, dd_factor: float = DD_FACTOR) -> np.ndarray:
    """Binarise an 8-bit map as DD's notebook does: ``values > dd_threshold(values)`` (strict).

    A map whose threshold reaches the 255 cap is all False (nothing is > 255); with
    ``dd_factor = 1.5`` a {0, 255} mask is all False as soon as >= 2/3 of it is 255.

    Args:
        values (np.ndarray): 8-bit map (0 - 255), any shape, any numeric dtype.
        dd_factor (float): the factor, > 0. Defaults to 1.5.

    Returns:
        np.ndarray: bool array of the same shape.

    Raises:
        ValueError: see :func:`dd_threshold`.
    """
    values = np.asarray(values)
    return values > dd_threshold(values, dd_factor)


def binary_counts(pred: np.ndarray, gt: np.ndarray) -> Dict[str, int]:
    """Confusion counts of a binary prediction against a binary mask.

    Args:
        pred (np.ndarray): bool (or 0 / 1) prediction, any shape.
        gt (np.ndarray): bool (or 0 / 1) mask, same shape.

    Returns:
        dict[str, int]: ``tp`` (pred and gt), ``fp`` (pred and not gt), ``fn`` (gt and not pred),
        python ints.

    Raises:
        ValueError: the shapes differ.
    """
    pred = np.asarray(pred).astype(bool)
    gt = np.asarray(gt).astype(bool)
    if pred.shape != gt.shape:
        raise ValueError(f'binary_counts: shapes differ, pred {pred.shape} and gt {gt.shape}.')
    return dict(
        tp=int(np.count_nonzero(pred & gt)),
        fp=int(np.count_nonzero(pred & ~gt)),
        fn=int(np.count_nonzero(~pred & gt)))


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else 0.0


def precision_recall_fmeasure(tp: int,
                              fp: int,
                              fn: int,
                              beta2: float = DBD_BETA2) -> Tuple[float, float, float]:
    """``P = TP / (TP + FP)``, ``R = TP / (TP + FN)``, ``F = (1 + beta2) P R / (beta2 P + R)``
    (Cun & Pun 2020; beta^2 = 0.3), each 0 when its denominator is 0 (scikit-learn's
    ``zero_division=0``).

    Args:
        tp, fp, fn (int): counts, >= 0.
        beta2 (float): beta^2, > 0. Defaults to 0.3.

    Returns:
        tuple[float, float, float]: ``(P, R, F)``, each in [0, 1].
    """
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    fmeasure = _ratio((1 + beta2) * precision * recall, beta2 * precision + recall)
    return precision, recall, fmeasure


def iou_from_counts(tp: int, fp: int, fn: int) -> float:
    """``IoU = TP / (TP + FP + FN)`` of the positive class (D-DFFNet's ``test_iou.py``); 0 when
    ``TP = FP = FN = 0``.

    Returns:
        float: in [0, 1].
    """
    return _ratio(tp, tp + fp + fn)


def dbd_image_counts(pred: np.ndarray,
                     gt: np.ndarray,
                     protocols: Sequence[str] = DBD_PROTOCOLS,
                     positive: str = 'in-focus',
                     dd_factor: float = DD_FACTOR,
                     dd_binarize_gt: bool = False,
                     fixed_threshold: float = FIXED_THRESHOLD,
                     check_inputs: bool = True) -> Dict[str, int]:
    """One image's confusion counts under the DBD protocols (see the module docstring).

    - ``'dd'`` / ``'dd_pooled'`` (one shared binarisation): ``q = uint8(rint(pred * 255))``,
      binary ``q > min(dd_factor * mean(q), 255)``; mask = ``gt`` (1 positive), or with
      ``dd_binarize_gt`` ``gt255 > min(dd_factor * mean(gt255), 255)``, ``gt255 = 255 gt``.
    - ``'fixed'``: binary ``pred >= fixed_threshold`` on the unquantised probability, mask = ``gt``;
      with ``positive='blurred'`` both are inverted (label 0 is scored).

    Args:
        pred (np.ndarray): probability of the in-focus class, shape (H, W), any float dtype, values
            in [0, 1].
        gt (np.ndarray): mask, shape (H, W), bool or integer in {0, 1} (1 = in-focus).
        protocols (Sequence[str]): names from :data:`DBD_PROTOCOLS`. Defaults to all.
        positive (str): class scored by ``'fixed'``, see :func:`canonical_positive`. Defaults to
            'in-focus'.
        dd_factor (float): factor of DD's adaptive threshold, > 0. Defaults to 1.5 (the paper).
        dd_binarize_gt (bool): reproduce DD's notebook's mask binarisation. Defaults to False.
        fixed_threshold (float): threshold of ``'fixed'``, in [0, 1], binarised with ``>=``.
            Defaults to 0.5 (D-DFFNet).
        check_inputs (bool): check the values of ``pred`` and ``gt`` (default; see
            :func:`dbdseg.evaluation.functional.check_pred_gt`). False skips that for callers
            that already checked them (``SODMetric``); shapes are always checked.

    Returns:
        dict[str, int]: python ints; ``dd_tp``, ``dd_fp``, ``dd_fn`` when a dd protocol is asked
        for, ``fixed_tp``, ``fixed_fp``, ``fixed_fn`` when ``'fixed'`` is; ``{}`` for no protocol.

    Raises:
        ValueError: unknown protocol or positive name; ``dd_factor`` not > 0;
            ``fixed_threshold`` outside [0, 1]; ``pred`` and ``gt`` not 2-D maps of one shape;
            ``pred`` outside [0, 1] or NaN; ``gt`` with values other than 0 and 1.
    """
    protocols = check_dbd_protocols(protocols)
    positive, dd_factor, fixed_threshold = check_dbd_options(positive, dd_factor, fixed_threshold)
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.ndim != 2 or pred.shape != gt.shape or pred.size == 0:
        raise ValueError(f'pred and gt must be non-empty 2-D maps of the same shape, got pred '
                         f'{pred.shape} and gt {gt.shape}.')
    if check_inputs:
        pred, gt = check_pred_gt(pred, gt)
    else:
        pred = pred.astype(np.float64, copy=False)
        gt = gt.astype(bool, copy=False)

    out: Dict[str, int] = {}
    if 'dd' in protocols or 'dd_pooled' in protocols:
        pred_bin = dd_binarize(prob_to_uint8(pred), dd_factor)
        gt_bin = dd_binarize(gt.astype(np.uint8) * 255, dd_factor) if dd_binarize_gt else gt
        out.update({f'dd_{k}': v for k, v in binary_counts(pred_bin, gt_bin).items()})
    if 'fixed' in protocols:
        pred_bin = pred >= fixed_threshold
        gt_bin = gt
        if positive == 'blurred':
            pred_bin, gt_bin = ~pred_bin, ~gt_bin
        out.update({f'fixed_{k}': v for k, v in binary_counts(pred_bin, gt_bin).items()})
    return out


def _counts(record: dict, prefix: str) -> Tuple[int, int, int]:
    try:
        return tuple(int(record[f'{prefix}_{k}']) for k in ('tp', 'fp', 'fn'))
    except KeyError as err:
        raise KeyError(f'per-image record lacks {err.args[0]!r}; compute it with '
                       'dbd_image_counts for this protocol.') from None


def summarize_dbd_protocols(records: Sequence[dict],
                            protocols: Sequence[str],
                            beta2: float = DBD_BETA2) -> Dict[str, float]:
    """Aggregate per-image counts of :func:`dbd_image_counts` over a set.

    - ``'dd'``: ``ddP``, ``ddR``, ``ddF`` = means over images of the per-image P, R and F (``ddF``
      is the mean of per-image F, not F of the mean P and R).
    - ``'dd_pooled'``: TP, FP, FN summed over all images, then ``ddpP``, ``ddpR``, ``ddpF`` once.
    - ``'fixed'``: ``fixF``, ``fixIoU`` = means over images of the per-image F and IoU.

    Any 0 / 0 is 0 (see :func:`precision_recall_fmeasure`, :func:`iou_from_counts`).

    Args:
        records (Sequence[dict]): per-image dicts holding (at least) the counts of
            :func:`dbd_image_counts` for ``protocols``; other keys are ignored. At least one.
        protocols (Sequence[str]): names from :data:`DBD_PROTOCOLS`, reported in this order.
        beta2 (float): beta^2 of the F-measures. Defaults to 0.3.

    Returns:
        dict[str, float]: python floats in [0, 1], keys of :data:`DBD_PROTOCOL_KEYS` in the order
        of ``protocols``; ``{}`` for no protocol.

    Raises:
        ValueError: unknown protocol, or no records while a protocol is asked for.
        KeyError: a record lacks a count a protocol needs.
    """
    protocols = check_dbd_protocols(protocols)
    if protocols and len(records) == 0:
        raise ValueError('Cannot summarise DBD protocols over zero images.')
    results: Dict[str, float] = {}
    for protocol in protocols:
        counts = np.array([_counts(r, _COUNT_PREFIX[protocol]) for r in records], dtype=np.int64)
        if protocol == 'dd':
            prf = np.array([precision_recall_fmeasure(*c, beta2=beta2) for c in counts])
            results.update(zip(DBD_PROTOCOL_KEYS['dd'], (float(v) for v in prf.mean(axis=0))))
        elif protocol == 'dd_pooled':
            prf = precision_recall_fmeasure(*(int(v) for v in counts.sum(axis=0)), beta2=beta2)
            results.update(zip(DBD_PROTOCOL_KEYS['dd_pooled'], prf))
        else:  # fixed
            f_iou = np.array([(precision_recall_fmeasure(*c, beta2=beta2)[2], iou_from_counts(*c))
                              for c in counts])
            results.update(zip(DBD_PROTOCOL_KEYS['fixed'], (float(v) for v in f_iou.mean(axis=0))))
    return results
