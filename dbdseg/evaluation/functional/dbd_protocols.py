"""Defocus-blur-detection (DBD) evaluation protocols: binarise, count, aggregate (plain numpy).

DBD papers report F-measures computed under different, mutually incomparable protocols (see
``docs/en/evaluation.md``, "DBD protocols"). This module implements three of them, named as in
``SODMetric(dbd_protocols=[...])``:

``'dd'`` -- Cun & Pun, "Defocus blur detection via depth distillation", ECCV 2020, Section 4
    (Metrics): "we compute the mean precision, recall and F-measure scores on the binarized results
    by an adaptive threshold. The threshold is determined by the 1.5 times of the mean pixel value",
    ``F = (1 + beta^2) P R / (beta^2 P + R)``, ``beta^2 = 0.3``, ``P = TP / (TP + FP)``,
    ``R = TP / (TP + FN)``. Per image: the prediction is quantised as a saved 8-bit PNG,
    ``q = uint8(rint(p * 255))`` (``p`` the probability, *not* min-max stretched; with
    ``dd_quantize='trunc'`` ``q = uint8(float32(p) * 255)``, the notebook's truncation), and
    binarised with ``q > t``, ``t = min(dd_factor * mean(q), 255)`` (strict ``>`` and the cap at
    255 as in DD's ``eval.ipynb``; the paper states neither). The paper does not say whether
    "mean F" is the mean of per-image F or the F of the mean P and R; here ``ddF`` is the **mean
    over images of the per-image F**, and ``ddP`` / ``ddR`` the means of the per-image P / R (so in
    general ``ddF != F(ddP, ddR)``).
``'dd_pooled'`` -- DD's ``eval.ipynb``: the same per-image threshold and binarisation, but
    precision and recall are computed by scikit-learn over the concatenation of all pixels of all
    images of the set (micro / pooled): TP, FP and FN are summed over the set, then P, R and F are
    computed once.
``'dd_mae'`` -- the MAE DD's ``eval.ipynb`` prints: mean over images of the mean
    ``|p - v / 255|``, ``p`` the raw (unquantised, unstretched) probability and ``v`` the grey
    mask (the {0, 1} mask when no grey mask is given). Key ``ddMAE``.
``'fixed'`` -- D-DFFNet's ``test1.py``: ``p >= fixed_threshold`` (0.5) on the unquantised
    probability; per image F (beta^2 = 0.3) and ``IoU = TP / (TP + FP + FN)``, each averaged over
    the images (``fixF`` is ``test1.py``'s F; ``fixIoU``, a per-image mean, is dbdseg's own: the
    D-DFFNet IoU is ``'fixed_pooled'``). D-DFFNet scores the *blurred* class (prediction and mask
    both inverted): ``positive='blurred'``. D-DFFNet's ``test.py`` reports another F (the max
    over 255 thresholds of the binarised map, threshold 0 included), which is not offered.
``'fixed_pooled'`` -- D-DFFNet's ``test_iou.py`` / ``test_iou1.py``: ``p > fixed_threshold``
    (strict), TP, FP, FN summed over every pixel of the set, one ``IoU = TP / (TP + FP + FN)``;
    ``positive`` as for ``'fixed'``. Key ``fixpIoU``.
``'zhang_yan'`` -- Zhang & Yan, "A real-time defocus blur detection method", 2020, Section 4
    (Evaluation metrics): "O stands for the binarized output": MAE of the binarised output,
    mean over images of the mean ``|(p >= fixed_threshold) - gt|``. The paper does not give the
    threshold; ``fixed_threshold`` (0.5) is dbdseg's choice. Key ``zyMAE``.
``'a2s'`` -- the numbers A2S's evaluation script prints (Max-F, Mean-F, MAE, SM, EM, Fbw); see
    :mod:`dbdseg.evaluation.functional.a2s_protocol`. Keys ``a2sMaxF``, ``a2sMeanF``,
    ``a2sMAE``, ``a2sSm``, ``a2sEm``, ``a2sWF``.

Mask rules. Each reference script binarises the grey mask file in its own way; with a grey mask
(``gt_grey``: the 8-bit values of the mask file, after polarity; what
``tools/analysis_tools/eval_pred_folder.py --pred DIR --gt DIR`` passes) every protocol applies
its source's rule (:data:`PROTOCOL_MASK_RULES`): ``'dd'`` / ``'dd_pooled'`` the {0, 1} mask, or
with ``dd_binarize_gt`` the notebook's ``v > min(1.5 mean(v), 255)`` on the raw grey values;
``'fixed'`` / ``'fixed_pooled'`` D-DFFNet's ``v >= 128`` (``torch.round(v / 255)``);
``'a2s'`` ``(v - min) / (max - min) > 0.5``; ``'dd_mae'`` uses ``v / 255`` itself. Without a grey
mask (``SODMetric``: mmseg's loading transform has already binarised the mask with dbdseg's
``v > 128``), the rules are applied to ``255 * gt``, for which they all give ``gt`` back except
DD's mean rule (``dd_binarize_gt``) and A2S's rule on a constant mask (all background).

DD's notebook, exactly: ``dbd_protocols=['dd_pooled', 'dd_mae']`` with ``dd_quantize='trunc'``
(the notebook's ``np.uint8(p * 255)``) and ``dd_binarize_gt=True``, on grey masks.

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
  ``positive`` only applies to ``'fixed'`` and ``'fixed_pooled'``.

Per-image records are a handful of python ints (TP, FP, FN per binarisation) and floats (plus
two 255-point curves for ``'a2s'``), so they are cheap to gather across ranks; all P / R / F /
IoU values are computed from them by :func:`summarize_dbd_protocols`.
"""
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from dbdseg.utils.fileio import prob_to_uint8
from .a2s_protocol import A2S_KEYS, a2s_image_record, summarize_a2s
from .sod_measures import check_pred_gt

__all__ = [
    'DBD_PROTOCOLS', 'DBD_PROTOCOL_KEYS', 'DBD_BETA2', 'DD_FACTOR', 'FIXED_THRESHOLD',
    'POSITIVE_CLASSES', 'check_dbd_protocols', 'canonical_positive', 'check_dbd_options',
    'dbd_protocol_keys', 'dd_threshold', 'dd_binarize', 'binary_counts',
    'precision_recall_fmeasure', 'iou_from_counts', 'dbd_image_counts', 'summarize_dbd_protocols',
    'DD_QUANTIZE', 'PROTOCOL_MASK_RULES', 'PROTOCOL_RESIZE', 'dd_quantize_map', 'dbd_image_values'
]

#: Protocol names, in the order they are documented.
DBD_PROTOCOLS = ('dd', 'dd_pooled', 'dd_mae', 'fixed', 'fixed_pooled', 'zhang_yan', 'a2s')
#: Result keys of each protocol, in the order they are reported.
DBD_PROTOCOL_KEYS = {
    'dd': ('ddP', 'ddR', 'ddF'),
    'dd_pooled': ('ddpP', 'ddpR', 'ddpF'),
    'dd_mae': ('ddMAE', ),
    'fixed': ('fixF', 'fixIoU'),
    'fixed_pooled': ('fixpIoU', ),
    'zhang_yan': ('zyMAE', ),
    'a2s': A2S_KEYS,
}
#: Quantisation rules of the dd protocols: 'round' = ``uint8(rint(p * 255))`` (the saved PNG,
#: default), 'trunc' = ``uint8(float32(p) * 255)`` (DD's notebook).
DD_QUANTIZE = ('round', 'trunc')
#: How each protocol's source binarises a grey mask ``v`` (8-bit, after polarity).
PROTOCOL_MASK_RULES = {
    'dd': '{0, 1} mask; dd_binarize_gt: v > min(dd_factor * mean(v), 255) (DD eval.ipynb)',
    'dd_pooled': '{0, 1} mask; dd_binarize_gt: v > min(dd_factor * mean(v), 255) (DD eval.ipynb)',
    'dd_mae': 'v / 255, not binarised (DD eval.ipynb)',
    'fixed': 'v >= 128 (D-DFFNet data.py: torch.round(v / 255))',
    'fixed_pooled': 'v >= 128 (D-DFFNet data.py: torch.round(v / 255))',
    'zhang_yan': "{0, 1} mask (dbdseg's v > 128; the paper states none)",
    'a2s': '(v - min) / (max - min) > 0.5, constant mask all 0 (A2S data.py + metric.py)',
}
#: How each protocol's source brings a prediction to the mask size (used by
#: ``eval_pred_folder.py --resize``): DD ``F.interpolate(mode='bilinear')`` on the probability,
#: A2S PIL ``Image.resize`` (bicubic) of the 8-bit map, D-DFFNet ``F.interpolate(mode='nearest')``.
PROTOCOL_RESIZE = {
    'dd': 'bilinear',
    'dd_pooled': 'bilinear',
    'dd_mae': 'bilinear',
    'fixed': 'nearest',
    'fixed_pooled': 'nearest',
    'zhang_yan': 'bilinear',
    'a2s': 'pil_bicubic',
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
_COUNT_PREFIX = {'dd': 'dd', 'dd_pooled': 'dd', 'fixed': 'fixed', 'fixed_pooled': 'fixedp'}


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


def dd_quantize_map(pred: np.ndarray, dd_quantize: str = 'round') -> np.ndarray:
    """The 8-bit map the dd protocols binarise.

    Args:
        pred (np.ndarray): probability, any shape, values in [0, 1].
        dd_quantize (str): ``'round'`` (default): ``uint8(rint(p * 255))``, the saved PNG
            (:func:`prob_to_uint8`); ``'trunc'``: ``uint8(float32(p) * 255)``, DD's
            ``eval.ipynb`` (``np.uint8(pred_float * 255)`` on the float32 sigmoid map; for an
            8-bit map read as ``v / 255`` both give ``v`` back).

    Returns:
        np.ndarray: uint8 array of the same shape.

    Raises:
        ValueError: an unknown ``dd_quantize``.
    """
    if dd_quantize == 'round':
        return prob_to_uint8(pred)
    if dd_quantize == 'trunc':
        return (np.asarray(pred, dtype=np.float32) * np.float32(255)).astype(np.uint8)
    raise ValueError(f'dd_quantize must be one of {list(DD_QUANTIZE)}, got {dd_quantize!r}.')


def dbd_image_counts(pred: np.ndarray,
                     gt: np.ndarray,
                     protocols: Sequence[str] = DBD_PROTOCOLS,
                     positive: str = 'in-focus',
                     dd_factor: float = DD_FACTOR,
                     dd_binarize_gt: bool = False,
                     fixed_threshold: float = FIXED_THRESHOLD,
                     check_inputs: bool = True,
                     dd_quantize: str = 'round',
                     gt_grey: Optional[np.ndarray] = None) -> Dict[str, Any]:
    """One image's per-image record under the protocols (see the module docstring).

    - ``'dd'`` / ``'dd_pooled'`` (one shared binarisation): ``q`` = :func:`dd_quantize_map`,
      binary ``q > min(dd_factor * mean(q), 255)``; mask = ``gt`` (1 positive), or with
      ``dd_binarize_gt`` ``v > min(dd_factor * mean(v), 255)``, ``v = gt_grey`` (``255 gt``
      without a grey mask).
    - ``'dd_mae'``: mean ``|pred - v / 255|`` (``v = gt_grey``, else ``gt``).
    - ``'fixed'``: binary ``pred >= fixed_threshold`` on the unquantised probability, mask
      ``gt_grey >= 128`` (else ``gt``); with ``positive='blurred'`` both are inverted.
    - ``'fixed_pooled'``: the same with ``pred > fixed_threshold`` (strict, ``test_iou.py``).
    - ``'zhang_yan'``: mean ``|(pred >= fixed_threshold) - gt|``.
    - ``'a2s'``: :func:`~dbdseg.evaluation.functional.a2s_protocol.a2s_image_record` of
      ``pred`` and ``gt_grey`` (else ``255 gt``).

    Args:
        pred (np.ndarray): probability of the in-focus class, shape (H, W), any float dtype, values
            in [0, 1].
        gt (np.ndarray): mask, shape (H, W), bool or integer in {0, 1} (1 = in-focus).
        protocols (Sequence[str]): names from :data:`DBD_PROTOCOLS`. Defaults to all.
        positive (str): class scored by ``'fixed'`` and ``'fixed_pooled'``, see
            :func:`canonical_positive`. Defaults to 'in-focus'.
        dd_factor (float): factor of DD's adaptive threshold, > 0. Defaults to 1.5 (the paper).
        dd_binarize_gt (bool): binarise the mask with DD's notebook's rule. Defaults to False.
        fixed_threshold (float): threshold of ``'fixed'``, ``'fixed_pooled'`` and
            ``'zhang_yan'``, in [0, 1]. Defaults to 0.5 (D-DFFNet).
        check_inputs (bool): check the values of ``pred`` and ``gt`` (default; see
            :func:`dbdseg.evaluation.functional.check_pred_gt`). False skips that for callers
            that already checked them (``SODMetric``); shapes are always checked.
        dd_quantize (str): ``'round'`` (default) or ``'trunc'`` (DD's notebook), see
            :func:`dd_quantize_map`.
        gt_grey (np.ndarray, optional): (H, W) grey mask on the 8-bit scale (0 - 255) after
            polarity, the mask file's own values; each protocol then applies its source's mask
            rule (:data:`PROTOCOL_MASK_RULES`). Defaults to None: ``255 * gt``.

    Returns:
        dict: python ints ``dd_tp``, ``dd_fp``, ``dd_fn`` when a dd protocol is asked for,
        ``fixed_tp``, ``fixed_fp``, ``fixed_fn`` for ``'fixed'``, ``fixedp_*`` for
        ``'fixed_pooled'``; floats ``dd_mae``, ``zy_mae``; the ``a2s_*`` arrays of ``'a2s'``;
        ``{}`` for no protocol.

    Raises:
        ValueError: unknown protocol, positive name or ``dd_quantize``; ``dd_factor`` not > 0;
            ``fixed_threshold`` outside [0, 1]; ``pred`` and ``gt`` (and ``gt_grey``) not 2-D maps
            of one shape; ``pred`` outside [0, 1] or NaN; ``gt`` with values other than 0 and 1.
    """
    protocols = check_dbd_protocols(protocols)
    positive, dd_factor, fixed_threshold = check_dbd_options(positive, dd_factor, fixed_threshold)
    if dd_quantize not in DD_QUANTIZE:
        raise ValueError(f'dd_quantize must be one of {list(DD_QUANTIZE)}, got {dd_quantize!r}.')
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.ndim != 2 or pred.shape != gt.shape or pred.size == 0:
        raise ValueError(f'pred and gt must be non-empty 2-D maps of the same shape, got pred '
                         f'{pred.shape} and gt {gt.shape}.')
    if gt_grey is not None:
        gt_grey = np.asarray(gt_grey)
        if gt_grey.shape != gt.shape:
            raise ValueError(f'gt_grey must have the shape of gt {gt.shape}, got '
                             f'{gt_grey.shape}.')
    if check_inputs:
        pred, gt = check_pred_gt(pred, gt)
    else:
        pred = pred.astype(np.float64, copy=False)
        gt = gt.astype(bool, copy=False)
    grey = gt_grey if gt_grey is not None else gt.astype(np.uint8) * np.uint8(255)

    out: Dict[str, Any] = {}
    if 'dd' in protocols or 'dd_pooled' in protocols:
        pred_bin = dd_binarize(dd_quantize_map(pred, dd_quantize), dd_factor)
        gt_bin = dd_binarize(grey, dd_factor) if dd_binarize_gt else gt
        out.update({f'dd_{k}': v for k, v in binary_counts(pred_bin, gt_bin).items()})
    if 'dd_mae' in protocols:
        target = (
            np.asarray(grey, dtype=np.float64) /
            255 if gt_grey is not None else gt.astype(np.float64))
        out['dd_mae'] = float(np.mean(np.abs(target - pred)))
    fixed_gt = np.asarray(gt_grey) >= 128 if gt_grey is not None else gt
    for name, prefix, pred_bin in (('fixed', 'fixed', lambda: pred >= fixed_threshold),
                                   ('fixed_pooled', 'fixedp', lambda: pred > fixed_threshold)):
        if name in protocols:
            p_bin, g_bin = pred_bin(), fixed_gt
            if positive == 'blurred':
                p_bin, g_bin = ~p_bin, ~g_bin
            out.update({f'{prefix}_{k}': v for k, v in binary_counts(p_bin, g_bin).items()})
    if 'zhang_yan' in protocols:
        out['zy_mae'] = float(np.count_nonzero((pred >= fixed_threshold) != gt) / gt.size)
    if 'a2s' in protocols:
        out.update(a2s_image_record(pred, grey))
    return out


def dbd_image_values(record: dict,
                     protocols: Sequence[str],
                     beta2: float = DBD_BETA2) -> Dict[str, float]:
    """One image's values of the protocol keys, from its record of :func:`dbd_image_counts`
    (for per-image tables: the set value of a pooled key is not the mean of these).

    Each key is the protocol's formula applied to that image alone: ``ddP``/``ddR``/``ddF`` and
    ``ddpP``/``ddpR``/``ddpF`` the image's P, R, F; ``fixF``, ``fixIoU``, ``fixpIoU`` the image's F
    and IoU; ``ddMAE``, ``zyMAE`` the image's MAE; ``a2sMaxF`` the max over thresholds of the F of
    the image's P and R, the other ``a2s*`` keys the image's values.

    Args:
        record (dict): output of :func:`dbd_image_counts` for (a superset of) ``protocols``.
        protocols (Sequence[str]): names from :data:`DBD_PROTOCOLS`.
        beta2 (float): beta^2 of the F-measures. Defaults to 0.3.

    Returns:
        dict[str, float]: keys of :data:`DBD_PROTOCOL_KEYS` in the order of ``protocols``.

    Raises:
        ValueError: an unknown protocol.
        KeyError: the record lacks a quantity a protocol needs.
    """
    values: Dict[str, float] = {}
    for protocol in check_dbd_protocols(protocols):
        if protocol in ('dd', 'dd_pooled'):
            prf = precision_recall_fmeasure(*_counts(record, 'dd'), beta2=beta2)
            values.update(zip(DBD_PROTOCOL_KEYS[protocol], prf))
        elif protocol == 'fixed':
            counts = _counts(record, 'fixed')
            values['fixF'] = precision_recall_fmeasure(*counts, beta2=beta2)[2]
            values['fixIoU'] = iou_from_counts(*counts)
        elif protocol == 'fixed_pooled':
            values['fixpIoU'] = iou_from_counts(*_counts(record, 'fixedp'))
        elif protocol in ('dd_mae', 'zhang_yan'):
            key = 'dd_mae' if protocol == 'dd_mae' else 'zy_mae'
            values[DBD_PROTOCOL_KEYS[protocol][0]] = float(record[key])
        else:  # a2s
            values.update(summarize_a2s([record]))
    return values


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
    - ``'fixed_pooled'``: TP, FP, FN summed over all images, then ``fixpIoU`` once.
    - ``'dd_mae'`` / ``'zhang_yan'``: ``ddMAE`` / ``zyMAE`` = means over images.
    - ``'a2s'``: :func:`~dbdseg.evaluation.functional.a2s_protocol.summarize_a2s`.

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
        if protocol == 'a2s':
            results.update(summarize_a2s(records))
            continue
        if protocol in ('dd_mae', 'zhang_yan'):
            key = 'dd_mae' if protocol == 'dd_mae' else 'zy_mae'
            try:
                per_image = [float(r[key]) for r in records]
            except KeyError:
                raise KeyError(f'per-image record lacks {key!r}; compute it with '
                               'dbd_image_counts for this protocol.') from None
            results[DBD_PROTOCOL_KEYS[protocol][0]] = float(np.mean(per_image))
            continue
        counts = np.array([_counts(r, _COUNT_PREFIX[protocol]) for r in records], dtype=np.int64)
        if protocol == 'dd':
            prf = np.array([precision_recall_fmeasure(*c, beta2=beta2) for c in counts])
            results.update(zip(DBD_PROTOCOL_KEYS['dd'], (float(v) for v in prf.mean(axis=0))))
        elif protocol == 'dd_pooled':
            prf = precision_recall_fmeasure(*(int(v) for v in counts.sum(axis=0)), beta2=beta2)
            results.update(zip(DBD_PROTOCOL_KEYS['dd_pooled'], prf))
        elif protocol == 'fixed_pooled':
            results['fixpIoU'] = iou_from_counts(*(int(v) for v in counts.sum(axis=0)))
        else:  # fixed
            f_iou = np.array([(precision_recall_fmeasure(*c, beta2=beta2)[2], iou_from_counts(*c))
                              for c in counts])
            results.update(zip(DBD_PROTOCOL_KEYS['fixed'], (float(v) for v in f_iou.mean(axis=0))))
    return results
