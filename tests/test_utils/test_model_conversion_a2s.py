"""dbdseg.utils.model_conversion.{a2s,mocov2} on state dicts synthesised from the reference
networks' key lists (every key mapped or dropped with a reason, equal shapes, strict loads), and a
functional check of the converted RAMHead against the reference decoder's computation (A2S,
Zhou et al. TCSVT 2023, Sec. III-B, Eqs. 9-10, Fig. 6). The command line is tested in
tests/test_tools/test_a2s_converters.py."""
import hashlib
import os.path as osp
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope

from dbdseg.models.backbones import ResNetWithStem
from dbdseg.registry import MODELS
from dbdseg.utils.model_conversion import a2s, mocov2
from dbdseg.utils.model_conversion.a2s import (check_against_model, convert_a2s, detect_stage,
                                               reference_spec)
from dbdseg.utils.model_conversion.mocov2 import (check_resnet_with_stem, convert_mocov2,
                                                  infer_resnet_depth)

init_default_scope('mmseg')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STAGE1_MODEL = osp.join(REPO, 'configs', '_base_', 'models', 'a2s_stage1.py')
STAGE2_MODEL = osp.join(REPO, 'configs', '_base_', 'models', 'a2s_stage2.py')

# SHA-256 of the sorted "key<TAB>[shape]<TAB>kind" lines of the state dicts of cornet and mnet
# measured from the reference code at moothes/A2S-USOD@625c5590, so that the synthesised state
# dicts are those lists exactly.
CORNET_DIGEST = '50e6d674fcfa8947001216aadadbf2a5f8eeade68ee01f4d53d5432642c1120c'
MNET_DIGEST = 'e9963e3c45153b1be214fb88933d1113e7b763153db9f1fb07866b94e0120c26'


def _synth(spec, seed=0):
    gen = torch.Generator().manual_seed(seed)
    sd = OrderedDict()
    for key, (shape, kind) in spec.items():
        if key.endswith('num_batches_tracked'):
            sd[key] = torch.tensor(7)
        elif key.endswith('running_var'):
            sd[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            sd[key] = 0.05 * torch.randn(shape, generator=gen)
    return sd


def _build(config, **decode_head):
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg = None
    cfg.model.decode_head.update(decode_head)
    return MODELS.build(cfg.model)


def test_reference_spec_equals_the_measured_lists():
    for stage, digest, entries, params in ((2, CORNET_DIGEST, 368, 28397864), (1, MNET_DIGEST, 352,
                                                                               27749928)):
        spec = reference_spec(stage)
        lines = sorted(f"{k}\t[{', '.join(map(str, s))}]\t{kind}" for k, (s, kind) in spec.items())
        assert hashlib.sha256('\n'.join(lines).encode()).hexdigest() == digest
        assert len(spec) == entries
        n = sum(torch.Size(s).numel() for s, kind in spec.values() if kind == 'param')
        assert n == params
    with pytest.raises(ValueError, match='stage'):
        reference_spec(3)


# ------------------------------------------------------------------------- reference decoder
def _conv(sd, p, x, pad=1):
    return F.conv2d(x, sd[p + '.weight'], sd[p + '.bias'], padding=pad)


def _cgr(sd, p, x, groups):
    x = F.conv2d(x, sd[p + '.0.weight'], sd[p + '.0.bias'], padding=1)
    return F.relu(F.group_norm(x, groups, sd[p + '.1.weight'], sd[p + '.1.bias']))


def _up(x, ref):
    return F.interpolate(x, size=ref.shape[-2:], mode='bilinear', align_corners=False)


def _ref_ram(sd, p, a, b, g):
    """A2S Sec. III-B, Eqs. 9-10 (Fig. 6), as the reference code computes it:
    g' = up(CGR(g)); r_a = sigmoid(res_conv1(a - g')); b' = up(b);
    r_b = sigmoid(res_conv2(b' - g')); out = fuse(cat[a r_a, b' r_b, g'])."""
    g = _up(_cgr(sd, p + '.gconv', g, 32), a)
    b = _up(b, a)
    ra = torch.sigmoid(_conv(sd, p + '.res_conv1', a - g))
    rb = torch.sigmoid(_conv(sd, p + '.res_conv2', b - g))
    return _conv(sd, p + '.fuse', torch.cat([a * ra, b * rb, g], 1))


def _ref_cornet_decoder(sd, xs):
    """The reference cornet decoder (A2S Sec. III-B: adapters, regional RAM on H3-H5, global
    path, local RAM on H1, H2 and the global path, product of the two) on features xs[0..4]."""
    h = [_cgr(sd, f'decoder.adapter{i}', x, 32) for i, x in enumerate(xs)]
    region = _ref_ram(sd, 'decoder.region', h[2], h[3], h[4])
    g = _conv(sd, 'decoder.gb_conv.0', h[4])
    g = F.relu(F.group_norm(g, 64, sd['decoder.gb_conv.1.weight'], sd['decoder.gb_conv.1.bias']))
    g = F.interpolate(g, scale_factor=2, mode='bilinear', align_corners=False)
    g = _conv(sd, 'decoder.gb_conv.4', g)
    g = F.relu(F.group_norm(g, 32, sd['decoder.gb_conv.5.weight'], sd['decoder.gb_conv.5.bias']))
    g = F.interpolate(g, scale_factor=2, mode='bilinear', align_corners=False)
    local = _ref_ram(sd, 'decoder.local', h[0], h[1], g)
    return (local * _up(region, local)).sum(1, keepdim=True)


# ------------------------------------------------------------------------------- stage 2
def test_stage2_every_key_mapped_or_dropped_and_strict_load():
    sd = _synth(reference_spec(2))
    out, report = convert_a2s({'state_dict': {'model.' + k: v for k, v in sd.items()}})
    assert report['stage'] == 2
    assert len(report['mapped']) + len(report['dropped']) == len(sd) == 368
    assert sorted(k for k, _ in report['dropped']) == ['encoder.fc.bias', 'encoder.fc.weight']
    assert all('cornet' in reason for _, reason in report['dropped'])
    assert report['unmapped'] == [] and report['missing'] == []
    model = _build(STAGE2_MODEL)
    assert check_against_model(out, {k: v.shape for k, v in model.state_dict().items()}) == []
    model.load_state_dict(out, strict=True)
    for src, dst in report['mapped']:
        assert torch.equal(model.state_dict()[dst], sd[src])
    # the converted head computes what the reference decoder computes
    gen = torch.Generator().manual_seed(1)
    widths, sizes = (64, 256, 512, 1024, 2048), (32, 16, 8, 4, 2)  # a 64 x 64 input
    xs = [torch.randn(1, c, s, s, generator=gen) for c, s in zip(widths, sizes)]
    model.eval()
    with torch.no_grad():
        ours = model.decode_head(xs)
        ref = _ref_cornet_decoder(sd, xs)
    assert ours.shape == ref.shape == (1, 1, 32, 32)
    assert torch.allclose(ours, ref, rtol=1e-4, atol=1e-5), float((ours - ref).abs().max())
    # swapped attention convs would not match: the mapping is not symmetric by accident
    swapped = dict(sd)
    swapped['decoder.local.res_conv1.weight'] = sd['decoder.local.res_conv2.weight']
    swapped['decoder.local.res_conv2.weight'] = sd['decoder.local.res_conv1.weight']
    with torch.no_grad():
        assert not torch.allclose(ours, _ref_cornet_decoder(swapped, xs), atol=1e-5)


def test_errors():
    sd = _synth(reference_spec(2))
    bad = dict(sd)
    bad['decoder.extra.weight'] = torch.zeros(1)
    with pytest.raises(ValueError, match='follow no A2S stage-2 rule'):
        convert_a2s(bad)
    out, report = convert_a2s(bad, allow_partial=True)
    assert report['unmapped'] == ['decoder.extra.weight']
    missing = dict(sd)
    del missing['decoder.local.fuse.bias']
    with pytest.raises(ValueError, match='missing'):
        convert_a2s(missing)
    shape = dict(sd)
    shape['decoder.adapter3.0.weight'] = torch.zeros(64, 512, 3, 3)
    with pytest.raises(ValueError, match='shape'):
        convert_a2s(shape)
    no_nbt = {k: v for k, v in sd.items() if not k.endswith('num_batches_tracked')}
    assert convert_a2s(no_nbt)[1]['missing'] == []  # old checkpoints: accepted
    with pytest.raises(ValueError, match='not an A2S-v1 checkpoint'):
        detect_stage({'conv1.weight': torch.zeros(1)})
    with pytest.raises(ValueError, match='missing.*--allow-partial'):  # stage 1 rules, stage-2 file
        convert_a2s(sd, stage=1)
    out, report = convert_a2s(sd, stage=1, allow_partial=True)  # every gap listed
    assert 'decoder.ad2.ad0.0.weight' in report['missing']
    assert 'decoder.adapter0.0.weight' in report['unmapped']
    out, report = convert_a2s(shape, allow_partial=True)  # a foreign shape is not converted
    assert report['bad_shapes'] == [
        'decoder.adapter3.0.weight: (64, 512, 3, 3) != reference (64, 1024, 3, 3)'
    ]
    assert 'decode_head.adapters.3.conv.weight' not in out


# ------------------------------------------------------------------------------- stage 1
@pytest.mark.parametrize('fc_scaling', [False, True])
def test_stage1_to_activation_head(fc_scaling):
    assert osp.isfile(STAGE1_MODEL), STAGE1_MODEL  # shipped with the repository
    sd = _synth(reference_spec(1), seed=2)
    out, report = convert_a2s(sd, fc_weight_scaling=fc_scaling)
    assert report['stage'] == 1
    dropped = sorted(k for k, _ in report['dropped'])
    se_gn = sorted(f'decoder.{b}.se.gn.{p}' for b in ('ad2', 'ad3', 'ad4', 'fusion')
                   for p in ('weight', 'bias'))
    fc = ['encoder.fc.bias'] + ([] if fc_scaling else ['encoder.fc.weight'])
    assert dropped == sorted(se_gn + fc)
    assert len(report['mapped']) + len(report['dropped']) + len(report['derived']) == 352
    model = _build(STAGE1_MODEL, fc_weight_scaling=fc_scaling)
    model.load_state_dict(out, strict=True)
    assert torch.equal(model.state_dict()['decode_head.level_blocks.2.conv.weight'],
                       sd['decoder.ad4.ad0.0.weight'])
    assert torch.equal(model.state_dict()['decode_head.fuse_block.norm.bias'],
                       sd['decoder.fusion.ad0.1.bias'])
    if fc_scaling:
        assert torch.allclose(model.state_dict()['decode_head.e5_channel_scale'],
                              sd['encoder.fc.weight'].sum(0))


# ---------------------------------------------------------------------------------- MoCo
def _moco_checkpoint(seed=0):
    gen = torch.Generator().manual_seed(seed)
    enc = {
        k: v
        for k, v in _synth(reference_spec(2), seed).items()
        if k.startswith('encoder.') and not k.startswith('encoder.fc.')
    }
    sd = OrderedDict()
    for prefix in ('module.encoder_q.', 'module.encoder_k.'):
        for k, v in enc.items():
            sd[prefix + k[len('encoder.'):]] = v.clone()
        sd[prefix + 'fc.0.weight'] = torch.randn(2048, 2048, generator=gen)
        sd[prefix + 'fc.0.bias'] = torch.randn(2048, generator=gen)
        sd[prefix + 'fc.2.weight'] = torch.randn(128, 2048, generator=gen)
        sd[prefix + 'fc.2.bias'] = torch.randn(128, generator=gen)
    sd['module.queue'] = torch.randn(128, 16, generator=gen)
    sd['module.queue_ptr'] = torch.zeros(1, dtype=torch.long)
    return dict(epoch=800, arch='resnet50', state_dict=sd), enc


def test_mocov2_converter_strict_load_and_reasons():
    ckpt, enc = _moco_checkpoint()
    out, report = convert_mocov2(ckpt)
    assert len(out) == len(enc) == 318  # 320 encoder entries of the list minus fc
    assert len(report['mapped']) + len(report['dropped']) == len(ckpt['state_dict'])
    reasons = {reason for _, reason in report['dropped']}
    assert len(reasons) == 3 and report['unmapped'] == []
    assert infer_resnet_depth(out) == 50
    assert check_resnet_with_stem(out) == []
    for k, v in enc.items():
        assert torch.equal(out[k[len('encoder.'):]], v)
    prefixed, _ = convert_mocov2(ckpt, dst_prefix='backbone.')
    assert all(k.startswith('backbone.') for k in prefixed)
    with pytest.raises(ValueError, match='no key starts with'):
        convert_mocov2({'state_dict': {'conv1.weight': torch.zeros(1)}})
    bad = dict(ckpt['state_dict'])
    bad['module.predictor.weight'] = torch.zeros(1)
    with pytest.raises(ValueError, match='follow no MoCo'):
        convert_mocov2(bad)
    # a ResNet-18 MoCo checkpoint (depth from the keys)
    r18 = {'module.encoder_q.' + k: v for k, v in ResNetWithStem(depth=18).state_dict().items()}
    out18, _ = convert_mocov2(r18)
    assert infer_resnet_depth(out18) == 18 and check_resnet_with_stem(out18) == []


def test_summaries():
    out, report = convert_a2s(_synth(reference_spec(2)))
    assert a2s.summary(report, out).splitlines() == [
        'A2S stage 2: mapped 366 keys',
        f'dropped 2 keys (encoder.fc.weight, encoder.fc.bias): {a2s.REASON_FC_STAGE2}'
    ]
    out, report = convert_a2s(_synth(reference_spec(1)), fc_weight_scaling=True)
    assert a2s.summary(report, out).splitlines() == [
        'A2S stage 1: mapped 342 keys',
        'derived decode_head.e5_channel_scale (2048,) from encoder.fc.weight (sum over classes)',
        f'dropped 1 keys (encoder.fc.bias): {a2s.REASON_FC_BIAS}',
        'dropped 8 keys (decoder.ad2.se.gn.weight, decoder.ad2.se.gn.bias, '
        f'decoder.ad3.se.gn.weight, decoder.ad3.se.gn.bias, ...): {a2s.REASON_SE_GN}'
    ]
    ckpt, _ = _moco_checkpoint()
    sd = dict(ckpt['state_dict'], **{'module.predictor.weight': torch.zeros(1)})
    out, report = convert_mocov2(sd, allow_partial=True)
    reasons = list(mocov2.DROP_REASONS.values())
    assert mocov2.summary(report, out).splitlines() == [
        'mapped 318 keys (23,561,152 values)', f'dropped 4 keys: {reasons[0]}',
        f'dropped 322 keys: {reasons[1]}', f'dropped 2 keys: {reasons[2]}',
        'dropped 1 unmapped keys (--allow-partial)'
    ]
