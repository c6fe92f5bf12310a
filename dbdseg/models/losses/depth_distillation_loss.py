"""Depth distillation loss of DD (regression of the student's depth maps to a teacher's).

Source: Cun & Pun, "Defocus Blur Detection via Depth Distillation", ECCV 2020, Sec. 3.3, Eq. 3:
``l_depth^k = || Phi_d^k(I) - Phi_rd(I) ||_2``, ``l_depth = l_depth^f + sum_k beta_k l_depth^k``,
``L = l_defocus + gamma * l_depth`` with beta_k = 1 and gamma = 0.1 (Table 3 sweeps gamma). The
per-pixel mean (``mode='mse'``) is our choice, see :func:`depth_distillation_loss` and
configs/depth_distillation/README.md, 'What the paper does not say'.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from dbdseg.registry import MODELS

__all__ = ['DepthDistillationLoss', 'depth_distillation_loss']

MODES = ('mse', 'l1', 'l2')


def depth_distillation_loss(pred: Tensor,
                            target: Tensor,
                            valid_mask: Optional[Tensor] = None,
                            mode: str = 'mse') -> Tensor:
    """Per-image regression error between predicted and teacher depth, over valid pixels.

    Valid pixels: ``valid_mask`` (if given) AND finite targets in [0, 1] (padding written by
    geometric transforms holds 255 and is therefore excluded). Per image with valid pixels V:

    * ``'mse'`` (default): ``sum_V (pred - target)^2 / |V|`` -- the squared L2 norm averaged over
      pixels. Our choice: the paper's ``||.||_2`` summed over 320 x 320 pixels would dwarf the
      BCE terms at gamma = 0.1, which its gamma sweep (Table 3) shows is not the case, so the
      per-pixel mean is the default.
    * ``'l1'``: ``sum_V |pred - target| / |V|`` (an option; not in the paper).
    * ``'l2'``: ``sqrt(sum_V (pred - target)^2)``, Eq. 3 taken literally (not normalised).

    The result is the mean over the images that have at least one valid pixel (0, still attached
    to the graph, when none has). The target gets no gradient.

    Args:
        pred (Tensor): (N, 1, H, W) or (N, H, W) predicted depth (linear output, no sigmoid).
        target (Tensor): teacher depth of the same shape, values in [0, 1] (others ignored).
        valid_mask (Tensor, optional): bool, same shape; False pixels are ignored (e.g. label 255).
        mode (str): 'mse', 'l1' or 'l2'. Defaults to 'mse'.

    Returns:
        Tensor: scalar loss.

    Raises:
        ValueError: an unknown ``mode``; shapes that differ.
    """
    if mode not in MODES:
        raise ValueError(f'depth_distillation_loss: mode must be one of {MODES}, got {mode!r}')
    if pred.shape != target.shape:
        raise ValueError(f'depth_distillation_loss: pred {tuple(pred.shape)} and target '
                         f'{tuple(target.shape)} must have the same shape (resize first)')
    if valid_mask is not None and valid_mask.shape != target.shape:
        raise ValueError(f'depth_distillation_loss: valid_mask {tuple(valid_mask.shape)} must have '
                         f'the shape of target {tuple(target.shape)}')
    target = target.detach().to(pred.dtype)
    valid = torch.isfinite(target) & (target >= 0) & (target <= 1)
    if valid_mask is not None:
        valid = valid & valid_mask.bool()
    n = pred.shape[0]
    diff = pred.reshape(n, -1) - torch.where(valid, target, torch.zeros_like(target)).reshape(n, -1)
    valid = valid.reshape(n, -1)
    err = diff.abs() if mode == 'l1' else diff * diff
    per = torch.where(valid, err, torch.zeros_like(err)).sum(1)
    n_valid = valid.sum(1)
    if mode == 'l2':
        per = torch.sqrt(per + 1e-12)  # eps: finite gradient at a perfect match
    else:
        per = per / n_valid.clamp(min=1).to(per.dtype)
    has_valid = n_valid > 0
    if not bool(has_valid.any()):
        return pred.sum() * 0.0
    return per[has_valid].mean()


@MODELS.register_module()
class DepthDistillationLoss(nn.Module):
    """Depth distillation term of DD (Cun & Pun 2020, Eq. 3); see :func:`depth_distillation_loss`.

    ``loss_weight`` is gamma of ``L = l_defocus + gamma * l_depth`` (paper: 0.1, Table 3 sweeps
    0.01-5). The decode head applies it to the fused and every side depth output (resized to the
    target size, bilinear) with its beta_k, and logs every term; a weight of 0 switches depth
    supervision off (SOD data has no depth maps).

    Args:
        mode (str): 'mse' (per-pixel mean of the squared error; our choice, see
            :func:`depth_distillation_loss`), 'l1', or 'l2' (the unnormalised L2 norm of Eq. 3).
            Defaults to 'mse'.
        loss_weight (float): gamma (>= 0). Defaults to 0.1.
        loss_name (str): key in the loss dict, must start with ``loss_``.
            Defaults to 'loss_depth'.

    Raises:
        ValueError: an unknown ``mode``, a negative ``loss_weight``, a ``loss_name`` not starting
            with ``loss_``; in ``forward`` as :func:`depth_distillation_loss`.
    """

    def __init__(self, mode: str = 'mse', loss_weight: float = 0.1, loss_name: str = 'loss_depth'):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f'DepthDistillationLoss: mode must be one of {MODES}, got {mode!r}')
        if loss_weight < 0:
            raise ValueError(f'DepthDistillationLoss: loss_weight (gamma) must be >= 0, got '
                             f'{loss_weight}')
        if not str(loss_name).startswith('loss_'):
            raise ValueError(f"DepthDistillationLoss: loss_name must start with 'loss_', got "
                             f'{loss_name!r}')
        self.mode = mode
        self.loss_weight = float(loss_weight)
        self._loss_name = loss_name

    def forward(self,
                pred: Tensor,
                target: Tensor,
                valid_mask: Optional[Tensor] = None,
                **kwargs) -> Tensor:
        """``loss_weight * depth_distillation_loss(pred, target, valid_mask, mode)``.

        ``pred`` is resized (bilinear) to ``target``'s size when only H, W differ.
        """
        if pred.dim() == 4 and target.dim() == 4 and pred.shape[:2] == target.shape[:2] \
                and pred.shape[2:] != target.shape[2:]:
            pred = F.interpolate(pred, size=target.shape[2:], mode='bilinear', align_corners=False)
        return self.loss_weight * depth_distillation_loss(pred, target, valid_mask, self.mode)

    @property
    def loss_name(self) -> str:
        """Key of this loss in the loss dict (starts with ``loss_``)."""
        return self._loss_name
