"""Patch-swap loss functions (Zhang & Yan, ECCV 2020, Eq. 1-8): hard-mining weights, weighted
BCE and the L1 self-supervision term (dbdseg.models.losses.patch_swap_loss)."""
import pytest
import torch
import torch.nn.functional as F

from dbdseg.models.losses.patch_swap_loss import (hard_mining_weights, self_supervision_loss,
                                                  weighted_bce_with_logits)


def test_hard_mining_weights_exact():
    gt = torch.tensor([[[[0, 0, 1, 1, 255, 255]]]])
    sal = torch.tensor([[[[0.2, 0.9, 0.2, 0.9, 0.9, 255.]]]])
    w = hard_mining_weights(gt, sal, w_hard=3.0, threshold=0.5)
    # hard = S xor F: (blurred, salient) and (in-focus, not salient); ignored -> 1
    assert w.tolist() == [[[[1.0, 3.0, 3.0, 1.0, 1.0, 1.0]]]]
    assert w.dtype == torch.float32
    # threshold: S = saliency > threshold (strict)
    assert hard_mining_weights(torch.tensor([0, 1]), torch.tensor([0.5,
                                                                   0.5])).tolist() == [1.0, 2.0]
    assert hard_mining_weights(
        gt, sal, w_hard=3.0, threshold=0.1).tolist() == [[[[3.0, 3.0, 1.0, 1.0, 1.0, 1.0]]]]
    with pytest.raises(ValueError, match='same shape'):
        hard_mining_weights(gt, sal[..., :5])


def test_hard_mining_weights_random_against_formula():
    g = torch.Generator().manual_seed(0)
    gt = torch.randint(0, 2, (2, 1, 16, 16), generator=g)
    sal = torch.rand(2, 1, 16, 16, generator=g)
    w = hard_mining_weights(gt, sal, w_hard=2.0)
    hard = (sal > 0.5) != (gt == 1)
    assert torch.equal(w == 2.0, hard) and torch.equal(w == 1.0, ~hard)


@pytest.mark.parametrize('reduction', ['mean_valid', 'sum_per_image'])
def test_weighted_bce_by_hand(reduction):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 1, 8, 8, generator=g)
    gt = torch.randint(0, 2, (2, 1, 8, 8), generator=g)
    gt[0, 0, :2] = 255
    w = 1 + torch.rand(2, 1, 8, 8, generator=g)
    got = weighted_bce_with_logits(logits, gt, w, reduction=reduction)
    terms = []
    for i in range(2):
        v = gt[i] != 255
        terms.append(
            F.binary_cross_entropy_with_logits(
                logits[i][v], gt[i][v].float(), weight=w[i][v], reduction='sum'))
    if reduction == 'mean_valid':
        expected = sum(terms) / (gt != 255).sum()
    else:
        expected = sum(terms) / 2
    torch.testing.assert_close(got, expected)
    # all ignored: 0, not nan
    assert weighted_bce_with_logits(logits, torch.full_like(gt, 255), w) == 0
    with pytest.raises(ValueError, match='reduction'):
        weighted_bce_with_logits(logits, gt, w, reduction='mean')


def test_self_supervision_loss_by_hand():
    prob_swap = torch.tensor([[[[0.9, 0.2], [0.5, 1.0]]]])
    target = torch.tensor([[[[0.4, 0.2], [0.0, 0.0]]]])
    valid = torch.tensor([[[[True, True], [True, False]]]])
    # |0.5| + 0 + |0.5| over 3 valid pixels; the invalid pixel's difference of 1 is left out
    torch.testing.assert_close(
        self_supervision_loss(prob_swap, target, valid), torch.tensor(1.0 / 3))
    assert self_supervision_loss(prob_swap, target, torch.zeros_like(valid)) == 0
    prob_swap.requires_grad_(True)
    self_supervision_loss(prob_swap, target, valid).backward()
    assert prob_swap.grad[0, 0, 1, 1] == 0 and prob_swap.grad[0, 0, 0, 0] > 0
    with pytest.raises(ValueError, match='same shape'):
        self_supervision_loss(prob_swap, target[..., :1], valid)
