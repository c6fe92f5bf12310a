"""PatchSwapEncoderDecoder: Zhang & Yan 2020 objective (Eq. 1-8) on tiny networks."""
import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.model import BaseModule
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from dbdseg.models.segmentors import PatchSwapEncoderDecoder
from dbdseg.models.utils import swap_patches
from dbdseg.registry import MODELS

KEYS = {'loss_ori', 'loss_aug', 'loss_self'}


@MODELS.register_module(name='PatchSwapTestConvNet', force=True)
class ConvNet(BaseModule):
    """Test backbone: one k x k convolution + tanh (k=1: pointwise, so swap-equivariant), with an
    optional 2x average pooling (logits coarser than the input)."""

    def __init__(self, channels=4, kernel_size=1, downsample=False):
        super().__init__()
        self.conv = nn.Conv2d(3, channels, kernel_size, padding=kernel_size // 2)
        self.downsample = downsample

    def forward(self, x):
        x = torch.tanh(self.conv(x))
        return (F.avg_pool2d(x, 2) if self.downsample else x, )


HEAD = dict(
    type='FCNHead',
    in_channels=4,
    channels=4,
    num_convs=0,
    concat_input=False,
    dropout_ratio=0.0,
    num_classes=2,
    out_channels=1,
    threshold=0.5,
    align_corners=False,
    loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True))


@pytest.fixture(autouse=True, scope='module')
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    init_default_scope('mmseg')
    yield
    torch.set_num_threads(threads)


def build(kernel_size=1, downsample=False, seed=0, **kwargs):
    torch.manual_seed(seed)
    cfg = dict(
        type='PatchSwapEncoderDecoder',
        backbone=dict(type='PatchSwapTestConvNet', kernel_size=kernel_size, downsample=downsample),
        decode_head=copy.deepcopy(HEAD),
        test_cfg=ConfigDict(mode='whole'),
        patch_size=8)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def batch(b=2, h=32, w=32, seed=0, ignore=True, saliency=True):
    """Random normalised images, {0, 1} ground truth with an ignored (255) band, saliency."""
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(b, 3, h, w, generator=g)
    samples = []
    for i in range(b):
        gt = torch.randint(0, 2, (1, h, w), generator=g)
        sal = torch.rand(1, h, w, generator=g)
        if ignore:
            gt[:, :, :3] = 255  # e.g. rotated-in corner
            sal[:, :, :3] = 255.
        s = SegDataSample(
            metainfo=dict(
                img_path=f'img_{i}.png', img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
        s.gt_sem_seg = PixelData(data=gt)
        if saliency:
            s.gt_saliency_map = PixelData(data=sal)
        samples.append(s)
    return inputs, samples


def stack(samples, field):
    return torch.stack([getattr(s, field).data for s in samples])


def fixed_boxes(model, boxes):
    model.sample_swap_boxes = lambda inputs: boxes.to(inputs.device)


# ----------------------------------------------------------------------------------------------
# the segmentor's losses
# ----------------------------------------------------------------------------------------------
def test_loss_keys():
    inputs, samples = batch()
    assert set(build().loss(inputs, samples)) == KEYS
    assert set(build(self_supervision=False).loss(inputs, samples)) == {'loss_ori'}


@pytest.mark.parametrize('patch_size,h,w', [(8, 32, 32), (16, 64, 32), (64, 128, 64)])
def test_loss_self_zero_for_pointwise_network(patch_size, h, w):
    """A 1x1-conv network commutes with the swap: O' = f(O) exactly, so L_self = 0 and, since
    G' = f(G) and W' = f(W) move with the pixels, L_aug = L_ori."""
    inputs, samples = batch(h=h, w=w)
    model = build(kernel_size=1, patch_size=patch_size, hard_mining=True)
    torch.manual_seed(1)
    losses = model.loss(inputs, samples)
    assert losses['loss_self'].abs() < 1e-6
    torch.testing.assert_close(losses['loss_aug'], losses['loss_ori'])
    assert losses['loss_ori'] > 0


@pytest.mark.parametrize('downsample', [False, True])
def test_loss_self_positive_when_receptive_field_crosses_patch_border(downsample):
    inputs, samples = batch()
    model = build(kernel_size=3, downsample=downsample)
    torch.manual_seed(1)
    losses = model.loss(inputs, samples)
    assert losses['loss_self'] > 1e-4
    assert not torch.allclose(losses['loss_aug'], losses['loss_ori'])


@pytest.mark.parametrize('downsample', [False, True])
@pytest.mark.parametrize('hard_mining', [False, True])
@pytest.mark.parametrize('reduction', ['mean_valid', 'sum_per_image'])
def test_losses_by_hand(downsample, hard_mining, reduction):
    """All three terms recomputed outside the segmentor with the same boxes."""
    h = w = 32
    inputs, samples = batch(h=h, w=w)
    model = build(
        kernel_size=3,
        downsample=downsample,
        hard_mining=hard_mining,
        lambda_self=0.3,
        loss_reduction=reduction)
    boxes = torch.tensor([[[0, 0], [16, 8]], [[4, 20], [20, 4]]])
    fixed_boxes(model, boxes)
    losses = model.loss(inputs, samples)

    def logits_of(x):
        out = model.decode_head.forward(model.extract_feat(x))
        return F.interpolate(out, size=(h, w), mode='bilinear', align_corners=False)

    gt = stack(samples, 'gt_sem_seg')
    sal = stack(samples, 'gt_saliency_map')
    weight = torch.ones(gt.shape)
    if hard_mining:
        hard = ((sal > 0.5) ^ (gt == 1)) & (gt != 255)
        weight = 1 + hard.float()
    o, o_swap = logits_of(inputs), logits_of(swap_patches(inputs, boxes, 8))
    gt_swap, w_swap = swap_patches(gt, boxes, 8), swap_patches(weight, boxes, 8)

    def bce(logit, g, wt):
        per_image = []
        for i in range(2):
            v = g[i] != 255
            per_image.append(
                F.binary_cross_entropy_with_logits(
                    logit[i][v], g[i][v].float(), weight=wt[i][v], reduction='sum'))
        n = (g != 255).sum() if reduction == 'mean_valid' else 2
        return sum(per_image) / n

    valid_swap = gt_swap != 255
    l_self = (o_swap.sigmoid() - swap_patches(o.sigmoid(), boxes, 8)).abs()[valid_swap].mean()
    torch.testing.assert_close(losses['loss_ori'], bce(o, gt, weight))
    torch.testing.assert_close(losses['loss_aug'], bce(o_swap, gt_swap, w_swap))
    torch.testing.assert_close(losses['loss_self'], 0.3 * l_self)
    # the hard weights matter (else this test could not tell hard mining from none)
    if hard_mining:
        assert not torch.allclose(losses['loss_ori'], bce(o, gt, torch.ones(gt.shape)))


def test_plain_bce_mode_equals_loss_ori():
    inputs, samples = batch()
    model = build(kernel_size=3, self_supervision=False)
    (loss, ) = model.loss(inputs, samples).values()
    ref = build(kernel_size=3)
    torch.manual_seed(2)
    torch.testing.assert_close(loss, ref.loss(inputs, samples)['loss_ori'])
    gt = stack(samples, 'gt_sem_seg')
    logits = model._forward(inputs)
    v = gt != 255
    torch.testing.assert_close(loss, F.binary_cross_entropy_with_logits(logits[v], gt[v].float()))


def test_ignored_pixels_change_no_loss_term():
    """Logits (both views) and saliency at ignored pixels do not change any term; a valid pixel
    does (so the check can fail)."""
    b, h, w = 2, 32, 32
    inputs, samples = batch(b=b, h=h, w=w)
    gt = stack(samples, 'gt_sem_seg')
    boxes = torch.tensor([[[0, 0], [16, 16]], [[0, 24], [24, 0]]])  # moves ignored pixels
    gt_swap = swap_patches(gt, boxes, 8)
    base = torch.randn(2 * b, 1, h, w)
    model = build(hard_mining=True, lambda_self=1.0)
    fixed_boxes(model, boxes)

    def losses_with(logits, saliency_shift=0.0):
        model._logits = lambda x: logits.clone()
        s = copy.deepcopy(samples)
        for i, sample in enumerate(s):
            sal = sample.gt_saliency_map.data
            sample.gt_saliency_map.data = torch.where(gt[i] == 255, sal + saliency_shift, sal)
        return model.loss(inputs, s)

    ref = losses_with(base)
    ignored = torch.cat([gt, gt_swap]) == 255
    assert ignored[:b].any() and (ignored[b:] != ignored[:b]).any()
    changed = losses_with(
        torch.where(ignored, base + 50 * torch.randn_like(base), base), saliency_shift=-300.0)
    for k in KEYS:
        torch.testing.assert_close(changed[k], ref[k], rtol=0, atol=0)
    moved = base.clone()
    moved[0, 0, 20, 20] += 5  # valid in view 1 (outside the ignored band)
    moved[b + 1, 0, 20, 20] += 5  # valid in view 2
    assert gt[0, 0, 20, 20] != 255 and gt_swap[1, 0, 20, 20] != 255
    other = losses_with(moved)
    assert all(not torch.equal(other[k], ref[k]) for k in KEYS)


def test_w_hard_one_equals_no_hard_mining():
    inputs, samples = batch()
    results = []
    for kwargs in (dict(hard_mining=True,
                        w_hard=1.0), dict(hard_mining=False), dict(hard_mining=True, w_hard=2.0)):
        model = build(kernel_size=3, **kwargs)
        torch.manual_seed(3)
        results.append(model.loss(inputs, samples))
    for k in KEYS:
        torch.testing.assert_close(results[0][k], results[1][k])
    assert not torch.allclose(results[2]['loss_ori'], results[1]['loss_ori'])


@pytest.mark.parametrize('detach', [False, True])
def test_gradients_reach_backbone_from_every_term(detach):
    inputs, samples = batch()
    for key in sorted(KEYS):
        model = build(kernel_size=3, detach_self_target=detach)
        torch.manual_seed(4)
        model.loss(inputs, samples)[key].backward()
        grad = model.backbone.conv.weight.grad
        assert grad is not None and grad.abs().sum() > 0, key


def test_detach_self_target_changes_only_the_gradient():
    inputs, samples = batch()
    grads, values = [], []
    for detach in (False, True):
        model = build(kernel_size=3, detach_self_target=detach)
        torch.manual_seed(5)
        loss_self = model.loss(inputs, samples)['loss_self']
        loss_self.backward()
        values.append(loss_self.detach())
        grads.append(model.backbone.conv.weight.grad.clone())
    torch.testing.assert_close(values[0], values[1])
    assert not torch.allclose(grads[0], grads[1])


def test_concat_views_same_losses_as_two_passes():
    inputs, samples = batch()
    out = []
    for concat in (True, False):
        model = build(kernel_size=3, concat_views=concat)
        torch.manual_seed(6)
        out.append(model.loss(inputs, samples))
    for k in KEYS:
        torch.testing.assert_close(out[0][k], out[1][k])


def test_swap_is_random_per_iteration():
    inputs, samples = batch()
    model = build(kernel_size=3)
    torch.manual_seed(7)
    first = model.loss(inputs, samples)['loss_aug']
    second = model.loss(inputs, samples)['loss_aug']
    assert not torch.equal(first, second)


def test_smaller_saliency_map_padded_only_over_ignored_gt():
    """mmseg's SegDataPreProcessor pads gt_sem_seg (255) but not gt_saliency_map."""
    inputs, samples = batch(ignore=False)
    for s in samples:
        s.gt_sem_seg.data[:, 28:] = 255
        s.gt_saliency_map = PixelData(data=s.gt_saliency_map.data[:, :28])
    model = build(hard_mining=True)
    assert set(model.loss(inputs, samples)) == KEYS
    samples[1].gt_sem_seg.data[:, 30, 5] = 1
    with pytest.raises(ValueError, match='img_1.png'):
        model.loss(inputs, samples)


# ----------------------------------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------------------------------
def test_missing_saliency_with_hard_mining_names_image():
    inputs, samples = batch()
    del samples[1].gt_saliency_map
    with pytest.raises(ValueError, match=r'img_1\.png.*gt_saliency_map'):
        build(hard_mining=True).loss(inputs, samples)
    assert set(build(hard_mining=False).loss(inputs, samples)) == KEYS


def test_construction_errors():
    with pytest.raises(ValueError, match='auxiliary_head'):
        build(auxiliary_head=copy.deepcopy(HEAD))
    head = copy.deepcopy(HEAD)
    head['out_channels'] = 2
    with pytest.raises(ValueError, match='out_channels'):
        build(decode_head=head)
    head = copy.deepcopy(HEAD)
    head['sampler'] = dict(type='OHEMPixelSampler', thresh=0.7, min_kept=10)
    with pytest.raises(ValueError, match='sampler'):
        build(decode_head=head)
    for bad in (dict(patch_size=0), dict(lambda_self=-0.1), dict(w_hard=0.0),
                dict(loss_reduction='mean'), dict(swap_align=0)):
        with pytest.raises(ValueError):
            build(**bad)


def test_loss_errors():
    inputs, samples = batch(h=16, w=16)
    with pytest.raises(ValueError, match='16x16'):
        build(patch_size=16).loss(inputs, samples)
    with pytest.raises(ValueError, match='input size'):
        build().loss(inputs[..., :8], samples)


# ----------------------------------------------------------------------------------------------
# test time: plain EncoderDecoder
# ----------------------------------------------------------------------------------------------
def test_predict_equals_encoder_decoder():
    model = build(kernel_size=3, downsample=True).eval()
    plain = MODELS.build(
        dict(
            type='EncoderDecoder',
            backbone=dict(type='PatchSwapTestConvNet', kernel_size=3, downsample=True),
            decode_head=copy.deepcopy(HEAD),
            test_cfg=ConfigDict(mode='whole'))).eval()
    plain.load_state_dict(model.state_dict())
    inputs, samples = batch()
    for s in samples:
        s.set_metainfo(dict(ori_shape=(20, 24)))
    with torch.no_grad():
        got = model.predict(inputs, copy.deepcopy(samples))
        ref = plain.predict(inputs, copy.deepcopy(samples))
        torch.testing.assert_close(model._forward(inputs), plain._forward(inputs))
    for a, r in zip(got, ref):
        assert a.seg_logits.data.shape == (1, 20, 24)
        torch.testing.assert_close(a.seg_logits.data, r.seg_logits.data, rtol=0, atol=0)
        assert torch.equal(a.pred_sem_seg.data, r.pred_sem_seg.data)
    assert PatchSwapEncoderDecoder.predict is plain.__class__.predict


# ----------------------------------------------------------------------------------------------
# the paper's network
# ----------------------------------------------------------------------------------------------
def test_tiny_gradient_unet_trains():
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='PatchSwapEncoderDecoder',
            backbone=dict(
                type='GradientUNet',
                widths=(4, 4, 4, 4, 4),  # total stride 16
                decoder_widths=(4, 4, 4, 4),
                fuse_channels=8),
            decode_head=dict(copy.deepcopy(HEAD), norm_cfg=dict(type='BN', requires_grad=True)),
            test_cfg=ConfigDict(mode='whole'),
            patch_size=16,
            hard_mining=True))
    model.train()
    inputs, samples = batch(h=64, w=64)
    losses = model.loss(inputs, samples)
    assert set(losses) == KEYS
    assert all(torch.isfinite(v) for v in losses.values()) and losses['loss_self'] > 0
    sum(losses.values()).backward()
    grads = [p.grad for p in model.backbone.parameters() if p.requires_grad]
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0
