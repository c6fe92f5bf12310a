"""Loss functions of Zhang & Yan's patch-swap training (hard-mining weights, weighted BCE, L1).

Source: N. Zhang, J. Yan, "Rethinking the Defocus Blur Detection Problem and A Real-Time Deep DBD
Model", ECCV 2020, Sec. 3.2 (patch swap and self-supervision, Eq. 1-5) and Sec. 3.3 (hard
mining, Eq. 6-8). :class:`~dbdseg.models.segmentors.PatchSwapEncoderDecoder` combines them into
``loss_ori``, ``loss_aug`` and ``loss_self``; they are plain functions because the terms need
both views of the batch (the original and the patch-swapped one), which a decode head's
``loss_decode`` never sees.
"""
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'LOSS_REDUCTIONS', 'hard_mining_weights', 'self_supervision_loss', 'weighted_bce_with_logits'
]

#: normalisations of :func:`weighted_bce_with_logits` (``reduction``).
LOSS_REDUCTIONS = ('mean_valid', 'sum_per_image')


def hard_mining_weights(gt: Tensor,
                        saliency: Tensor,
                        w_hard: float = 2.0,
                        threshold: float = 0.5,
                        ignore_index: int = 255) -> Tensor:
    """Per-pixel weight map W of the hard-mining BCE (Zhang & Yan 2020, Sec. 3.3, Eq. 6-7).

    ``W = 1 + (w_hard - 1) * [S xor F]`` with ``S = saliency > threshold`` (salient region) and
    ``F = gt == 1`` (in-focus region): ``w_hard`` on the hard region
    ``H = (S u F) - (S n F)`` (salient but blurred, or in focus but not salient), 1 elsewhere.
    The paper gives "double weights" (Sec. 4.1: ``w_hard = 2``); the binarisation of the
    saliency map (``threshold``) is not stated in the paper (0.5 is dbdseg's choice).
    Ignored pixels (``gt == ignore_index``) get weight 1; the losses exclude them anyway
    (the saliency map may hold 255 there, where a geometric transform padded).

    Args:
        gt (Tensor): integer ground truth, any shape (e.g. (B, 1, H, W)), values in {0, 1} and
            ``ignore_index``.
        saliency (Tensor): float saliency map of the same shape, values in [0, 1] (255 where
            padded).
        w_hard (float): weight of the hard region. Defaults to 2.0.
        threshold (float): S = saliency > threshold. Defaults to 0.5.
        ignore_index (int): ignored label. Defaults to 255.

    Returns:
        Tensor: float32 (or ``saliency``'s floating dtype) weights of ``gt``'s shape, values in
        {1, w_hard}.

    Raises:
        ValueError: ``gt`` and ``saliency`` shapes differ.
    """
    if gt.shape != saliency.shape:
        raise ValueError(f'hard_mining_weights: gt {tuple(gt.shape)} and saliency '
                         f'{tuple(saliency.shape)} must have the same shape')
    dtype = saliency.dtype if saliency.is_floating_point() else torch.float32
    hard = ((saliency > threshold) ^ (gt == 1)) & (gt != ignore_index)
    return 1.0 + (w_hard - 1.0) * hard.to(dtype)


def weighted_bce_with_logits(logits: Tensor,
                             gt: Tensor,
                             weight: Tensor,
                             ignore_index: int = 255,
                             reduction: str = 'mean_valid') -> Tensor:
    """Pixel-weighted binary cross-entropy over the valid pixels (Eq. 1/2, 6/7).

    The paper writes Eq. 1 as ``sum_xy -G log O`` and calls it "the binary cross entropy
    (BCE)"; this is the full BCE, ``-(G log O + (1 - G) log(1 - O))`` with ``O = sigmoid``
    of the logits, times W. The normalisation is not given in the paper (Eq. 1 is a plain sum):

    * ``'mean_valid'``: sum over the valid pixels of the batch of ``W * bce``, divided by the
      number of valid pixels (0 when there are none);
    * ``'sum_per_image'``: sum over the valid pixels of each image (Eq. 1 as printed), averaged
      over the images.

    Args:
        logits (Tensor): (B, 1, H, W) float logits.
        gt (Tensor): (B, 1, H, W) integer labels in {0, 1}; ``ignore_index`` = excluded.
        weight (Tensor): (B, 1, H, W) float pixel weights W.
        ignore_index (int): ignored label. Defaults to 255.
        reduction (str): 'mean_valid' or 'sum_per_image'. Defaults to 'mean_valid'.

    Returns:
        Tensor: scalar loss (differentiable w.r.t. ``logits``).

    Raises:
        ValueError: unknown ``reduction``, or shapes that differ.
    """
    if reduction not in LOSS_REDUCTIONS:
        raise ValueError(f'reduction must be one of {LOSS_REDUCTIONS}, got {reduction!r}')
    if not logits.shape == gt.shape == weight.shape:
        raise ValueError(f'logits {tuple(logits.shape)}, gt {tuple(gt.shape)} and weight '
                         f'{tuple(weight.shape)} must have the same shape')
    valid = gt != ignore_index
    target = (gt == 1).to(logits.dtype)  # ignored pixels -> 0 (masked out below)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction='none')
    masked = torch.where(valid, weight * bce, torch.zeros_like(bce))
    if reduction == 'mean_valid':
        return masked.sum() / valid.sum().clamp(min=1)
    return masked.flatten(1).sum(1).mean()


def self_supervision_loss(prob_swap: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """L1 self-supervision term of patch swap, ``mean |O' - O''|`` (Zhang & Yan 2020, Eq. 4).

    Args:
        prob_swap (Tensor): (B, 1, H, W) probabilities of the swapped view, O' = net(f(I)) after
            the sigmoid, in [0, 1].
        target (Tensor): (B, 1, H, W) probabilities of the original view with the same swap,
            O'' = f(sigmoid(net(I))) (detach it for a one-sided gradient).
        valid (Tensor): (B, 1, H, W) bool, the pixels to average over (not ignored in the
            swapped ground truth).

    Returns:
        Tensor: scalar, the mean of ``|prob_swap - target|`` over the valid pixels of the batch;
        0 when there are none. Not multiplied by lambda_s (Eq. 5).

    Raises:
        ValueError: the three tensors differ in shape.
    """
    if not prob_swap.shape == target.shape == valid.shape:
        raise ValueError(f'self_supervision_loss: prob_swap {tuple(prob_swap.shape)}, target '
                         f'{tuple(target.shape)} and valid {tuple(valid.shape)} must have the '
                         'same shape')
    l1 = (prob_swap - target).abs()
    return torch.where(valid, l1, torch.zeros_like(l1)).sum() / valid.sum().clamp(min=1)
