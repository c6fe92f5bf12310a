"""Test-time augmentation for binary-map segmentors (defocus blur detection, SOD).

mmseg 1.2.2's :class:`~mmseg.models.SegTTAModel` is wrong for the 1-channel (sigmoid) heads that
dbdseg uses (see ``docs/en/conventions.md``): :meth:`mmseg.models.BaseSegmentor.postprocess_result`
already turns each view's logits into probabilities (sigmoid) at the original image size (flip
undone, resized), and ``SegTTAModel.merge_preds`` applies a second sigmoid to them (so every pixel
ends up above 0.5), thresholds that, and returns the last view's sample, whose ``seg_logits`` (which
``SODMetric`` reads) are that view's alone, not the merged map.
:class:`BinarySegTTAModel` averages the views' probabilities instead.
"""
from typing import List, Optional

import torch
from mmengine.structures import PixelData
from mmseg.models.segmentors import SegTTAModel
from mmseg.structures import SegDataSample

from dbdseg.registry import MODELS

#: Tolerance on "1-channel ``seg_logits`` are probabilities in [0, 1]".
_PROB_TOL = 1e-4


@MODELS.register_module()
class BinarySegTTAModel(SegTTAModel):
    """Average the probability maps of test-time augmented views of each image.

    Wraps a segmentor (``module``) like mmseg's ``SegTTAModel``; ``tools/test.py --tta`` builds it
    from the config's ``tta_model = dict(type='BinarySegTTAModel')`` with ``module`` = the config's
    model, and the test dataset runs the config's ``tta_pipeline`` (``TestTimeAug``: several
    scales x horizontal flip). Each view goes through ``module.test_step``, whose
    ``postprocess_result`` un-flips the view and resizes it to the original image size, so all
    views of one image arrive here as maps of the same shape (1 or C, H, W).

    Merging (per image, :meth:`merge_preds`):

    * 1 channel (sigmoid head): each view's ``seg_logits.data`` already holds probabilities in
      [0, 1]; the merged ``seg_logits`` is their mean, shape (1, H, W), float, in [0, 1], and
      ``pred_sem_seg`` is ``mean > threshold`` as int64 (1, H, W) in {0, 1}.
    * C > 1 channels (softmax head): each view's raw logits are turned into softmax probabilities
      and averaged; the merged ``seg_logits`` then holds these **averaged probabilities**
      (C, H, W) (not logits) and ``pred_sem_seg`` is their argmax, int64 (1, H, W).

    The merged :class:`SegDataSample` carries the metainfo of the first view (``img_path``,
    ``ori_shape``, ``set_name``, ...; with the usual ``tta_pipeline`` the first view is the
    unflipped first scale) and its ground-truth fields (``gt_sem_seg`` and any other ``gt_*``).

    Args:
        module (dict | nn.Module): The segmentor (config or instance).
        data_preprocessor (dict | nn.Module, optional): Replaces the module's data preprocessor
            (mmengine's ``BaseTTAModel`` behaviour). Defaults to None.
        threshold (float, optional): Threshold on the averaged probability for ``pred_sem_seg``
            (1-channel models). None takes ``module.decode_head.threshold`` when the module has
            one, else 0.5. Defaults to None.

    Raises:
        ValueError: ``threshold`` outside [0, 1]; (in :meth:`merge_preds`) a view without
            ``seg_logits``, views of one image with different shapes, or 1-channel ``seg_logits``
            outside [0, 1] (the messages name the image).
    """

    def __init__(self, module, data_preprocessor=None, threshold: Optional[float] = None):
        super().__init__(module=module, data_preprocessor=data_preprocessor)
        if threshold is not None and not 0.0 <= float(threshold) <= 1.0:
            raise ValueError(f'BinarySegTTAModel: threshold must be in [0, 1], got {threshold}')
        self.threshold = None if threshold is None else float(threshold)

    @property
    def prob_threshold(self) -> float:
        """Threshold used for 1-channel predictions: ``threshold``, else the wrapped module's
        ``decode_head.threshold``, else 0.5."""
        if self.threshold is not None:
            return self.threshold
        head_thr = getattr(getattr(self.module, 'decode_head', None), 'threshold', None)
        return 0.5 if head_thr is None else float(head_thr)

    def merge_preds(self, data_samples_list: List[List[SegDataSample]]) -> List[SegDataSample]:
        """Merge the predictions of the augmented views of each image.

        Args:
            data_samples_list (list[list[SegDataSample]]): One entry per image of the batch, each
                the list of that image's views as returned by ``module.test_step``
                (``seg_logits.data``: (1, H, W) probabilities or (C, H, W) logits, original size).

        Returns:
            list[SegDataSample]: One merged sample per image with ``seg_logits`` and
            ``pred_sem_seg`` as described in the class docstring.

        Raises:
            ValueError: see the class docstring.
        """
        return [self._merge_views(list(views)) for views in data_samples_list]

    def _merge_views(self, views: List[SegDataSample]) -> SegDataSample:
        if not views:
            raise ValueError('BinarySegTTAModel: an image has no augmented views to merge')
        first = views[0]
        name = first.metainfo.get('img_path', '<image without img_path>')
        maps = []
        for k, view in enumerate(views):
            if 'seg_logits' not in view:
                raise ValueError(f'BinarySegTTAModel: view {k} of {name} has no seg_logits')
            maps.append(view.seg_logits.data)
        shapes = [tuple(m.shape) for m in maps]
        if len(set(shapes)) != 1 or len(shapes[0]) != 3:
            raise ValueError(
                f'BinarySegTTAModel: the views of {name} have seg_logits of shapes {shapes}; '
                'they must all be (C, H, W) at the original image size (the segmentor\'s '
                'postprocess_result resizes each view to ori_shape)')
        stacked = torch.stack([m.float() for m in maps])  # (V, C, H, W)
        if shapes[0][0] == 1:
            lo, hi = float(stacked.min()), float(stacked.max())
            if lo < -_PROB_TOL or hi > 1.0 + _PROB_TOL:
                raise ValueError(
                    f'BinarySegTTAModel: 1-channel seg_logits of {name} range over [{lo:.4g}, '
                    f'{hi:.4g}]; expected probabilities in [0, 1] (mmseg\'s postprocess_result '
                    'applies the sigmoid for 1-channel heads)')
            probs = stacked.clamp(0.0, 1.0).mean(dim=0)  # (1, H, W)
            pred = (probs > self.prob_threshold).long()
        else:
            probs = stacked.softmax(dim=1).mean(dim=0)  # (C, H, W)
            pred = probs.argmax(dim=0, keepdim=True).long()

        merged = SegDataSample(metainfo=dict(first.metainfo))
        for key in first.keys():
            if key.startswith('gt_'):
                merged.set_data({key: getattr(first, key)})
        dtype = maps[0].dtype if maps[0].is_floating_point() else torch.float32
        merged.seg_logits = PixelData(data=probs.to(dtype))
        merged.pred_sem_seg = PixelData(data=pred)
        return merged
