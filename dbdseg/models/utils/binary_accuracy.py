"""``BinaryAccuracyMixin``: mmseg decode heads that log a real ``acc_seg`` with one channel.

See :mod:`dbdseg.models.losses.accuracy` for why mmseg's ``acc_seg`` is meaningless for a
1-channel (sigmoid) head.
"""
from mmseg.models.utils import resize
from mmseg.utils import SampleList

from dbdseg.models.losses.accuracy import binary_accuracy

__all__ = ['BinaryAccuracyMixin']


class BinaryAccuracyMixin:
    """Mixin for an mmseg ``BaseDecodeHead`` subclass: with ``out_channels == 1``, replace the
    ``acc_seg`` of ``loss_by_feat`` by :func:`~dbdseg.models.losses.accuracy.binary_accuracy`
    (``sigmoid(logit) > threshold`` against the label, ignored pixels excluded, in percent).

    List it before the head's base: ``class MyHead(BinaryAccuracyMixin, BaseDecodeHead)``. Heads
    with ``out_channels > 1`` keep mmseg's arg-max accuracy. The loss terms are mmseg's, unchanged.
    """

    def loss_by_feat(self, seg_logits, batch_data_samples: SampleList) -> dict:
        """mmseg's ``loss_by_feat`` (loss terms and ``acc_seg``), with ``acc_seg`` of a 1-channel
        head computed from the thresholded probability.

        Args:
            seg_logits (Tensor): (N, out_channels, h, w) logits of the head's ``forward``.
            batch_data_samples (list[SegDataSample]): with ``gt_sem_seg`` (1, H, W).

        Returns:
            dict[str, Tensor]: as mmseg's ``BaseDecodeHead.loss_by_feat``.
        """
        losses = super().loss_by_feat(seg_logits, batch_data_samples)
        if self.out_channels == 1 and 'acc_seg' in losses:
            seg_label = self._stack_batch_gt(batch_data_samples)
            logits = resize(
                seg_logits,
                size=seg_label.shape[2:],
                mode='bilinear',
                align_corners=self.align_corners)
            losses['acc_seg'] = binary_accuracy(logits, seg_label, self.threshold,
                                                self.ignore_index)
        return losses
