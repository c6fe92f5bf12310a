"""Losses of a head's main output and of its side outputs (deep supervision), with one key scheme.

Deep supervision applies the head's loss(es) to the main output and to every side output:
U²-Net (Qin et al., Pattern Recognition 2020, Sec. 3.3, Eq. 1:
``L = w_fuse * l_fuse + sum_m w_side^m * l_side^m``) and depth distillation (Cun & Pun, ECCV 2020,
Sec. 3.3, Eq. 2-3). The key scheme is dbdseg's choice; every dbdseg head logs the terms with the
same keys (:func:`side_loss_key`):

* ``<loss_name>`` for the main output (the fused map of a deeply supervised head, mmseg's key for
  a plain head), e.g. ``loss_ce`` or ``loss_defocus``;
* ``<loss_name>_side<i>`` for side output i (1-based, in the order the head documents), e.g.
  ``loss_ce_side1`` or ``loss_depth_side5``.

Terms with the same key (a loss repeated in ``loss_decode``) are summed, as mmseg does; terms with
weight 0 are left out. mmengine adds every key that contains ``loss`` into the total.
"""
from typing import Callable, Dict, Sequence, Union

import torch.nn as nn
from torch import Tensor

__all__ = ['side_loss_key', 'side_output_losses']


def side_loss_key(loss_name: str, index: int) -> str:
    """Log key of a loss term: ``loss_name`` for the main output (``index`` 0), else
    ``f'{loss_name}_side{index}'`` (side outputs are numbered from 1).

    Raises:
        ValueError: a negative ``index``.
    """
    if index < 0:
        raise ValueError(f'side output index must be >= 0, got {index}')
    return loss_name if index == 0 else f'{loss_name}_side{index}'


def side_output_losses(outputs: Sequence[Tensor],
                       weights: Sequence[float],
                       loss_fns: Union[nn.Module, Sequence[nn.Module]],
                       compute: Callable[[nn.Module, Tensor], Tensor],
                       first_index: int = 0) -> Dict[str, Tensor]:
    """Weighted loss terms of several outputs, keyed by :func:`side_loss_key`.

    For every loss module ``fn`` (in order) and every output ``outputs[j]`` with weight ``w`` != 0,
    the term ``w * compute(fn, outputs[j])`` is stored under
    ``side_loss_key(fn.loss_name, first_index + j)`` (summed with an existing term of that key).

    Args:
        outputs (Sequence[Tensor]): the maps, e.g. (N, 1, h, w) logits at any resolution
            (``compute`` resizes them to the label if needed).
        weights (Sequence[float]): one weight per output (alpha_k / beta_k of the papers).
        loss_fns (nn.Module | Sequence[nn.Module]): the loss module(s), each with a ``loss_name``
            (an ``nn.ModuleList`` such as mmseg's ``loss_decode`` is a sequence).
        compute (Callable[[nn.Module, Tensor], Tensor]): ``compute(fn, output)`` -> the
            unweighted scalar loss of one output (the head resizes the output and passes its
            label, ignore index, masks, ...).
        first_index (int): side-output number of ``outputs[0]``: 0 when the list starts with the
            main output, 1 when it holds the side outputs only. Defaults to 0.

    Returns:
        dict[str, Tensor]: scalar terms in the order loss module, then output.

    Raises:
        ValueError: ``outputs`` and ``weights`` of different lengths, or a negative
            ``first_index``.
    """
    if len(outputs) != len(weights):
        raise ValueError(f'side_output_losses: {len(outputs)} outputs but {len(weights)} weights')
    if first_index < 0:
        raise ValueError(f'first_index must be >= 0, got {first_index}')
    if isinstance(loss_fns, nn.Module) and not isinstance(loss_fns, nn.ModuleList):
        loss_fns = [loss_fns]
    losses: Dict[str, Tensor] = {}
    for fn in loss_fns:
        for j, (output, weight) in enumerate(zip(outputs, weights)):
            if weight == 0:
                continue
            key = side_loss_key(fn.loss_name, first_index + j)
            value = weight * compute(fn, output)
            losses[key] = losses[key] + value if key in losses else value
    return losses
