"""dbdseg.utils.model_conversion.{minet,u2net} on state dicts synthesised from the reference
models' key lists (MINet_Res50 of lartpang/MINet; U2NET and U2NETP of xuebinqin/U-2-Net).

The key lists are written out here from the reference models' naming scheme and pinned to the
state dicts of the reference code by entry count, parameter count and a SHA-256 over the sorted
"key [shape]" lines (hashes taken once from key lists measured from that code). Full-size models
are built on the meta device (shapes only, no memory, no initialisation time). The command lines
are tested in tests/test_tools/test_afiu_converters.py.
"""
import hashlib
import os.path as osp
from collections import OrderedDict

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from dbdseg.models.utils import RSU
from dbdseg.registry import MODELS
from dbdseg.utils.model_conversion import check_target_shapes
from dbdseg.utils.model_conversion.minet import convert_block_key, convert_minet
from dbdseg.utils.model_conversion.u2net import convert_rsu_key, convert_u2net

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
AFIU_MODEL = osp.join(ROOT, 'configs/_base_/models/afiu.py')


# ------------------------------------------------------------------ reference key lists
def _conv(name, cout, cin, k, bias=True):
    return [(f'{name}.weight', (cout, cin, k, k))] + ([(f'{name}.bias', (cout, ))] if bias else [])


def _bn(name, c):
    return [(f'{name}.{p}', (c, )) for p in ('weight', 'bias', 'running_mean', 'running_var')] + \
        [(f'{name}.num_batches_tracked', ())]


def minet_res50_keys():
    """MINet_Res50 state-dict keys and shapes (Pang et al., CVPR 2020; lartpang/MINet)."""
    e = _conv('div_2.0', 64, 3, 7, bias=False) + _bn('div_2.1', 64)
    inplanes = 64
    for name, blocks, planes in (('div_4.1', 3, 64), ('div_8', 4, 128), ('div_16', 6, 256),
                                 ('div_32', 3, 512)):
        for b in range(blocks):
            p = f'{name}.{b}'
            e += _conv(f'{p}.conv1', planes, inplanes, 1, False) + _bn(f'{p}.bn1', planes)
            e += _conv(f'{p}.conv2', planes, planes, 3, False) + _bn(f'{p}.bn2', planes)
            e += _conv(f'{p}.conv3', 4 * planes, planes, 1, False) + _bn(f'{p}.bn3', 4 * planes)
            if b == 0:
                e += _conv(f'{p}.downsample.0', 4 * planes, inplanes, 1, False)
                e += _bn(f'{p}.downsample.1', 4 * planes)
            inplanes = 4 * planes
    e += minet_aim2_keys('trans.conv0', 64, 256, 'high')
    e += minet_aim3_keys('trans.conv1', 64, 256, 512)
    e += minet_aim3_keys('trans.conv2', 256, 512, 1024)
    e += minet_aim3_keys('trans.conv3', 512, 1024, 2048)
    e += minet_aim2_keys('trans.conv4', 1024, 2048, 'low')
    for s in (32, 16, 8, 4, 2):
        e += minet_sim_keys(f'sim{s}', 64, 32)
    for n, cout, cin in (('32', 64, 64), ('16', 64, 64), ('8', 64, 64), ('4', 64, 64),
                         ('2', 32, 64), ('1', 32, 32)):
        e += _conv(f'upconv{n}.basicconv.0', cout, cin, 3, False) + _bn(
            f'upconv{n}.basicconv.1', cout)
    return e + _conv('classifier', 1, 32, 1)


def minet_aim2_keys(p, c_h, c_l, main, out=64, mid=None):
    mid = min(c_h, c_l) if mid is None else mid
    e = _conv(f'{p}.h2h_0', mid, c_h, 3) + _conv(f'{p}.l2l_0', mid, c_l, 3)
    e += _bn(f'{p}.bnh_0', mid) + _bn(f'{p}.bnl_0', mid)
    for n in ('h2h_1', 'h2l_1', 'l2h_1', 'l2l_1'):
        e += _conv(f'{p}.{n}', mid, mid, 3)
    e += _bn(f'{p}.bnl_1', mid) + _bn(f'{p}.bnh_1', mid)
    if main == 'high':
        e += _conv(f'{p}.h2h_2', mid, mid, 3) + _conv(f'{p}.l2h_2', mid, mid, 3)
        e += _bn(f'{p}.bnh_2', mid) + _conv(f'{p}.h2h_3', out, mid, 3) + _bn(f'{p}.bnh_3', out)
        return e + _conv(f'{p}.identity', out, c_h, 1)
    e += _conv(f'{p}.h2l_2', mid, mid, 3) + _conv(f'{p}.l2l_2', mid, mid, 3)
    e += _bn(f'{p}.bnl_2', mid) + _conv(f'{p}.l2l_3', out, mid, 3) + _bn(f'{p}.bnl_3', out)
    return e + _conv(f'{p}.identity', out, c_l, 1)


def minet_aim3_keys(p, c_h, c_m, c_l, out=64, mid=None):
    mid = min(c_h, c_m, c_l) if mid is None else mid
    e = _conv(f'{p}.h2h_0', mid, c_h, 3) + _conv(f'{p}.m2m_0', mid, c_m, 3)
    e += _conv(f'{p}.l2l_0', mid, c_l, 3)
    e += _bn(f'{p}.bnh_0', mid) + _bn(f'{p}.bnm_0', mid) + _bn(f'{p}.bnl_0', mid)
    for n in ('h2h_1', 'h2m_1', 'm2h_1', 'm2m_1', 'm2l_1', 'l2m_1', 'l2l_1'):
        e += _conv(f'{p}.{n}', mid, mid, 3)
    e += _bn(f'{p}.bnh_1', mid) + _bn(f'{p}.bnm_1', mid) + _bn(f'{p}.bnl_1', mid)
    for n in ('h2m_2', 'l2m_2', 'm2m_2'):
        e += _conv(f'{p}.{n}', mid, mid, 3)
    e += _bn(f'{p}.bnm_2', mid) + _conv(f'{p}.m2m_3', out, mid, 3) + _bn(f'{p}.bnm_3', out)
    return e + _conv(f'{p}.identity', out, c_m, 1)


def minet_sim_keys(p, hc, lc):
    e = _conv(f'{p}.h2l_0', lc, hc, 3) + _conv(f'{p}.h2h_0', hc, hc, 3)
    e += _bn(f'{p}.bnl_0', lc) + _bn(f'{p}.bnh_0', hc)
    e += _conv(f'{p}.h2h_1', hc, hc, 3) + _conv(f'{p}.h2l_1', lc, hc, 3)
    e += _conv(f'{p}.l2h_1', hc, lc, 3) + _conv(f'{p}.l2l_1', lc, lc, 3)
    e += _bn(f'{p}.bnl_1', lc) + _bn(f'{p}.bnh_1', hc)
    e += _conv(f'{p}.h2h_2', hc, hc, 3) + _conv(f'{p}.l2h_2', hc, lc, 3) + _bn(f'{p}.bnh_2', hc)
    return e


# (height, in, mid, out, dilated) per stage (Qin et al. 2020, Sec. 3.2; U2NET in model/u2net.py)
U2NET = OrderedDict(
    stage1=(7, 3, 32, 64, 0),
    stage2=(6, 64, 32, 128, 0),
    stage3=(5, 128, 64, 256, 0),
    stage4=(4, 256, 128, 512, 0),
    stage5=(4, 512, 256, 512, 1),
    stage6=(4, 512, 256, 512, 1),
    stage5d=(4, 1024, 256, 512, 1),
    stage4d=(4, 1024, 128, 256, 0),
    stage3d=(5, 512, 64, 128, 0),
    stage2d=(6, 256, 32, 64, 0),
    stage1d=(7, 128, 16, 64, 0))
U2NETP = OrderedDict((k, (h, 3 if k == 'stage1' else (128 if k.endswith('d') else 64), 16, 64, d))
                     for k, (h, _, _, _, d) in U2NET.items())
# inputs of side1..side6 (De1, De2, De3, De4, De5, En6)
U2NET_SIDES = (64, 64, 128, 256, 512, 512)
U2NETP_SIDES = (64, ) * 6


def u2net_stage_keys(p, height, cin, mid, cout):

    def unit(name, o, i):
        return _conv(f'{p}.{name}.conv_s1', o, i, 3) + _bn(f'{p}.{name}.bn_s1', o)

    e = unit('rebnconvin', cout, cin) + unit('rebnconv1', mid, cout)
    for k in range(2, height + 1):
        e += unit(f'rebnconv{k}', mid, mid)
    for k in range(height - 1, 1, -1):
        e += unit(f'rebnconv{k}d', mid, 2 * mid)
    return e + unit('rebnconv1d', cout, 2 * mid)


def u2net_keys(stages, sides):
    e = []
    for name, (h, cin, mid, cout, _) in stages.items():
        e += u2net_stage_keys(name, h, cin, mid, cout)
    for i, c in enumerate(sides, start=1):
        e += _conv(f'side{i}', 1, c, 3)
    return e + _conv('outconv', 1, 6, 1)


def _digest(entries):
    lines = sorted(f'{k} {list(s)}' for k, s in entries)
    return hashlib.sha256('\n'.join(lines).encode()).hexdigest()


def _params(entries):
    n = 0
    for k, s in entries:
        if not k.endswith(('running_mean', 'running_var', 'num_batches_tracked')):
            n += int(torch.Size(s).numel())
    return n


def _meta_state_dict(entries):
    return OrderedDict((k, torch.empty(s, device='meta')) for k, s in entries)


@pytest.mark.parametrize('name,make,count,params,digest', [
    ('minet_res50', minet_res50_keys, 871, 162378305,
     'ddbeb7d5d357ea666fc8f94f2fe88fb43f0e58d4a80be99445bdbad82c63a818'),
    ('u2net', lambda: u2net_keys(U2NET, U2NET_SIDES), 798, 44009869,
     'ecf1d387b17375bb5b7b5fdb5fdaf451bd5e088bfc8c159db5397e4b0e7a6fab'),
    ('u2netp', lambda: u2net_keys(U2NETP, U2NETP_SIDES), 798, 1131181,
     '51776994aff0a4600ad70fe38b75da2599e376d80e5240c876e864c9c2f0ab1b'),
])
def test_synthesised_key_lists_equal_the_reference_files(name, make, count, params, digest):
    entries = make()
    assert len(entries) == len({k for k, _ in entries}) == count
    assert _params(entries) == params
    assert _digest(entries) == digest, f'{name}: keys/shapes differ from the reference code'


# ------------------------------------------------------------------ MINet
def _afiu_meta(**head):
    init_default_scope('mmseg')
    cfg = Config.fromfile(AFIU_MODEL)
    cfg.model.decode_head.update(head)
    with torch.device('meta'):
        return MODELS.build(cfg.model)


def test_minet_every_key_mapped_and_strict_load_into_afiu():
    src = _meta_state_dict(minet_res50_keys())
    out, report = convert_minet(src)
    dropped = {k.split('.')[0] for k in report['dropped']}
    assert dropped == {
        'upconv32', 'upconv16', 'upconv8', 'upconv4', 'upconv2', 'upconv1', 'classifier'
    }
    assert len(report['dropped']) == 6 * 6 + 2 and not report['unmapped']
    assert len(report['mapped']) == len(out) == 871 - len(report['dropped'])
    for s, d in report['mapped']:  # the very tensors, renamed
        assert out[d] is src[s]
    model = _afiu_meta()
    target = {k: v.shape for k, v in model.state_dict().items()}
    assert check_target_shapes(out, target) == []
    # every key of the backbone, the AIMs and the SIMs is covered (the fusion convs are AFIU's own)
    for name, module in (('backbone', model.backbone), ('neck.aims', model.neck.aims),
                         ('neck.sims', model.neck.sims)):
        sub = OrderedDict(
            (k[len(name) + 1:], v) for k, v in out.items() if k.startswith(name + '.'))
        assert set(sub) == set(module.state_dict()), name
        module.load_state_dict(sub, strict=True, assign=True)
    assert not [k for k in out if k.startswith('neck.fusions')]


def test_minet_block_and_level_names():
    out, report = convert_minet(_meta_state_dict(minet_res50_keys()))
    pairs = dict(report['mapped'])
    assert pairs['div_2.0.weight'] == 'backbone.conv1.weight'
    assert pairs['div_4.1.0.downsample.0.weight'] == 'backbone.layer1.0.downsample.0.weight'
    assert pairs['div_32.2.bn3.running_var'] == 'backbone.layer4.2.bn3.running_var'
    assert pairs['trans.conv0.l2h_1.weight'] == 'neck.aims.0.stage1.h.convs.l.weight'
    assert pairs['trans.conv4.l2l_3.bias'] == 'neck.aims.4.out_conv.bias'
    assert pairs['trans.conv4.bnl_2.weight'] == 'neck.aims.4.stage2.bn.weight'
    assert pairs['trans.conv2.m2l_1.weight'] == 'neck.aims.2.stage1.l.convs.m.weight'
    assert pairs['sim2.h2l_0.weight'] == 'neck.sims.0.proj.l.conv.weight'
    assert pairs['sim32.l2h_2.weight'] == 'neck.sims.4.stage2.convs.l.weight'
    assert out['neck.aims.4.stage2.convs.h.weight'].shape == (1024, 1024, 3, 3)
    # the block-level renaming alone (also used by tests/test_models/test_necks)
    assert convert_block_key('h2m_1.weight') == 'stage1.m.convs.h.weight'
    assert convert_block_key('bnm_3.running_var') == 'out_bn.running_var'
    assert convert_block_key('identity.bias') == 'identity.bias'
    assert convert_block_key('h2m_4.weight') is None and convert_block_key('fc.weight') is None


def test_minet_parts_wrappers_and_refusal():
    entries = minet_res50_keys()
    src = _meta_state_dict(entries)
    out, report = convert_minet(src, parts=['neck'])
    assert all(k.startswith('neck.') for k in out) and report['skipped']
    assert all(k.startswith(('div_', )) for k in report['skipped'])
    wrapped = {'state_dict': OrderedDict(('module.' + k, v) for k, v in src.items())}
    out2, _ = convert_minet(wrapped)
    assert list(out2) == list(convert_minet(src)[0])
    bad = OrderedDict(
        src, **{
            'extra.weight': torch.empty(1, device='meta'),
            'trans.conv0.zz_1.weight': torch.empty(1, device='meta')
        })
    with pytest.raises(ValueError, match='2 key.*extra.weight'):
        convert_minet(bad)
    _, report = convert_minet(bad, allow_unmapped=True)
    assert sorted(report['unmapped']) == ['extra.weight', 'trans.conv0.zz_1.weight']
    with pytest.raises(ValueError, match='unknown part'):
        convert_minet(src, parts=['head'])


def test_minet_config_check_reports_misfits():
    # a target whose first SIM is narrower: the shape check names the key and both shapes
    model = _afiu_meta()
    target = {k: v.shape for k, v in model.state_dict().items()}
    out, _ = convert_minet(_meta_state_dict(minet_res50_keys()))
    target['neck.sims.0.proj.h.conv.weight'] = torch.Size([16, 16, 3, 3])
    problems = check_target_shapes(out, target)
    assert problems == [
        'neck.sims.0.proj.h.conv.weight: shape (64, 64, 3, 3) != target '
        '(16, 16, 3, 3)'
    ]


# ------------------------------------------------------------------ U²-Net
@pytest.mark.parametrize('which', ['u2net', 'u2netp'])
def test_u2net_every_stage_strict_loads_into_rsu(which):
    stages, sides = (U2NET, U2NET_SIDES) if which == 'u2net' else (U2NETP, U2NETP_SIDES)
    src = _meta_state_dict(u2net_keys(stages, sides))
    for stage, (h, cin, mid, cout, dilated) in stages.items():
        out, report = convert_u2net(src, stage_map={stage: ''})
        assert report['stages'] == {stage: ('', h, 14 * (2 * h) // 2)}  # 2L units x 7 keys
        with torch.device('meta'):
            block = RSU(h, cin, mid, cout, dilated=bool(dilated))
        own = block.state_dict()
        assert set(out) == set(own)
        assert all(tuple(out[k].shape) == tuple(own[k].shape) for k in own)
        block.load_state_dict(out, strict=True, assign=True)
        # every other key is dropped, none unmapped
        assert len(report['dropped']) == 798 - len(out) and not report['unmapped']


def test_u2net_key_renaming():
    f = convert_rsu_key
    assert f('rebnconvin.conv_s1.weight', 7) == 'conv_in.conv.weight'
    assert f('rebnconv1.bn_s1.running_mean', 7) == 'encoders.0.bn.running_mean'
    assert f('rebnconv6.conv_s1.bias', 7) == 'encoders.5.conv.bias'
    assert f('rebnconv7.conv_s1.weight', 7) == 'bottom.conv.weight'
    assert f('rebnconv4.bn_s1.num_batches_tracked', 4) == 'bottom.bn.num_batches_tracked'
    assert f('rebnconv3d.conv_s1.weight', 4) == 'decoders.2.conv.weight'
    assert f('rebnconv1d.bn_s1.weight', 5) == 'decoders.0.bn.weight'
    assert f('rebnconv5d.conv_s1.weight', 5) is None  # no decoder at the bottom level
    assert f('rebnconv8.conv_s1.weight', 7) is None and f('side1.weight', 7) is None


def test_u2netp_decoder_into_afiu_head_where_structures_coincide():
    src = _meta_state_dict(u2net_keys(U2NETP, U2NETP_SIDES))
    model = _afiu_meta(mid_channels=16)
    target = {k: v.shape for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match='stage5d: decode_head.blocks.4.conv_in.conv.weight'):
        convert_u2net(src, target_shapes=target)
    out, report = convert_u2net(src, target_shapes=target, skip_mismatched=True)
    assert list(report['stages']) == ['stage4d', 'stage3d', 'stage2d', 'stage1d']
    assert list(report['mismatched']) == ['stage5d']
    for i in range(4):
        prefix = f'decode_head.blocks.{i}.'
        sub = OrderedDict((k[len(prefix):], v) for k, v in out.items() if k.startswith(prefix))
        model.decode_head.blocks[i].load_state_dict(sub, strict=True, assign=True)
    assert len(out) == sum(len(model.decode_head.blocks[i].state_dict()) for i in range(4))
    # the full U²-Net: only stage1d (RSU7(128, 16, 64)) coincides with an AFIU level
    src = _meta_state_dict(u2net_keys(U2NET, U2NET_SIDES))
    _, report = convert_u2net(src, target_shapes=target, skip_mismatched=True)
    assert list(report['stages']) == ['stage1d']
