"""Adaptive-decision-boundary (ADB) loss of A2S stage 1.

Source: Zhou et al., "Activation to Saliency: Forming High-Quality Labels for Unsupervised Salient
Object Detection" (TCSVT 2023), Sec. III-A, Eq. 3-4, Table V. Details the paper leaves open follow
the stage-1 loss of the reference code (github.com/moothes/A2S-USOD, methods/mnet/loss.py); see
configs/a2s/README.md, "What the paper does not say".
"""
from typing import Optional

import torch
import torch.nn as nn

from dbdseg.registry import MODELS


@MODELS.register_module()
class ADBLoss(nn.Module):
    """Push the decision values of an activation map away from the adaptive decision boundary.

    For decision values ``theta`` (Eq. 3: the channel sum of a feature map minus its spatial mean,
    computed by :class:`~dbdseg.models.decode_heads.ActivationHead`), Eq. 4 of the paper is::

        D_n   = |sigmoid(theta_n) - sigmoid(theta*)|,  theta* = 0  (so D_n in [0, 0.5])
        L_adb = -1/N sum_n (D_n^2 + alpha * D_n)

    Maximising the distance ``D_n`` makes each pixel's features more distinct from the image's mean
    feature; the squared term favours easy pixels far from the boundary, the linear term keeps the
    gradient of hard pixels near the boundary from vanishing (paper, after Eq. 4). Both terms are
    symmetric in the sign of ``theta``, so the loss does not depend on the sign flip of Eq. 5.

    Pixel dropping (paper, after Eq. 4; Table IV variant A2): each call draws a fresh Bernoulli
    keep-mask with keep probability ``1 - drop_ratio`` over every pixel of the batch (torch's global
    RNG, which mmengine seeds), and ``L_adb`` is the mean over the kept (and valid) pixels of the
    whole batch, as the reference code does (A2S-USOD methods/mnet/loss.py). The mask is drawn
    whenever ``drop_ratio > 0`` (the loss is only computed in training); ``drop_ratio=0`` uses
    every pixel.

    Choices where the paper is silent (each a constructor argument):

    * ``|D_n|_2`` is read as the SQUARED distance ``D_n^2``, as the reference code computes it
      (A2S-USOD methods/mnet/loss.py): for a scalar the plain L2 norm would equal the L1 term,
      and the paper describes the two terms as behaving differently.
    * ``offset``: the reference code minimises ``1 - mean(...)`` instead of ``-mean(...)``; the
      constant changes the logged value (the paper's loss is <= 0, the reference's in [0.7, 1])
      but not the gradient. Defaults to 0.0 (the paper); 1.0 reproduces the reference's logged
      values.

    Args:
        alpha (float): Weight of the L1 term, >= 0. The paper's Table V picks 0.1. Defaults to
            0.1.
        drop_ratio (float): Fraction of pixels dropped at random per call, in [0, 1). Defaults
            to 0.5.
        offset (float): Constant added to the loss (see above). Defaults to 0.0.
        loss_weight (float): Factor applied to the returned loss. Defaults to 1.0.
        loss_name (str): Name under which decode heads log this loss; must start with ``loss_``
            (mmengine sums the keys that contain ``loss``). Defaults to ``'loss_adb'``.

    Raises:
        ValueError: ``alpha < 0``, ``drop_ratio`` outside [0, 1), or a ``loss_name`` that does not
            start with ``loss_``.
    """

    def __init__(self,
                 alpha: float = 0.1,
                 drop_ratio: float = 0.5,
                 offset: float = 0.0,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_adb') -> None:
        super().__init__()
        if not alpha >= 0:
            raise ValueError(f'ADBLoss: alpha must be >= 0, got {alpha}')
        if not 0.0 <= drop_ratio < 1.0:
            raise ValueError(f'ADBLoss: drop_ratio must be in [0, 1), got {drop_ratio}')
        if not isinstance(loss_name, str) or not loss_name.startswith('loss_'):
            raise ValueError(f'ADBLoss: loss_name must start with "loss_", got {loss_name!r}')
        self.alpha = float(alpha)
        self.drop_ratio = float(drop_ratio)
        self.offset = float(offset)
        self.loss_weight = float(loss_weight)
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """Name of this loss in the log (mmseg's loss-module convention)."""
        return self._loss_name

    def distance(self, theta: torch.Tensor) -> torch.Tensor:
        """Per-pixel score ``D^2 + alpha * D`` with ``D = |sigmoid(theta) - 0.5|``.

        Args:
            theta (Tensor): Decision values (logits), any shape.

        Returns:
            Tensor: Same shape, values in [0, 0.25 + 0.5 * alpha].
        """
        dist = (theta.sigmoid() - 0.5).abs()
        return dist * dist + self.alpha * dist

    def forward(self,
                theta: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                **kwargs) -> torch.Tensor:
        """Compute ``loss_weight * (offset - mean(D^2 + alpha * D))`` over kept, valid pixels.

        Args:
            theta (Tensor): (N, 1, H, W) or (N, H, W) float decision values (logits; any real
                value). No ground truth is used.
            weight (Tensor, optional): Per-pixel validity / weight, broadcastable to ``theta``
                (e.g. (N, 1, H, W) with 0 on padding); values >= 0. None = every pixel valid.
            **kwargs: Ignored (mmseg passes ``ignore_index`` and the like to its losses).

        Returns:
            Tensor: Scalar loss. When no pixel is kept (possible only for tiny maps), the mean is
            taken as 0 and the loss is ``loss_weight * offset`` with zero gradient.

        Raises:
            TypeError: ``theta`` is not a floating-point tensor.
            ValueError: ``theta`` is not 3-D/4-D, or ``weight`` has negative values or cannot be
                broadcast to ``theta``'s shape.
        """
        if not isinstance(theta, torch.Tensor) or not theta.is_floating_point():
            raise TypeError('ADBLoss: theta must be a floating-point tensor, got '
                            f'{getattr(theta, "dtype", type(theta))}')
        if theta.dim() not in (3, 4):
            raise ValueError('ADBLoss: theta must be (N, 1, H, W) or (N, H, W), got shape '
                             f'{tuple(theta.shape)}')
        score = self.distance(theta)
        mask = torch.ones_like(score)
        if weight is not None:
            weight = weight.to(score)
            try:
                weight = torch.broadcast_to(weight, score.shape)
            except RuntimeError as exc:
                raise ValueError(f'ADBLoss: weight of shape {tuple(weight.shape)} cannot be '
                                 f'broadcast to theta of shape {tuple(theta.shape)}') from exc
            if bool((weight < 0).any()):
                raise ValueError('ADBLoss: weight must be >= 0')
            mask = mask * weight
        if self.drop_ratio > 0:
            keep = torch.rand_like(score) >= self.drop_ratio
            mask = mask * keep.to(score)
        mean = (score * mask).sum() / mask.sum().clamp_min(1e-12)
        return self.loss_weight * (self.offset - mean)

    def extra_repr(self) -> str:
        return (f'alpha={self.alpha}, drop_ratio={self.drop_ratio}, offset={self.offset}, '
                f'loss_weight={self.loss_weight}, loss_name={self._loss_name!r}')
