"""RAMHead (A2S stage 2): sizes against the paper and the reference, shapes, losses with soft
targets and ignored pixels, errors. The functional comparison with the reference decoder is in
tests/test_tools/test_a2s_converters.py (it needs the converter)."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from dbdseg.models.backbones import ResNetWithStem
from dbdseg.models.decode_heads import RAMHead
from dbdseg.models.decode_heads.ram_head import ResidualAttentionModule
from dbdseg.registry import MODELS

init_default_scope('mmseg')

# The official A2S code (github.com/moothes/A2S-USOD, methods/cornet/model.py, ResNet-50): decoder
# 2,840,832 parameters; total 28,397,864 including the ResNet-50 fc (2,049,000). Paper (Zhou et
# al. 2023, Table VII): 28.40M, 28.25M with the RAMs replaced by convs.
REF_DECODER = 2840832
REF_TOTAL = 28397864
FC = 2049000

LOSSES = [
    dict(type='CrossEntropyLoss', use_sigmoid=True, avg_non_ignore=True, loss_name='loss_bce'),
    dict(type='SSIMLoss'),
    dict(type='IoULoss'),
]
TINY = dict(
    type='RAMHead',
    in_channels=(4, 6, 8, 10, 12),
    channels=8,
    global_channels=16,
    norm_cfg=dict(type='GN', num_groups=4),
    global_norm_cfg=dict(type='GN', num_groups=8),
    loss_decode=LOSSES)


def _n(module):
    return sum(p.numel() for p in module.parameters())


def _tiny(**kw):
    cfg = dict(TINY)
    cfg.update(kw)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def _feats(n=2, h=32, w=32, widths=(4, 6, 8, 10, 12), seed=0):
    gen = torch.Generator().manual_seed(seed)
    return tuple(
        torch.randn(n, c, -(-h // s), -(-w // s), generator=gen)
        for c, s in zip(widths, (2, 4, 8, 16, 32)))


def _samples(targets):
    return [SegDataSample(gt_sem_seg=PixelData(data=t[None])) for t in targets]


def test_sizes_against_paper_and_reference():
    head = MODELS.build(dict(type='RAMHead', loss_decode=LOSSES))
    assert _n(head) == REF_DECODER
    assert not hasattr(head, 'conv_seg') and 'conv_seg.weight' not in head.state_dict()
    backbone = _n(ResNetWithStem(depth=50))
    assert backbone == 23508032
    assert backbone + _n(head) == REF_TOTAL - FC == 26348864
    assert round((backbone + _n(head) + FC) / 1e6, 2) == 28.40
    no_attn = MODELS.build(dict(type='RAMHead', use_attention=False, loss_decode=LOSSES))
    assert backbone + _n(no_attn) + FC == 28250152  # Table VII "RAM replaced by a conv": 28.25M
    assert round((backbone + _n(no_attn) + FC) / 1e6, 2) == 28.25
    no_global = MODELS.build(dict(type='RAMHead', global_path=False, loss_decode=LOSSES))
    assert _n(head) - _n(no_global) == 148032  # reference gb_conv
    # ResNet-18 widths (the lead's CPU run)
    r18 = MODELS.build(
        dict(type='RAMHead', in_channels=(64, 64, 128, 256, 512), loss_decode=LOSSES))
    assert tuple(r18.state_dict()['adapters.1.conv.weight'].shape) == (64, 64, 3, 3)
    assert tuple(r18.state_dict()['adapters.4.conv.weight'].shape) == (64, 512, 3, 3)


@pytest.mark.parametrize('h,w', [(64, 64), (72, 40), (50, 66)])
def test_output_shape_is_level0(h, w):
    head = _tiny().eval()
    feats = _feats(2, h, w)
    with torch.no_grad():
        out = head(feats)
    assert out.shape == (2, 1) + tuple(feats[0].shape[-2:])
    assert torch.isfinite(out).all()


def test_resnet18_backbone_at_224():
    backbone = ResNetWithStem(depth=18, stem_channels=8, base_channels=8).eval()
    head = _tiny(in_channels=(8, 8, 16, 32, 64)).eval()
    with torch.no_grad():
        feats = backbone(torch.rand(1, 3, 224, 224))
        out = head(feats)
    assert [f.shape[-1] for f in feats] == [112, 56, 28, 14, 7]
    assert out.shape == (1, 1, 112, 112)


def test_channel_sum_of_ram_product():
    """Eq. 11: Y = sum_c(R_l * up(R_r)), R_r from (H3, H4, H5), R_l from (H1, H2, global)."""
    head = _tiny().eval()
    feats = _feats(1, 32, 32)
    got = {}
    head.region_ram.register_forward_hook(lambda m, i, o: got.__setitem__('region', o))
    head.local_ram.register_forward_hook(lambda m, i, o: got.__setitem__('local', (i, o)))
    with torch.no_grad():
        out = head(feats)
    (h1, h2, g), local = got['local']
    assert g.shape[-1] == 4  # global path: H5 (1x1) -> x2 -> x2 = stride 8 of a 32 input
    region = F.interpolate(
        got['region'], size=local.shape[-2:], mode='bilinear', align_corners=False)
    assert torch.allclose(out, (local * region).sum(1, keepdim=True), atol=1e-6)
    assert got['region'].shape[-1] == 4 and local.shape[-1] == 16


def test_ram_attention_formula():
    """Eq. 9-10 with hand-set weights: attention convs zero -> gates 0.5."""
    ram = ResidualAttentionModule(4, norm_cfg=None, act_cfg=None).eval()
    for conv in (ram.attn_conv1, ram.attn_conv2):
        torch.nn.init.zeros_(conv.weight)
        torch.nn.init.zeros_(conv.bias)
    torch.nn.init.zeros_(ram.global_conv.conv.bias)
    a, b, g = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 4, 4), torch.randn(1, 4, 2, 2)
    with torch.no_grad():
        out = ram(a, b, g)
        up = dict(size=(8, 8), mode='bilinear', align_corners=False)
        g2 = F.interpolate(ram.global_conv(g), **up)
        expected = ram.fuse(torch.cat([0.5 * a, 0.5 * F.interpolate(b, **up), g2], 1))
    assert torch.allclose(out, expected, atol=1e-6)


def test_losses_soft_targets_by_hand():
    head = _tiny(loss_decode=LOSSES)
    feats = _feats(2, 32, 32, seed=1)
    logits16 = head(feats)
    gen = torch.Generator().manual_seed(5)
    target = torch.rand(2, 32, 32, generator=gen)  # soft labels at input size
    target[1, :, 28:] = 255  # ignored (padding)
    losses = head.loss_by_feat(logits16, _samples(target))
    assert set(losses) == {'loss_bce', 'loss_ssim', 'loss_iou', 'acc_seg'}
    logits = F.interpolate(logits16, size=(32, 32), mode='bilinear', align_corners=False)[:, 0]
    valid = target != 255
    bce = F.binary_cross_entropy_with_logits(logits[valid], target[valid])
    assert torch.isclose(losses['loss_bce'], bce, atol=1e-6)
    ssim = MODELS.build(dict(type='SSIMLoss'))(logits[:, None], target)
    iou = MODELS.build(dict(type='IoULoss'))(logits[:, None], target)
    assert torch.isclose(losses['loss_ssim'], ssim) and torch.isclose(losses['loss_iou'], iou)
    acc = 100.0 * ((logits.sigmoid() > 0.5) == (target > 0.5))[valid].float().mean()
    assert torch.isclose(losses['acc_seg'], acc)
    # the logits on ignored pixels do not change any loss: logit column 15 (of 16) reaches only
    # the upsampled columns >= 29, all ignored in image 1
    l1 = head.loss_by_feat(logits16.detach(), _samples(target))
    other = logits16.detach().clone()
    other[1, :, :, 15] += 7.0
    l3 = head.loss_by_feat(other, _samples(target))
    for k in ('loss_bce', 'loss_ssim', 'loss_iou'):
        assert torch.isclose(l3[k], l1[k], atol=1e-6), k
    other[1, :, :, 12] += 7.0  # reaches valid columns: the losses change
    l4 = head.loss_by_feat(other, _samples(target))
    assert not torch.isclose(l4['loss_bce'], l1['loss_bce'], atol=1e-6)


def test_integer_targets_and_threshold():
    head = _tiny(loss_decode=[dict(type='CrossEntropyLoss', use_sigmoid=True, avg_non_ignore=True)])
    feats = _feats(1, 32, 32)
    logits = head(feats)
    hard = torch.zeros(1, 32, 32, dtype=torch.long)
    hard[:, 8:24, 8:24] = 1
    soft = hard.float() * 0.7 + (1 - hard.float()) * 0.2  # binarises to `hard` at 0.5
    l_hard = head.loss_by_feat(logits, _samples(hard))['loss_ce']
    l_soft = head.loss_by_feat(logits, _samples(soft))['loss_ce']
    assert not torch.isclose(l_hard, l_soft)
    head.target_threshold = 0.5
    assert torch.isclose(head.loss_by_feat(logits, _samples(soft))['loss_ce'], l_hard)


def test_gradients_reach_every_parameter():
    head = _tiny()
    target = (torch.rand(2, 32, 32) > 0.5).float()
    losses = head.loss_by_feat(head(_feats(2, 32, 32)), _samples(target))
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    missing = [n for n, p in head.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert missing == []


def test_errors():
    with pytest.raises(ValueError, match='5 levels'):
        MODELS.build(
            dict(
                type='RAMHead', in_channels=(64, 256, 512), in_index=(0, 1, 2), loss_decode=LOSSES))
    with pytest.raises(ValueError, match='out_channels=1'):
        MODELS.build(dict(type='RAMHead', out_channels=2, loss_decode=LOSSES))
    with pytest.raises(ValueError, match='multiple_select'):
        MODELS.build(dict(type='RAMHead', input_transform='resize_concat', loss_decode=LOSSES))
    with pytest.raises(ValueError, match='sampler'):
        MODELS.build(
            dict(type='RAMHead', sampler=dict(type='OHEMPixelSampler'), loss_decode=LOSSES))
    with pytest.raises(ValueError, match='target_threshold'):
        MODELS.build(dict(type='RAMHead', target_threshold=1.5, loss_decode=LOSSES))
    head = _tiny()
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        head.loss_by_feat(head(_feats(1, 32, 32)), _samples(torch.full((1, 32, 32), 3.0)))
    assert isinstance(head, RAMHead) and math.isclose(head.threshold, 0.5)
