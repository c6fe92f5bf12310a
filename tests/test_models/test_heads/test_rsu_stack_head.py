"""RSUStackHead: AFIU's decoder (Qian et al. Sec. 3.2) of U²-Net RSU blocks."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from dbdseg.models.decode_heads import RSUStackHead
from dbdseg.registry import MODELS

BCE = dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)
SMALL = dict(
    in_channels=(4, 4, 4, 4, 6),
    mid_channels=3,
    block_channels=(5, 4, 4, 4, 4),
    num_classes=2,
    out_channels=1,
    threshold=0.5,
    loss_decode=BCE)


@pytest.fixture(autouse=True, scope='module')
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _levels(channels=(4, 4, 4, 4, 6), size=32, n=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    out, s = [], size
    for c in channels:
        out.append(torch.randn(n, c, s, s, generator=gen))
        s = (s + 1) // 2
    return out


def _samples(n=2, size=64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(n):
        s = SegDataSample(metainfo=dict(img_shape=(size, size), pad_shape=(size, size)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, size, size), generator=gen))
        samples.append(s)
    return samples


def test_default_blocks_by_resolution_as_u2net():
    with torch.device('meta'):
        head = MODELS.build(
            dict(
                type='RSUStackHead', num_classes=2, out_channels=1, threshold=0.5, loss_decode=BCE))
    assert [b.name for b in head.blocks] == ['RSU7', 'RSU6', 'RSU5', 'RSU4', 'RSU4F']
    assert [(b.in_channels, b.mid_channels, b.out_channels) for b in head.blocks] == [(128, 32, 64),
                                                                                      (128, 32, 64),
                                                                                      (128, 64, 64),
                                                                                      (128, 64, 64),
                                                                                      (64, 32, 64)]
    # innermost RSU map for a 320 input: 160 / 2^5, 80 / 2^4, 40 / 2^3, 20 / 2^2, 10 (no pooling)
    assert [b.num_pools for b in head.blocks] == [5, 4, 3, 2, 0]

    # per REBNConv(i, o): 9 i o + o (conv) + 2 o (BN); an RSU has 2L of them (U²-Net, Sec. 3.1)
    def rsu_params(L, i, m, o):

        def unit(a, b):
            return 9 * a * b + 3 * b

        return (unit(i, o) + unit(o, m) + (L - 1) * unit(m, m) + (L - 2) * unit(2 * m, m) +
                unit(2 * m, o))

    assert [sum(p.numel() for p in b.parameters()) for b in head.blocks] == [
        rsu_params(7, 128, 32, 64),
        rsu_params(6, 128, 32, 64),
        rsu_params(5, 128, 64, 64),
        rsu_params(4, 128, 64, 64),
        rsu_params(4, 64, 32, 64)
    ] == [278016, 250176, 554880, 443904, 157632]
    assert head.conv_seg.in_channels == 64 and head.conv_seg.out_channels == 1
    assert head.dropout is None and not head.side_outputs


class _Probe(nn.Module):
    """Stands in for an RSU: records its input, returns a fixed tensor of the input's size."""

    def __init__(self, out_channels, seed):
        super().__init__()
        self.out_channels, self.seed, self.seen = out_channels, seed, None

    def forward(self, x):
        self.seen = x
        gen = torch.Generator().manual_seed(self.seed)
        return torch.randn(x.shape[0], self.out_channels, *x.shape[2:], generator=gen)


def test_top_down_concatenation_order():
    head = RSUStackHead(**SMALL).eval()
    head.blocks = nn.ModuleList([_Probe(c, seed=i) for i, c in enumerate((5, 4, 4, 4, 4))])
    ec = _levels(size=32)  # 32, 16, 8, 4, 2
    with torch.no_grad():
        out = head(ec)
    assert torch.equal(head.blocks[4].seen, ec[4])  # D5 = RSU(EC5)
    for i in range(4):  # D_x = RSU(cat[EC_x, up(D_(x+1))])
        d_next = head.blocks[i + 1](head.blocks[i + 1].seen)
        expected = torch.cat([
            ec[i],
            F.interpolate(d_next, size=ec[i].shape[2:], mode='bilinear', align_corners=False)
        ], 1)
        assert torch.allclose(head.blocks[i].seen, expected)
    d1 = head.blocks[0](head.blocks[0].seen)
    assert torch.allclose(out, head.conv_seg(d1))
    assert out.shape == (2, 1, 32, 32)


def test_forward_loss_predict_shapes():
    torch.manual_seed(0)
    head = RSUStackHead(**SMALL)
    ec = _levels(size=32)
    logits = head(ec)
    assert logits.shape == (2, 1, 32, 32)
    losses = head.loss_by_feat(logits, _samples(size=64))
    assert set(losses) == {'loss_ce', 'acc_seg'} and losses['loss_ce'] > 0
    losses['loss_ce'].backward()
    assert all(p.grad is not None for p in head.parameters())
    head.eval()
    with torch.no_grad():
        pred = head.predict(ec, [dict(img_shape=(64, 64), pad_shape=(64, 64))], dict())
    assert pred.shape == (2, 1, 64, 64)


def test_side_outputs_deep_supervision():
    torch.manual_seed(0)
    head = RSUStackHead(side_outputs=True, side_loss_weights=(0, 0, 0, 0, 2.0), **SMALL)
    assert head.conv_seg.in_channels == 5 and len(head.side_convs) == 5
    assert head.side_convs[0].in_channels == 5 and head.side_convs[0].kernel_size == (3, 3)
    ec = _levels(size=32)
    outs = head(ec)
    assert isinstance(outs, tuple) and len(outs) == 6
    assert all(o.shape == (2, 1, 32, 32) for o in outs)
    # the main output is the 1x1 fusion of the five sides
    assert torch.allclose(outs[0], head.conv_seg(torch.cat(outs[1:], 1)))
    samples = _samples(size=64)
    losses = head.loss_by_feat(outs, samples)
    # one key scheme (dbdseg.models.utils.side_output_losses): <loss_name>_side<i>; sides of
    # weight 0 are left out
    assert list(losses) == ['loss_ce', 'acc_seg', 'loss_ce_side5']
    label = torch.stack([s.gt_sem_seg.data for s in samples]).float()
    side5 = F.interpolate(outs[5], size=(64, 64), mode='bilinear', align_corners=False)
    expected = 2.0 * F.binary_cross_entropy_with_logits(side5, label)
    assert torch.allclose(losses['loss_ce_side5'], expected, atol=1e-6)
    fused = F.interpolate(outs[0], size=(64, 64), mode='bilinear', align_corners=False)
    assert torch.allclose(
        losses['loss_ce'], F.binary_cross_entropy_with_logits(fused, label), atol=1e-6)
    head.eval()
    with torch.no_grad():
        single = head(ec)
        pred = head.predict(ec, [dict(img_shape=(32, 32), pad_shape=(32, 32))], dict())
    assert torch.is_tensor(single) and single.shape == (2, 1, 32, 32)
    assert torch.allclose(pred, single)


def test_configurable_heights_and_widths():
    head = RSUStackHead(
        in_channels=(8, 8, 8),
        heights=(5, 3, 2),
        dilated=(False, True, False),
        mid_channels=(2, 3, 4),
        block_channels=(6, 7, 9),
        num_classes=2,
        out_channels=1,
        threshold=0.5,
        loss_decode=BCE)
    assert [b.name for b in head.blocks] == ['RSU5', 'RSU3F', 'RSU2']
    assert [b.in_channels for b in head.blocks] == [8 + 7, 8 + 9, 8]
    assert head.channels == 6 and head.in_index == (0, 1, 2)
    out = head(_levels(channels=(8, 8, 8), size=20))
    assert out.shape == (2, 1, 20, 20)


def test_errors_are_clear():
    with pytest.raises(ValueError, match='heights must be one int or a sequence of 5'):
        RSUStackHead(heights=(7, 6), **{k: v for k, v in SMALL.items()})
    with pytest.raises(ValueError, match=r'channels \(8\) is the width of D_1'):
        RSUStackHead(channels=8, **SMALL)
    with pytest.raises(ValueError, match="input_transform must be 'multiple_select'"):
        RSUStackHead(input_transform='resize_concat', **SMALL)
    with pytest.raises(ValueError, match=r'in_index must pick one neck output per level \(5\)'):
        RSUStackHead(in_index=(0, 1, 2), **SMALL)
    with pytest.raises(ValueError, match='side_loss_weights'):
        RSUStackHead(side_loss_weights=(1, 2), **SMALL)
    head = RSUStackHead(**SMALL)
    with pytest.raises(ValueError, match=r'EC_5 must be \(N, 6, H, W\)'):
        head(_levels(channels=(4, 4, 4, 4, 4)))


def test_side_losses_total_and_repeated_loss_names():
    """The total over the loss keys is fused + sum_i w_i * side_i for every loss of loss_decode
    (U²-Net, Eq. 1); two losses give their own keys per side, summed into the same total."""
    torch.manual_seed(0)
    weights = (0.5, 1.0, 1.5, 2.0, 2.5)
    dice = dict(type='DiceLoss', use_sigmoid=True, loss_weight=0.3)
    head = RSUStackHead(
        side_outputs=True, side_loss_weights=weights, **dict(SMALL, loss_decode=[BCE, dice]))
    outs = head(_levels(size=32))
    samples = _samples(size=64)
    losses = head.loss_by_feat(outs, samples)
    sides = [f'loss_{name}_side{i}' for name in ('ce', 'dice') for i in range(1, 6)]
    assert list(losses) == ['loss_ce', 'loss_dice', 'acc_seg'] + sides
    label = torch.stack([s.gt_sem_seg.data for s in samples]).squeeze(1)
    expected = 0.0
    for w, out in zip((1.0, ) + weights, outs):
        out = F.interpolate(out, size=(64, 64), mode='bilinear', align_corners=False)
        expected = expected + w * sum(
            fn(out, label, weight=None, ignore_index=255) for fn in head.loss_decode)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.allclose(total, expected, atol=1e-6)


def test_acc_seg_is_the_accuracy_of_the_thresholded_probability():
    """mmseg's accuracy() on one channel gives the share of label-0 pixels whatever the
    prediction; the head logs the accuracy of sigmoid(logit) > threshold (255 ignored)."""
    head = RSUStackHead(**SMALL)
    label = torch.zeros(1, 1, 4, 4, dtype=torch.long)
    label[..., :3, :] = 1  # 12 in-focus pixels, 4 blurred
    label[..., 0, 0] = 255  # one ignored pixel: 11 in-focus, 4 blurred valid
    sample = SegDataSample(metainfo=dict(img_shape=(4, 4), pad_shape=(4, 4)))
    sample.gt_sem_seg = PixelData(data=label[0])
    positive = torch.full((1, 1, 4, 4), 3.0)  # predicts in-focus everywhere
    acc = head.loss_by_feat(positive, [sample])['acc_seg']
    assert acc.item() == pytest.approx(100.0 * 11 / 15)  # mmseg's arg-max gave 100 * 4 / 15
    negative = head.loss_by_feat(-positive, [sample])['acc_seg']
    assert negative.item() == pytest.approx(100.0 * 4 / 15)
    head.threshold = 0.99  # sigmoid(3) = 0.95 is below it: the threshold is the head's
    assert head.loss_by_feat(positive, [sample])['acc_seg'].item() == pytest.approx(100.0 * 4 / 15)
