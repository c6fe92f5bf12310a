"""ADBLoss (A2S Eq. 4): values, monotonic fall away from the boundary, pixel dropping, errors."""
import pytest
import torch

from dbdseg.models.losses import ADBLoss
from dbdseg.registry import MODELS


def _expected(theta, alpha=0.1, offset=0.0):
    d = (torch.sigmoid(theta) - 0.5).abs()
    return offset - (d * d + alpha * d).mean()


def test_hand_values():
    loss = ADBLoss(alpha=0.1, drop_ratio=0.0)
    zero = torch.zeros(2, 1, 4, 4)
    assert loss(zero).item() == pytest.approx(0.0, abs=1e-7)  # on the boundary: D = 0
    big = torch.full((2, 1, 4, 4), 50.0)
    assert loss(big).item() == pytest.approx(-(0.25 + 0.1 * 0.5), abs=1e-6)  # D = 0.5
    # sign-symmetric: |sigmoid(-t) - 0.5| = |sigmoid(t) - 0.5|
    theta = torch.randn(2, 1, 5, 6, generator=torch.Generator().manual_seed(0))
    assert loss(theta).item() == pytest.approx(_expected(theta).item(), abs=1e-6)
    assert loss(-theta).item() == pytest.approx(loss(theta).item(), abs=1e-6)
    # (N, H, W) input, the reference's offset 1 and loss_weight
    ref = ADBLoss(alpha=0.1, drop_ratio=0.0, offset=1.0, loss_weight=2.0)
    assert ref(theta[:, 0]).item() == pytest.approx(
        2 * _expected(theta, offset=1.0).item(), abs=1e-6)


def test_loss_falls_as_maps_move_away_from_the_boundary():
    base = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    for drop in (0.0, 0.5):
        loss = ADBLoss(alpha=0.1, drop_ratio=drop)
        values = []
        for scale in (0.0, 0.1, 0.5, 1.0, 3.0, 10.0):
            torch.manual_seed(0)  # same dropped pixels for every scale
            values.append(loss(base * scale).item())
        assert all(a > b for a, b in zip(values, values[1:])), values
        assert values[0] == pytest.approx(0.0, abs=1e-7)
        assert values[-1] > -0.3 - 1e-6
    # and the gradient pushes every pixel away from 0 (gradient descent increases |theta|)
    theta = base.clone().requires_grad_(True)
    ADBLoss(drop_ratio=0.0)(theta).backward()
    moved = theta.detach() - 0.1 * theta.grad
    assert bool((moved.abs() > base.abs()).all())


def test_alpha_zero_has_vanishing_gradient_near_boundary():
    # the L1 term keeps a gradient at theta -> 0 (paper, after Eq. 4)
    theta = torch.full((1, 1, 2, 2), 1e-4, requires_grad=True)
    ADBLoss(alpha=0.0, drop_ratio=0.0)(theta).backward()
    g0 = theta.grad.abs().max().item()
    theta.grad = None
    ADBLoss(alpha=0.1, drop_ratio=0.0)(theta).backward()
    g1 = theta.grad.abs().max().item()
    assert g0 < 1e-5 and g1 > 1e-3


def test_pixel_dropping_and_weight():
    # half of the pixels at D = 0.5, half at D = 0: dropping keeps about half of each
    theta = torch.zeros(1, 1, 64, 64)
    theta[..., :32] = 50.0
    torch.manual_seed(0)
    loss = ADBLoss(alpha=0.0, drop_ratio=0.5)
    vals = torch.tensor([loss(theta).item() for _ in range(20)])
    assert vals.std() > 0  # a fresh mask per call
    assert vals.mean().item() == pytest.approx(-0.125, abs=0.01)
    # weight: only the weighted pixels count
    weight = torch.zeros(1, 1, 64, 64)
    weight[..., :32] = 1
    assert ADBLoss(alpha=0.0, drop_ratio=0.0)(theta, weight=weight).item() == pytest.approx(-0.25)
    # nothing kept: zero mean, no NaN
    assert ADBLoss(drop_ratio=0.0)(theta, weight=torch.zeros_like(theta)).item() == 0.0


def test_registry_and_errors():
    loss = MODELS.build(dict(type='ADBLoss', alpha=0.2))
    assert isinstance(loss, ADBLoss) and loss.loss_name == 'loss_adb' and loss.alpha == 0.2
    with pytest.raises(ValueError, match='drop_ratio'):
        ADBLoss(drop_ratio=1.0)
    with pytest.raises(ValueError, match='alpha'):
        ADBLoss(alpha=-0.1)
    with pytest.raises(ValueError, match='loss_name'):
        ADBLoss(loss_name='adb')
    with pytest.raises(TypeError, match='floating'):
        ADBLoss()(torch.zeros(1, 1, 2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match='shape'):
        ADBLoss()(torch.zeros(4, 4))
    with pytest.raises(ValueError, match='broadcast'):
        ADBLoss()(torch.zeros(1, 1, 4, 4), weight=torch.ones(1, 1, 3, 3))
    with pytest.raises(ValueError, match='>= 0'):
        ADBLoss()(torch.zeros(1, 1, 2, 2), weight=-torch.ones(1, 1, 2, 2))
