"""SODMetric: salient-object / defocus-blur detection measures (pysodmetrics) as an mmengine
metric.

The measures themselves live in :mod:`dbdseg.evaluation.functional` (``sod_measures``,
``dbd_protocols``, ``curves``); this class reads mmseg's data samples, writes the optional files
and averages per test set. The protocols are documented in ``docs/en/evaluation.md``.
"""
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from dbdseg.registry import METRICS
from ..functional import (DBD_BETA2, DBD_PROTOCOLS, DD_FACTOR, FIXED_THRESHOLD, FM_BETA2,
                          NUM_THRESHOLDS, SOD_METRICS, WFM_BETA2, check_dbd_options,
                          check_dbd_protocols, dbd_image_counts, image_sod_measures, is_binary_mask,
                          mean_sod_curves, plot_curves, save_curves_json, save_prob_png,
                          summarize_dbd_protocols, summarize_sod_measures)
from ..functional.dbd_protocols import DD_QUANTIZE, PROTOCOL_MASK_RULES
from ..per_image import PER_IMAGE_SOD_KEYS, per_image_rows, write_per_image_csv


def _field(sample: Any, name: str) -> Any:
    """``sample[name]`` for dict samples (what mmengine's Evaluator passes) and attribute access
    for ``SegDataSample`` / ``PixelData`` objects; None when absent."""
    if isinstance(sample, dict):
        return sample.get(name)
    return getattr(sample, name, None)


def _check_set_name(set_name: Any, name: str) -> None:
    """A test set name is used as a key prefix and a folder name: a non-empty str without path
    separators, not '.' or '..'."""
    if (not isinstance(set_name, str) or not set_name or set_name in ('.', '..') or '/' in set_name
            or '\\' in set_name):
        raise ValueError(f'SODMetric: {name}: set_name must be a non-empty string usable as a '
                         f"folder name (no '/' or '\\', not '.' or '..'), got {set_name!r}.")


def _output_stem(sample: Any, img_path: str, name: str) -> str:
    """Relative name (without suffix, '/'-separated) of a sample's PNG under ``output_dir``.

    The sample's ``stem`` (metainfo put into every data info by
    :class:`~dbdseg.datasets.BinarySegDataset`: the path relative to the image folder, sub-folders
    included, e.g. ``'a/x'``), else the base name of ``img_path`` without its suffix.

    Raises:
        ValueError: a ``stem`` that is empty, absolute or leaves the folder (``..``); names the
            image.
    """
    stem = _field(sample, 'stem')
    if stem is None:
        return osp.splitext(osp.basename(img_path))[0]
    parts = str(stem).split('/')
    if (not isinstance(stem, str) or osp.isabs(stem)
            or any(part in ('', '.', '..') for part in parts)):
        raise ValueError(f'SODMetric: {name}: stem {stem!r} cannot name a file under output_dir '
                         "(empty, absolute, or with '.', '..' or empty path parts).")
    return '/'.join(parts)


def _to_numpy(data: Any) -> np.ndarray:
    """A tensor or array-like as a numpy array; floating tensors come back as float64 (exact: the
    conversion is done by numpy on the tensor's own values, which is much faster than
    ``Tensor.double()`` for one map; float16 / bfloat16 go through float32, also exact)."""
    if isinstance(data, torch.Tensor):
        data = data.detach().cpu()
        if data.dtype in (torch.float16, torch.bfloat16):
            data = data.float()
        array = data.numpy()
        if data.is_floating_point():
            array = array.astype(np.float64)
        return array
    return np.asarray(data)


@METRICS.register_module()
class SODMetric(BaseMetric):
    """SOD / DBD evaluation: pysodmetrics' F-measure, MAE, S-measure, E-measure, weighted F, and
    the DBD papers' thresholded protocols; per test set, with one or several test sets per run.

    Reads, per data sample (dict or ``SegDataSample``):

    - ``seg_logits.data``: float tensor (1, H, W), the probability of the positive class (in-focus
      / salient) in [0, 1] at the original image size (what mmseg's ``postprocess_result`` stores
      for 1-channel heads: ``sigmoid(logits)``);
    - ``gt_sem_seg.data``: integer tensor (1, H, W) with values {0, 1};
    - ``img_path`` (metainfo): names the image in errors and the saved PNG;
    - ``set_name`` (metainfo, str, optional): the test set the image belongs to (several test
      sets in one run, see *Several test sets* below).

    Results (python floats; keys are plain, e.g. ``maxF``, unless ``prefix`` is given, which
    mmengine turns into ``<prefix>/maxF``). Per image, pysodmetrics computes a 256-point curve over
    the thresholds ``uint8(p * 255) >= 255, 254, ..., 0`` of the (stretched) prediction ``p`` and
    scalar measures; the set value averages the per-image values:

    - ``maxF`` / ``meanF``: max / mean over thresholds of the dataset-averaged F-measure curve
      (F = 1.3 P R / (0.3 P + R), beta^2 = 0.3; Achanta et al. CVPR 2009) -- not the mean of
      per-image maxima;
    - ``adpF``: mean over images of the F-measure at the adaptive threshold min(2 mean(p), 1)
      (binarised with >=);
    - ``MAE``: mean over images of mean |p - gt| (Perazzi et al. CVPR 2012);
    - ``Sm``: mean S-measure, alpha = 0.5 (Fan et al. ICCV 2017); 1 - mean(p) for an all-background
      mask, mean(p) for an all-foreground mask. A mask whose foreground centroid falls on the last
      row or column gives NaN (an empty region in pysodmetrics, as in the MATLAB original); the
      metric then logs a warning naming the images;
    - ``maxE`` / ``meanE``: max / mean of the dataset-averaged E-measure curve (Fan et al. IJCAI
      2018); ``adpE``: mean E-measure at the adaptive threshold. Like the original MATLAB code,
      pysodmetrics divides by (H W - 1), so a perfect H x W map would score H W / (H W - 1) (and a
      1 x 1 image 4.5e15); every per-image value is clipped at 1, so E stays in [0, 1] and values
      pysodmetrics puts at or below 1 are kept bit for bit
      (:mod:`dbdseg.evaluation.functional.sod_measures`);
    - ``wF``: mean weighted F-measure, beta^2 = 1 (Margolin et al. CVPR 2014); 0 for an
      all-background mask.

    DBD protocols (``dbd_protocols``; formulas and sources in
    :mod:`dbdseg.evaluation.functional.dbd_protocols`), beta^2 = 0.3, P = TP / (TP + FP),
    R = TP / (TP + FN), F = 1.3 P R / (0.3 P + R), every 0 / 0 = 0 (scikit-learn's
    ``zero_division=0``). They ignore ``normalize_pred`` (no min-max stretch):

    - ``'dd'`` (Cun & Pun ECCV 2020, paper text): per image ``q = uint8(rint(p * 255))`` (the
      saved PNG), binary ``q > min(dd_factor * mean(q), 255)`` (strict, as DD's notebook); keys
      ``ddP``, ``ddR``, ``ddF`` = means over images of the per-image P, R and F (``ddF`` is the
      mean of per-image F);
    - ``'dd_pooled'`` (DD's ``eval.ipynb``): the same binarisation; TP, FP, FN summed over all
      pixels of the set, then P, R, F once; keys ``ddpP``, ``ddpR``, ``ddpF``;
    - ``'fixed'`` (D-DFFNet's test scripts): binary ``p >= fixed_threshold`` on the unquantised
      probability; the class ``positive`` is scored (``'blurred'`` inverts prediction and mask);
      keys ``fixF`` (mean per-image F, ``test1.py``) and ``fixIoU`` (mean per-image
      TP / (TP + FP + FN), dbdseg's);
    - ``'fixed_pooled'`` (D-DFFNet's ``test_iou.py``): ``p > fixed_threshold`` (strict), one IoU
      over all pixels of the set; key ``fixpIoU``;
    - ``'dd_mae'`` (DD's ``eval.ipynb``): MAE of the raw probability; key ``ddMAE``;
    - ``'zhang_yan'`` (Zhang & Yan 2020, Section 4): MAE of the output binarised with
      ``p >= fixed_threshold``; key ``zyMAE``;
    - ``'a2s'`` (A2S's ``metric.py``): the printed Max-F, Mean-F (the F at the adaptive
      threshold), MAE, SM, EM, Fbw; keys ``a2sMaxF``, ``a2sMeanF``, ``a2sMAE``, ``a2sSm``,
      ``a2sEm``, ``a2sWF`` (:mod:`dbdseg.evaluation.functional.a2s_protocol`).

    Masks reach the metric as {0, 1} maps (dbdseg's ``> 128`` rule of ``LoadBinaryAnnotations``),
    so the protocols' own grey-mask rules (D-DFFNet ``>= 128``, A2S min-max ``> 0.5``, DD's raw
    grey mask) apply only where grey masks are read directly: ``eval_pred_folder.py --pred DIR
    --gt DIR``. DD's notebook exactly: ``dbd_protocols=['dd_pooled', 'dd_mae']``,
    ``dd_quantize='trunc'``, ``dd_binarize_gt=True``.

    Keys come in this order: the ``sod_metrics`` in their order, then the protocol keys in the
    order of ``dbd_protocols``.

    Several test sets: multi-set mode is on when ``self.dataset_meta`` (set by mmengine's
    Evaluator from the dataset's metainfo) holds ``set_names`` with more than one name, or when
    the processed samples carry more than one distinct ``set_name``. Then every metric and
    protocol is computed per set, with keys ``'<set_name>/<key>'`` (e.g. ``'CUHK/maxF'``,
    ``'CUHK/ddF'``), sets in the order of ``dataset_meta['set_names']``, then any others in order
    of first appearance; curves go to ``curve_dir/<set_name>/curves.json`` and ``curves.png``;
    the settings are logged once, then one line per set with its number of images. When
    ``dataset_meta`` names several sets, ``output_dir`` PNGs go to
    ``output_dir/<set_name>/<stem>.png`` (also with ``format_only``); when only the samples reveal
    several sets (no ``set_names`` in ``dataset_meta``), the PNGs were already written to
    ``output_dir/<stem>.png`` and a warning says so. A single set (one or no name) keeps plain
    keys and no set folder.

    Args:
        sod_metrics (str | Sequence[str], optional): subset of ``('maxF', 'meanF', 'adpF',
            'MAE', 'Sm', 'maxE', 'meanE', 'adpE', 'wF')``, returned in the given order (named
            like mmseg's ``IoUMetric(iou_metrics=...)``; a config key ``metrics`` would make
            mmengine's runner read the dict as an ``Evaluator``). Defaults to None (all). May be
            empty (``[]``) when ``dbd_protocols`` is not: DBD-only evaluation. Kept as
            :attr:`metrics`.
        normalize_pred (bool): True (default, the SOD toolboxes' protocol): each prediction is
            quantised like a saved PNG, ``rint(p * 255)`` as uint8 (the same values ``output_dir``
            writes, so evaluating those PNGs with a pysodmetrics toolbox reproduces the numbers),
            then pysodmetrics divides by 255 and min-max stretches it to [0, 1] per image unless it
            is constant. False: the probability is used as it is, unquantised and unstretched.
            Applies to ``sod_metrics`` only, not to ``dbd_protocols``.
        dbd_protocols (str | Sequence[str], optional): DBD protocols to add, from ``('dd',
            'dd_pooled', 'fixed')``; duplicates dropped. None (default) = none.
        positive (str): class scored by ``'fixed'``: ``'in-focus'`` (default; synonyms
            ``'salient'``, ``'foreground'``) scores label 1, ``'blurred'`` (synonym
            ``'background'``) scores label 0, as D-DFFNet does. ``'dd'`` / ``'dd_pooled'`` always
            score label 1 (DD's convention) and the ``sod_metrics`` always do.
        dd_factor (float): factor of DD's adaptive threshold ``min(dd_factor * mean(q), 255)``,
            > 0. Defaults to 1.5 (Cun & Pun 2020).
        dd_binarize_gt (bool): True reproduces a quirk of DD's notebook for both dd protocols: the
            mask (as 0 / 255) is also binarised with ``> min(dd_factor * mean, 255)``, so a mask
            with >= 2/3 foreground (``dd_factor`` 1.5) becomes all zero. Defaults to False (the
            {0, 1} mask as it is).
        fixed_threshold (float): threshold of ``'fixed'`` / ``'zhang_yan'`` (``>=``) and
            ``'fixed_pooled'`` (``>``), in [0, 1]. Defaults to 0.5 (D-DFFNet).
        output_dir (str, optional): when set, ``process`` writes every prediction as
            ``output_dir/<stem>.png`` (``output_dir/<set_name>/<stem>.png`` with several sets),
            8-bit grey, ``rint(p * 255)``, at the original image size, atomically (temporary
            file, then rename). ``<stem>`` is the sample's ``stem`` metainfo when it has one (the
            image path relative to the dataset's image folder, without suffix, sub-folders kept:
            ``a/x`` and ``b/x`` give ``a/x.png`` and ``b/x.png``), else the base name of
            ``img_path`` without its suffix. Folders are created. Two images of one evaluation
            that would write the same PNG (e.g. ``a/x.jpg`` and ``b/x.jpg`` without stems) are an
            error, not an overwrite (checked per process: in distributed testing each rank checks
            its own images).
        curve_dir (str, optional): when set, ``compute_metrics`` writes ``curve_dir/curves.json``
            (thresholds, precision, recall, F-measure and E-measure curves of the set, the scalar
            results and these settings; see :mod:`dbdseg.evaluation.functional.curves`) and
            ``curve_dir/curves.png`` (PR curve and F-measure vs threshold); with several sets
            ``curve_dir/<set_name>/curves.{json,png}``.
        format_only (bool): only write predictions (needs ``output_dir``), compute nothing and
            return ``{}``; for unlabeled test sets. Defaults to False.
        collect_device (str): 'cpu' or 'gpu', for gathering results across ranks (mmengine).
        collect_dir (str, optional): folder for the cpu gathering (mmengine).
        prefix (str, optional): key prefix (mmengine); keep None for plain keys.
        dd_quantize (str): 8-bit quantisation of the dd protocols: ``'round'`` (default,
            ``uint8(rint(p * 255))``, the saved PNG) or ``'trunc'`` (DD's notebook,
            ``np.uint8(p * 255)``).
        per_image_csv (str, optional): when set, ``compute_metrics`` writes one CSV row per image
            (``stem``, ``set`` with several sets, ``maxF``, ``MAE``, ``Sm``, ``maxE``, ``wF``, the
            other ``sod_metrics`` and the protocol keys, each on that image alone; see
            :mod:`dbdseg.evaluation.per_image`). Defaults to None.
        keep_results (bool): accepted for mmseg's ``tools/test.py --out DIR``, which sets
            ``output_dir=DIR`` and ``keep_results=True`` on the test evaluator (for mmseg's
            ``IoUMetric``: keep the PNGs of ``format_only``); SODMetric never deletes its PNGs, so
            it has no effect. Defaults to False.

    Per-image values (scalars, confusion counts and 256-point curves, never full maps, plus
    ``img_path`` and, when the sample has one, ``set_name``) go to ``self.results``, which
    mmengine gathers across ranks before ``compute_metrics``, so distributed testing is exact and
    memory stays bounded.

    Raises:
        TypeError: an unknown keyword argument.
        ValueError: unknown metric name or DBD protocol (the message lists the valid ones), both
            ``sod_metrics`` and ``dbd_protocols`` empty, unknown ``positive``, ``dd_factor`` not
            > 0, ``fixed_threshold`` outside [0, 1], unknown ``dd_quantize``, ``format_only``
            without ``output_dir``; in ``process``: a prediction that is not a 1-channel map in
            [0, 1], a prediction and mask of different sizes, a mask holding 255 (a 0 / 255 file
            not binarised by ``LoadBinaryAnnotations``, or mmseg's ignore index: the message
            says masks must be 0 / 1 after loading and names the transform) or other values than
            0 / 1, a missing
            mask without ``format_only``, a ``set_name`` that is not a usable folder name, a
            sample without ``set_name`` while ``dataset_meta`` names several sets, a ``stem``
            that is empty, absolute or holds ``..``, a second image of the evaluation whose PNG
            path is already taken -- each message names the image; in ``compute_metrics``: no
            images, a set of ``dataset_meta['set_names']`` without images (named), a sample
            without ``set_name`` in multi-set mode.
    """

    # '' (not None): plain keys, and no "The prefix is not set" warning from mmengine on every
    # build (mmengine prefixes keys only when the prefix is non-empty)
    default_prefix: Optional[str] = ''

    def __init__(self,
                 sod_metrics: Optional[Union[str, Sequence[str]]] = None,
                 normalize_pred: bool = True,
                 dbd_protocols: Optional[Union[str, Sequence[str]]] = None,
                 positive: str = 'in-focus',
                 dd_factor: float = DD_FACTOR,
                 dd_binarize_gt: bool = False,
                 fixed_threshold: float = FIXED_THRESHOLD,
                 output_dir: Optional[str] = None,
                 curve_dir: Optional[str] = None,
                 format_only: bool = False,
                 collect_device: str = 'cpu',
                 collect_dir: Optional[str] = None,
                 prefix: Optional[str] = None,
                 dd_quantize: str = 'round',
                 per_image_csv: Optional[str] = None,
                 keep_results: bool = False,
                 **kwargs) -> None:
        # mmseg's IoUMetric arguments that tools/test.py --out sets (mmseg 1.x:
        # test_evaluator['output_dir'] = DIR and ['keep_results'] = True): output_dir is ours;
        # keep_results only keeps IoUMetric's PNGs after format_only, and SODMetric never deletes
        # its PNGs, so it is accepted and has no effect. Any other argument is an error, as before.
        if kwargs:
            raise TypeError(f'SODMetric.__init__() got unexpected keyword argument(s) '
                            f'{sorted(kwargs)}')
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.keep_results = bool(keep_results)
        if sod_metrics is None:
            metrics = list(SOD_METRICS)
        elif isinstance(sod_metrics, str):
            metrics = [sod_metrics]
        else:
            metrics = list(sod_metrics)
        metrics = list(dict.fromkeys(metrics))  # de-duplicate, keep order
        unknown = [m for m in metrics if m not in SOD_METRICS]
        if unknown:
            raise ValueError(f'SODMetric: unknown metric(s) {unknown}; valid names are '
                             f'{list(SOD_METRICS)}.')
        try:
            protocols = check_dbd_protocols(dbd_protocols)
            positive, dd_factor, fixed_threshold = check_dbd_options(positive, dd_factor,
                                                                     fixed_threshold)
        except ValueError as err:
            raise ValueError(f'SODMetric: {err}') from None
        if not metrics and not protocols:
            raise ValueError(f'SODMetric: sod_metrics is empty and no dbd_protocols are given; '
                             f'pick sod_metrics from {list(SOD_METRICS)} or protocols from '
                             f'{list(DBD_PROTOCOLS)}.')
        if dd_quantize not in DD_QUANTIZE:
            raise ValueError(f'SODMetric: dd_quantize must be one of {list(DD_QUANTIZE)}, got '
                             f'{dd_quantize!r}.')
        if format_only and output_dir is None:
            raise ValueError('SODMetric: format_only=True only writes predictions, so it needs '
                             'output_dir.')
        self.metrics: List[str] = metrics
        self.normalize_pred = bool(normalize_pred)
        self.dbd_protocols: List[str] = protocols
        self.positive = positive
        self.dd_factor = dd_factor
        self.dd_binarize_gt = bool(dd_binarize_gt)
        self.fixed_threshold = fixed_threshold
        self.dd_quantize = dd_quantize
        self.per_image_csv = per_image_csv
        self.output_dir = output_dir
        self.curve_dir = curve_dir
        self.format_only = format_only
        # PNG path -> image written there during the current evaluation (collision check)
        self._written: Dict[str, str] = {}

    # ------------------------------------------------------------------------------------------
    def _meta_set_names(self) -> List[str]:
        """``dataset_meta['set_names']`` (de-duplicated), or [] when absent."""
        names = (self.dataset_meta or {}).get('set_names')
        if names is None:
            return []
        if isinstance(names, str):
            names = [names]
        names = list(dict.fromkeys(names))
        for name in names:
            _check_set_name(name, "dataset_meta['set_names']")
        return names

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Compute per-image measures of a batch and append them to ``self.results``.

        Args:
            data_batch (Any): the dataloader batch (unused).
            data_samples (Sequence[dict | SegDataSample]): model outputs, see the class docstring.

        Raises:
            ValueError: see the class docstring; messages name ``img_path``.
        """
        meta_sets = self._meta_set_names()
        multi_set = len(meta_sets) > 1
        for index, sample in enumerate(data_samples):
            img_path = _field(sample, 'img_path')
            name = img_path if img_path is not None else f'<sample {index} of the batch>'
            set_name = _field(sample, 'set_name')
            if set_name is not None:
                _check_set_name(set_name, name)
            elif multi_set:
                raise ValueError(
                    f'SODMetric: {name} has no set_name, but the dataset holds several test sets '
                    f'{meta_sets}; each sample must say which one it belongs to.')
            pred = self._read_pred(sample, name)
            # check the mask before writing anything, so a bad sample leaves no output
            gt = None if self.format_only else self._read_gt(sample, name, pred.shape)

            if self.output_dir is not None:
                if img_path is None:
                    raise ValueError(f'SODMetric: {name} has no img_path, so output_dir cannot '
                                     'name its PNG.')
                stem = _output_stem(sample, img_path, name)
                folder = osp.join(self.output_dir, set_name) if multi_set else self.output_dir
                png_path = osp.join(folder, *stem.split('/')) + '.png'
                taken = self._written.get(png_path)
                if taken is not None:
                    raise ValueError(
                        f'SODMetric: {name} would be saved as {png_path}, which already holds '
                        f'the prediction of {taken} in this evaluation; image names must be '
                        'unique (a dbdseg BinarySegDataset keeps sub-folders in the stems, '
                        'several test sets go to one folder each with MultiSetDataset).')
                save_prob_png(pred, png_path)
                self._written[png_path] = str(img_path)

            if self.format_only:
                # one small record per image keeps mmengine from warning about empty results
                record = dict(img_path=img_path)
                if set_name is not None:
                    record['set_name'] = set_name
                self.results.append(record)
                continue

            record: Dict[str, Any] = {}
            if self.metrics or self.curve_dir is not None or self.per_image_csv is not None:
                # the per-image CSV needs the curves for its per-image maxF / maxE columns
                needs = list(self.metrics)
                if self.per_image_csv is not None:
                    needs = list(dict.fromkeys(needs + list(PER_IMAGE_SOD_KEYS)))
                record.update(
                    image_sod_measures(
                        pred,
                        gt,
                        metrics=needs,
                        normalize_pred=self.normalize_pred,
                        with_curves=self.curve_dir is not None,
                        check_inputs=False))  # _read_pred / _read_gt checked them
            if self.dbd_protocols:
                record.update(
                    dbd_image_counts(
                        pred,
                        gt,
                        self.dbd_protocols,
                        positive=self.positive,
                        dd_factor=self.dd_factor,
                        dd_binarize_gt=self.dd_binarize_gt,
                        fixed_threshold=self.fixed_threshold,
                        check_inputs=False,
                        dd_quantize=self.dd_quantize))
            record['img_path'] = img_path
            if self.per_image_csv is not None:
                record['stem'] = (
                    _output_stem(sample, img_path, name) if img_path is not None else name)
            if set_name is not None:  # single-set records stay as they were
                record['set_name'] = set_name
            self.results.append(record)

    @staticmethod
    def _read_pred(sample: Any, name: str) -> np.ndarray:
        seg_logits = _field(sample, 'seg_logits')
        data = _field(seg_logits, 'data') if seg_logits is not None else None
        if data is None:
            raise ValueError(f'SODMetric: {name} has no seg_logits (the probability map).')
        pred = _to_numpy(data)
        if pred.ndim == 3:
            if pred.shape[0] != 1:
                raise ValueError(
                    f'SODMetric: {name}: seg_logits has {pred.shape[0]} channels; SODMetric '
                    'expects the 1-channel probability map of a head with out_channels=1.')
            pred = pred[0]
        if pred.ndim != 2:
            raise ValueError(f'SODMetric: {name}: seg_logits must be (1, H, W), got {pred.shape}.')
        pred = pred.astype(np.float64, copy=False)
        if np.isnan(pred).any() or pred.min() < 0 or pred.max() > 1:
            raise ValueError(f'SODMetric: {name}: seg_logits must hold probabilities in [0, 1], '
                             f'got values in [{np.nanmin(pred)}, {np.nanmax(pred)}].')
        return pred

    def _read_gt(self, sample: Any, name: str, shape: tuple) -> np.ndarray:
        gt_sem_seg = _field(sample, 'gt_sem_seg')
        data = _field(gt_sem_seg, 'data') if gt_sem_seg is not None else None
        if data is None:
            raise ValueError(
                f'SODMetric: {name} has no ground truth (gt_sem_seg). To only save predictions '
                'of an unlabeled set, use format_only=True with output_dir.')
        gt = _to_numpy(data)
        if gt.ndim == 3 and gt.shape[0] == 1:
            gt = gt[0]
        if gt.shape != shape:
            raise ValueError(
                f'SODMetric: {name}: prediction size {shape} differs from ground-truth '
                f'size {gt.shape}; predictions must be at the original image size.')
        if not is_binary_mask(gt):  # sorts the map only when it is wrong
            values = np.unique(gt)
            if (values == 255).any():
                raise ValueError(
                    f'SODMetric: {name}: ground truth holds 255, values {values.tolist()}: '
                    'masks must hold labels 0 / 1 after loading. A 0 / 255 mask file is '
                    "binarised by dbdseg's LoadBinaryAnnotations transform (dict(type="
                    "'LoadBinaryAnnotations') in the test pipeline: 8-bit values > 128 -> 1); "
                    "mmseg's LoadAnnotations keeps the raw values. (255 is also mmseg's ignore "
                    'index, which pysodmetrics cannot exclude: test masks must be unpadded.)')
            raise ValueError(f'SODMetric: {name}: ground truth must hold only 0 and 1, got '
                             f'values {values.tolist()}.')
        return gt.astype(bool)

    def evaluate(self, size: int) -> dict:
        """mmengine's :meth:`BaseMetric.evaluate`; then forgets which PNGs this evaluation wrote
        (the next validation round may write the same names again)."""
        try:
            return super().evaluate(size)
        finally:
            self._written.clear()

    # ------------------------------------------------------------------------------------------
    def settings(self) -> Dict[str, Any]:
        """The settings that define the numbers (logged, and saved in ``curves.json``).

        Always: the SOD settings (``metrics``, ``normalize_pred``, quantisation, stretch, beta^2,
        thresholds, the E-measure clip at 1) and ``dbd_protocols``; with protocols also
        ``dbd_beta2``, ``dbd_zero_division``, ``positive``; with a dd protocol ``dd_factor``,
        ``dd_threshold`` (the rule), ``dd_binarize_gt``, ``dd_gt`` (the mask rule),
        ``dd_positive`` and the aggregation of each dd protocol; with ``'fixed'``
        ``fixed_threshold``, ``fixed_rule``, ``fixed_positive``, ``fixed_aggregation``.
        """
        settings: Dict[str, Any] = dict(
            metrics=list(self.metrics),
            normalize_pred=self.normalize_pred,
            pred_quantisation='uint8(rint(p * 255))' if self.normalize_pred else 'none',
            pred_stretch='per-image min-max' if self.normalize_pred else 'none',
            fmeasure_beta2=FM_BETA2,
            wfmeasure_beta2=WFM_BETA2,
            num_thresholds=NUM_THRESHOLDS,
            threshold_rule='uint8(p * 255) >= t, t = 255 .. 0',
            adaptive_threshold='min(2 * mean(p), 1), >=',
            curve_aggregation='mean over images, then max / mean over thresholds',
            emeasure_clip='per-image E-measure min(E, 1) (pysodmetrics: / (H W - 1))',
            dbd_protocols=list(self.dbd_protocols),
        )
        protocols = self.dbd_protocols
        if not protocols:
            return settings
        settings.update(dbd_beta2=DBD_BETA2, dbd_zero_division=0, positive=self.positive)
        if 'dd' in protocols or 'dd_pooled' in protocols:
            quant = ('uint8(rint(p * 255))'
                     if self.dd_quantize == 'round' else 'uint8(float32(p) * 255) (DD notebook)')
            settings.update(
                dd_factor=self.dd_factor,
                dd_quantize=self.dd_quantize,
                dd_threshold='q > min(dd_factor * mean(q), 255) per image; '
                f'q = {quant}, p not stretched',
                dd_binarize_gt=self.dd_binarize_gt,
                dd_gt=('gt255 > min(dd_factor * mean(gt255), 255) (DD notebook quirk)'
                       if self.dd_binarize_gt else '{0, 1} mask as is'),
                dd_positive='in-focus (label 1)')
        if 'dd' in protocols:
            settings['dd_aggregation'] = 'ddP / ddR / ddF: means over images of per-image P / R / F'
        if 'dd_pooled' in protocols:
            settings['dd_pooled_aggregation'] = (
                'ddpP / ddpR / ddpF: TP / FP / FN summed over the set, then P / R / F once')
        if 'fixed' in protocols:
            blurred = self.positive == 'blurred'
            settings.update(
                fixed_threshold=self.fixed_threshold,
                fixed_rule='p >= fixed_threshold on the unquantised probability' +
                ('; prediction and mask inverted' if blurred else ''),
                fixed_positive='blurred (label 0)' if blurred else 'in-focus (label 1)',
                fixed_aggregation='fixF / fixIoU: means over images of per-image F / '
                'IoU = TP / (TP + FP + FN)')
        if 'fixed_pooled' in protocols:
            settings.update(
                fixed_threshold=self.fixed_threshold,
                fixed_pooled_rule='p > fixed_threshold (strict, D-DFFNet test_iou.py); '
                'fixpIoU: TP / FP / FN summed over the set, then IoU once',
                fixed_positive='blurred (label 0)'
                if self.positive == 'blurred' else 'in-focus (label 1)')
        if 'dd_mae' in protocols:
            settings['dd_mae_rule'] = 'ddMAE: mean over images of mean |p - mask| (DD notebook)'
        if 'zhang_yan' in protocols:
            settings.update(
                fixed_threshold=self.fixed_threshold,
                zhang_yan_rule='zyMAE: mean over images of mean |(p >= fixed_threshold) - mask|')
        if 'a2s' in protocols:
            settings['a2s_rule'] = (
                'A2S metric.py: q = uint8(rint(p * 255)) min-max stretched; maxF over 255 bins of '
                'the mean P and R; meanF = F at min(2 mean, 1); MAE, S, adaptive E, wF (eps 1e-6)')
        settings['mask_rules'] = {p: PROTOCOL_MASK_RULES[p] for p in protocols}
        return settings

    def _group_by_set(self, results: list) -> Optional[Dict[str, list]]:
        """Records per test set in reporting order, or None in single-set mode."""
        meta_sets = self._meta_set_names()
        seen = list(
            dict.fromkeys(r.get('set_name') for r in results if r.get('set_name') is not None))
        if len(meta_sets) <= 1 and len(seen) <= 1:
            return None
        unnamed = [r.get('img_path') for r in results if r.get('set_name') is None]
        if unnamed:
            raise ValueError(
                f'SODMetric: {len(unnamed)} image(s) have no set_name, e.g. {unnamed[:5]}, while '
                f'the results hold several test sets {list(dict.fromkeys(meta_sets + seen))}.')
        groups: Dict[str, list] = {name: [] for name in dict.fromkeys(meta_sets + seen)}
        for record in results:
            groups[record['set_name']].append(record)
        empty = [name for name, records in groups.items() if not records]
        if empty:
            raise ValueError(
                f"SODMetric: test set(s) {empty} of dataset_meta['set_names'] {meta_sets} have "
                'no processed images.')
        if self.output_dir is not None and len(meta_sets) <= 1:
            MMLogger.get_current_instance().warning(
                f'SODMetric: the results hold several test sets {list(groups)}, but '
                "dataset_meta names no set_names, so the predictions were saved flat to "
                f'{self.output_dir}/<stem>.png, not in one folder per set (use MultiSetDataset '
                'for per-set folders).')
        return groups

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Average per-image values over the set (each set); optionally write the curve files.

        Args:
            results (list[dict]): per-image records of ``process``, gathered from all ranks.

        Returns:
            dict[str, float]: one python float per requested metric (in the requested order),
            then per protocol key (in the order of ``dbd_protocols``); with several test sets the
            same per set, keys ``'<set_name>/<key>'``, sets one after the other; ``{}`` with
            ``format_only``.

        Raises:
            ValueError: no images were processed; in multi-set mode a set of
                ``dataset_meta['set_names']`` without images, or an image without set_name.
        """
        logger = MMLogger.get_current_instance()
        groups = self._group_by_set(results) if results else None
        if self.format_only:
            if groups is None:
                logger.info(f'SODMetric: format_only, {len(results)} predictions saved to '
                            f'{self.output_dir}; no metrics computed.')
            else:
                logger.info('SODMetric: format_only, predictions saved per set: ' +
                            ', '.join(f'{name}: {len(records)}'
                                      for name, records in groups.items()) +
                            f' (under {self.output_dir}); no metrics computed.')
            return {}
        if not results:
            raise ValueError('SODMetric: no images were processed, nothing to evaluate.')
        settings = self.settings()
        text = ', '.join(f'{k}={v}' for k, v in settings.items())
        if self.per_image_csv is not None:
            write_per_image_csv(
                per_image_rows(results, self.metrics, self.dbd_protocols), self.per_image_csv)
            logger.info(f'SODMetric: per-image metrics of {len(results)} images saved to '
                        f'{self.per_image_csv}')
        if groups is None:
            logger.info(f'SODMetric settings: {text}, num_images={len(results)}')
            return self._evaluate_set(results, settings, self.curve_dir, None)
        logger.info(f'SODMetric settings: {text}, num_sets={len(groups)}')
        metrics: Dict[str, float] = {}
        for name, records in groups.items():
            logger.info(f'SODMetric: test set {name}: num_images={len(records)}')
            curve_dir = None if self.curve_dir is None else osp.join(self.curve_dir, name)
            set_metrics = self._evaluate_set(records, settings, curve_dir, name)
            metrics.update((f'{name}/{key}', value) for key, value in set_metrics.items())
        return metrics

    def _evaluate_set(self, records: list, settings: Dict[str, Any], curve_dir: Optional[str],
                      set_name: Optional[str]) -> Dict[str, float]:
        """Plain-keyed results of one set; writes its curve files when ``curve_dir`` is set."""
        logger = MMLogger.get_current_instance()
        metrics = summarize_sod_measures(records, self.metrics) if self.metrics else {}
        metrics.update(summarize_dbd_protocols(records, self.dbd_protocols))
        where = '' if set_name is None else f' in test set {set_name}'
        nan_sm = [r.get('img_path') for r in records if 'sm' in r and np.isnan(r['sm'])]
        if nan_sm:
            logger.warning(
                f'SODMetric: S-measure is NaN for {len(nan_sm)} image(s){where}, e.g. '
                f'{nan_sm[:5]}: the centroid of their mask lies on the last row or column, which '
                'leaves an empty region in pysodmetrics (and the original MATLAB code); Sm of the '
                'set is NaN.')

        if curve_dir is not None:
            curves = dict(mean_sod_curves(records))
            curves['metrics'] = dict(metrics)
            curves['settings'] = dict(settings, num_images=len(records))
            if set_name is None:
                label = osp.basename(osp.normpath(osp.abspath(curve_dir))) or 'model'
            else:
                curves['settings']['set_name'] = set_name
                label = set_name
            save_curves_json(curves, osp.join(curve_dir, 'curves.json'))
            plot_curves([curves], [label], osp.join(curve_dir, 'curves.png'))
            logger.info(f'SODMetric: curves{where} saved to {curve_dir}/curves.json and '
                        'curves.png')
        return metrics
