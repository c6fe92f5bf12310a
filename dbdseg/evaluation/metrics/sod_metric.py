"""SODMetric: salient-object / defocus-blur detection measures (pysodmetrics) as an mmengine
metric.

See ARCHITECTURE.md Section 5 and MODELS.md B.6.
"""
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from dbdseg.registry import METRICS
from ..functional import (FM_BETA2, NUM_THRESHOLDS, SOD_METRICS, WFM_BETA2, image_sod_measures,
                          mean_sod_curves, plot_curves, save_curves_json, save_prob_png,
                          summarize_sod_measures)


def _field(sample: Any, name: str) -> Any:
    """``sample[name]`` for dict samples (what mmengine's Evaluator passes) and attribute access
    for ``SegDataSample`` / ``PixelData`` objects; None when absent."""
    if isinstance(sample, dict):
        return sample.get(name)
    return getattr(sample, name, None)


def _to_numpy(data: Any) -> np.ndarray:
    if isinstance(data, torch.Tensor):
        data = data.detach().cpu()
        if data.is_floating_point():
            data = data.double()
        return data.numpy()
    return np.asarray(data)


@METRICS.register_module()
class SODMetric(BaseMetric):
    """SOD / DBD evaluation with pysodmetrics: F-measure, MAE, S-measure, E-measure, weighted F.

    Reads, per data sample (dict or ``SegDataSample``):

    - ``seg_logits.data``: float tensor (1, H, W), the probability of the positive class (in-focus
      / salient) in [0, 1] at the original image size (what mmseg's ``postprocess_result`` stores
      for 1-channel heads: ``sigmoid(logits)``);
    - ``gt_sem_seg.data``: integer tensor (1, H, W) with values {0, 1};
    - ``img_path`` (metainfo): names the image in errors and the saved PNG.

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
      pysodmetrics divides by (H W - 1), so a perfect H x W map scores H W / (H W - 1), a little
      above 1;
    - ``wF``: mean weighted F-measure, beta^2 = 1 (Margolin et al. CVPR 2014); 0 for an
      all-background mask.

    Args:
        metrics (str | Sequence[str], optional): subset of ``('maxF', 'meanF', 'adpF', 'MAE',
            'Sm', 'maxE', 'meanE', 'adpE', 'wF')``, returned in the given order. None = all.
        normalize_pred (bool): True (default, the SOD toolboxes' protocol): each prediction is
            quantised like a saved PNG, ``rint(p * 255)`` as uint8 (the same values ``output_dir``
            writes, so evaluating those PNGs with a pysodmetrics toolbox reproduces the numbers),
            then pysodmetrics divides by 255 and min-max stretches it to [0, 1] per image unless it
            is constant. False: the probability is used as it is, unquantised and unstretched.
        output_dir (str, optional): when set, ``process`` writes every prediction as
            ``output_dir/<stem of img_path>.png``, 8-bit grey, ``rint(p * 255)``, at the original
            image size, atomically (temporary file, then rename). Folders are created.
        curve_dir (str, optional): when set, ``compute_metrics`` writes ``curve_dir/curves.json``
            (thresholds, precision, recall, F-measure and E-measure curves of the set, the scalar
            metrics and these settings; see :mod:`dbdseg.evaluation.functional.curves`) and
            ``curve_dir/curves.png`` (PR curve and F-measure vs threshold).
        format_only (bool): only write predictions (needs ``output_dir``), compute nothing and
            return ``{}``; for unlabeled test sets. Defaults to False.
        collect_device (str): 'cpu' or 'gpu', for gathering results across ranks (mmengine).
        collect_dir (str, optional): folder for the cpu gathering (mmengine).
        prefix (str, optional): key prefix (mmengine); keep None for plain keys.

    Per-image values (scalars and 256-point curves, never full maps) go to ``self.results``, which
    mmengine gathers across ranks before ``compute_metrics``, so distributed testing is exact and
    memory stays bounded.

    Raises:
        ValueError: unknown metric name (the message lists the valid ones), empty ``metrics``,
            ``format_only`` without ``output_dir``; in ``process``: a prediction that is not a
            1-channel map in [0, 1], a prediction and mask of different sizes, a mask holding 255
            (mmseg's ignore index: pysodmetrics cannot mask pixels, and test masks are never
            padded) or other values than 0 / 1, a missing mask without ``format_only`` -- each
            message names the image.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 metrics: Optional[Union[str, Sequence[str]]] = None,
                 normalize_pred: bool = True,
                 output_dir: Optional[str] = None,
                 curve_dir: Optional[str] = None,
                 format_only: bool = False,
                 collect_device: str = 'cpu',
                 collect_dir: Optional[str] = None,
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        if metrics is None:
            metrics = list(SOD_METRICS)
        elif isinstance(metrics, str):
            metrics = [metrics]
        metrics = list(dict.fromkeys(metrics))  # de-duplicate, keep order
        unknown = [m for m in metrics if m not in SOD_METRICS]
        if unknown:
            raise ValueError(f'SODMetric: unknown metric(s) {unknown}; valid names are '
                             f'{list(SOD_METRICS)}.')
        if not metrics:
            raise ValueError(f'SODMetric: metrics is empty; pick from {list(SOD_METRICS)}.')
        if format_only and output_dir is None:
            raise ValueError('SODMetric: format_only=True only writes predictions, so it needs '
                             'output_dir.')
        self.metrics: List[str] = metrics
        self.normalize_pred = bool(normalize_pred)
        self.output_dir = output_dir
        self.curve_dir = curve_dir
        self.format_only = format_only

    # ------------------------------------------------------------------------------------------
    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Compute per-image measures of a batch and append them to ``self.results``.

        Args:
            data_batch (Any): the dataloader batch (unused).
            data_samples (Sequence[dict | SegDataSample]): model outputs, see the class docstring.

        Raises:
            ValueError: see the class docstring; messages name ``img_path``.
        """
        for index, sample in enumerate(data_samples):
            img_path = _field(sample, 'img_path')
            name = img_path if img_path is not None else f'<sample {index} of the batch>'
            pred = self._read_pred(sample, name)
            # check the mask before writing anything, so a bad sample leaves no output
            gt = None if self.format_only else self._read_gt(sample, name, pred.shape)

            if self.output_dir is not None:
                if img_path is None:
                    raise ValueError(f'SODMetric: {name} has no img_path, so output_dir cannot '
                                     'name its PNG.')
                stem = osp.splitext(osp.basename(img_path))[0]
                save_prob_png(pred, osp.join(self.output_dir, f'{stem}.png'))

            if self.format_only:
                # one small record per image keeps mmengine from warning about empty results
                self.results.append(dict(img_path=img_path))
                continue

            record = image_sod_measures(
                pred,
                gt,
                metrics=self.metrics,
                normalize_pred=self.normalize_pred,
                with_curves=self.curve_dir is not None)
            record['img_path'] = img_path
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
        pred = pred.astype(np.float64)
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
        values = np.unique(gt)
        if (values == 255).any():
            raise ValueError(
                f'SODMetric: {name}: ground truth holds 255 (ignore index); pysodmetrics cannot '
                'exclude pixels and test masks must be unpadded {0, 1} maps.')
        if not np.isin(values, (0, 1)).all():
            raise ValueError(f'SODMetric: {name}: ground truth must hold only 0 and 1, got values '
                             f'{values.tolist()}.')
        return gt.astype(bool)

    # ------------------------------------------------------------------------------------------
    def settings(self) -> Dict[str, Any]:
        """The settings that define the numbers (logged, and saved in ``curves.json``)."""
        return dict(
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
        )

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Average per-image values over the set; optionally write the curve files.

        Args:
            results (list[dict]): per-image records of ``process``, gathered from all ranks.

        Returns:
            dict[str, float]: one python float per requested metric, in the requested order;
            ``{}`` with ``format_only``.

        Raises:
            ValueError: no images were processed.
        """
        logger = MMLogger.get_current_instance()
        if self.format_only:
            logger.info(f'SODMetric: format_only, {len(results)} predictions saved to '
                        f'{self.output_dir}; no metrics computed.')
            return {}
        if not results:
            raise ValueError('SODMetric: no images were processed, nothing to evaluate.')
        settings = self.settings()
        logger.info('SODMetric settings: ' + ', '.join(f'{k}={v}' for k, v in settings.items()) +
                    f', num_images={len(results)}')
        metrics = summarize_sod_measures(results, self.metrics)
        nan_sm = [r.get('img_path') for r in results if 'sm' in r and np.isnan(r['sm'])]
        if nan_sm:
            logger.warning(
                f'SODMetric: S-measure is NaN for {len(nan_sm)} image(s), e.g. {nan_sm[:5]}: the '
                'centroid of their mask lies on the last row or column, which leaves an empty '
                'region in pysodmetrics (and the original MATLAB code); Sm of the set is NaN.')

        if self.curve_dir is not None:
            curves = dict(mean_sod_curves(results))
            curves['metrics'] = dict(metrics)
            curves['settings'] = dict(settings, num_images=len(results))
            save_curves_json(curves, osp.join(self.curve_dir, 'curves.json'))
            label = osp.basename(osp.normpath(osp.abspath(self.curve_dir))) or 'model'
            plot_curves([curves], [label], osp.join(self.curve_dir, 'curves.png'))
            logger.info(f'SODMetric: curves saved to {self.curve_dir}/curves.json and curves.png')
        return metrics
