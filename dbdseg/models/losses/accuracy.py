"""Pixel accuracy of a binary (1-channel, sigmoid) head, the ``acc_seg`` that dbdseg heads log.

mmseg's ``accuracy()`` takes the arg-max over the channel axis. A 1-channel head (mmseg's binary
convention: ``out_channels=1``, ``num_classes=2``) has one channel, so the arg-max is always 0 and
mmseg's ``acc_seg`` is the share of label-0 pixels, whatever the prediction. dbdseg's binary heads
log :func:`binary_accuracy` instead: the prediction mmseg itself makes for such a head
(``sigmoid(logit) > threshold``, ``BaseDecodeHead.predict_by_feat`` / ``postprocess_result``)
compared with the label. This is dbdseg's choice of log value; no paper defines it.
"""
from typing import Optional

import torch
from torch import Tensor

__all__ = ['binary_accuracy']


@torch.no_grad()
def binary_accuracy(logits: Tensor,
                    target: Tensor,
                    threshold: float = 0.5,
                    ignore_index: Optional[int] = 255) -> Tensor:
    """Percentage of valid pixels where ``sigmoid(logits) > threshold`` equals the label.

    Args:
        logits (Tensor): (N, 1, H, W) or (N, H, W) logits, already at the label's size.
        target (Tensor): (N, 1, H, W) or (N, H, W) labels: int {0, 1} or soft float targets in
            [0, 1] (positive where > 0.5). Pixels equal to ``ignore_index`` or < 0 are not
            counted.
        threshold (float): probability threshold of the prediction (the head's ``threshold``).
            Defaults to 0.5.
        ignore_index (int, optional): ignored label. None: only negative labels are ignored.
            Defaults to 255.

    Returns:
        Tensor: float32 scalar in [0, 100]; 0 when no pixel is valid. No gradient.

    Raises:
        ValueError: multi-channel logits, or logits and target of different sizes.
    """
    if logits.dim() == 4:
        if logits.shape[1] != 1:
            raise ValueError(f'binary_accuracy expects 1-channel logits (N, 1, H, W), got '
                             f'{tuple(logits.shape)}')
        logits = logits.squeeze(1)
    if target.dim() == 4:
        target = target.squeeze(1)
    if logits.shape != target.shape:
        raise ValueError(f'binary_accuracy: logits {tuple(logits.shape)} and target '
                         f'{tuple(target.shape)} must have the same size')
    valid = target >= 0
    if ignore_index is not None:
        valid = valid & (target != ignore_index)
    pred = logits.sigmoid() > threshold
    correct = (pred == (target > 0.5)) & valid
    return correct.sum().float() * 100.0 / valid.sum().clamp(min=1).float()
