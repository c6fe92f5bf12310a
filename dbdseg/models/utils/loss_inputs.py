"""Input handling shared by dbdseg's 1-channel map losses (``SSIMLoss``, ``IoULoss``).

Source: Zhou et al., "Activation to Saliency: Forming High-Quality Labels for Unsupervised Salient
Object Detection" (TCSVT 2023), Sec. III-B, Eq. 12 (``L_det = L_B + L_S + L_I``: BCE, SSIM and IoU
losses); the terms' details follow the official code, github.com/moothes/A2S-USOD,
``methods/cornet/loss.py``.
"""
from typing import Optional

import torch
import torch.nn as nn
from torch import Tensor

__all__ = ['binary_loss_inputs', 'BinaryMapLoss']


def binary_loss_inputs(cls_score: Tensor, label: Tensor, weight: Optional[Tensor],
                       ignore_index: Optional[int], use_sigmoid: bool, name: str):
    """Common input handling of dbdseg's map losses (``SSIMLoss``, ``IoULoss``).

    Args:
        cls_score (Tensor): (N, 1, H, W) or (N, H, W) logits (``use_sigmoid=True``) or
            probabilities in [0, 1] (``use_sigmoid=False``).
        label (Tensor): (N, H, W) or (N, 1, H, W) target, integer {0, 1} or float in [0, 1] (soft
            labels, e.g. the A2S OLR bank); ``ignore_index`` (and negative values) mark ignored
            pixels.
        weight (Tensor, optional): per-pixel weights broadcastable to (N, H, W).
        ignore_index (int, optional): ignored label value. None: nothing ignored.
        use_sigmoid (bool): apply a sigmoid to ``cls_score``.
        name (str): loss name for error messages.

    Returns:
        tuple: ``(p, t, w)``, each (N, 1, H, W) float: prediction probabilities and targets with
        ignored pixels set to 0, and the pixel weights (0 where ignored).

    Raises:
        ValueError: a multi-channel score, shapes that do not match, or target values outside
            [0, 1] that are not ignored.
    """
    if cls_score.dim() == 3:
        cls_score = cls_score.unsqueeze(1)
    if cls_score.dim() != 4 or cls_score.shape[1] != 1:
        raise ValueError(f'{name} expects 1-channel scores (N, 1, H, W) (a sigmoid head, '
                         f'out_channels=1), got {tuple(cls_score.shape)}')
    if label.dim() == 3:
        label = label.unsqueeze(1)
    if label.shape != cls_score.shape:
        raise ValueError(f'{name}: label {tuple(label.shape)} does not match the scores '
                         f'{tuple(cls_score.shape)} (resize the logits to the label size first)')
    label = label.to(cls_score.dtype if cls_score.is_floating_point() else torch.float32)
    valid = label >= 0
    if ignore_index is not None:
        valid = valid & (label != ignore_index)
    if bool((valid & (label > 1)).any()):
        raise ValueError(f'{name}: target values must lie in [0, 1] (or equal ignore_index='
                         f'{ignore_index}), got a maximum of {float(label[valid].max())}')
    p = cls_score.sigmoid() if use_sigmoid else cls_score
    zeros = torch.zeros_like(p)
    p = torch.where(valid, p, zeros)
    t = torch.where(valid, label, zeros)
    w = valid.to(p.dtype)
    if weight is not None:
        weight = weight.to(p.dtype)
        if weight.dim() == 3:
            weight = weight.unsqueeze(1)
        w = w * weight
    return p, t, w


class BinaryMapLoss(nn.Module):
    """Base of the 1-channel map losses: the mmseg loss interface around :func:`binary_loss_inputs`.

    Subclasses implement :meth:`loss_from_inputs` on the prepared ``(p, t, w)``; ``forward``
    multiplies its result by ``loss_weight``.

    Args:
        use_sigmoid (bool): the scores are logits (True, mmseg's convention for 1-channel heads)
            or already probabilities (False).
        loss_weight (float): multiplier.
        loss_name (str): name in the loss dict, must start with ``loss_``.

    Raises:
        ValueError: a ``loss_name`` without the ``loss_`` prefix.
    """

    def __init__(self, use_sigmoid: bool, loss_weight: float, loss_name: str):
        super().__init__()
        if not loss_name.startswith('loss_'):
            raise ValueError(f'loss_name must start with "loss_", got {loss_name!r}')
        self.use_sigmoid = bool(use_sigmoid)
        self.loss_weight = float(loss_weight)
        self._loss_name = loss_name

    def loss_from_inputs(self, p: Tensor, t: Tensor, w: Tensor) -> Tensor:
        """Unweighted scalar loss of the prepared inputs (each (N, 1, H, W), see
        :func:`binary_loss_inputs`)."""
        raise NotImplementedError

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                ignore_index: Optional[int] = 255,
                **kwargs) -> Tensor:
        """Scalar loss.

        Args:
            cls_score (Tensor): (N, 1, H, W) or (N, H, W) logits (or probabilities when
                ``use_sigmoid=False``).
            label (Tensor): (N, H, W) or (N, 1, H, W) target in [0, 1] (int or float);
                ``ignore_index`` = ignored.
            weight (Tensor, optional): per-pixel weights (N, H, W).
            ignore_index (int, optional): Defaults to 255.

        Returns:
            Tensor: scalar, ``loss_weight * loss_from_inputs(p, t, w)``.

        Raises:
            ValueError: see :func:`binary_loss_inputs`.
        """
        p, t, w = binary_loss_inputs(cls_score, label, weight, ignore_index, self.use_sigmoid,
                                     type(self).__name__)
        return self.loss_weight * self.loss_from_inputs(p, t, w)

    @property
    def loss_name(self) -> str:
        """Name of the loss term in the loss dict (the ``loss_name`` argument)."""
        return self._loss_name
