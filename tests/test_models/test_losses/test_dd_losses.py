"""Tests of BalancedBCELoss and DepthDistillationLoss (Cun & Pun 2020, Sec. 3.3, Eq. 2-3)."""
import math

import pytest
import torch
import torch.nn.functional as F

from dbdseg.models.losses import BalancedBCELoss, DepthDistillationLoss
from dbdseg.models.losses.balanced_bce_loss import balanced_bce_with_logits
from dbdseg.models.losses.depth_distillation_loss import depth_distillation_loss
from dbdseg.registry import MODELS


def bce(logit, y):
    p = 1.0 / (1.0 + math.exp(-logit))
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))


# ---------------------------------------------------------------------------- BalancedBCELoss
def test_balanced_bce_hand_computed():
    # one 2x2 image, one positive: w_pos = 3/4 (share of negatives), w_neg = 1/4
    logits = torch.tensor([[[[0.5, -1.0], [2.0, 0.0]]]])
    label = torch.tensor([[[1, 0], [0, 0]]])
    expected = (0.75 * bce(0.5, 1) + 0.25 * (bce(-1.0, 0) + bce(2.0, 0) + bce(0.0, 0))) / 4
    loss = BalancedBCELoss()(logits, label)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # 'sum': HED's literal sum per image
    loss_sum = BalancedBCELoss(reduction='sum')(logits, label)
    assert loss_sum.item() == pytest.approx(expected * 4, rel=1e-6)
    # plain BCE option
    plain = BalancedBCELoss(balance=False)(logits, label)
    assert plain.item() == pytest.approx(
        F.binary_cross_entropy_with_logits(logits, label[:, None].float()).item(), rel=1e-6)
    # loss_weight
    assert BalancedBCELoss(loss_weight=2.5)(logits, label).item() == pytest.approx(
        2.5 * expected, rel=1e-6)


def test_eq2_literal_readings_hand_computed():
    """DD Eq. 2 read literally (issue 18 item 12): weights from the true positives / negatives of
    the current prediction (sigmoid >= 0.5), clipped to [0, 1]; 'balanced' stays the default."""
    # 2x3 image: positives (label 1) at logits 1.0, -2.0, 3.0 (TP = 2 of N_p = 3),
    # negatives at -1.0, 0.5, 255 ignored (TN = 1 of N_n = 2)
    logits = torch.tensor([[[[1.0, -2.0, 3.0], [-1.0, 0.5, 9.0]]]])
    label = torch.tensor([[[1, 1, 1], [0, 0, 255]]])
    pos = bce(1.0, 1) + bce(-2.0, 1) + bce(3.0, 1)
    neg = bce(-1.0, 0) + bce(0.5, 0)
    # as printed: w_pos = 1 - TP / N_n = 1 - 2/2 = 0, w_neg = 1 - TN / N_n = 1/2
    eq2 = BalancedBCELoss(weighting='eq2')(logits, label)
    assert eq2.item() == pytest.approx((0.0 * pos + 0.5 * neg) / 5, rel=1e-6)
    # N_p in the first term: w_pos = 1 - 2/3, w_neg = 1/2
    per_class = BalancedBCELoss(weighting='eq2_per_class')(logits, label)
    assert per_class.item() == pytest.approx((pos / 3 + 0.5 * neg) / 5, rel=1e-6)
    # the default is the class-balanced reading: w_pos = 2/5, w_neg = 3/5
    default = BalancedBCELoss()(logits, label)
    assert BalancedBCELoss().weighting == 'balanced'
    assert default.item() == pytest.approx((0.4 * pos + 0.6 * neg) / 5, rel=1e-6)
    # as printed, TP / N_n > 1 is possible: the weight is clipped at 0, never negative
    many = torch.tensor([[[1, 1, 1], [1, 0, 255]]])  # TP = 3 (9.0 ignored), N_n = 1
    logits2 = torch.tensor([[[[1.0, 2.0, 3.0], [-1.0, -0.5, 9.0]]]])
    out = balanced_bce_with_logits(logits2, many, weighting='eq2')
    assert out.item() == pytest.approx((1.0 - 1.0) * bce(-0.5, 0) / 5 + 0.0, abs=1e-7)
    # the weights carry no gradient; the BCE does
    x = logits.clone().requires_grad_()
    BalancedBCELoss(weighting='eq2_per_class')(x, label).backward()
    assert x.grad[0, 0, 0, 0] == pytest.approx(
        (1 / 3) * (torch.sigmoid(torch.tensor(1.0)) - 1).item() / 5, rel=1e-5)
    with pytest.raises(ValueError, match='weighting'):
        BalancedBCELoss(weighting='tp')
    with pytest.raises(ValueError, match='weighting'):
        balanced_bce_with_logits(logits, label, weighting='tp')


def test_balanced_bce_excludes_ignored_pixels():
    logits = torch.tensor([[[[0.5, -1.0], [2.0, 0.0]]]])
    label = torch.tensor([[[1, 0], [255, 0]]])
    # valid: 3 pixels, 1 positive -> w_pos = 2/3, w_neg = 1/3; normalised by 3
    expected = (2 / 3 * bce(0.5, 1) + 1 / 3 * (bce(-1.0, 0) + bce(0.0, 0))) / 3
    loss = BalancedBCELoss()(logits, label, ignore_index=255)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # the logit at the ignored pixel has no influence and gets no gradient
    logits2 = logits.clone().requires_grad_(True)
    other = logits.clone()
    other[0, 0, 1, 0] = -50.0
    assert BalancedBCELoss()(other, label).item() == pytest.approx(expected, rel=1e-6)
    BalancedBCELoss()(logits2, label).backward()
    assert logits2.grad[0, 0, 1, 0] == 0 and logits2.grad[0, 0, 0, 0] != 0


def test_balanced_bce_per_image_vs_batch():
    logits = torch.zeros(2, 1, 1, 4)
    label = torch.tensor([[[1, 1, 1, 0]], [[1, 0, 0, 0]]])
    b0 = bce(0.0, 1)  # = log 2 for every pixel
    # per image: image 0 weights 1/4 (x3 pos) and 3/4 (x1 neg); image 1 the mirror image
    per_image = ((3 * 0.25 + 0.75) * b0 / 4 + (0.75 + 3 * 0.25) * b0 / 4) / 2
    assert BalancedBCELoss()(logits, label).item() == pytest.approx(per_image, rel=1e-6)
    # over the batch: 4 pos / 8 -> every weight 1/2
    assert BalancedBCELoss(per_image=False)(logits, label).item() == pytest.approx(b0 / 2, rel=1e-6)


def test_balanced_bce_edge_cases_and_errors():
    logits = torch.randn(2, 1, 3, 3, requires_grad=True)
    # single-class image: the class weight is the other class's share, 0 -> loss 0
    ones = torch.ones(2, 3, 3, dtype=torch.long)
    assert BalancedBCELoss()(logits, ones).item() == 0.0
    # all pixels ignored: 0, still differentiable
    ignored = torch.full((2, 3, 3), 255)
    loss = BalancedBCELoss()(logits, ignored)
    loss.backward()
    assert loss.item() == 0.0 and logits.grad is not None
    # one image fully ignored: the mean runs over the other image only
    label = torch.tensor([[[1, 0, 0]] * 3, [[255] * 3] * 3])
    full = BalancedBCELoss()(logits, label)
    alone = BalancedBCELoss()(logits[:1], label[:1])
    assert full.item() == pytest.approx(alone.item(), rel=1e-6)
    with pytest.raises(ValueError, match='labels must be 0, 1'):
        BalancedBCELoss()(logits, torch.full((2, 3, 3), 2))
    with pytest.raises(ValueError, match='same shape'):
        BalancedBCELoss()(logits, torch.zeros(2, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="start with 'loss_'"):
        BalancedBCELoss(loss_name='bce')
    with pytest.raises(ValueError, match='reduction'):
        BalancedBCELoss(reduction='none')
    # per-pixel weight multiplies the class weights (mmseg passes (N, H, W))
    w = torch.ones(2, 3, 3)
    w[0, 0, 0] = 3.0
    lab = torch.tensor([[[1, 0, 0]] * 3] * 2)
    a = balanced_bce_with_logits(logits.detach(), lab, weight=w)
    b = balanced_bce_with_logits(logits.detach(), lab)
    assert a.item() > b.item()


def test_balanced_bce_registered_and_named():
    loss = MODELS.build(dict(type='BalancedBCELoss', loss_name='loss_defocus'))
    assert isinstance(loss, BalancedBCELoss) and loss.loss_name == 'loss_defocus'


# ---------------------------------------------------------------------------- depth loss
def test_depth_mse_l1_l2_hand_computed():
    pred = torch.tensor([[[[0.2, 0.4], [0.9, 0.0]]]])
    target = torch.tensor([[[[0.0, 0.5], [1.0, 0.5]]]])
    sq = [0.04, 0.01, 0.01, 0.25]
    ab = [0.2, 0.1, 0.1, 0.5]
    assert depth_distillation_loss(pred, target).item() == pytest.approx(sum(sq) / 4)
    assert depth_distillation_loss(pred, target, mode='l1').item() == pytest.approx(sum(ab) / 4)
    assert depth_distillation_loss(
        pred, target, mode='l2').item() == pytest.approx(
            math.sqrt(sum(sq)), rel=1e-5)
    # gamma: loss_weight 0.1 by default
    assert DepthDistillationLoss()(pred, target).item() == pytest.approx(0.1 * sum(sq) / 4)


def test_depth_loss_masks_padding_and_ignored_pixels():
    pred = torch.tensor([[[[0.2, 0.4], [0.9, 0.0]]]], requires_grad=True)
    target = torch.tensor([[[[0.0, 0.5], [255.0, 0.5]]]])  # 255 = padding, excluded
    valid = torch.tensor([[[[True, True], [True, False]]]])  # e.g. label 255
    loss = depth_distillation_loss(pred, target, valid_mask=valid)
    assert loss.item() == pytest.approx((0.04 + 0.01) / 2)
    loss.backward()
    assert pred.grad[0, 0, 1, 0] == 0 and pred.grad[0, 0, 1, 1] == 0 and pred.grad[0, 0, 0, 0] != 0
    # no valid pixel at all: 0, attached to the graph
    none = depth_distillation_loss(pred, torch.full_like(target, 255.0))
    assert none.item() == 0.0 and none.requires_grad


def test_depth_loss_per_image_mean_and_target_detached():
    pred = torch.zeros(2, 1, 1, 2, requires_grad=True)
    target = torch.tensor([[[[1.0, 255.0]]], [[[0.5, 0.5]]]], requires_grad=True)
    # image 0: one valid pixel, error 1; image 1: two pixels of 0.25 -> mean of (1, 0.25)
    loss = depth_distillation_loss(pred, target)
    assert loss.item() == pytest.approx((1.0 + 0.25) / 2)
    loss.backward()
    assert target.grad is None


def test_depth_loss_resizes_prediction_and_errors():
    module = DepthDistillationLoss(loss_weight=1.0)
    pred = torch.full((1, 1, 2, 2), 0.5)
    target = torch.rand(1, 1, 4, 4)
    expected = ((0.5 - target)**2).mean()
    assert module(pred, target).item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(ValueError, match='same shape'):
        depth_distillation_loss(pred, target)
    with pytest.raises(ValueError, match='mode'):
        DepthDistillationLoss(mode='huber')
    with pytest.raises(ValueError, match='>= 0'):
        DepthDistillationLoss(loss_weight=-1)
    assert MODELS.build(dict(type='DepthDistillationLoss')).loss_name == 'loss_depth'
