"""Checkpoints are data, not code: a checkpoint that needs arbitrary unpickling is refused with a
message that says why and how to allow it; trusting is per file (flag, env var, function)."""
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.runner import load_checkpoint

import dbdseg  # noqa: F401  (guards mmengine's checkpoint loaders)
import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py
from dbdseg.apis import init_model
from dbdseg.utils import checkpoint as ckpt_utils
from dbdseg.utils.checkpoint import (TRUSTED_CHECKPOINTS_ENV, UnsafeCheckpointError,
                                     is_trusted_checkpoint, trust_checkpoint)


class _Payload:
    """A harmless custom object (needs unpickling of this class)."""

    def __init__(self, marker):
        self.marker = marker


class _Exploit:
    """Unpickling it creates a file: stands for code a malicious checkpoint would run."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


@pytest.fixture(scope='module')
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp('unsafe_ckpt')
    data_root = tiny.write_dataset(root / 'data')
    config = tiny.write_config(root / 'tiny_dbd.py', data_root)
    plain = tiny.save_untrained_checkpoint(config, root / 'plain.pth')
    state = torch.load(plain, map_location='cpu')
    return dict(root=root, config=config, plain=plain, state=state)


@pytest.fixture(autouse=True)
def clean_trust(monkeypatch):
    monkeypatch.delenv(TRUSTED_CHECKPOINTS_ENV, raising=False)
    monkeypatch.setattr(ckpt_utils, '_TRUSTED', set())


def _save_with(project, path, obj):
    ckpt = dict(project['state'])
    ckpt['meta'] = dict(ckpt['meta'], extra=obj)
    torch.save(ckpt, str(path))
    return str(path)


def test_plain_checkpoints_load_without_trust(project):
    model = init_model(project['config'], project['plain'])
    assert model.dataset_meta['classes'] == ('blurred', 'in-focus')


def test_custom_object_is_refused_with_why_and_how(project, tmp_path):
    path = _save_with(project, tmp_path / 'with_object.pth', _Payload('x'))
    with pytest.raises(UnsafeCheckpointError) as e:
        init_model(project['config'], path)
    msg = str(e.value)
    assert isinstance(e.value, pickle.UnpicklingError)  # what torch raises, for old callers
    assert path in msg  # names the file
    assert '_Payload' in msg  # torch's reason: the refused global
    assert 'weights_only=True' in msg and 'run code' in msg  # why
    assert '--unsafe-load-trusted-checkpoint' in msg and TRUSTED_CHECKPOINTS_ENV in msg  # how


def test_malicious_checkpoint_runs_no_code(project, tmp_path):
    marker = tmp_path / 'pwned.txt'
    path = _save_with(project, tmp_path / 'evil.pth', _Exploit(str(marker)))
    with pytest.raises(UnsafeCheckpointError, match='builtins.open|open'):
        load_checkpoint(torch.nn.Linear(1, 1), path, map_location='cpu')
    assert not marker.exists()


def test_trust_by_environment_variable_is_per_file(project, tmp_path, monkeypatch):
    path = _save_with(project, tmp_path / 'trusted.pth', _Payload('ok'))
    other = _save_with(project, tmp_path / 'other.pth', _Payload('no'))
    monkeypatch.setenv(TRUSTED_CHECKPOINTS_ENV, os.pathsep.join(['/nonexistent.pth', path]))
    assert is_trusted_checkpoint(path) and not is_trusted_checkpoint(other)
    ckpt = load_checkpoint(torch.nn.Module(), path, map_location='cpu', strict=False)
    assert isinstance(ckpt['meta']['extra'], _Payload) and ckpt['meta']['extra'].marker == 'ok'
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint(torch.nn.Module(), other, map_location='cpu', strict=False)
    # torch's own global switch is left as it was (off) after the trusted load
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in os.environ


def test_trust_checkpoint_function_resolves_links_and_refuses_urls(project, tmp_path):
    path = _save_with(project, tmp_path / 'real.pth', _Payload('ok'))
    link = tmp_path / 'link.pth'
    link.symlink_to(path)
    trust_checkpoint(str(link))
    assert is_trusted_checkpoint(path)
    assert load_checkpoint(torch.nn.Module(), path, map_location='cpu', strict=False)
    with pytest.raises(ValueError, match='only local'):
        trust_checkpoint('https://example.com/model.pth')
    assert not is_trusted_checkpoint('https://example.com/model.pth')


def test_tools_refuse_then_accept_with_the_flag(project, tmp_path):
    infer = tiny.load_tool('infer')
    test = tiny.load_tool('test')
    path = _save_with(project, tmp_path / 'obj.pth', _Payload('ok'))
    img = tmp_path / 'a.png'
    import cv2
    cv2.imwrite(str(img), tiny.make_image(12, 16))
    with pytest.raises(SystemExit, match='refused to load checkpoint .*obj.pth'):
        infer.main([project['config'], path, str(img), '--out-dir', str(tmp_path / 'o1')])
    with pytest.raises(SystemExit, match='--unsafe-load-trusted-checkpoint'):
        test.main([
            project['config'], path, '--work-dir',
            str(tmp_path / 'w1'), '--cfg-options', f'experiment_name={tiny.unique_name("unsafe")}'
        ])
    infer.main([
        project['config'], path,
        str(img), '--out-dir',
        str(tmp_path / 'o2'), '--unsafe-load-trusted-checkpoint'
    ])
    assert (tmp_path / 'o2' / 'a.png').is_file()
    flat = test.main([
        project['config'], path, '--work-dir',
        str(tmp_path / 'w2'), '--unsafe-load-trusted-checkpoint', '--cfg-options',
        f'experiment_name={tiny.unique_name("unsafe")}'
    ])
    assert 'maxF' in flat


def test_train_flag_needs_a_checkpoint(project, tmp_path):
    train = tiny.load_tool('train')
    with pytest.raises(SystemExit, match='needs a local checkpoint'):
        train.main([
            project['config'], '--work-dir',
            str(tmp_path), '--resume', '--unsafe-load-trusted-checkpoint'
        ])


# --------------------------------------------------------------------------------------------
# issue 17, item 6: TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD must not switch safety off
# --------------------------------------------------------------------------------------------
def test_force_no_weights_only_env_does_not_run_code(project, tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    marker = tmp_path / 'pwned.txt'
    path = _save_with(project, tmp_path / 'evil.pth', _Exploit(str(marker)))
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        init_model(project['config'], path)
    assert not marker.exists()
    ckpt_utils.install_checkpoint_guard()
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint(torch.nn.Linear(1, 1), path, map_location='cpu')
    assert not marker.exists()
    # the environment variable is left as the user set it
    assert os.environ['TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'] == '1'


def test_force_no_weights_only_env_and_tools(project, tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    marker = tmp_path / 'pwned.txt'
    path = _save_with(project, tmp_path / 'evil.pth', _Exploit(str(marker)))
    test = tiny.load_tool('test')
    with pytest.raises(SystemExit, match='refused to load checkpoint .*evil.pth'):
        test.main([
            project['config'], path, '--work-dir',
            str(tmp_path / 'w'), '--cfg-options', f'experiment_name={tiny.unique_name("env")}'
        ])
    assert not marker.exists()


def test_trusted_file_still_loads_with_the_env_variable_set(project, tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    path = _save_with(project, tmp_path / 'trusted.pth', _Payload('ok'))
    trust_checkpoint(path)
    ckpt = load_checkpoint(torch.nn.Module(), path, map_location='cpu', strict=False)
    assert ckpt['meta']['extra'].marker == 'ok'


def test_remote_checkpoints_are_loaded_weights_only(project, tmp_path):
    """mmengine's http(s) scheme uses torch.hub.load_state_dict_from_url, whose default is
    weights_only=False; a ``file://`` URL exercises that path without a network."""
    from mmengine.runner.checkpoint import CheckpointLoader
    ckpt_utils.install_checkpoint_guard()
    marker = tmp_path / 'pwned.txt'
    path = _save_with(project, tmp_path / 'evil.pth', _Exploit(str(marker)))
    http_loader = CheckpointLoader._schemes['https://']
    with pytest.raises(UnsafeCheckpointError):
        http_loader(f'file://{path}', map_location='cpu', model_dir=str(tmp_path / 'hub'))
    assert not marker.exists()
    plain = http_loader(
        f'file://{project["plain"]}', map_location='cpu', model_dir=str(tmp_path / 'hub2'))
    assert 'state_dict' in plain


def test_every_mmengine_torch_load_passes_weights_only(project, monkeypatch):
    """The explicit argument, not torch's default, decides: spy on torch.load."""
    import mmengine.runner.checkpoint as mm_ckpt
    ckpt_utils.install_checkpoint_guard()
    seen = []
    real = torch.load

    def spy(*args, **kwargs):
        seen.append(kwargs.get('weights_only', 'not passed'))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, 'load', spy)
    mm_ckpt.CheckpointLoader.load_checkpoint(project['plain'], map_location='cpu')
    assert seen == [True]


# --------------------------------------------------------------------------------------------
# issue 17, item 11: files that are not checkpoints at all
# --------------------------------------------------------------------------------------------
def _not_checkpoints(project, tmp_path):
    with open(project['plain'], 'rb') as f:
        data = f.read()
    legacy = tmp_path / 'legacy.pth'
    torch.save(project['state'], str(legacy), _use_new_zipfile_serialization=False)
    legacy_data = legacy.read_bytes()
    files = {
        'empty': b'',
        'truncated': data[:len(data) // 2],
        'random': bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
        'text': b'this is a README, not a model\n' * 20,
        'legacy_truncated': legacy_data[:len(legacy_data) // 2],
        'plain_pickle': pickle.dumps({'a': 1}),
    }
    out = {}
    for name, content in files.items():
        path = tmp_path / f'{name}.pth'
        path.write_bytes(content)
        out[name] = str(path)
    return out


REASONS = {
    'empty': 'empty',
    'truncated': 'truncated',
    'random': 'not a zip or pickle',
    'text': 'not a zip or pickle',
    'legacy_truncated': 'truncated',
    'plain_pickle': 'not a torch checkpoint',
}


def test_files_that_are_not_checkpoints_are_named_as_such(project, tmp_path):
    for name, path in _not_checkpoints(project, tmp_path).items():
        with pytest.raises(ckpt_utils.NotACheckpointError) as e:
            init_model(project['config'], path)
        msg = str(e.value)
        assert 'not a checkpoint' in msg and path in msg, (name, msg)
        assert REASONS[name] in msg, (name, msg)
        assert '--unsafe-load-trusted-checkpoint' not in msg, (name, msg)
        assert isinstance(e.value, RuntimeError)  # what tools/infer.py reports as an error


def test_not_a_checkpoint_even_when_trusted(project, tmp_path):
    path = _not_checkpoints(project, tmp_path)['random']
    trust_checkpoint(path)
    with pytest.raises(ckpt_utils.NotACheckpointError, match='not a zip or pickle'):
        load_checkpoint(torch.nn.Module(), path, map_location='cpu', strict=False)


def test_tools_say_not_a_checkpoint(project, tmp_path):
    files = _not_checkpoints(project, tmp_path)
    infer = tiny.load_tool('infer')
    test = tiny.load_tool('test')
    img = tmp_path / 'a.png'
    import cv2
    cv2.imwrite(str(img), tiny.make_image(12, 16))
    with pytest.raises(SystemExit, match=r'not a checkpoint \(empty.*empty.pth|empty.pth.*empty'):
        infer.main([project['config'], files['empty'], str(img), '--out-dir', str(tmp_path / 'o')])
    with pytest.raises(SystemExit) as e:
        test.main([
            project['config'], files['truncated'], '--work-dir',
            str(tmp_path / 'w'), '--cfg-options', f'experiment_name={tiny.unique_name("junk")}'
        ])
    assert 'not a checkpoint' in str(e.value) and 'truncated.pth' in str(e.value)
    assert '--unsafe-load-trusted-checkpoint' not in str(e.value)
