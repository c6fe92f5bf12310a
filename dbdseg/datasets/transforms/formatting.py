"""Packing of binary-map samples into mmseg inputs (docs/en/conventions.md)."""
import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.datasets.transforms import PackSegInputs

from dbdseg.registry import TRANSFORMS

#: Float per-pixel fields packed as ``PixelData`` (docs/en/conventions.md).
FLOAT_MAP_FIELDS = ('gt_depth_map', 'gt_saliency_map', 'gt_pseudo_label')


@TRANSFORMS.register_module()
class PackBinarySegInputs(PackSegInputs):
    """mmseg's :class:`PackSegInputs` plus the float extra maps of dbdseg (docs/en/conventions.md).

    Packs like mmseg: ``inputs`` = image tensor (C, H, W) in the image's dtype (uint8 usually);
    ``data_samples`` = :class:`SegDataSample` with ``gt_sem_seg`` = ``PixelData(data=(1, H, W)
    int64)`` in {0, 1} (255 where padded) when ``gt_seg_map`` is present, and the metainfo of
    ``meta_keys`` found in ``results``. Unlabeled samples (no ``gt_seg_map``) get no ``gt_sem_seg``.

    Additionally each of ``gt_depth_map``, ``gt_saliency_map``, ``gt_pseudo_label`` present in
    ``results`` is packed as a field of the same name, ``PixelData(data=(1, H, W) float32)``,
    values in [0, 1] (``seg_pad_val`` 255 where a geometric transform padded or rotated in
    border). mmseg's ``SegDataPreProcessor`` pads only ``gt_sem_seg``, ``gt_edge_map`` and
    ``gt_depth_map``: use fixed-size pipelines (as dbdseg's configs do) when batching the others.

    Args:
        meta_keys (Sequence[str]): Meta keys copied into the data sample's metainfo (only those
            present in ``results``). Defaults to mmseg's ``('img_path', 'seg_map_path',
            'ori_shape', 'img_shape', 'pad_shape', 'scale_factor', 'flip', 'flip_direction',
            'reduce_zero_label')`` plus ``'set_name'`` (the test set a sample belongs to, put
            into every data info by :class:`~dbdseg.datasets.BinarySegDataset`; metrics group
            their results by it) and ``'stem'`` (the image's path below the image folder without
            its suffix, e.g. ``'a/x'``; ``SODMetric`` names saved maps by it).

    Raises:
        ValueError: an extra map that is not 2-D (H, W).
    """

    def __init__(self,
                 meta_keys=('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
                            'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label',
                            'set_name', 'stem')):
        super().__init__(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack ``results``; see the class docstring.

        Args:
            results (dict): Result dict from the data pipeline.

        Returns:
            dict: ``inputs`` (torch.Tensor, (C, H, W)) when an image is present, and
            ``data_samples`` (SegDataSample).
        """
        packed = super().transform(results)
        data_sample = packed['data_samples']
        for field in FLOAT_MAP_FIELDS:
            if results.get(field) is None:
                continue
            arr = np.asarray(results[field])
            if arr.ndim != 2:
                raise ValueError(f'PackBinarySegInputs: {field} of {results.get("img_path")!r} '
                                 f'must be (H, W), got shape {arr.shape}')
            data = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)[None])
            data_sample.set_data({field: PixelData(data=data)})
        return packed
