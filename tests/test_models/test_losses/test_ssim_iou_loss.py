"""SSIMLoss and IoULoss (A2S, Zhou et al. 2023, Eq. 12; forms of the reference code
github.com/moothes/A2S-USOD, methods/cornet/loss.py) on hand-made cases."""
import math

import numpy as np
import pytest
import torch

from dbdseg.models.losses import IoULoss, SSIMLoss
from dbdseg.models.losses.ssim_loss import gaussian_window, ssim_map
from dbdseg.registry import MODELS

BIG = 40.0  # logit whose sigmoid is 1 (or 0) to float precision


def _logits(binary):
    return (binary.float() * 2 - 1) * BIG


def _naive_ssim(x, y, ws=11, sigma=1.5, c1=0.01**2, c2=0.03**2):
    """Per-pixel SSIM by explicit loops (zero padding), independent of the conv implementation."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    h, w = x.shape
    r = ws // 2
    g = np.exp(-(np.arange(ws) - r)**2 / (2 * sigma**2))
    g /= g.sum()
    win = np.outer(g, g)
    xp, yp = np.pad(x, r), np.pad(y, r)
    out = np.zeros_like(x)
    for i in range(h):
        for j in range(w):
            a, b = xp[i:i + ws, j:j + ws], yp[i:i + ws, j:j + ws]
            mx, my = (win * a).sum(), (win * b).sum()
            vx = (win * a * a).sum() - mx * mx
            vy = (win * b * b).sum() - my * my
            cov = (win * a * b).sum() - mx * my
            out[i, j] = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) *
                                                                 (vx + vy + c2))
    return out


def test_gaussian_window():
    w = gaussian_window(11, 1.5)
    assert w.shape == (11, 11)
    assert torch.isclose(w.sum(), torch.tensor(1.0))
    assert torch.equal(w, w.t()) and torch.equal(w, w.flip(0))
    assert w[5, 5] == w.max()
    # ratio of neighbours of the 1-D Gaussian: exp(-1 / (2 sigma^2)) per unit step along one axis
    assert math.isclose(float(w[5, 6] / w[5, 5]), math.exp(-1 / (2 * 1.5**2)), rel_tol=1e-5)
    with pytest.raises(ValueError, match='odd'):
        gaussian_window(10)
    with pytest.raises(ValueError, match='sigma'):
        gaussian_window(11, 0)


def test_ssim_map_matches_naive_loops():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 1, 13, 9, generator=g, dtype=torch.float64)
    y = torch.rand(1, 1, 13, 9, generator=g, dtype=torch.float64)
    ours = ssim_map(x, y)[0, 0].numpy()
    np.testing.assert_allclose(ours, _naive_ssim(x[0, 0], y[0, 0]), rtol=1e-9, atol=1e-10)


def test_ssim_constant_maps_interior_value():
    a, b = 0.8, 0.3
    x = torch.full((1, 1, 32, 32), a, dtype=torch.float64)
    y = torch.full((1, 1, 32, 32), b, dtype=torch.float64)
    value = float(ssim_map(x, y)[0, 0, 16, 16])  # window fully inside: sigma terms are 0
    c1 = 0.01**2
    assert math.isclose(value, (2 * a * b + c1) / (a * a + b * b + c1), rel_tol=1e-9)


def test_ssim_loss_identical_maps_is_zero():
    g = torch.Generator().manual_seed(1)
    t = torch.rand(2, 16, 20, generator=g)
    loss = SSIMLoss(use_sigmoid=False)(t[:, None], t)
    assert abs(float(loss)) < 1e-6
    binary = (t > 0.5).long()
    loss = SSIMLoss()(_logits(binary)[:, None], binary)
    assert abs(float(loss)) < 1e-6


def test_ssim_loss_is_mean_of_one_minus_map():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 1, 12, 12, generator=g)
    t = torch.rand(2, 12, 12, generator=g)
    loss = SSIMLoss(loss_weight=2.0)(logits, t)
    expected = 2.0 * (1 - ssim_map(logits.sigmoid(), t[:, None])).mean()
    assert torch.isclose(loss, expected, atol=1e-6)
    # opposite binary maps: far from 0
    b = (t > 0.5).long()
    assert float(SSIMLoss()(_logits(1 - b)[:, None], b)) > 0.5


def test_ssim_loss_ignores_pixels():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(1, 1, 12, 12, generator=g)
    t = torch.rand(1, 12, 12, generator=g)
    t_ign = t.clone()
    t_ign[:, :, 8:] = 255
    loss = SSIMLoss()(logits, t_ign)
    valid = torch.ones(1, 1, 12, 12, dtype=torch.bool)
    valid[..., 8:] = False
    p = torch.where(valid, logits.sigmoid(), torch.zeros(()))
    tt = torch.where(valid, t[:, None], torch.zeros(()))
    expected = (1 - ssim_map(p, tt))[valid].mean()
    assert torch.isclose(loss, expected, atol=1e-6)
    # the prediction on ignored pixels does not matter
    other = logits.clone()
    other[..., 8:] = -logits[..., 8:] + 3
    assert torch.isclose(SSIMLoss()(other, t_ign), loss, atol=1e-7)
    # all ignored: 0, with a gradient path
    z = SSIMLoss()(logits.requires_grad_(), torch.full((1, 12, 12), 255.0))
    assert float(z.detach()) == 0.0
    z.backward()


def test_ssim_loss_errors_and_registry():
    loss = MODELS.build(dict(type='SSIMLoss'))
    assert isinstance(loss, SSIMLoss) and loss.loss_name == 'loss_ssim'
    with pytest.raises(ValueError, match='1-channel'):
        loss(torch.zeros(1, 2, 8, 8), torch.zeros(1, 8, 8))
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        loss(torch.zeros(1, 1, 8, 8), torch.full((1, 8, 8), 2.0))
    with pytest.raises(ValueError, match='does not match'):
        loss(torch.zeros(1, 1, 8, 8), torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match='loss_'):
        SSIMLoss(loss_name='ssim')


def test_ssim_loss_gradient():
    logits = torch.zeros(1, 1, 12, 12, requires_grad=True)
    t = torch.zeros(1, 12, 12)
    t[:, 3:9, 3:9] = 1
    SSIMLoss()(logits, t).backward()
    assert logits.grad.abs().sum() > 0
    # moving the logits inside the object up must lower the loss
    with torch.no_grad():
        better = logits - 0.5 * logits.grad / logits.grad.abs().max()
    assert SSIMLoss()(better, t) < SSIMLoss()(logits.detach(), t)


def test_iou_loss_hand_cases():
    t = torch.zeros(1, 4, 4, dtype=torch.long)
    t[0, 0, :] = 1  # 4 pixels
    assert float(IoULoss()(_logits(t)[:, None], t)) < 1e-6  # identical binary maps
    disjoint = torch.zeros(1, 4, 4, dtype=torch.long)
    disjoint[0, 3, :] = 1
    assert math.isclose(float(IoULoss()(_logits(disjoint)[:, None], t)), 1.0, abs_tol=1e-6)
    half = torch.zeros(1, 4, 4, dtype=torch.long)
    half[0, 0, :2] = 1
    half[0, 1, :2] = 1  # 4 pixels, 2 of them in t: IoU = 2 / 6
    assert math.isclose(float(IoULoss()(_logits(half)[:, None], t)), 1 - 2 / 6, abs_tol=1e-6)
    # soft prediction 0.5 everywhere, target half ones: IoU = (n/4) / (3n/4) = 1/3
    p = torch.full((1, 1, 4, 4), 0.5)
    t2 = torch.zeros(1, 4, 4)
    t2[:, :2] = 1
    assert math.isclose(float(IoULoss(use_sigmoid=False)(p, t2)), 2 / 3, abs_tol=1e-6)
    # identical soft maps are NOT 0 (documented)
    assert math.isclose(float(IoULoss(use_sigmoid=False)(p, p[:, 0])), 1 - 1 / 3, abs_tol=1e-6)


def test_iou_loss_per_image_mean_and_empty_maps():
    t = torch.zeros(2, 4, 4, dtype=torch.long)
    t[0, :2] = 1
    pred = torch.zeros(2, 4, 4, dtype=torch.long)
    pred[0, :2] = 1  # image 0 perfect (loss 0)
    pred[1, :2] = 1  # image 1: empty target, 8 predicted pixels (loss 1)
    assert math.isclose(float(IoULoss()(_logits(pred)[:, None], t)), 0.5, abs_tol=1e-6)
    empty = torch.zeros(1, 4, 4, dtype=torch.long)
    assert math.isclose(float(IoULoss()(_logits(empty)[:, None], empty)), 1.0, abs_tol=1e-6)
    assert float(IoULoss(smooth=1.0)(_logits(empty)[:, None], empty)) < 1e-6


def test_iou_loss_ignores_pixels_and_weights():
    t = torch.zeros(1, 4, 4)
    t[0, 0, :] = 1
    pred = t.clone().long()
    pred[0, 3, :] = 1  # wrong on row 3
    t_ign = t.clone()
    t_ign[0, 3, :] = 255  # ... which is ignored
    assert float(IoULoss()(_logits(pred)[:, None], t_ign)) < 1e-6
    assert float(IoULoss()(_logits(pred)[:, None], t)) > 0.4
    w = torch.ones(1, 4, 4)
    w[0, 3, :] = 0
    assert float(IoULoss()(_logits(pred)[:, None], t, weight=w)) < 1e-6


def test_iou_loss_registry_errors_gradient():
    loss = MODELS.build(dict(type='IoULoss', loss_weight=0.5))
    assert isinstance(loss, IoULoss) and loss.loss_name == 'loss_iou'
    with pytest.raises(ValueError, match='>= 0'):
        IoULoss(eps=-1)
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        loss(torch.zeros(1, 1, 4, 4), torch.full((1, 4, 4), 3.0))
    logits = torch.zeros(1, 1, 4, 4, requires_grad=True)
    t = torch.zeros(1, 4, 4)
    t[0, :2] = 1
    value = loss(logits, t)
    assert math.isclose(float(value), 0.5 * (1 - 4 / 12), abs_tol=1e-6)  # p = 0.5: 4 / (8 + 4)
    value.backward()
    assert (logits.grad[0, 0, :2] < 0).all() and (logits.grad[0, 0, 2:] > 0).all()
