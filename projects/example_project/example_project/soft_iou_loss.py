"""SoftIoULoss: 1 - soft IoU of sigmoid probabilities, a loss of the example project.

Source: M. A. Rahman, Y. Wang, "Optimizing Intersection-Over-Union in Deep Neural Networks for
Image Segmentation", ISVC 2016: IoU computed with probabilities instead of binary maps
(intersection = sum p t, union = sum p + t - p t). The optional ``smooth`` term (added to both)
is the usual Laplace smoothing of Dice/IoU losses, not part of the paper.
"""
from typing import Optional

import torch
import torch.nn as nn

from dbdseg.registry import MODELS


@MODELS.register_module()
class SoftIoULoss(nn.Module):
    """1 - soft IoU between ``sigmoid(pred)`` and a binary target, per image, ignoring a label.

    Per image ``i`` over its valid pixels ``v`` (``target != ignore_index``, times ``weight`` if
    given), with ``p = sigmoid(pred)`` and ``t = (target == 1)``::

        I_i = sum_v w p t        U_i = sum_v w (p + t - p t)
        loss_i = 1 - (I_i + smooth) / (U_i + smooth)

    An image whose ``U_i + smooth`` is 0 (no valid pixel, or ``smooth=0`` with an empty
    prediction and target) gets loss 0. The value is in [0, 1]: about 0 for a confident correct
    prediction, about 1 for a confident wrong one.

    Args:
        smooth (float): Added to intersection and union (>= 0). Defaults to 1.0.
        reduction (str): ``'mean'`` (over images), ``'sum'`` or ``'none'`` (shape (B,)).
            Defaults to ``'mean'``.
        loss_weight (float): Multiplies the loss. Defaults to 1.0.
        loss_name (str): Key in the loss dict and the training log; must start with ``'loss_'``
            for mmengine to add it to the total loss. Defaults to ``'loss_soft_iou'``.

    Raises:
        ValueError: ``smooth < 0``, an unknown ``reduction``, a ``loss_name`` not starting with
            ``'loss_'``; in ``forward``, see there.
    """

    def __init__(self,
                 smooth: float = 1.0,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_soft_iou') -> None:
        super().__init__()
        if smooth < 0:
            raise ValueError(f'SoftIoULoss: smooth must be >= 0, got {smooth}')
        if reduction not in ('mean', 'sum', 'none'):
            raise ValueError("SoftIoULoss: reduction must be 'mean', 'sum' or 'none', got "
                             f'{reduction!r}')
        if not loss_name.startswith('loss_'):
            raise ValueError(f"SoftIoULoss: loss_name must start with 'loss_', got {loss_name!r}")
        self.smooth = float(smooth)
        self.reduction = reduction
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self,
                pred: torch.Tensor,
                target: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                ignore_index: Optional[int] = 255,
                **kwargs) -> torch.Tensor:
        """Compute the loss (called by ``BaseDecodeHead.loss_by_feat``).

        Args:
            pred (Tensor): Logits (B, 1, H, W) or (B, H, W), any float dtype.
            target (Tensor): Labels (B, H, W), integers in {0, 1} or ``ignore_index``.
            weight (Tensor, optional): Per-pixel weights (B, H, W) (e.g. from a pixel sampler).
            ignore_index (int, optional): Label excluded from the loss. Defaults to 255.
            **kwargs: Ignored (``avg_factor``, ... from mmseg callers).

        Returns:
            Tensor: Scalar for ``'mean'`` / ``'sum'``, (B,) for ``'none'``; times
            ``loss_weight``.

        Raises:
            ValueError: ``pred`` with more than one channel, shapes that do not match, or a
                valid label other than 0 and 1.
        """
        if pred.dim() == 4:
            if pred.shape[1] != 1:
                raise ValueError('SoftIoULoss expects 1-channel logits (a head with '
                                 f'out_channels=1), got pred of shape {tuple(pred.shape)}')
            pred = pred[:, 0]
        if pred.shape != target.shape:
            raise ValueError(f'SoftIoULoss: pred {tuple(pred.shape)} (channel dropped) and '
                             f'target {tuple(target.shape)} must have the same shape')
        valid = torch.ones_like(target, dtype=torch.bool)
        if ignore_index is not None:
            valid = target != ignore_index
        if bool(((target[valid] != 0) & (target[valid] != 1)).any()):
            raise ValueError('SoftIoULoss: labels must be 0, 1 or ignore_index '
                             f'({ignore_index}), got {torch.unique(target[valid]).tolist()}')
        w = valid.to(pred.dtype)
        if weight is not None:
            w = w * weight.to(pred.dtype)
        prob = pred.sigmoid()
        tgt = (target == 1).to(pred.dtype)
        inter = (w * prob * tgt).flatten(1).sum(1)
        union = (w * (prob + tgt - prob * tgt)).flatten(1).sum(1)
        denom = union + self.smooth
        iou = torch.where(denom > 0, (inter + self.smooth) / denom.clamp_min(1e-12),
                          torch.ones_like(denom))
        loss = 1.0 - iou
        if self.reduction == 'mean':
            loss = loss.mean()
        elif self.reduction == 'sum':
            loss = loss.sum()
        return self.loss_weight * loss

    @property
    def loss_name(self) -> str:
        """Name of the loss in the loss dict / training log (``'loss_soft_iou'`` by default)."""
        return self._loss_name
