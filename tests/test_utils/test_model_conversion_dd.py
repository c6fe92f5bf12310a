"""dbdseg.utils.model_conversion.depth_distillation (DD checkpoints -> dbdseg keys).

The official state dicts are synthesised here from the layout of vinthony/depth-distillation (the
Torch7-converted ResNeXt Sequential, the VGG16 ``features``, the decoder ``deconvK`` /
``classifierK`` / ``sideattK`` / ``fusion(d)``; Cun & Pun, ECCV 2020, Sec. 3.2), checked against
the counts measured from the reference code (entries, parameters, buffers), so the tests run
without the measured key lists; when those lists are present next to the checkout, one more test
compares the synthesised key/shape lists with them line by line. Every tensor gets a distinct
constant value, so the tests see that each one lands on the right key. The command line is tested
in tests/test_tools/test_dd_converter.py.
"""
import os
import os.path as osp
from collections import OrderedDict

import pytest
import torch
from mmengine.registry import init_default_scope

from dbdseg.registry import MODELS
from dbdseg.utils.model_conversion.depth_distillation import (check_against_target, convert_dd,
                                                              convert_dd_key, detect_layout,
                                                              summary)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# optional maintainer check: a folder of key lists dumped from the official DD models
# (dd_resskspp.txt, dd_vggskspp.txt), named by DBDSEG_REFERENCE_KEYS; skipped without it
REFERENCE_DIR = os.environ.get('DBDSEG_REFERENCE_KEYS', '')
#: measured from the reference code (res_best.pth layout and its VGG16 variant)
REF_COUNTS = {
    'resskspp':
    dict(entries=909, params=510, buffers=399, total_params=84468186, backbone_params=42128704),
    'vggskspp':
    dict(entries=311, params=224, buffers=87, total_params=19436634, backbone_params=14714688),
}
BN = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')


@pytest.fixture(autouse=True, scope='module')
def _single_thread():
    """Small tensors: one intra-op thread is faster, and immune to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _bn(prefix, c):
    return [(f'{prefix}.{p}', [c] if p != 'num_batches_tracked' else [],
             'param' if p in ('weight', 'bias') else 'buffer') for p in BN]


def _conv(prefix, cout, cin, k, bias=True):
    rows = [(f'{prefix}.weight', [cout, cin, k, k], 'param')]
    if bias:
        rows.append((f'{prefix}.bias', [cout], 'param'))
    return rows


def official_resnext_backbone(prefix='pretrained_net.'):
    """(key, shape, kind) rows of DD's Torch7 ResNeXt-101 32x4d, in state-dict order."""
    rows = _conv(f'{prefix}layer0.0', 64, 3, 7, bias=False) + _bn(f'{prefix}layer0.1', 64)
    inplanes = 64
    for stage, (n, planes) in enumerate(zip((3, 4, 23, 3), (64, 128, 256, 512)), start=1):
        width, out = planes * 2, planes * 4  # 32 groups x 4 x planes / 64; expansion 4
        stage_prefix = f'{prefix}layer{stage}.1' if stage == 1 else f'{prefix}layer{stage}'
        for b in range(n):
            p = f'{stage_prefix}.{b}.0'
            rows += _conv(f'{p}.0.0.0', width, inplanes, 1, bias=False) + _bn(f'{p}.0.0.1', width)
            rows += _conv(f'{p}.0.0.3', width, width // 32, 3, bias=False)
            rows += _bn(f'{p}.0.0.4', width)
            rows += _conv(f'{p}.0.1', out, width, 1, bias=False) + _bn(f'{p}.0.2', out)
            if b == 0:
                rows += _conv(f'{p}.1.0', out, inplanes, 1, bias=False) + _bn(f'{p}.1.1', out)
            inplanes = out
    return rows


def official_vgg16_backbone():
    rows = []
    cin = 3
    for idx, cout in zip((0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28),
                         (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)):
        rows += _conv(f'pretrained_net.features.{idx}', cout, cin, 3)
        cin = cout
    return rows


def official_decoder(ins, outs):
    rows = []
    for k, (cin, cout) in enumerate(zip(ins, outs), start=1):
        c = cin // 4
        d = max(c // 16, 32)
        p = f'deconv{k}'
        rows += _conv(f'{p}.prev', c, cin, 3) + _bn(f'{p}.bn', c)
        rows += _conv(f'{p}.next', cout, c, 1) + _bn(f'{p}.bn2', cout)
        for j, ks in enumerate((3, 5, 7)):
            rows += _conv(f'{p}.sk.convs.{j}.0', c, c, ks) + _bn(f'{p}.sk.convs.{j}.1', c)
        rows += [(f'{p}.sk.fc.weight', [d, c], 'param'), (f'{p}.sk.fc.bias', [d], 'param')]
        for j in range(4):
            rows += [(f'{p}.sk.fcs.{j}.weight', [c, d], 'param'),
                     (f'{p}.sk.fcs.{j}.bias', [c], 'param')]
    for k, cout in enumerate(outs, start=1):
        for s in (0, 1):
            rows += _conv(f'classifier{k}.sides.{s}', 1, cout, 1)
    for k in range(1, 5):
        rows += _conv(f'sideatt{k}.conv1', 32, 2, 3) + _bn(f'sideatt{k}.bn', 32)
        rows += _conv(f'sideatt{k}.conv2', 1, 32, 3)
    rows += _conv('fusion', 1, 5, 1) + _conv('fusiond', 1, 5, 1)
    return rows


def official_rows(layout):
    if layout == 'resskspp':
        return official_resnext_backbone() + official_decoder((2048, 1024, 512, 256, 64),
                                                              (1024, 512, 256, 64, 32))
    return official_vgg16_backbone() + official_decoder((512, 512, 256, 128, 64),
                                                        (512, 256, 128, 64, 32))


def synthesise(rows):
    """State dict with every tensor filled with its own index (counters: index as int64).

    The tensors are expanded scalars (no memory for the 84M values of the ResNeXt model)."""
    sd = OrderedDict()
    for i, (key, shape, _) in enumerate(rows):
        if key.endswith('num_batches_tracked'):
            sd[key] = torch.tensor(i, dtype=torch.long)
        else:
            sd[key] = torch.tensor(float(i)).expand(shape)
    return sd


def build_dd(backbone, device='cpu'):
    """EncoderDecoder with the DD head on ResNeXt-101 32x4d or VGG16; ``device='meta'`` builds no
    weights (a strict ``load_state_dict(..., assign=True)`` still checks every key and shape)."""
    init_default_scope('mmseg')
    head = dict(type='SABHead')
    if backbone == 'vgg':
        bb = dict(type='VGGWithStem', depth=16, init_cfg=None)
        head['in_channels'] = (64, 128, 256, 512, 512)
    else:
        bb = dict(type='ResNeXtWithStem', depth=101, groups=32, base_width=4)
    with torch.device(device):
        return MODELS.build(
            dict(
                type='EncoderDecoder',
                backbone=bb,
                decode_head=head,
                data_preprocessor=dict(type='SegDataPreProcessor')))


@pytest.mark.parametrize('layout', ['resskspp', 'vggskspp'])
def test_synthesised_layout_matches_reference_counts(layout):
    rows = official_rows(layout)
    ref = REF_COUNTS[layout]
    assert len(rows) == ref['entries']
    assert sum(kind == 'param' for *_, kind in rows) == ref['params']
    assert sum(kind == 'buffer' for *_, kind in rows) == ref['buffers']
    numel = [torch.Size(shape).numel() for _, shape, kind in rows if kind == 'param']
    assert sum(numel) == ref['total_params']
    backbone = [
        torch.Size(s).numel() for k, s, kind in rows
        if kind == 'param' and k.startswith('pretrained_net.')
    ]
    assert sum(backbone) == ref['backbone_params']


@pytest.mark.skipif(
    not (REFERENCE_DIR and osp.isdir(REFERENCE_DIR)),
    reason='DBDSEG_REFERENCE_KEYS (official key lists) not set')
@pytest.mark.parametrize('layout', ['resskspp', 'vggskspp'])
def test_synthesised_layout_equals_reference_file(layout):
    path = osp.join(REFERENCE_DIR, f'dd_{layout}.txt')
    with open(path) as f:
        lines = f.read().split('## state_dict')[1].splitlines()[1:]
    ref = [tuple(line.split('\t')) for line in lines if line.strip()]
    ours = [(k, str(list(s)).replace(' ', ''), kind) for k, s, kind in official_rows(layout)]
    ref = [(k, s.replace(' ', ''), kind) for k, s, kind in ref]
    assert ours == ref


@pytest.mark.parametrize('layout,backbone', [('resskspp', 'resnext'), ('vggskspp', 'vgg')])
def test_convert_maps_every_key_and_loads_strict(layout, backbone):
    src = synthesise(official_rows(layout))
    out, report = convert_dd(src)
    assert report['layout'] == layout
    assert len(report['mapped']) == len(src) and not report['added']
    model = build_dd(backbone, device='meta')
    target = model.state_dict()
    assert check_against_target(out, {k: v.shape for k, v in target.items()}) == []
    missing, unexpected = model.load_state_dict(out, strict=True, assign=True)
    assert not missing and not unexpected
    # every value landed where the mapping says (distinct constant per source tensor)
    loaded = model.state_dict()
    for old, new in report['mapped']:
        assert torch.equal(loaded[new], src[old]), (old, new)
    # spot checks of the table in the module docstring
    mapped = dict(report['mapped'])
    assert mapped['deconv1.prev.weight'] == 'decode_head.blocks.0.reduce.conv.weight'
    assert mapped['deconv5.sk.fcs.3.bias'] == 'decode_head.blocks.4.pyramid.fcs.3.bias'
    assert mapped['deconv2.sk.convs.2.1.running_var'] == \
        'decode_head.blocks.1.pyramid.branches.2.bn.running_var'
    assert mapped['classifier3.sides.1.weight'] == 'decode_head.depth_convs.2.weight'
    assert mapped['sideatt4.bn.weight'] == 'decode_head.sabs.3.conv1.bn.weight'
    assert mapped['fusion.weight'] == 'decode_head.conv_seg.weight'
    assert mapped['fusiond.bias'] == 'decode_head.depth_fusion.bias'
    if layout == 'resskspp':
        assert mapped['pretrained_net.layer1.1.0.0.1.0.weight'] == \
            'backbone.layer1.0.downsample.0.weight'
        assert mapped['pretrained_net.layer3.22.0.0.0.3.weight'] == \
            'backbone.layer3.22.conv2.weight'
        assert mapped['pretrained_net.layer0.1.running_mean'] == 'backbone.bn1.running_mean'
    else:
        assert mapped['pretrained_net.features.28.bias'] == 'backbone.features.28.bias'


def test_converted_model_reproduces_reference_forward():
    """With converted weights the model's output is the reference PredictionFusion: the source
    'fusion' 1x1 conv applied to the five side outputs resized bilinearly (DD Sec. 3.2, Fig. 2(b)),
    recomputed here by hand from the source tensors."""
    torch.manual_seed(0)
    src = OrderedDict(
        (k, torch.randn(s) * 0.05 if not k.endswith('num_batches_tracked') else torch.tensor(0))
        for k, s, _ in official_rows('vggskspp'))
    for k in src:
        if k.endswith('running_var'):
            src[k] = src[k].abs() + 1.0
    out, _ = convert_dd(src)
    model = build_dd('vgg').eval()
    model.load_state_dict(out, strict=True)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        fused = model._forward(x)
    assert fused.shape == (1, 1, 32, 32)
    # the fusion conv is the reference 'fusion' layer: recompute it from the sides by hand
    with torch.no_grad():
        outs = model.decode_head._forward_all(model.extract_feat(x))
        sides = torch.cat([
            torch.nn.functional.interpolate(s, size=(32, 32), mode='bilinear', align_corners=False)
            for s in outs['sides']
        ],
                          dim=1)
        manual = torch.nn.functional.conv2d(sides, src['fusion.weight'], src['fusion.bias'])
    assert torch.allclose(fused, manual, atol=1e-6)


def test_wrappers_and_missing_counters_are_handled():
    rows = official_rows('vggskspp')
    src = synthesise(rows)
    src = OrderedDict(
        (f'module.{k}', v) for k, v in src.items() if not k.endswith('num_batches_tracked'))
    out, report = convert_dd({'state_dict': src})
    assert report['layout'] == 'vggskspp'
    n_bn = sum(k.endswith('num_batches_tracked') for k, _, _ in rows)
    assert len(report['added']) == n_bn == 5 * 5 + 4  # 5 BN per deconv, 1 per SAB
    model = build_dd('vgg', device='meta')
    model.load_state_dict(out, strict=True, assign=True)


def test_imagenet_resnext_backbone_only():
    rows = official_resnext_backbone(prefix='')
    # the flat Torch7 Sequential: layer0.{0,1} -> 0, 1; layer1.1.* -> 4.*; layer{2,3,4} -> 5, 6, 7
    src = OrderedDict()
    for i, (key, shape, _) in enumerate(rows):
        key = key.replace('layer0.0.', '0.').replace('layer0.1.', '1.').replace('layer1.1.', '4.')
        key = key.replace('layer2.', '5.').replace('layer3.', '6.').replace('layer4.', '7.')
        src[key] = torch.tensor(float(i)).expand(shape) if shape else torch.tensor(i)
    src['10.1.weight'] = torch.zeros(1000, 2048)
    src['10.1.bias'] = torch.zeros(1000)
    out, report = convert_dd(src)
    assert report['layout'] == 'imagenet_resnext'
    assert report['dropped'] == ['10.1.weight', '10.1.bias']
    init_default_scope('mmseg')
    with torch.device('meta'):
        backbone = MODELS.build(dict(type='ResNeXtWithStem', depth=101, groups=32, base_width=4))
    backbone.load_state_dict(out, strict=True, assign=True)
    assert torch.equal(backbone.layer4[2].conv3.weight, src['7.2.0.0.1.weight'])


def test_unknown_keys_are_refused():
    src = synthesise(official_rows('vggskspp'))
    src['deconv1.extra.weight'] = torch.zeros(1)
    with pytest.raises(ValueError, match='follow no rule'):
        convert_dd(src)
    with pytest.raises(ValueError, match='not a depth-distillation checkpoint'):
        convert_dd({'conv1.weight': torch.zeros(1)})


def test_key_rules_per_layout_and_summary():
    assert convert_dd_key('pretrained_net.layer0.0.weight', 'resskspp') == 'backbone.conv1.weight'
    assert convert_dd_key('pretrained_net.layer1.0.0.0.0.0.weight', 'resskspp') is None  # maxpool
    assert convert_dd_key('pretrained_net.layer2.3.0.0.2.bias', 'resskspp') == \
        'backbone.layer2.3.bn3.bias'
    assert convert_dd_key('pretrained_net.features.7.weight', 'vggskspp') == \
        'backbone.features.7.weight'
    assert convert_dd_key('5.1.0.0.0.4.running_var', 'imagenet_resnext') == \
        'layer2.1.bn2.running_var'
    assert convert_dd_key('1.weight', 'imagenet_resnext') == 'bn1.weight'
    assert convert_dd_key('sideatt6.conv2.weight', 'vggskspp') == 'decode_head.sabs.5.conv2.weight'
    assert convert_dd_key('deconv1.sk.extra.weight', 'vggskspp') is None
    for layout in ('resskspp', 'vggskspp'):
        assert detect_layout(k for k, _, _ in official_rows(layout)) == layout
    with pytest.raises(ValueError, match='layout must be one of'):
        convert_dd(synthesise(official_rows('vggskspp')), layout='vgg')
    src = synthesise(official_rows('vggskspp'))
    out, report = convert_dd(src)
    assert summary(report, out).splitlines() == [
        'layout vggskspp: mapped 311 keys (19,436,634 parameters) -> backbone: 26, '
        'decode_head: 285'
    ]
