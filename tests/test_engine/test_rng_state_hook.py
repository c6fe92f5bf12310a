"""RNGStateHook: random-number and sampler states in checkpoints, exact resume (in-process runs).

The "kill" here is an exception raised by a hook in the middle of the run (after ``iter_4.pth``,
with batch 5 already fetched); ``test_resume_after_kill.py`` does the same with a real SIGKILL in a
separate process. This file also holds the helpers those tests load by path (``rng_project_*``).
"""
import glob
import os
import os.path as osp
import random
import sys
import uuid

import numpy as np
import pytest
import torch

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py
from dbdseg.engine.hooks import AtomicCheckpointHook, RNGStateHook
from dbdseg.engine.hooks.rng_state_hook import capture_rng_state, restore_rng_state
from dbdseg.utils.set_env import REGISTERING_MODULES

# ------------------------------------------------------------------------------------ helpers
#: Source of a module that registers a transform drawing from Python's ``random`` and hooks that
#: interrupt a run; written next to the config and imported through ``custom_imports``.
HELPER_SOURCE = '''
import os
import random
import signal

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.hooks import Hook
from mmseg.registry import HOOKS, TRANSFORMS


class SimulatedKill(BaseException):
    """Stands for a kill in in-process tests (not an Exception: nothing catches it)."""


def _die(how):
    if how == 'sigkill':
        os.kill(os.getpid(), signal.SIGKILL)
    raise SimulatedKill(how)


@TRANSFORMS.register_module(force=True)
class PyRandomShift(BaseTransform):
    """Adds random.randint(-20, 20) to the image (consumes Python's global ``random``)."""

    def transform(self, results):
        shift = random.randint(-20, 20)
        results['img'] = np.clip(results['img'].astype(np.int16) + shift, 0, 255).astype(np.uint8)
        return results


@HOOKS.register_module(force=True)
class KillAtIterHook(Hook):
    """Dies in before_train_iter once ``at_iter`` iterations are done (batch already fetched)."""
    priority = 'VERY_HIGH'

    def __init__(self, at_iter, how='raise'):
        self.at_iter, self.how = at_iter, how

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.at_iter:
            _die(self.how)


@HOOKS.register_module(force=True)
class KillWhileSavingHook(Hook):
    """Dies in the middle of writing the checkpoint whose meta iter is ``at_iter`` (the ``nth``
    write of that iteration): half of the bytes are on disk, then the process dies."""

    def __init__(self, at_iter, how='raise', nth=1):
        self.at_iter, self.how, self.nth = at_iter, how, nth
        self.seen = 0

    def before_save_checkpoint(self, runner, checkpoint):
        if checkpoint['meta']['iter'] != self.at_iter:
            return
        self.seen += 1
        if self.seen != self.nth:
            return
        from mmengine.fileio.backends.local_backend import LocalBackend
        how = self.how

        def put(backend, obj, filepath):
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
                f.flush()
            _die(how)

        LocalBackend.put = put
'''

RNG_CONFIG_EXTRA = '''
custom_imports = dict(imports=[*{registering!r}, {helper!r}], allow_failed_imports=False)
train_dataloader['dataset']['pipeline'] = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='RandomResize', scale=(36, 24), ratio_range=(0.8, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(16, 16)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PyRandomShift'),
    dict(type='PackBinarySegInputs'),
]
train_dataloader['num_workers'] = {num_workers}
train_dataloader['persistent_workers'] = {persistent}
model['decode_head']['dropout_ratio'] = 0.3
train_cfg = dict(type='IterBasedTrainLoop', max_iters={max_iters}, val_interval=2)
default_hooks['checkpoint'] = dict(type='AtomicCheckpointHook', by_epoch=False, interval=2,
                                   save_best='maxF', rule='greater')
default_hooks['visualization'] = dict(type='SegVisualizationHook', draw=False)
custom_hooks = {custom_hooks!r}
randomness = dict(seed=0)
'''


def rng_project_write(root, num_workers=0, persistent=False, max_iters=6, rng_hook=True):
    """Write the tiny data set, the helper module and a config with random transforms, dropout
    and validation every 2 iterations. Returns ``dict(config, helper_dir, helper, data_root)``."""
    root = str(root)
    helper = f'dbdseg_rng_helper_{uuid.uuid4().hex[:8]}'
    with open(osp.join(root, f'{helper}.py'), 'w') as f:
        f.write(HELPER_SOURCE)
    data_root = tiny.write_dataset(osp.join(root, 'data'))
    hooks = [dict(type='RNGStateHook')] if rng_hook else []
    extra = RNG_CONFIG_EXTRA.format(
        helper=helper,
        registering=list(REGISTERING_MODULES),
        num_workers=num_workers,
        persistent=persistent,
        max_iters=max_iters,
        custom_hooks=hooks)
    config = tiny.write_config(osp.join(root, 'rng_cfg.py'), data_root, extra)
    return dict(config=config, helper_dir=root, helper=helper, data_root=data_root)


def rng_project_runner(project, work_dir, extra_hooks=(), resume=False, modify=None, **overrides):
    """An mmengine Runner of the project's config (in this process); ``modify(cfg)`` may edit
    the config before the runner is built."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    if project['helper_dir'] not in sys.path:
        sys.path.insert(0, project['helper_dir'])
    cfg = Config.fromfile(project['config'])
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = tiny.unique_name('rng')
    cfg.custom_hooks = list(cfg.custom_hooks) + list(extra_hooks)
    cfg.resume = resume
    for key, value in overrides.items():
        cfg[key] = value
    if modify is not None:
        modify(cfg)
    return Runner.from_cfg(cfg)


def final_weights(path_or_model):
    """state_dict of a checkpoint file or a model, as CPU tensors."""
    if isinstance(path_or_model, (str, os.PathLike)):
        return torch.load(str(path_or_model), map_location='cpu')['state_dict']
    return {k: v.detach().cpu().clone() for k, v in path_or_model.state_dict().items()}


def max_abs_diff(a, b):
    """Largest absolute difference over all float tensors of two state dicts (same keys)."""
    assert a.keys() == b.keys()
    return max(
        float((a[k].double() - b[k].double()).abs().max()) if a[k].is_floating_point() else float((
            a[k] != b[k]).any()) for k in a)


def _interrupted_and_resumed(project, tmp_path, name, kill_hook, modify=None):
    """Run until ``kill_hook`` stops it (SimulatedKill), then resume to the end in a new Runner."""
    work = tmp_path / name
    runner = rng_project_runner(project, work, extra_hooks=[kill_hook], modify=modify)
    helper = sys.modules[project['helper']]
    with pytest.raises(helper.SimulatedKill):
        runner.train()
    resumed = rng_project_runner(project, work, resume=True, modify=modify)
    resumed.train()
    return resumed


def _epoch_based(cfg):
    """3 epochs of 2 iterations, DefaultSampler (shuffled per epoch), checkpoint and validation
    after every epoch."""
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=3, val_interval=1)
    cfg.default_hooks.checkpoint = dict(
        type='AtomicCheckpointHook', by_epoch=True, interval=1, save_best='maxF', rule='greater')
    cfg.log_processor = dict(by_epoch=True)


@pytest.fixture(scope='module', autouse=True)
def one_torch_thread():
    """One intra-op thread: the tiny model is 3x faster on a busy 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope='module')
def project(tmp_path_factory):
    return rng_project_write(tmp_path_factory.mktemp('rng_project'))


@pytest.fixture(scope='module')
def reference(project, tmp_path_factory):
    """Uninterrupted 6-iteration run: final weights."""
    runner = rng_project_runner(project, tmp_path_factory.mktemp('ref'))
    runner.train()
    return final_weights(runner.model)


# ------------------------------------------------------------------------------------ tests
def test_capture_restore_round_trip():
    state = capture_rng_state()
    a = (random.random(), np.random.rand(3).tolist(), np.random.randn(), torch.rand(4).tolist())
    restore_rng_state(state)
    b = (random.random(), np.random.rand(3).tolist(), np.random.randn(), torch.rand(4).tolist())
    assert a == b
    # only tensors and plain types: survives weights_only loading of a file
    assert all(
        isinstance(v, torch.Tensor)
        for v in (state['torch'], state['numpy']['keys'], state['python']['internal']))


def test_checkpoint_holds_rng_and_sampler_state(project, reference, tmp_path):
    runner = rng_project_runner(
        project,
        tmp_path / 'w',
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2))
    runner.train()
    ckpt = torch.load(str(tmp_path / 'w' / 'iter_2.pth'), map_location='cpu')  # weights_only
    state = ckpt['rng_state']
    assert state['version'] == 1 and state['iter'] == 2 and state['world_size'] == 1
    assert len(state['ranks']) == 1 and state['ranks'][0]['torch'].dtype == torch.uint8
    assert state['sampler']['type'] == 'InfiniteSampler' and state['sampler']['seed'] == 0
    assert state['sampler']['batch_size'] == 2 and state['sampler']['shuffle'] is True
    # the config's AtomicCheckpointHook wrote it: no temporary file is left
    assert any(type(h) is AtomicCheckpointHook for h in runner.hooks)
    assert not glob.glob(str(tmp_path / 'w' / '.tmp_*'))


def test_resume_after_interruption_is_exact(project, reference, tmp_path):
    """Killed after iter_4.pth (batch 5 fetched, val at 4 done), resumed: same weights, bit for
    bit, as the uninterrupted run (random resize/crop/flip, Python random, dropout, val at every
    checkpoint, best-score re-saves)."""
    resumed = _interrupted_and_resumed(project, tmp_path, 'run',
                                       dict(type='KillAtIterHook', at_iter=5))
    assert resumed.iter == 6
    assert max_abs_diff(final_weights(resumed.model), reference) == 0.0


def test_epoch_based_resume_is_exact(project, tmp_path):
    """EpochBasedTrainLoop, checkpoints at epoch ends: killed in epoch 2 (after epoch_1.pth),
    resumed: the same weights as 3 uninterrupted epochs (states restored at the epoch start)."""
    ref = rng_project_runner(project, tmp_path / 'ref_epoch', modify=_epoch_based)
    ref.train()
    resumed = _interrupted_and_resumed(
        project, tmp_path, 'run_epoch', dict(type='KillAtIterHook', at_iter=3), modify=_epoch_based)
    assert resumed.epoch == 3 and resumed.iter == 6
    assert max_abs_diff(final_weights(resumed.model), final_weights(ref.model)) == 0.0


def test_without_the_hook_resume_differs(project, reference, tmp_path):
    """Control: the same interruption without RNGStateHook ends with other weights, so the
    equality above is the hook's doing."""
    from mmengine.config import Config
    cfg = Config.fromfile(project['config'])
    assert cfg.custom_hooks == [dict(type='RNGStateHook')]
    work = tmp_path / 'nohook'
    runner = rng_project_runner(
        project, work, custom_hooks=[dict(type='KillAtIterHook', at_iter=5)])
    with pytest.raises(sys.modules[project['helper']].SimulatedKill):
        runner.train()
    resumed = rng_project_runner(project, work, resume=True, custom_hooks=[])
    resumed.train()
    assert max_abs_diff(final_weights(resumed.model), reference) > 1e-6


def test_validation_does_not_consume_training_randomness(project, tmp_path):
    hook = RNGStateHook()
    runner = rng_project_runner(
        project,
        tmp_path / 'v',
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2))
    runner.train()
    before = capture_rng_state()
    hook.before_val(runner)  # the train loop is at iteration 2: validation during training
    torch.rand(10), np.random.rand(), random.random()  # validation draws random numbers
    hook.after_val(runner)
    after = capture_rng_state()
    assert torch.equal(before['torch'], after['torch'])
    assert torch.equal(before['numpy']['keys'], after['numpy']['keys'])
    assert before['numpy']['pos'] == after['numpy']['pos']
    assert torch.equal(before['python']['internal'], after['python']['internal'])


def test_load_from_does_not_restore_rng(project, tmp_path):
    """Fine-tuning from a checkpoint (load_from, not resume) keeps the fresh run's streams."""
    src = rng_project_runner(
        project,
        tmp_path / 'src',
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2))
    src.train()
    ft = rng_project_runner(
        project,
        tmp_path / 'ft',
        load_from=str(tmp_path / 'src' / 'iter_2.pth'),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=1, val_interval=2))
    hook = next(h for h in ft.hooks if isinstance(h, RNGStateHook))
    ft.train()
    assert hook._pending is None and ft.iter == 1
    # the loop's iterator was not wrapped (no restore scheduled)
    assert type(ft.train_loop.dataloader_iterator).__name__ == '_InfiniteDataloaderIterator'


def test_resume_without_rng_state_warns_or_raises(project, tmp_path):
    """A checkpoint written without the hook: warning by default, RuntimeError with strict."""
    src = rng_project_runner(
        project,
        tmp_path / 'old',
        custom_hooks=[],
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2))
    src.train()
    assert 'rng_state' not in torch.load(str(tmp_path / 'old' / 'iter_2.pth'))
    strict = rng_project_runner(
        project,
        tmp_path / 'old',
        resume=True,
        custom_hooks=[dict(type='RNGStateHook', strict=True)],
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=3, val_interval=2))
    with pytest.raises(RuntimeError, match="no 'rng_state'"):
        strict.train()


def test_default_runtime_enables_the_hook():
    """configs/_base_/default_runtime.py lists RNGStateHook and the schedules name
    AtomicCheckpointHook; a real dbdseg config inherits both and they build from it."""
    from mmengine.config import Config
    from mmseg.registry import HOOKS
    cfg = Config.fromfile(
        osp.join(tiny.REPO_ROOT, 'configs', 'realtime_dbd',
                 'realtime-dbd_gradunet_1xb64-bce-19k_cuhk-320x320.py'))
    assert dict(type='RNGStateHook') in cfg.custom_hooks
    hook = HOOKS.build(cfg.custom_hooks[0])
    assert isinstance(hook, RNGStateHook) and hook.priority == 85
    assert hook.isolate_validation and not hook.strict
    assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook'
    checkpoint = HOOKS.build(cfg.default_hooks.checkpoint)
    assert type(checkpoint) is AtomicCheckpointHook and checkpoint.interval == 1000
