"""dbdseg.utils.model_conversion.{minet,u2net} on state dicts synthesised from the reference
models' key lists (MINet_Res50 of lartpang/MINet; U2NET and U2NETP of xuebinqin/U-2-Net).

The key lists (the converters' ``reference_spec``) are pinned to the
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
from dbdseg.utils.model_conversion.minet import reference_spec as minet_reference_spec
from dbdseg.utils.model_conversion.u2net import (U2NET_STAGES, U2NETP_STAGES, convert_rsu_key,
                                                 convert_u2net)
from dbdseg.utils.model_conversion.u2net import reference_spec as u2net_reference_spec

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
AFIU_MODEL = osp.join(ROOT, 'configs/_base_/models/afiu.py')


# ------------------------------------------------------------------ reference key lists
def minet_res50_keys():
    """MINet_Res50 state-dict keys and shapes (Pang et al., CVPR 2020; lartpang/MINet)."""
    return list(minet_reference_spec().items())


def u2net_keys(variant):
    """U2NET / U2NETP state-dict keys and shapes (Qin et al. 2020; xuebinqin/U-2-Net)."""
    return list(u2net_reference_spec(variant).items())


U2NET, U2NETP = U2NET_STAGES, U2NETP_STAGES


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
    ('u2net', lambda: u2net_keys('u2net'), 798, 44009869,
     'ecf1d387b17375bb5b7b5fdb5fdaf451bd5e088bfc8c159db5397e4b0e7a6fab'),
    ('u2netp', lambda: u2net_keys('u2netp'), 798, 1131181,
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
    _, report = convert_minet(bad, allow_partial=True)
    assert sorted(report['unmapped']) == ['extra.weight', 'trans.conv0.zz_1.weight']
    with pytest.raises(ValueError, match='unknown part'):
        convert_minet(src, parts=['head'])


@pytest.mark.parametrize('key',
                         ['sim8.l2h_1.weight', 'div_16.3.bn2.running_var', 'classifier.bias'])
def test_minet_missing_reference_key_is_refused(key):
    """One key of the reference layout missing (issue 18 item 11): refused, named; with
    ``allow_partial`` listed; the counters of old checkpoints are not required."""
    src = _meta_state_dict(minet_res50_keys())
    del src[key]
    with pytest.raises(ValueError, match=f'1 MINet_Res50 key.*missing.*{key}.*--allow-partial'):
        convert_minet(src)
    out, report = convert_minet(src, allow_partial=True)
    assert report['missing'] == [key]
    assert len(out) + len(report['dropped']) == 871 - 1
    # a key of a part not asked for is not needed
    if key.startswith('div_'):
        assert convert_minet(src, parts=['neck'])[1]['missing'] == []
    del src['div_2.1.num_batches_tracked']  # old checkpoints: no counters
    assert convert_minet(src, allow_partial=True)[1]['missing'] == [key]


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
    stages = U2NET if which == 'u2net' else U2NETP
    src = _meta_state_dict(u2net_keys(which))
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
    src = _meta_state_dict(u2net_keys('u2netp'))
    model = _afiu_meta(mid_channels=16)
    target = {k: v.shape for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match='stage5d: decode_head.blocks.4.conv_in.conv.weight'):
        convert_u2net(src, target_shapes=target)
    out, report = convert_u2net(src, target_shapes=target, allow_partial=True)
    assert list(report['stages']) == ['stage1d', 'stage2d', 'stage3d', 'stage4d']  # map order
    assert list(report['mismatched']) == ['stage5d']
    for i in range(4):
        prefix = f'decode_head.blocks.{i}.'
        sub = OrderedDict((k[len(prefix):], v) for k, v in out.items() if k.startswith(prefix))
        model.decode_head.blocks[i].load_state_dict(sub, strict=True, assign=True)
    assert len(out) == sum(len(model.decode_head.blocks[i].state_dict()) for i in range(4))
    # the full U²-Net: only stage1d (RSU7(128, 16, 64)) coincides with an AFIU level
    src = _meta_state_dict(u2net_keys('u2net'))
    _, report = convert_u2net(src, target_shapes=target, allow_partial=True)
    assert list(report['stages']) == ['stage1d']


@pytest.mark.parametrize('which', ['u2net', 'u2netp'])
def test_u2net_default_map_fits_nothing_of_the_afiu_paper_config(which):
    """AFIU's RSU widths are not U²-Net's: with the paper config as target (the converter's
    default) no stage fits, and the conversion is refused instead of writing misfits."""
    src = _meta_state_dict(u2net_keys(which))
    cfg = Config.fromfile(osp.join(ROOT, 'configs/afiu/afiu_r50_1xb8-32k_cuhk-320x320.py'))
    init_default_scope('mmseg')
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    target = {k: v.shape for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match='do not fit the target.*stage1d'):
        convert_u2net(src, target_shapes=target)
    out, report = convert_u2net(src, target_shapes=target, allow_partial=True)
    assert out == OrderedDict() and list(
        report['mismatched']) == [f'stage{i}d' for i in range(1, 6)]


def test_u2net_reference_layout_checks():
    """A stray key does not change a stage's height (it is refused as not in the reference
    layout); a missing key and a foreign shape are refused; ``allow_partial`` lists each."""
    src = _meta_state_dict(u2net_keys('u2netp'))
    stray = OrderedDict(src)
    stray['stage3.rebnconv9.conv_s1.weight'] = torch.empty(16, 16, 3, 3, device='meta')
    with pytest.raises(ValueError, match=r'1 key\(s\) not in the u2netp reference.*rebnconv9'):
        convert_u2net(stray, stage_map={'stage3': ''})
    out, report = convert_u2net(stray, stage_map={'stage3': ''}, allow_partial=True)
    assert report['unmapped'] == ['stage3.rebnconv9.conv_s1.weight']
    assert report['stages'] == {'stage3': ('', 5, 70)}
    assert 'bottom.conv.weight' in out and out['bottom.conv.weight'] is src[
        'stage3.rebnconv5.conv_s1.weight']
    missing = OrderedDict(src)
    del missing['side3.bias']
    with pytest.raises(ValueError, match='1 u2netp reference key.*side3.bias'):
        convert_u2net(missing, stage_map={'stage3': ''})
    assert convert_u2net(missing, stage_map={}, allow_partial=True)[1]['missing'] == ['side3.bias']
    wrong = OrderedDict(src)
    wrong['stage3.rebnconv2.conv_s1.weight'] = torch.empty(16, 32, 3, 3, device='meta')
    with pytest.raises(ValueError, match='shape.*stage3.rebnconv2.conv_s1.weight'):
        convert_u2net(wrong, stage_map={'stage3': ''})
    assert convert_u2net(src, stage_map={})[1]['variant'] == 'u2netp'
    assert convert_u2net(
        _meta_state_dict(u2net_keys('u2net')), stage_map={})[1]['variant'] == 'u2net'
    with pytest.raises(ValueError, match='not U²-Net stages'):
        convert_u2net(src, stage_map={'stage9': ''})
