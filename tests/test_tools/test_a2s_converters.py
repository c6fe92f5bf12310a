"""Command line of tools/model_converters/{a2s2dbdseg,mocov2_to_dbdseg}.py, run through runpy: files
in and out, ``--config`` checks, messages. The key mappings are tested in
tests/test_utils/test_model_conversion_a2s.py."""
import os.path as osp
import runpy
from collections import OrderedDict

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from dbdseg.models.backbones import ResNetWithStem
from dbdseg.registry import MODELS
from dbdseg.utils.model_conversion.a2s import reference_spec

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(REPO, 'tools', 'model_converters')
STAGE2_MODEL = osp.join(REPO, 'configs', '_base_', 'models', 'a2s_stage2.py')
STAGE2_CONFIG = osp.join(REPO, 'configs', 'a2s', 'a2s-stage2_r50-mocov2_1xb8-25e_msra-b-320x320.py')


def _main(tool):
    """The ``main`` of a converter script (its module run by runpy, not as ``__main__``)."""
    return runpy.run_path(osp.join(TOOLS, f'{tool}.py'))['main']


def _random(spec, seed):
    """A state dict with the keys and shapes of ``spec`` (key -> (shape, kind)), random values."""
    gen = torch.Generator().manual_seed(seed)
    return OrderedDict((
        k,
        torch.tensor(7) if k.endswith('num_batches_tracked') else torch.rand(shape, generator=gen) +
        0.5) for k, (shape, _) in spec.items())


def test_a2s_stage2_cli_roundtrip(tmp_path, capsys):
    sd = _random(reference_spec(2), seed=3)
    src, dst = str(tmp_path / 'cornet.pth'), str(tmp_path / 'out' / 'a2s_stage2.pth')
    torch.save(sd, src)
    _main('a2s2dbdseg')([src, dst, '--config', STAGE2_CONFIG])
    printed = capsys.readouterr().out
    assert 'A2S stage 2: mapped 366 keys' in printed
    assert f'checked against {STAGE2_CONFIG}: every key present, every shape equal' in printed
    assert f'saved {dst}' in printed
    ckpt = torch.load(dst, map_location='cpu')  # weights_only default
    assert ckpt['meta'] == dict(converted_from=src, converter='a2s2dbdseg', stage=2)
    assert len(ckpt['state_dict']) == 366
    init_default_scope('mmseg')
    cfg = Config.fromfile(STAGE2_MODEL)
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    model.load_state_dict(ckpt['state_dict'], strict=True)
    assert torch.equal(model.state_dict()['decode_head.local_ram.attn_conv2.weight'],
                       sd['decoder.local.res_conv2.weight'])
    # a stage forced against the keys: refused with the problems, nothing written
    with pytest.raises(SystemExit, match='(?s)A2S stage-1 key missing from the source'):
        _main('a2s2dbdseg')([src, str(tmp_path / 'stage1.pth'), '--stage', '1'])
    assert not osp.exists(tmp_path / 'stage1.pth')


def test_a2s_cli_missing_key_default_paper_config_and_allow_partial(tmp_path, capsys):
    """Issue 18 item 11: one reference key missing is refused, with no --config too (the default
    target is the stage's paper config); --allow-partial writes the rest and prints every gap."""
    sd = _random(reference_spec(2), seed=5)
    del sd['decoder.local.fuse.bias']
    src, dst = str(tmp_path / 'cornet.pth'), str(tmp_path / 'a2s_stage2.pth')
    torch.save(sd, src)
    with pytest.raises(SystemExit) as exc:
        _main('a2s2dbdseg')([src, dst])
    message = str(exc.value)
    assert 'a2s/a2s-stage2_r50-mocov2_1xb8-25e_msra-b-320x320.py' in message
    assert 'decoder.local.fuse.bias: A2S stage-2 key missing from the source' in message
    assert 'decode_head.local_ram.fuse.bias: target key not produced' in message
    assert message.startswith('a2s2dbdseg: 2 gap(s)') and not osp.exists(dst)
    capsys.readouterr()
    _main('a2s2dbdseg')([src, dst, '--allow-partial'])
    printed = capsys.readouterr().out
    assert 'a2s2dbdseg: --allow-partial: 2 gap(s)' in printed
    assert '  decoder.local.fuse.bias: A2S stage-2 key missing from the source' in printed
    written = torch.load(dst, map_location='cpu')['state_dict']
    assert len(written) == 365 and 'decode_head.local_ram.fuse.bias' not in written


def test_a2s_cli_needs_trust_for_pickles(tmp_path):
    src = tmp_path / 'pickled.pth'
    torch.save({'state_dict': {}, 'meta': OrderedDict(note=object)}, src)  # a class: not tensors
    with pytest.raises(SystemExit, match='--trust-source'):
        _main('a2s2dbdseg')([str(src), str(tmp_path / 'out.pth')])


def _moco_checkpoint(seed):
    gen = torch.Generator().manual_seed(seed)
    encoder = OrderedDict((k, torch.rand(v.shape, generator=gen) if v.is_floating_point() else v)
                          for k, v in ResNetWithStem(depth=50).state_dict().items())
    sd = OrderedDict()
    for prefix in ('module.encoder_q.', 'module.encoder_k.'):
        sd.update((prefix + k, v.clone()) for k, v in encoder.items())
        sd[prefix + 'fc.0.weight'] = torch.randn(2048, 2048, generator=gen)
        sd[prefix + 'fc.2.weight'] = torch.randn(128, 2048, generator=gen)
    sd['module.queue'] = torch.randn(128, 16, generator=gen)
    sd['module.queue_ptr'] = torch.zeros(1, dtype=torch.long)
    return dict(epoch=800, arch='resnet50', state_dict=sd), encoder


def test_mocov2_cli_output_is_a_backbone_init_checkpoint(tmp_path, capsys):
    ckpt, encoder = _moco_checkpoint(seed=4)
    src, dst = str(tmp_path / 'moco_v2_800ep_pretrain.pth.tar'), str(tmp_path / 'moco_r50.pth')
    torch.save(ckpt, src)
    _main('mocov2_to_dbdseg')([src, dst])
    printed = capsys.readouterr().out
    assert f'mapped {len(encoder)} keys' in printed
    assert ('a2s-stage1_r50-mocov2_1xb8-20e_msra-b-320x320.py (its backbone): every key present, '
            'every shape equal') in printed
    assert torch.load(dst, map_location='cpu')['meta']['converter'] == 'mocov2_to_dbdseg'
    backbone = MODELS.build(
        dict(type='ResNetWithStem', depth=50, init_cfg=dict(type='Pretrained', checkpoint=dst)))
    backbone.init_weights()
    state = backbone.state_dict()
    for k, v in encoder.items():
        assert torch.equal(state[k], v), k
    _main('mocov2_to_dbdseg')([src, dst, '--dst-prefix', 'backbone.', '--no-check'])
    assert all(k.startswith('backbone.') for k in torch.load(dst)['state_dict'])
    assert 'the result is not checked against a model' in capsys.readouterr().out
    _main('mocov2_to_dbdseg')([src, dst, '--dst-prefix', 'backbone.'])  # checked, prefix and all
    assert '(its backbone): every key present, every shape equal' in capsys.readouterr().out
    assert len(torch.load(dst)['state_dict']) == len(encoder)
    with pytest.raises(SystemExit, match='not found'):
        _main('mocov2_to_dbdseg')([str(tmp_path / 'absent.tar'), dst])
    with pytest.raises(SystemExit, match='no key starts with'):
        _main('mocov2_to_dbdseg')([src, dst, '--src-prefix', 'module.encoder_x.'])
    # one query-encoder key missing: refused against the paper config's backbone
    del ckpt['state_dict']['module.encoder_q.layer3.2.bn1.running_mean']
    torch.save(ckpt, src)
    with pytest.raises(SystemExit, match='layer3.2.bn1.running_mean: target key not produced'):
        _main('mocov2_to_dbdseg')([src, str(tmp_path / 'partial.pth')])
    assert not osp.exists(tmp_path / 'partial.pth')
    _main('mocov2_to_dbdseg')([src, str(tmp_path / 'partial.pth'), '--allow-partial'])
    assert '  layer3.2.bn1.running_mean: target key not produced' in capsys.readouterr().out
