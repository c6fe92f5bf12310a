"""Class-balanced binary cross-entropy (defocus loss of depth distillation).

Source: Cun & Pun, "Defocus Blur Detection via Depth Distillation", ECCV 2020, Sec. 3.3, Eq. 2
("weighted binary cross entropy ... as in [13, 46]"), applied to the fused and every side output
with alpha_k = 1. Eq. 2 as printed reads

    l_bce(M, M') = -(1 - TP / N_n) M log M' - (1 - TN / N_n) (1 - M) log(1 - M')

with "TP and TN the numbers of true positives and true negatives in the samples, N_p and N_n the
numbers of in-focus and out-of-focus pixels". The authors released no training code. Three
readings are offered (``weighting``):

* ``'balanced'`` (the default): class-balanced BCE, each class weighted by the other class's pixel
  share per image, as HED (Xie & Tu, ICCV 2015) and the class-balanced losses of the shadow
  detectors the paper cites ([13] Hu et al. 2018; [46] Zheng et al. 2019).
* ``'eq2'``: Eq. 2 literally as printed: w_pos = 1 - TP / N_n, w_neg = 1 - TN / N_n, with TP / TN
  counted on the current prediction (sigmoid >= 0.5) without gradient.
* ``'eq2_per_class'``: Eq. 2 with the defined N_p in the first term: w_pos = 1 - TP / N_p,
  w_neg = 1 - TN / N_n (one minus each class's recall: a prediction-dependent hard-class
  weighting).

Why ``'balanced'`` stays the default: the printed equation is evidently garbled -- it divides both
terms by N_n although the sentence after it defines N_p, which then appears nowhere; read
literally, TP / N_n is not bounded by 1 (TP <= N_p, and N_p > N_n on most DBD images, which are
mostly in focus), so the positive weight turns negative (rewarding errors) once the model finds
more in-focus pixels than there are out-of-focus ones; dbdseg clips the weights to [0, 1], which
then switches the positive term off exactly when training goes well. The per-class reading is
well defined but depends on the prediction (at initialisation it equals plain BCE, and a class
already recalled well is weighted down to 0), which the words "weighted BCE as in [13, 46]" do not
say; the class-balanced reading is the common one and has no free choice. The literal forms are
offered for ablations (``--cfg-options model.decode_head.loss_decode.weighting=eq2``);
configs/depth_distillation/README.md ("What the paper does not say") records the choice.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from dbdseg.registry import MODELS

__all__ = ['BalancedBCELoss', 'balanced_bce_with_logits', 'WEIGHTINGS']

_REDUCTIONS = ('mean', 'sum')
#: the readings of DD's Eq. 2 (see the module docstring)
WEIGHTINGS = ('balanced', 'eq2', 'eq2_per_class')


def _as_n1hw(t: Tensor, name: str) -> Tensor:
    if t.dim() == 3:
        return t[:, None]
    if t.dim() == 4 and t.shape[1] == 1:
        return t
    raise ValueError(f'{name} must be (N, H, W) or (N, 1, H, W), got {tuple(t.shape)}')


def balanced_bce_with_logits(logits: Tensor,
                             label: Tensor,
                             weight: Optional[Tensor] = None,
                             ignore_index: Optional[int] = 255,
                             balance: bool = True,
                             per_image: bool = True,
                             reduction: str = 'mean',
                             weighting: str = 'balanced') -> Tensor:
    """Class-balanced BCE on logits, ignored pixels excluded.

    With ``V`` the valid pixels (``label != ignore_index``) of an image, ``P`` / ``Q`` its positive
    (label 1, in-focus) / negative pixels and ``b_p = BCE(sigmoid(logit_p), y_p)``::

        w_p = |Q| / |V| if y_p = 1,   |P| / |V| if y_p = 0          (each class weighted by the
                                                                      other class's share)
        'mean': l_img = sum_{p in V} w_p * b_p / |V|
        'sum' : l_img = sum_{p in V} w_p * b_p                       (HED's literal sum)
        loss  = mean of l_img over the images with |V| > 0          (0 if there are none)

    With ``per_image=False`` the shares and the normalisation are taken over the valid pixels of
    the whole batch instead (one "image"). With ``balance=False`` every ``w_p = 1`` (plain BCE).
    ``weight`` (optional, per pixel) multiplies ``w_p``.

    ``weighting`` other than ``'balanced'`` (DD Eq. 2 read literally; module docstring), with
    ``TP`` / ``TN`` the valid pixels of ``P`` / ``Q`` predicted right (``sigmoid >= 0.5`` /
    ``< 0.5``; counts, no gradient)::

        'eq2'          : w_p = 1 - TP / |Q| if y_p = 1,   1 - TN / |Q| if y_p = 0
        'eq2_per_class': w_p = 1 - TP / |P| if y_p = 1,   1 - TN / |Q| if y_p = 0

    each clipped to [0, 1]; a ratio with an empty denominator counts as 0 (weight 1).

    Notes: at a 50/50 split every w_p = 0.5, so ``'mean'`` is half of plain BCE; an image with one
    class only gets weight 0 on it (loss 0, no gradient) -- the formula taken literally, as in HED.
    The normalisation (``'mean'``) is dbdseg's choice; the paper prints none.

    Args:
        logits (Tensor): (N, 1, H, W) or (N, H, W) float logits (before the sigmoid).
        label (Tensor): same shape (or the other of the two layouts), integer labels in {0, 1}
            and ``ignore_index``.
        weight (Tensor, optional): per-pixel weights, (N, H, W) or broadcastable to
            (N, 1, H, W).
        ignore_index (int, optional): excluded label. Defaults to 255.
        balance (bool): class-balanced weights (True) or plain BCE (False). Defaults to True.
        per_image (bool): class shares per image (as HED) or per batch. Defaults to True.
        reduction (str): 'mean' or 'sum' (see above). Defaults to 'mean'.
        weighting (str): 'balanced', 'eq2' or 'eq2_per_class' (see above; used when ``balance``).
            Defaults to 'balanced'.

    Returns:
        Tensor: scalar loss, differentiable w.r.t. ``logits``.

    Raises:
        ValueError: shapes that differ or are not (N, [1,] H, W); labels other than 0, 1 and
            ``ignore_index``; an unknown ``reduction`` or ``weighting``.
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f'reduction must be one of {_REDUCTIONS}, got {reduction!r}')
    if weighting not in WEIGHTINGS:
        raise ValueError(f'weighting must be one of {WEIGHTINGS}, got {weighting!r}')
    logits = _as_n1hw(logits, 'logits')
    label = _as_n1hw(label, 'label')
    if logits.shape != label.shape:
        raise ValueError(f'logits {tuple(logits.shape)} and label {tuple(label.shape)} must have '
                         'the same shape')
    valid = torch.ones_like(label, dtype=torch.bool) if ignore_index is None \
        else label != ignore_index
    bad = valid & (label != 0) & (label != 1)
    if bool(bad.any()):
        values = torch.unique(label[bad]).tolist()[:5]
        raise ValueError(f'BalancedBCELoss: labels must be 0, 1 or ignore_index={ignore_index}, '
                         f'found {values}')
    target = (label == 1) & valid
    bce = F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype), reduction='none')
    hit = (logits.detach() >= 0) == target  # sigmoid >= 0.5 predicts in-focus
    if not per_image:
        bce, valid, target = bce.reshape(1, -1), valid.reshape(1, -1), target.reshape(1, -1)
        hit = hit.reshape(1, -1)
    else:
        bce, valid, target, hit = bce.flatten(1), valid.flatten(1), target.flatten(1), hit.flatten(
            1)
    n_valid = valid.sum(1, keepdim=True).to(bce.dtype)  # (B, 1)
    if balance and weighting == 'balanced':
        n_pos = target.sum(1, keepdim=True).to(bce.dtype)
        share_pos = n_pos / n_valid.clamp(min=1)
        w = torch.where(target, 1.0 - share_pos, share_pos)
    elif balance:  # DD Eq. 2 read literally
        n_pos = target.sum(1, keepdim=True).to(bce.dtype)
        n_neg = n_valid - n_pos
        tp = (hit & target & valid).sum(1, keepdim=True).to(bce.dtype)
        tn = (hit & ~target & valid).sum(1, keepdim=True).to(bce.dtype)

        def ratio(num, den):
            return torch.where(den > 0, num / den.clamp(min=1), torch.zeros_like(num))

        w_pos = 1.0 - ratio(tp, n_neg if weighting == 'eq2' else n_pos)
        w_neg = 1.0 - ratio(tn, n_neg)
        w = torch.where(target, w_pos.clamp(0, 1), w_neg.clamp(0, 1))
    else:
        w = torch.ones_like(bce)
    if weight is not None:
        weight = weight[:, None] if weight.dim() == 3 else weight
        extra = torch.broadcast_to(weight.to(bce.dtype), label.shape)
        w = w * (extra.reshape(1, -1) if not per_image else extra.flatten(1))
    per = torch.where(valid, w * bce, torch.zeros_like(bce)).sum(1)  # (B, )
    if reduction == 'mean':
        per = per / n_valid.squeeze(1).clamp(min=1)
    has_valid = n_valid.squeeze(1) > 0
    if not bool(has_valid.any()):
        return logits.sum() * 0.0
    return per[has_valid].mean()


@MODELS.register_module()
class BalancedBCELoss(nn.Module):
    """Class-balanced BCE for 1-channel (sigmoid) heads; see :func:`balanced_bce_with_logits`.

    DD's defocus loss (Cun & Pun 2020, Sec. 3.3, Eq. 2; the weighting is our choice, see the
    module docstring):
    ``l_defocus = l_bce(M, M_f) + sum_k alpha_k l_bce(M, M'_k)``; the head applies this module to
    the fused and every side output (resized to the label size) and logs each term.

    Formula (per image, valid pixels V, positives P, negatives Q): positives weighted by |Q|/|V|,
    negatives by |P|/|V|, ``sum w * bce / |V|``, averaged over images; ``loss_weight`` times that.

    Args:
        loss_weight (float): multiplier. Defaults to 1.0.
        balance (bool): class-balanced (True) or plain BCE (False, an option for ablations).
            Defaults to True.
        per_image (bool): class shares per image (True, HED) or over the batch.
            Defaults to True.
        reduction (str): 'mean' (over valid pixels) or 'sum' (HED's sum). Defaults to 'mean'.
        loss_name (str): name in the loss dict; must start with ``loss_``.
            Defaults to 'loss_balanced_bce'.
        weighting (str): the reading of DD's Eq. 2: 'balanced' (class shares, HED), 'eq2' (as
            printed, TP / TN over N_n) or 'eq2_per_class' (TP / N_p, TN / N_n); see the module
            docstring for why 'balanced' is the default. Defaults to 'balanced'.

    Raises:
        ValueError: ``loss_name`` not starting with ``loss_``, an unknown ``reduction`` or
            ``weighting``; in ``forward`` as :func:`balanced_bce_with_logits`.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 balance: bool = True,
                 per_image: bool = True,
                 reduction: str = 'mean',
                 loss_name: str = 'loss_balanced_bce',
                 weighting: str = 'balanced'):
        super().__init__()
        if weighting not in WEIGHTINGS:
            raise ValueError(f'BalancedBCELoss: weighting must be one of {WEIGHTINGS}, got '
                             f'{weighting!r}')
        self.weighting = weighting
        if reduction not in _REDUCTIONS:
            raise ValueError(f'BalancedBCELoss: reduction must be one of {_REDUCTIONS}, got '
                             f'{reduction!r}')
        if not str(loss_name).startswith('loss_'):
            raise ValueError(f"BalancedBCELoss: loss_name must start with 'loss_' (mmengine sums "
                             f'only such keys), got {loss_name!r}')
        self.loss_weight = float(loss_weight)
        self.balance = bool(balance)
        self.per_image = bool(per_image)
        self.reduction = reduction
        self._loss_name = loss_name
        # mmseg heads read ``use_sigmoid`` on their losses: this is a sigmoid (1-channel) loss.
        self.use_sigmoid = True

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                ignore_index: Optional[int] = 255,
                **kwargs) -> Tensor:
        """Loss of 1-channel logits ``cls_score`` (N, 1, H, W) / (N, H, W) against ``label``.

        Extra mmseg keyword arguments (``avg_factor``, ``reduction_override``) are accepted and
        ignored. Returns a scalar (``loss_weight`` applied).
        """
        return self.loss_weight * balanced_bce_with_logits(
            cls_score,
            label,
            weight=weight,
            ignore_index=ignore_index,
            balance=self.balance,
            per_image=self.per_image,
            reduction=self.reduction,
            weighting=self.weighting)

    @property
    def loss_name(self) -> str:
        """Key of this loss in the loss dict (starts with ``loss_``)."""
        return self._loss_name
