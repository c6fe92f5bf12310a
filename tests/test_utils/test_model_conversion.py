"""dbdseg.utils.model_conversion.common: unwrapping, shape checks, loading and the atomic save
shared by every checkpoint converter."""
import os
import os.path as osp
from collections import OrderedDict

import pytest
import torch

from dbdseg.utils.model_conversion import (check_target_shapes, format_keys, load_checkpoint_file,
                                           load_state_dict_file, missing_reference_keys,
                                           paper_config, raise_problems, resolve_config,
                                           save_checkpoint, settle_gaps, target_gaps,
                                           target_shapes_from_config, unwrap_state_dict)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class _NotATensor:
    """A class: ``weights_only=True`` refuses a file that pickles it."""


def test_unwrap_state_dict():
    a, b = torch.zeros(1), torch.ones(2)
    sd = unwrap_state_dict({'state_dict': {'module.x': a, 'module.y': b}, 'meta': {}})
    assert list(sd) == ['x', 'y'] and sd['x'] is a and sd['y'] is b
    assert list(unwrap_state_dict({'model': {'module.x': a, 'y': b}})) == ['module.x', 'y']
    nested = {'model': {'model.x': a}}
    assert list(unwrap_state_dict(nested, prefixes=('module.', 'model.'))) == ['x']
    assert list(unwrap_state_dict({'state_dict': {
        'module.x': a
    }}, wrappers=(), prefixes=())) == ['state_dict']
    with pytest.raises(ValueError, match='expected a checkpoint dict, got list'):
        unwrap_state_dict([a])


def test_check_target_shapes_and_messages():
    converted = OrderedDict(a=torch.zeros(2, 3), b=torch.zeros(4), c=torch.zeros(1))
    target = OrderedDict(a=torch.Size([2, 3]), b=torch.Size([5]), d=torch.Size([1]))
    assert check_target_shapes(
        converted, target) == ['b: shape (4,) != target (5,)', 'c: not in the target model']
    assert check_target_shapes(
        converted, target, strict=True) == [
            'd: missing in the converted checkpoint', 'b: shape (4,) != target (5,)',
            'c: not in the target model'
        ]
    assert format_keys(['a', 'b', 'c'], limit=2) == "['a', 'b'] ..."
    assert format_keys(['a', 'b'], limit=2) == "['a', 'b']"
    raise_problems([], 'problem(s)')
    with pytest.raises(SystemExit) as exc:
        raise_problems(['p1', 'p2', 'p3'], 'problem(s) against x.py', limit=2)
    assert str(exc.value) == '3 problem(s) against x.py:\n  p1\n  p2'


def test_target_shapes_from_config_builds_on_meta():
    config = osp.join(ROOT, 'configs', '_base_', 'models', 'a2s_stage2.py')
    shapes = target_shapes_from_config(config)
    assert shapes['backbone.conv1.weight'] == (64, 3, 7, 7)
    assert shapes['decode_head.local_ram.fuse.weight'] == (64, 192, 3, 3)
    backbone = target_shapes_from_config(config, backbone_only=True)
    assert backbone['conv1.weight'] == (64, 3, 7, 7) and 'layer4.2.bn3.running_var' in backbone
    assert not any(k.startswith('decode_head.') for k in backbone)
    narrow = target_shapes_from_config(config, {'model.decode_head.channels': 32})
    assert narrow['decode_head.local_ram.fuse.weight'] == (32, 96, 3, 3)


def test_loading_errors(tmp_path):
    with pytest.raises(SystemExit, match='checkpoint not found: .*absent.pth'):
        load_state_dict_file(str(tmp_path / 'absent.pth'))
    path = str(tmp_path / 'pickled.pth')
    torch.save({'w': torch.ones(1), 'extra': _NotATensor()}, path)
    with pytest.raises(SystemExit, match='cannot read .* tensor-only checkpoint: '):
        load_state_dict_file(path)
    with pytest.raises(SystemExit, match='pass --trust-source'):
        load_checkpoint_file(path)
    loaded = load_checkpoint_file(path, trust_source=True)
    assert isinstance(loaded['extra'], _NotATensor) and torch.equal(loaded['w'], torch.ones(1))


def test_save_checkpoint_is_atomic(tmp_path, capsys):
    dst = tmp_path / 'new' / 'folder' / 'out.pth'
    sd = OrderedDict(w=torch.arange(6.).view(2, 3), n=torch.tensor(3))
    save_checkpoint(str(dst), sd, dict(converter='x'))
    assert capsys.readouterr().out == f'saved {dst}\n'
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert list(ckpt) == ['state_dict', 'meta'] and ckpt['meta'] == dict(converter='x')
    assert list(ckpt['state_dict']) == ['w', 'n'] and torch.equal(ckpt['state_dict']['w'], sd['w'])
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(dst).st_mode & 0o777 == 0o666 & ~umask  # what a plain torch.save gives
    # a save that fails while serialising leaves the previous file, and no temporary file
    with pytest.raises(Exception):
        save_checkpoint(str(dst), dict(w=lambda: None), {})
    assert torch.equal(torch.load(dst, weights_only=True)['state_dict']['w'], sd['w'])
    assert os.listdir(dst.parent) == ['out.pth']


def test_not_a_checkpoint_is_named_without_the_trust_hint(tmp_path):
    from dbdseg.utils.model_conversion.common import load_checkpoint_file
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    text = tmp_path / 'notes.pth'
    text.write_text('not a checkpoint at all\n')
    for path, reason in ((empty, 'empty'), (text, 'not a zip or pickle')):
        with pytest.raises(SystemExit) as err:
            load_checkpoint_file(str(path))
        message = str(err.value)
        assert f'{path} is not a checkpoint ({reason}' in message
        assert '--trust-source' not in message


def test_gap_helpers_of_the_converters(tmp_path, capsys, monkeypatch):
    """Issue 18 item 11: every gap is named; a refusal writes nothing and points at
    --allow-partial; with it every gap is printed; the default target is a shipped config."""
    converted = OrderedDict(a=torch.zeros(2), b=torch.zeros(3), x=torch.zeros(1))
    target = OrderedDict(a=torch.Size([2]), b=torch.Size([4]), c=torch.Size([1]), h=torch.Size([1]))
    fitting, gaps = target_gaps(converted, target, prefixes=('a', 'b', 'c'))
    assert list(fitting) == ['a']
    assert gaps == [
        'c: target key not produced by the conversion', 'b: shape (3,) != target (4,)',
        'x: not in the target model'
    ]  # 'h' is not one of the parts the conversion fills
    assert missing_reference_keys(
        ['a', 'bn.num_batches_tracked'],
        ['a', 'b', 'bn.num_batches_tracked', 'bn2.num_batches_tracked']) == ['b']
    settle_gaps([], False, 'tool')  # nothing to say
    lines = [f'k{i}: gap' for i in range(45)]
    with pytest.raises(SystemExit) as exc:
        settle_gaps(lines, False, 'tool', 'cfg.py')
    message = str(exc.value)
    assert message.startswith('tool: 45 gap(s) (target: cfg.py), nothing written:\n  k0: gap')
    assert 'k39: gap' in message and 'k40: gap' not in message and '... and 5 more' in message
    assert message.endswith('pass --allow-partial to write what fits (every gap is then printed)')
    settle_gaps(lines, True, 'tool')
    out = capsys.readouterr().out.splitlines()
    assert out[
        0] == 'tool: --allow-partial: 45 gap(s) (target: none), the checkpoint holds what fits:'
    assert out[1:] == [f'  {line}' for line in lines]
    # configs: 'none', an existing path, a path relative to the shipped configs/
    assert resolve_config(None) is None and resolve_config('None') is None
    afiu = 'afiu/afiu_r50_1xb8-32k_cuhk-320x320.py'
    assert resolve_config(afiu) == paper_config(afiu) == osp.join(ROOT, 'configs', afiu)
    local = tmp_path / 'c.py'
    local.write_text('x = 1\n')
    assert resolve_config(str(local)) == str(local)
    with pytest.raises(SystemExit, match='config not found: nope.py'):
        resolve_config('nope.py')
