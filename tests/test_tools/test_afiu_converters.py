"""Command line of tools/model_converters/{minet2dbdseg,u2net2dbdseg}.py, run through runpy: files
in and out, ``--config`` / ``--map`` / ``--parts`` handling, messages. The key mappings are tested
on the full reference key lists in tests/test_utils/test_model_conversion_afiu.py; here the source
checkpoints are small ones whose keys convert onto the AFIU model (or an RSU block)."""
import os.path as osp
import runpy
from collections import OrderedDict

import pytest
import torch

from dbdseg.models.utils import RSU
from dbdseg.utils.model_conversion import target_shapes_from_config
from dbdseg.utils.model_conversion.minet import convert_block_key
from dbdseg.utils.model_conversion.minet import reference_spec as minet_reference_spec
from dbdseg.utils.model_conversion.u2net import U2NETP_STAGES, convert_rsu_key

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(ROOT, 'tools', 'model_converters')
AFIU_MODEL = osp.join(ROOT, 'configs/_base_/models/afiu.py')
BN = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')


def _main(tool):
    """The ``main`` of a converter script (its module run by runpy, not as ``__main__``)."""
    return runpy.run_path(osp.join(TOOLS, f'{tool}.py'))['main']


def _value(shape, gen):
    return torch.randn(shape, generator=gen) if len(shape) else torch.tensor(3)


def _minet_sims(gen):
    """MINet SIM keys (``sim{2..32}.{s}2{d}_{k}`` / ``bn{d}_{k}``) of AFIU's shapes, random values:
    for every key of AFIU's five SIM blocks, the first name of the MINet scheme (``h`` before
    ``l``) that converts onto it (several do where a stage has one input or one output)."""
    target = target_shapes_from_config(AFIU_MODEL)
    names = [
        f'{s}2{d}_{k}.{p}' for s in 'hl' for d in 'hl' for k in '0123' for p in ('weight', 'bias')
    ] + [f'bn{d}_{k}.{p}' for d in 'hl' for k in '0123' for p in BN]
    src = OrderedDict()
    for level, stride in enumerate((2, 4, 8, 16, 32)):
        done = set()
        for name in names:
            new = f'neck.sims.{level}.{convert_block_key(name)}'
            if new in target and new not in done:
                done.add(new)
                src[f'sim{stride}.{name}'] = _value(target[new], gen)
    return src


def _gap_lines(text):
    """The gap lines ``--allow-partial`` prints (two-space indent after the header)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if '--allow-partial:' in line)
    n = int(lines[start].split('--allow-partial: ')[1].split(' ')[0])
    return lines[start + 1:start + 1 + n], n


def test_minet_cli_refuses_gaps_and_allow_partial_prints_every_one(tmp_path, capsys):
    """Issue 18 item 11: a source with only the SIM blocks of MINet_Res50 is refused (every
    other reference key is missing; the default target is the AFIU paper config); with
    ``--allow-partial`` the SIMs are written and every gap is printed."""
    gen = torch.Generator().manual_seed(0)
    src = _minet_sims(gen)
    assert len(src) == 5 * 41
    src['upconv1.basicconv.0.weight'] = torch.randn(32, 32, 3, 3, generator=gen)
    src['classifier.weight'] = torch.randn(1, 32, 1, 1, generator=gen)
    src['foo.bar'] = torch.zeros(1)
    src_path, dst_path = tmp_path / 'minet.pth', tmp_path / 'out' / 'afiu_neck.pth'
    torch.save(src, src_path)
    minet2dbdseg = _main('minet2dbdseg')
    with pytest.raises(SystemExit) as exc:
        minet2dbdseg([str(src_path), str(dst_path)])
    message = str(exc.value)
    assert 'afiu/afiu_r50_1xb8-32k_cuhk-320x320.py' in message and 'nothing written' in message
    assert message.startswith('minet2dbdseg: 1198 gap(s)')  # all counted, the first 40 named
    assert 'div_2.0.weight: MINet_Res50 key missing from the source' in message
    assert message.rstrip().endswith('pass --allow-partial to write what fits (every gap is then '
                                     'printed)')
    assert not dst_path.exists()
    capsys.readouterr()
    minet2dbdseg([str(src_path), str(dst_path), '--allow-partial'])
    text = capsys.readouterr().out
    assert 'dropped 2 MINet decoder keys (no AFIU counterpart): classifier, upconv1' in text
    gaps, n = _gap_lines(text)
    assert len(gaps) == n
    missing = [g for g in gaps if g.endswith('MINet_Res50 key missing from the source')]
    not_produced = [g for g in gaps if g.endswith('target key not produced by the conversion')]
    # every MINet key but the 205 SIM keys and the two decoder keys given; counters not required
    n_counters = sum(k.endswith('num_batches_tracked') for k in minet_reference_spec())
    assert len(missing) == 871 - 205 - 2 - (n_counters - 5 * 5)  # 5 BN per SIM
    target = target_shapes_from_config(
        osp.join(ROOT, 'configs/afiu/afiu_r50_1xb8-32k_cuhk-320x320.py'))
    assert len(not_produced) == sum(k.startswith(('backbone.', 'neck.aims.')) for k in target)
    assert '  foo.bar: source key follows no MINet_Res50 rule' in gaps
    assert n == len(missing) + len(not_produced) + 1
    ckpt = torch.load(dst_path, map_location='cpu', weights_only=True)
    assert ckpt['meta'] == dict(
        converted_from=str(src_path), converter='minet2dbdseg', parts=['backbone', 'neck'])
    assert torch.equal(ckpt['state_dict']['neck.sims.3.stage1.h.convs.l.weight'],
                       src['sim16.l2h_1.weight'])
    assert len(ckpt['state_dict']) == 5 * 41
    # --parts neck against the bare model config: only the AIMs are missing
    minet2dbdseg([
        str(src_path),
        str(dst_path), '--parts', 'neck', '--allow-partial', '--config', AFIU_MODEL
    ])
    gaps, n = _gap_lines(capsys.readouterr().out)
    assert not [g for g in gaps if 'div_' in g or 'backbone.' in g]
    assert [g for g in gaps if 'neck.aims.' in g] and not [g for g in gaps if 'neck.sims' in g]
    with pytest.raises(SystemExit, match='not found'):
        minet2dbdseg([str(tmp_path / 'absent.pth'), str(dst_path)])
    # a narrower target: the misfits are gaps and are not written
    minet2dbdseg([
        str(src_path),
        str(dst_path), '--allow-unmapped', '--config', AFIU_MODEL, '--cfg-options',
        'model.neck.sim_low_channels=16'
    ])
    gaps, _ = _gap_lines(capsys.readouterr().out)
    assert '  neck.sims.0.proj.l.conv.weight: shape (32, 64, 3, 3) != target (16, 64, 3, 3)' in gaps
    written = torch.load(dst_path, weights_only=True)['state_dict']
    assert 'neck.sims.0.proj.l.conv.weight' not in written and written
    # no check at all
    minet2dbdseg([str(src_path), str(dst_path), '--allow-partial', '--config', 'none'])
    assert 'the result is not checked against a model' in capsys.readouterr().out


def _u2netp(gen):
    """A U²-Net-lite state dict: every stage from U2NETP_STAGES with RSU's shapes under U²-Net's
    names (``rebnconv{in,k,kd}.{conv_s1,bn_s1}``), the side convolutions and ``outconv``."""
    src = OrderedDict()
    for stage, (height, cin, mid, cout, dilated) in U2NETP_STAGES.items():
        own = RSU(height, cin, mid, cout, dilated=dilated).state_dict()
        units = ['in'] + [str(k) for k in range(1, height + 1)]
        units += [f'{k}d' for k in range(height - 1, 0, -1)]
        for unit in units:
            for layer, params in (('conv_s1', ('weight', 'bias')), ('bn_s1', BN)):
                for p in params:
                    name = f'rebnconv{unit}.{layer}.{p}'
                    src[f'{stage}.{name}'] = _value(own[convert_rsu_key(name, height)].shape, gen)
    for i in range(1, 7):
        src[f'side{i}.weight'] = torch.randn(1, 64, 3, 3, generator=gen)
        src[f'side{i}.bias'] = torch.randn(1, generator=gen)
    src['outconv.weight'] = torch.randn(1, 6, 1, 1, generator=gen)
    src['outconv.bias'] = torch.randn(1, generator=gen)
    return src


def test_u2net_cli(tmp_path, capsys):
    gen = torch.Generator().manual_seed(0)
    src = _u2netp(gen)
    src_path, dst = tmp_path / 'u2netp.pth', tmp_path / 'u2netp_afiu.pth'
    torch.save(src, src_path)
    u2net2dbdseg = _main('u2net2dbdseg')
    # the default target, the AFIU paper config, fits no stage: refused, nothing written
    with pytest.raises(SystemExit) as exc:
        u2net2dbdseg([str(src_path), str(dst)])
    message = str(exc.value)
    assert 'afiu/afiu_r50_1xb8-32k_cuhk-320x320.py' in message
    for i in range(1, 6):
        assert f'stage{i}d does not fit the target' in message
    assert not dst.exists()
    with pytest.raises(SystemExit, match='(?s)stage5d does not fit.*--allow-partial'):
        u2net2dbdseg([
            str(src_path),
            str(dst), '--config', AFIU_MODEL, '--cfg-options', 'model.decode_head.mid_channels=16'
        ])
    capsys.readouterr()
    u2net2dbdseg([
        str(src_path),
        str(dst), '--config', AFIU_MODEL, '--skip-mismatched', '--cfg-options',
        'model.decode_head.mid_channels=16'
    ])
    text = capsys.readouterr().out
    assert 'stage1d  -> decode_head.blocks.0' in text and 'stage5d  does not fit' in text
    gaps, n = _gap_lines(text)
    assert n == len(gaps) > 0 and all(g.startswith('  stage5d does not fit') for g in gaps)
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert ckpt['meta']['stages'] == {
        f'stage{i}d': f'decode_head.blocks.{i - 1}'
        for i in (4, 3, 2, 1)
    }
    assert torch.equal(ckpt['state_dict']['decode_head.blocks.0.bottom.conv.weight'],
                       src['stage1d.rebnconv7.conv_s1.weight'])
    # one stage under its bare RSU names (no model to check against)
    u2net2dbdseg([str(src_path), str(dst), '--map', 'stage4=', '--config', 'none'])
    sd = torch.load(dst, map_location='cpu', weights_only=True)['state_dict']
    block = RSU(4, 64, 16, 64)
    block.load_state_dict(sd, strict=True)
    assert torch.equal(block.decoders[2].conv.weight, src['stage4.rebnconv3d.conv_s1.weight'])
    with pytest.raises(SystemExit, match='STAGE=PREFIX'):
        u2net2dbdseg([str(src_path), str(dst), '--map', 'stage4'])
    with pytest.raises(SystemExit, match=r"stage\(s\) \['stage9'\]"):
        u2net2dbdseg([str(src_path), str(dst), '--map', 'stage9=x'])
    # a stray key is refused (it does not change the stage's height); a missing key too
    for edit, gap in (
        (lambda d: d.update({'stage3.rebnconv9.conv_s1.weight': torch.zeros(16, 16, 3, 3)}),
         'stage3.rebnconv9.conv_s1.weight: source key follows no u2netp rule'),
        (lambda d: d.update({'extra.weight': torch.zeros(1)}),
         'extra.weight: source key follows no u2netp rule'),
        (lambda d: d.pop('stage3.rebnconv2d.bn_s1.running_var'),
         'stage3.rebnconv2d.bn_s1.running_var: u2netp key missing from the source'),
    ):
        bad = OrderedDict(src)
        edit(bad)
        torch.save(bad, src_path)
        with pytest.raises(SystemExit, match='--allow-partial') as exc:
            u2net2dbdseg([str(src_path), str(dst), '--map', 'stage3=', '--config', 'none'])
        assert gap in str(exc.value)
    u2net2dbdseg(
        [str(src_path),
         str(dst), '--map', 'stage3=', '--config', 'none', '--allow-partial'])
    assert '  ' + gap in _gap_lines(capsys.readouterr().out)[0]
