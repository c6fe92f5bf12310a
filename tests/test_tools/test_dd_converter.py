"""Command line of tools/model_converters/dd2dbdseg.py, run through runpy: files in and out, the
strict ``--config`` check, messages. The key mapping is tested on the full reference layouts in
tests/test_utils/test_model_conversion_dd.py; here the source is a VGG16 DD checkpoint whose keys
are every name of DD's scheme that converts onto a key of the dbdseg VGG16 model."""
import os.path as osp
import runpy
from collections import OrderedDict

import pytest
import torch

from dbdseg.utils.model_conversion import target_shapes_from_config
from dbdseg.utils.model_conversion.depth_distillation import convert_dd_key

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'model_converters', 'dd2dbdseg.py')
CONFIGS = osp.join(ROOT, 'configs', 'depth_distillation')
VGG_CONFIG = osp.join(CONFIGS, 'dd_vgg16_1xb6-10k_cuhk-320x320.py')
RESNEXT_CONFIG = osp.join(CONFIGS, 'dd_resnext101-32x4d_1xb6-10k_cuhk-320x320.py')
PARAMS = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')


def _vggskspp_source(seed=0):
    target = target_shapes_from_config(VGG_CONFIG)
    names = [f'pretrained_net.features.{i}' for i in range(31)] + ['fusion', 'fusiond']
    for k in range(1, 6):
        names += [f'deconv{k}.{n}' for n in ('prev', 'bn', 'next', 'bn2', 'sk.fc')]
        names += [f'deconv{k}.sk.convs.{j}.{i}' for j in range(3) for i in (0, 1)]
        names += [f'deconv{k}.sk.fcs.{j}' for j in range(4)]
        names += [f'classifier{k}.sides.{i}' for i in (0, 1)]
        names += [f'sideatt{k}.{n}' for n in ('conv1', 'bn', 'conv2')]
    gen = torch.Generator().manual_seed(seed)
    src = OrderedDict()
    for key in (f'{name}.{p}' for name in names for p in PARAMS):
        new = convert_dd_key(key, 'vggskspp')
        if new in target:
            shape = target[new]
            src[key] = torch.randn(shape, generator=gen) if len(shape) else torch.tensor(5)
    return src


def test_cli_writes_checkpoint_and_checks_config(tmp_path, capsys):
    main = runpy.run_path(TOOL)['main']
    src = _vggskspp_source()
    assert len(src) == 311  # the released VGG16 DD checkpoint's entries
    src_path, dst = tmp_path / 'vgg_dd.pth', tmp_path / 'out' / 'converted.pth'
    torch.save({'state_dict': src}, src_path)
    main([str(src_path), str(dst), '--config', VGG_CONFIG])
    printed = capsys.readouterr().out
    assert 'layout vggskspp: mapped 311 keys' in printed
    assert 'every key present, every shape equal' in printed
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert ckpt['meta'] == dict(
        converted_from=str(src_path), converter='dd2dbdseg', layout='vggskspp')
    assert len(ckpt['state_dict']) == 311
    assert torch.equal(ckpt['state_dict']['decode_head.blocks.2.pyramid.fcs.3.bias'],
                       src['deconv3.sk.fcs.3.bias'])
    # the ResNeXt config does not fit VGG weights: refused with the problems listed
    with pytest.raises(SystemExit, match='(?s)dd_resnext101.*target key not produced'):
        main([str(src_path), str(tmp_path / 'bad.pth'), '--config', RESNEXT_CONFIG])
    assert not osp.exists(tmp_path / 'bad.pth')
    # no --config: checked against the layout's paper config all the same (issue 18 item 11)
    main([str(src_path), str(dst)])
    assert f'checked against {VGG_CONFIG}: every key present' in capsys.readouterr().out
    missing = OrderedDict(src)
    del missing['deconv2.sk.fcs.1.weight']
    torch.save(missing, src_path)
    with pytest.raises(SystemExit) as exc:
        main([str(src_path), str(tmp_path / 'bad.pth')])
    assert str(exc.value).startswith('dd2dbdseg: 1 gap(s) (target: ' + VGG_CONFIG)
    assert 'decode_head.blocks.1.pyramid.fcs.1.weight: target key not produced' in str(exc.value)
    assert not osp.exists(tmp_path / 'bad.pth')
    main([str(src_path), str(tmp_path / 'partial.pth'), '--allow-partial'])
    assert 'dd2dbdseg: --allow-partial: 1 gap(s)' in capsys.readouterr().out
    assert len(torch.load(tmp_path / 'partial.pth', weights_only=True)['state_dict']) == 310
    torch.save(src, src_path)
    with pytest.raises(
            SystemExit, match='(?s)dd2dbdseg: .*source key follows no resskspp layout rule'):
        main([str(src_path), str(dst), '--layout', 'resskspp'])
    with pytest.raises(SystemExit, match='not found'):
        main([str(tmp_path / 'absent.pth'), str(dst)])
