"""ActivationHead (A2S stage 1): Eq. 3 decision values, Eq. 5 sign flip, losses without labels,
prediction shapes, padding, sizes against the reference, errors."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from dbdseg.models.decode_heads import ActivationHead
from dbdseg.models.losses import ADBLoss
from dbdseg.registry import MODELS

init_default_scope('mmseg')

# The official A2S code (github.com/moothes/A2S-USOD, methods/mnet/model.py, ResNet-50): decoder
# 2,192,896 parameters, of which 4 x 128 are the unused GroupNorm inside each SE block.
REF_DECODER_PARAMS = 2192896
REF_UNUSED_SE_GN = 4 * 128


def _tiny_head(**kw):
    cfg = dict(
        type='ActivationHead',
        in_channels=(8, 16, 32),
        in_index=(2, 3, 4),
        channels=4,
        loss_decode=dict(type='ADBLoss', alpha=0.1, drop_ratio=0.0))
    cfg.update(kw)
    torch.manual_seed(0)  # deterministic weights
    return MODELS.build(cfg)


def _feats(n=2, size=32, seed=0, widths=(4, 6, 8, 16, 32)):
    gen = torch.Generator().manual_seed(seed)
    return tuple(
        torch.randn(n, c, -(-size // s), -(-size // s), generator=gen)
        for c, s in zip(widths, (2, 4, 8, 16, 32)))


def _samples(n=2, size=32, padding=(0, 0, 0, 0)):
    out = []
    for _ in range(n):
        h, w = size - padding[2] - padding[3], size - padding[0] - padding[1]
        out.append(
            SegDataSample(
                metainfo=dict(img_shape=(h, w), ori_shape=(h, w), padding_size=list(padding))))
    return out


def test_reference_sizes_and_keys():
    head = MODELS.build(dict(type='ActivationHead'))
    n_params = sum(p.numel() for p in head.parameters())
    assert n_params == REF_DECODER_PARAMS - REF_UNUSED_SE_GN == 2192384
    keys = set(head.state_dict())
    assert 'conv_seg.weight' not in keys
    assert {
        'level_blocks.0.conv.weight', 'level_blocks.2.se.conv.bias', 'fuse_block.norm.weight',
        'fuse_block.conv.weight'
    } <= keys
    assert tuple(head.state_dict()['level_blocks.2.conv.weight'].shape) == (64, 2048, 3, 3)
    assert tuple(head.state_dict()['fuse_block.conv.weight'].shape) == (64, 192, 3, 3)
    # ResNet-18/34 levels through config fields
    r18 = MODELS.build(dict(type='ActivationHead', in_channels=(128, 256, 512)))
    assert tuple(r18.state_dict()['level_blocks.0.conv.weight'].shape) == (64, 128, 3, 3)
    # the optional SE bottleneck and the v1 fc-weight quirk buffer
    se = MODELS.build(dict(type='ActivationHead', se_bottleneck_ratio=16, fc_weight_scaling=True))
    assert 'level_blocks.0.se.squeeze.weight' in se.state_dict()
    assert tuple(se.state_dict()['e5_channel_scale'].shape) == (2048, )


def test_decision_values_eq3():
    feat = torch.randn(2, 3, 5, 7, generator=torch.Generator().manual_seed(0))
    theta = ActivationHead.decision_values(feat)
    manual = (feat - feat.mean(dim=(2, 3), keepdim=True)).sum(dim=1, keepdim=True)
    assert theta.shape == (2, 1, 5, 7)
    assert torch.allclose(theta, manual, atol=1e-5)
    valid = torch.zeros(2, 1, 5, 7)
    valid[..., :3, :4] = 1
    theta_v = ActivationHead.decision_values(feat, valid)
    assert torch.allclose((theta_v * valid).sum(dim=(2, 3)), torch.zeros(2, 1), atol=1e-4)


def test_sign_flip_makes_minority_region_positive():
    # 30 % of the pixels strongly activated: already the minority -> kept
    theta = torch.full((2, 1, 10, 10), -1.0)
    theta[:, :, :3, :] = 2.0
    sign = ActivationHead.flip_sign(theta)
    assert sign.flatten().tolist() == [1.0, 1.0]
    # the same map inverted (70 % positive) -> flipped, and the 30 % region becomes positive
    inv = -theta
    sign = ActivationHead.flip_sign(inv)
    assert sign.flatten().tolist() == [-1.0, -1.0]
    out = sign * inv
    assert bool((out[:, :, :3] > 0).all()) and bool((out[:, :, 3:] < 0).all())
    # exact tie (len(S0) == len(S1)) keeps the sign (paper's >=); theta = 0 counts as S1
    tie = torch.ones(1, 1, 4, 4)
    tie[..., :2, :] = -1.0
    assert ActivationHead.flip_sign(tie).item() == 1.0
    zeros_and_neg = torch.zeros(1, 1, 4, 4)
    zeros_and_neg[..., :1, :] = -1.0  # 12 of 16 at theta = 0 (S1) -> flip
    assert ActivationHead.flip_sign(zeros_and_neg).item() == -1.0
    # padded cells do not vote
    theta = torch.full((1, 1, 4, 4), -1.0)
    theta[..., :, 2:] = 1.0  # 50 / 50 overall ...
    valid = torch.zeros(1, 1, 4, 4)
    valid[..., :, 1:] = 1  # ... but 8 positive vs 4 negative among valid cells
    assert ActivationHead.flip_sign(theta, valid).item() == -1.0


def test_head_outputs_are_minority_positive_end_to_end():
    head = _tiny_head()
    head.eval()
    signs = set()
    with torch.no_grad():
        for seed in range(6):
            feats = _feats(n=2, seed=seed)
            maps = head.forward_maps(feats)
            signs.update(maps['sign'].flatten().tolist())
            pos = (maps['logit'] > 0).float().mean(dim=(1, 2, 3))
            assert bool((pos <= 0.5).all()), pos
            assert torch.equal(maps['logit'], maps['sign'] * maps['theta'])
            assert torch.equal(head(feats), maps['logit'])
            assert maps['theta'].shape == (2, 1, 16, 16)  # the stem level's size (stride 2)
            assert [t.shape[-1] for t in maps['aux_theta']] == [4, 2, 1]
    assert signs == {1.0, -1.0}  # both branches of Eq. 5 were exercised


def test_loss_needs_no_labels_and_uses_all_four_maps():
    head = _tiny_head(aux_loss_weights=(0.1, 0.3, 0.5))
    feats = _feats(n=2)
    samples = _samples(n=2)  # no gt_sem_seg anywhere
    losses = head.loss(feats, samples, train_cfg={})
    assert set(losses) == {'loss_adb', 'loss_adb_f3', 'loss_adb_f4', 'loss_adb_f5', 'fg_frac'}
    maps = head.forward_maps(feats, [s.metainfo for s in samples])
    ref = ADBLoss(alpha=0.1, drop_ratio=0.0)
    assert losses['loss_adb'].item() == pytest.approx(ref(maps['theta']).item(), abs=1e-6)
    for name, w, aux in zip(('loss_adb_f3', 'loss_adb_f4', 'loss_adb_f5'), (0.1, 0.3, 0.5),
                            maps['aux_theta']):
        assert losses[name].item() == pytest.approx(w * ref(aux).item(), abs=1e-6)
        assert losses[name].item() <= 0
    assert 0.0 <= losses['fg_frac'].item() <= 0.5
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    total.backward()
    assert head.level_blocks[0].conv.weight.grad is not None
    assert head.fuse_block.se.conv.weight.grad.abs().sum() > 0
    # a zero aux weight drops that term; loss_at_input_size computes F's loss at 32 x 32
    head2 = _tiny_head(aux_loss_weights=(0.0, 0.3, 0.5), loss_at_input_size=True)
    losses2 = head2.loss(feats, samples, train_cfg={})
    assert 'loss_adb_f3' not in losses2
    maps2 = head2.forward_maps(feats, [s.metainfo for s in samples])
    up = torch.nn.functional.interpolate(maps2['theta'], size=(32, 32), mode='bilinear')
    assert losses2['loss_adb'].item() == pytest.approx(ref(up).item(), abs=1e-6)


def test_a_training_step_moves_maps_away_from_the_boundary():
    torch.manual_seed(0)
    head = _tiny_head()
    feats = _feats(n=2, seed=3)
    samples = _samples(n=2)
    opt = torch.optim.SGD(head.parameters(), lr=0.5)
    first = None
    for _ in range(5):
        losses = head.loss(feats, samples, train_cfg={})
        total = sum(v for k, v in losses.items() if k.startswith('loss'))
        first = total.item() if first is None else first
        opt.zero_grad()
        total.backward()
        opt.step()
    assert total.item() < first


def test_predict_shape_and_padding():
    head = _tiny_head()
    head.eval()
    feats = _feats(n=1)
    with torch.no_grad():
        out = head.predict(feats, [s.metainfo for s in _samples(n=1)], test_cfg={})
        assert out.shape == (1, 1, 32, 32)
        # right/bottom padding: the input is 32 x 32, the image 24 x 20
        metas = [s.metainfo for s in _samples(n=1, padding=(0, 12, 0, 8))]
        maps = head.forward_maps(feats, metas)
        valid = maps['valid']
        assert valid.shape == (1, 1, 16, 16)
        assert valid[0, 0, :12, :10].eq(1).all() and valid[0, 0, 12:].eq(0).all()
        assert valid[0, 0, :, 10:].eq(0).all()
        assert maps['aux_valid'][0].shape == (1, 1, 4, 4)
        assert (maps['theta'] * valid).sum().abs().item() < 1e-3  # mean over valid cells only
        assert head.predict(feats, metas, test_cfg={}).shape == (1, 1, 32, 32)


def test_errors():
    with pytest.raises(ValueError, match='out_channels'):
        _tiny_head(out_channels=2, num_classes=2)
    with pytest.raises(ValueError, match='same length'):
        _tiny_head(in_index=(3, 4))
    with pytest.raises(ValueError, match='aux_loss_weights'):
        _tiny_head(aux_loss_weights=(1.0, ))
    with pytest.raises(ValueError, match='input_transform'):
        _tiny_head(input_transform='resize_concat')
    with pytest.raises(ValueError, match='one loss'):
        _tiny_head(loss_decode=[dict(type='ADBLoss'), dict(type='ADBLoss')])
    with pytest.raises(ValueError, match='se_bottleneck_ratio'):
        _tiny_head(se_bottleneck_ratio=0)
    head = _tiny_head()
    wrong = _feats(widths=(4, 6, 9, 16, 32))
    with pytest.raises(ValueError, match='in_channels'):
        head.forward_maps(wrong)


def test_unlabeled_samples_have_no_gt():
    # the loss reads only metainfo: a sample that does carry a mask is treated the same
    head = _tiny_head()
    feats = _feats(n=1)
    plain = _samples(n=1)
    labelled = _samples(n=1)
    labelled[0].gt_sem_seg = PixelData(data=torch.ones(1, 32, 32, dtype=torch.long))
    a = head.loss(feats, plain, train_cfg={})['loss_adb']
    b = head.loss(feats, labelled, train_cfg={})['loss_adb']
    assert a.item() == pytest.approx(b.item())
