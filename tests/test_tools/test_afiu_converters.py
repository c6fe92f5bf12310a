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


def test_minet_cli_writes_checkpoint_and_refuses_unknown_keys(tmp_path, capsys):
    gen = torch.Generator().manual_seed(0)
    src = _minet_sims(gen)
    assert len(src) == 5 * 41
    src['upconv1.basicconv.0.weight'] = torch.randn(32, 32, 3, 3, generator=gen)
    src['classifier.weight'] = torch.randn(1, 32, 1, 1, generator=gen)
    src_path, dst_path = tmp_path / 'minet.pth', tmp_path / 'out' / 'afiu_neck.pth'
    torch.save(src, src_path)
    _main('minet2dbdseg')([str(src_path), str(dst_path), '--config', AFIU_MODEL])
    text = capsys.readouterr().out
    assert 'dropped 2 MINet decoder keys (no AFIU counterpart): classifier, upconv1' in text
    assert 'every converted key fits' in text
    ckpt = torch.load(dst_path, map_location='cpu', weights_only=True)
    assert ckpt['meta'] == dict(
        converted_from=str(src_path), converter='minet2dbdseg', parts=['backbone', 'neck'])
    assert torch.equal(ckpt['state_dict']['neck.sims.3.stage1.h.convs.l.weight'],
                       src['sim16.l2h_1.weight'])
    assert len(ckpt['state_dict']) == 5 * 41
    _main('minet2dbdseg')([str(src_path), str(dst_path), '--parts', 'backbone'])
    assert 'skipped 205 keys of parts not asked for' in capsys.readouterr().out
    assert torch.load(dst_path, weights_only=True)['state_dict'] == {}
    src['foo.bar'] = torch.zeros(1)
    torch.save(src, src_path)
    with pytest.raises(SystemExit, match='foo.bar.*--allow-unmapped'):
        _main('minet2dbdseg')([str(src_path), str(dst_path)])
    _main('minet2dbdseg')([str(src_path), str(dst_path), '--allow-unmapped'])
    assert 'unmapped (dropped, --allow-unmapped) 1 keys: foo.bar' in capsys.readouterr().out
    with pytest.raises(SystemExit, match='not found'):
        _main('minet2dbdseg')([str(tmp_path / 'absent.pth'), str(dst_path)])
    # a narrower target: the config check names the misfits
    with pytest.raises(SystemExit, match=r'converted key\(s\) do not fit'):
        _main('minet2dbdseg')([
            str(src_path),
            str(dst_path), '--allow-unmapped', '--config', AFIU_MODEL, '--cfg-options',
            'model.neck.sim_low_channels=16'
        ])


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
    src['outconv.weight'] = torch.randn(1, 6, 1, 1, generator=gen)
    return src


def test_u2net_cli(tmp_path, capsys):
    gen = torch.Generator().manual_seed(0)
    src = _u2netp(gen)
    src_path, dst = tmp_path / 'u2netp.pth', tmp_path / 'u2netp_afiu.pth'
    torch.save(src, src_path)
    u2net2dbdseg = _main('u2net2dbdseg')
    with pytest.raises(SystemExit, match='stage5d.*--skip-mismatched'):
        u2net2dbdseg([
            str(src_path),
            str(dst), '--config', AFIU_MODEL, '--cfg-options', 'model.decode_head.mid_channels=16'
        ])
    u2net2dbdseg([
        str(src_path),
        str(dst), '--config', AFIU_MODEL, '--skip-mismatched', '--cfg-options',
        'model.decode_head.mid_channels=16'
    ])
    text = capsys.readouterr().out
    assert 'stage1d  -> decode_head.blocks.0' in text and 'stage5d  does not fit' in text
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert ckpt['meta']['stages'] == {
        f'stage{i}d': f'decode_head.blocks.{i - 1}'
        for i in (4, 3, 2, 1)
    }
    assert torch.equal(ckpt['state_dict']['decode_head.blocks.0.bottom.conv.weight'],
                       src['stage1d.rebnconv7.conv_s1.weight'])
    # one stage under its bare RSU names
    u2net2dbdseg([str(src_path), str(dst), '--map', 'stage4='])
    sd = torch.load(dst, map_location='cpu', weights_only=True)['state_dict']
    block = RSU(4, 64, 16, 64)
    block.load_state_dict(sd, strict=True)
    assert torch.equal(block.decoders[2].conv.weight, src['stage4.rebnconv3d.conv_s1.weight'])
    with pytest.raises(SystemExit, match='STAGE=PREFIX'):
        u2net2dbdseg([str(src_path), str(dst), '--map', 'stage4'])
    with pytest.raises(SystemExit, match=r"stage\(s\) \['stage9'\]"):
        u2net2dbdseg([str(src_path), str(dst), '--map', 'stage9=x'])
    src['extra.weight'] = torch.zeros(1)
    torch.save(src, src_path)
    with pytest.raises(SystemExit, match='extra.weight.*--allow-unmapped'):
        u2net2dbdseg([str(src_path), str(dst)])
