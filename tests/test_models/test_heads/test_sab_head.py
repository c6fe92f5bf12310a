"""Tests of SABHead, the DD decoder (Cun & Pun 2020, Sec. 3.2-3.3)."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from dbdseg.models.decode_heads import SABHead
from dbdseg.models.losses.balanced_bce_loss import balanced_bce_with_logits
from dbdseg.models.losses.depth_distillation_loss import depth_distillation_loss
from dbdseg.models.utils import RFB, SRFB, UpsampleConvBlock
from dbdseg.registry import MODELS

RESNEXT = (64, 256, 512, 1024, 2048)
RESNET18 = (64, 64, 128, 256, 512)
VGG16 = (64, 128, 256, 512, 512)
#: measured from the official ResNeXt model (``resskspp`` of github.com/vinthony/depth-distillation
#: @ 6a59c510, built with random weights), per level (deepest first): deconvK, classifierK, sideattK
REF_RESNEXT = dict(
    blocks=[31812640, 7976480, 2005792, 503008, 33920],
    classifiers=[2050, 1026, 514, 130, 66],
    sab=961,
    fusion=6,
    total=42339482,
    entries=285)
#: the official VGG16 model (``vggskspp``, same source): 19,436,634 total - 14,714,688 backbone
REF_VGG_HEAD = 4721946


@pytest.fixture(autouse=True, scope='module')
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def feats(channels, size=64, n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(n, c, -(-size // 2**(i + 1)), -(-size // 2**(i + 1)), generator=g)
        for i, c in enumerate(channels)
    ]


def samples(n, h, w, depth=True, seed=0, ignore_box=True):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        s = SegDataSample()
        label = torch.randint(0, 2, (1, h, w), generator=g)
        dmap = torch.rand(1, h, w, generator=g)
        if ignore_box:  # padded corner: label 255, depth 255
            label[:, :3, :3] = 255
            dmap[:, :3, :3] = 255.0
        s.gt_sem_seg = PixelData(data=label)
        if depth:
            s.gt_depth_map = PixelData(data=dmap)
        s.set_metainfo(
            dict(img_path=f'img_{i}.jpg', img_shape=(h, w), pad_shape=(h, w), ori_shape=(h, w)))
        out.append(s)
    return out


def test_reference_parameter_counts_per_level():
    with torch.device('meta'):
        head = SABHead()
    for k in range(5):
        assert n_params(head.blocks[k]) == REF_RESNEXT['blocks'][k]
        assert isinstance(head.blocks[k], SRFB)
        assert n_params(head.side_convs[k]) + n_params(head.depth_convs[k]) == \
            REF_RESNEXT['classifiers'][k]
    assert [n_params(s) for s in head.sabs] == [REF_RESNEXT['sab']] * 4
    assert n_params(head.conv_seg) == n_params(head.depth_fusion) == REF_RESNEXT['fusion']
    assert head.conv_seg.weight.shape == (1, 5, 1, 1)
    assert n_params(head) == REF_RESNEXT['total']
    assert len(head.state_dict()) == REF_RESNEXT['entries']
    assert head.decoder_channels == (1024, 512, 256, 64, 32)
    assert all(isinstance(s, torch.nn.Identity) for s in head.skip_convs)
    with torch.device('meta'):
        vgg = SABHead(in_channels=VGG16)
    assert vgg.decoder_channels == (512, 256, 128, 64, 32)
    assert n_params(vgg) == REF_VGG_HEAD


def test_side_output_shapes_at_320():
    """Strides of every output for the reference layout at 320 x 320 (narrow widths: shapes
    depend on the strides only)."""
    head = SABHead(in_channels=(8, 8, 8, 8, 8), channels=8).train()
    out = head(feats((8, 8, 8, 8, 8), size=320, n=1))
    assert out['fused'].shape == out['fused_depth'].shape == (1, 1, 320, 320)
    sizes = [20, 40, 80, 160, 320]
    assert [tuple(s.shape) for s in out['sides']] == [(1, 1, s, s) for s in sizes]
    assert [tuple(d.shape) for d in out['depth_sides']] == [(1, 1, s, s) for s in sizes]
    head.eval()
    with torch.no_grad():
        fused = head(feats((8, 8, 8, 8, 8), size=320, n=1))
    assert torch.is_tensor(fused) and fused.shape == (1, 1, 320, 320)


def test_level_flow_sab_multiply_then_skip_add():
    torch.manual_seed(0)
    head = SABHead(in_channels=RESNET18).eval()
    xs = feats(RESNET18, size=64)
    seen = {}
    for k in range(5):
        head.blocks[k].register_forward_hook(lambda m, i, o, k=k: seen.update({
            f'in{k}': i[0],
            f'out{k}': o
        }))
    for k in range(4):
        head.sabs[k].register_forward_hook(lambda m, i, o, k=k: seen.update({f'sab{k}': (i[0], o)}))
    with torch.no_grad():
        out = head._forward_all(xs)
    assert torch.equal(seen['in0'], xs[4])
    for k in range(4):
        sab_in, att = seen[f'sab{k}']
        assert torch.equal(sab_in, torch.cat([out['sides'][k], out['depth_sides'][k]], 1))
        assert att.min() > 0 and att.max() < 1
        expected = seen[f'out{k}'] * att + xs[3 - k]
        assert torch.allclose(seen[f'in{k + 1}'], expected, atol=1e-6)
    # fusion: 1x1 conv over the five sides resized bilinearly to the last side's size
    size = out['sides'][4].shape[2:]
    cat = torch.cat(
        [F.interpolate(s, size=size, mode='bilinear', align_corners=False) for s in out['sides']],
        1)
    assert torch.allclose(out['fused'], head.conv_seg(cat), atol=1e-6)
    dcat = torch.cat([
        F.interpolate(d, size=size, mode='bilinear', align_corners=False)
        for d in out['depth_sides']
    ], 1)
    assert torch.allclose(out['fused_depth'], head.depth_fusion(dcat), atol=1e-6)


def test_loss_terms_match_their_definitions():
    torch.manual_seed(0)
    head = SABHead(in_channels=RESNET18).train()
    xs = feats(RESNET18, size=64)
    data = samples(2, 64, 64)
    losses = head.loss(xs, data, None)
    # one key scheme (dbdseg.models.utils.side_output_losses): <loss_name> for the fused map,
    # <loss_name>_side<k> for side k
    names = [''] + [f'_side{k}' for k in range(1, 6)]
    assert list(losses) == ([f'loss_defocus{n}' for n in names] + [f'loss_depth{n}'
                                                                   for n in names] + ['acc_seg'])
    # recompute with the same weights: the forward is deterministic in train mode
    out = head._forward_all(xs)
    label = torch.stack([d.gt_sem_seg.data for d in data])
    depth = torch.stack([d.gt_depth_map.data for d in data])
    valid = label != 255
    assert torch.isfinite(torch.stack([v for k, v in losses.items() if k != 'acc_seg'])).all()
    side2 = F.interpolate(out['sides'][1], size=(64, 64), mode='bilinear', align_corners=False)
    assert losses['loss_defocus_side2'].item() == pytest.approx(
        balanced_bce_with_logits(side2, label).item(), rel=1e-5)
    assert losses['loss_defocus'].item() == pytest.approx(
        balanced_bce_with_logits(out['fused'], label).item(), rel=1e-5)
    d3 = F.interpolate(out['depth_sides'][2], size=(64, 64), mode='bilinear', align_corners=False)
    assert losses['loss_depth_side3'].item() == pytest.approx(
        0.1 * depth_distillation_loss(d3, depth, valid).item(), rel=1e-5)
    pred = (torch.sigmoid(out['fused']) > 0.5).long()
    acc = ((pred == label) & valid).sum().float() / valid.sum() * 100
    assert losses['acc_seg'].item() == pytest.approx(acc.item(), rel=1e-5)
    # every parameter takes part
    sum(v for k, v in losses.items() if k != 'acc_seg').backward()
    assert all(p.grad is not None for p in head.parameters())


def test_loss_weights_and_ignored_pixels():
    torch.manual_seed(0)
    head = SABHead(
        in_channels=RESNET18,
        side_loss_weights=(0, 1, 1, 1, 2),
        depth_side_loss_weights=0.5,
        depth_fused_loss_weight=0).train()
    xs = feats(RESNET18, size=64)
    data = samples(2, 64, 64)
    losses = head.loss(xs, data, None)
    assert 'loss_defocus_side1' not in losses and 'loss_depth' not in losses
    ref = SABHead(in_channels=RESNET18).train()
    ref.load_state_dict(head.state_dict())
    base = ref.loss(xs, data, None)
    assert losses['loss_defocus_side5'].item() == pytest.approx(
        2 * base['loss_defocus_side5'].item(), rel=1e-5)
    assert losses['loss_depth_side2'].item() == pytest.approx(
        0.5 * base['loss_depth_side2'].item(), rel=1e-5)
    # ignored (255) pixels carry depth 255 too: the terms stay finite and ignore them
    assert all(torch.isfinite(v) for v in losses.values())


def test_missing_depth_map_is_a_clear_error_and_weight_zero_needs_none():
    head = SABHead(in_channels=RESNET18).train()
    xs = feats(RESNET18, size=64)
    with pytest.raises(
            ValueError,
            match=r"img_0.jpg.*no gt_depth_map.*depth_map_path"
            r".*loss_depth.loss_weight=0"):
        head.loss(xs, samples(2, 64, 64, depth=False), None)
    off = SABHead(
        in_channels=RESNET18, loss_depth=dict(type='DepthDistillationLoss',
                                              loss_weight=0.0)).train()
    losses = off.loss(xs, samples(2, 64, 64, depth=False), None)
    assert losses['loss_depth'].item() == 0.0
    assert not any(k.startswith('loss_depth_side') for k in losses)
    sum(v for k, v in losses.items() if k != 'acc_seg').backward()
    assert all(p.grad is not None for p in off.parameters())  # DDP sees every parameter used
    # a depth map of another size than the label
    bad = samples(2, 64, 64)
    bad[1].gt_depth_map = PixelData(data=torch.rand(1, 32, 32))
    with pytest.raises(ValueError, match='img_1.jpg.*has size'):
        head.loss(xs, bad, None)


@pytest.mark.parametrize('variant', ['no_depth', 'plain', 'rfb', 'no_sab'])
def test_table2_ablation_switches(variant):
    kwargs = dict(
        no_depth=dict(use_depth=False, loss_depth=None),
        plain=dict(block_cfg=dict(type='UpsampleConvBlock')),
        rfb=dict(block_cfg=dict(type='RFB')),
        no_sab=dict(use_sab=False))[variant]
    full = SABHead(in_channels=RESNET18)
    head = SABHead(in_channels=RESNET18, **kwargs).train()
    xs = feats(RESNET18, size=64)
    losses = head.loss(xs, samples(2, 64, 64, depth=variant != 'no_depth'), None)
    assert torch.isfinite(losses['loss_defocus'])
    if variant == 'no_depth':
        assert len(head.depth_convs) == 0 and head.depth_fusion is None
        assert head.sabs[0].conv1.conv.in_channels == 1
        assert not any(k.startswith('loss_depth') for k in losses)
        removed = (sum(n_params(c)
                       for c in full.depth_convs) + n_params(full.depth_fusion) + 4 * 32 * 9
                   )  # one SAB input channel fewer: 32 x 3 x 3 weights per SAB
        assert n_params(full) - n_params(head) == removed
    elif variant == 'plain':
        assert all(isinstance(b, UpsampleConvBlock) for b in head.blocks)
        assert n_params(full) - n_params(head) == sum(n_params(b.pyramid) for b in full.blocks)
    elif variant == 'rfb':
        assert all(isinstance(b, RFB) for b in head.blocks)
    else:
        assert len(head.sabs) == 0
        assert n_params(full) - n_params(head) == sum(n_params(s) for s in full.sabs)
    assert 'loss_defocus_side5' in losses


def test_in_encoder_decoder_resnet18_odd_size_and_predict():
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='EncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0], std=[1, 1, 1]),
            backbone=dict(type='ResNetWithStem', depth=18),
            decode_head=dict(type='SABHead', in_channels=RESNET18),
            test_cfg=ConfigDict(mode='whole')))
    assert model.decode_head.decoder_channels == (256, 128, 64, 64, 32)
    x = torch.randn(2, 3, 72, 100)  # not a multiple of 32: levels 36x50, 18x25, 9x13, 5x7, 3x4
    data = samples(2, 72, 100)
    losses = model.loss(x, data)
    assert 'decode.loss_depth_side5' in losses and 'decode.acc_seg' in losses
    # the head's predict gives the fused logits in train mode too
    with torch.no_grad():
        logits = model.decode_head.predict(model.extract_feat(x), [d.metainfo for d in data], None)
    assert model.training and logits.shape == (2, 1, 72, 100)
    model.eval()
    with torch.no_grad():
        result = model.predict(x, samples(2, 72, 100))
    prob = result[0].seg_logits.data
    assert prob.shape == (1, 72, 100) and prob.min() >= 0 and prob.max() <= 1
    assert result[0].pred_sem_seg.data.shape == (1, 72, 100)


def test_narrow_decoder_adds_skip_projections():
    head = SABHead(
        in_channels=RESNEXT,
        decoder_channels=(64, 32, 16, 16, 8),
        block_cfg=dict(type='SRFB', reduction=8)).eval()
    assert [type(s).__name__ for s in head.skip_convs] == ['Conv2d'] * 4
    assert head.skip_convs[0].weight.shape == (64, 1024, 1, 1)
    with torch.no_grad():
        out = head(feats(RESNEXT, size=64, n=1))
    assert out.shape == (1, 1, 64, 64)


def test_constructor_errors():
    with pytest.raises(ValueError, match='out_channels=1'):
        SABHead(in_channels=RESNET18, out_channels=2)
    with pytest.raises(ValueError, match='no dropout'):
        SABHead(in_channels=RESNET18, dropout_ratio=0.1)
    with pytest.raises(ValueError, match='multiple_select'):
        SABHead(in_channels=RESNET18, input_transform='resize_concat')
    with pytest.raises(ValueError, match='same length'):
        SABHead(in_channels=RESNET18, in_index=(0, 1))
    with pytest.raises(ValueError, match='one per level'):
        SABHead(in_channels=RESNET18, decoder_channels=(8, 8))
    with pytest.raises(ValueError, match='side_loss_weights'):
        SABHead(in_channels=RESNET18, side_loss_weights=(1, 1))
