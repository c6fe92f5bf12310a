"""GradientDetailEncoder + UNetFusionHead: the demo model's parts."""
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from dbdseg.models.backbones import GradientDetailEncoder
from dbdseg.models.decode_heads import UNetFusionHead

ENC = dict(type='EfficientNetLite', arch='lite0', out_indices=(0, 1, 2, 3, 4))


def test_detail_feature_is_full_resolution_and_channels_are_listed():
    enc = GradientDetailEncoder(ENC, detail_channels=(8, 12))
    outs = enc(torch.randn(2, 3, 40, 56))
    assert enc.out_channels == (12, 16, 24, 40, 112, 320)
    assert [tuple(o.shape) for o in outs] == [(2, 12, 40, 56), (2, 16, 20, 28), (2, 24, 10, 14),
                                              (2, 40, 5, 7), (2, 112, 3, 4), (2, 320, 2, 2)]


def test_gradients_of_a_ramp_are_its_slope():
    """A horizontal ramp of 2 grey levels per pixel: d/dx = 2/255 per pixel (x gradient_scale),
    d/dy = 0, magnitude = d/dx, away from the borders."""
    enc = GradientDetailEncoder(ENC, gradient_scale=4.0, mean=(0., 0., 0.), std=(1., 1., 1.))
    ramp = torch.arange(16, dtype=torch.float32).mul(2.).expand(1, 3, 8, 16)
    g = enc.gradients(ramp)
    assert g.shape == (1, 3, 8, 16)
    inner = g[..., 1:-1, 1:-1]
    assert torch.allclose(inner[:, 0], torch.full_like(inner[:, 0], 4 * 2 / 255.), atol=1e-6)
    assert torch.allclose(inner[:, 1], torch.zeros_like(inner[:, 1]), atol=1e-6)
    assert torch.allclose(inner[:, 2], inner[:, 0], atol=1e-5)


def test_without_gradients_the_branch_sees_the_image_only():
    enc = GradientDetailEncoder(ENC, use_gradients=False)
    assert enc.detail[0].conv.in_channels == 3
    assert GradientDetailEncoder(ENC).detail[0].conv.in_channels == 6
    with pytest.raises(ValueError, match='gradient_kernel'):
        GradientDetailEncoder(ENC, gradient_kernel='laplace')


def _head(**kwargs):
    cfg = dict(
        in_channels=[8, 16, 24],
        in_index=[0, 1, 2],
        decoder_channels=[12, 8],
        channels=8,
        num_classes=2,
        out_channels=1,
        threshold=0.5,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0))
    cfg.update(kwargs)
    return UNetFusionHead(**cfg)


def test_fusion_head_output_at_the_shallowest_resolution():
    head = _head()
    feats = (torch.randn(2, 8, 30, 41), torch.randn(2, 16, 15, 21), torch.randn(2, 24, 8, 11))
    logits = head(feats)
    assert logits.shape == (2, 1, 30, 41)
    assert [s[0].conv.in_channels for s in head.steps] == [24 + 16, 12 + 8]


def test_fusion_head_learns_a_binary_map_and_logs_binary_accuracy():
    torch.manual_seed(0)
    head = _head()
    feats = [torch.randn(2, 8, 16, 16), torch.randn(2, 16, 8, 8), torch.randn(2, 24, 4, 4)]
    samples = []
    for i in range(2):
        s = SegDataSample()
        label = torch.zeros(1, 16, 16, dtype=torch.long)
        label[:, :, :8] = 1
        s.gt_sem_seg = PixelData(data=label)
        samples.append(s)
    opt = torch.optim.Adam(head.parameters(), 1e-2)
    first = None
    for _ in range(40):
        losses = head.loss_by_feat(head(feats), samples)
        first = first if first is not None else losses['loss_ce'].item()
        opt.zero_grad()
        losses['loss_ce'].backward()
        opt.step()
    assert float(losses['loss_ce']) < 0.5 * first
    assert float(losses['acc_seg']) > 90.0  # percent of pixels right after thresholding


def test_fusion_head_argument_errors():
    with pytest.raises(ValueError, match='need 2 decoder_channels'):
        _head(decoder_channels=[8])
    with pytest.raises(ValueError, match='must equal'):
        _head(channels=12)
    with pytest.raises(ValueError, match='num_convs'):
        _head(num_convs=0)
