"""Checkpoints on torch >= 2.6: resume and load_from with ``weights_only`` loading kept on."""
import copy
import pickle

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from dbdseg.registry import DATASETS, MODELS
from dbdseg.utils import checkpoint as ckpt_utils

# What every entry point does before it loads a checkpoint (tools, init_model, RNGStateHook).
ckpt_utils.install_checkpoint_guard()


@MODELS.register_module(force=True)
class _ToyRegressor(BaseModel):
    """y = w x + b, MSE; deterministic, so a resumed run compares with an uninterrupted one."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)
        nn.init.constant_(self.linear.weight, 0.5)
        nn.init.constant_(self.linear.bias, 0.0)

    def forward(self, inputs, targets, mode='tensor'):
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=((out - targets)**2).mean())
        return out


@DATASETS.register_module(force=True)
class _ToyData(Dataset):
    metainfo = dict(classes=('background', 'foreground'))

    def __len__(self):
        return 8

    def __getitem__(self, idx):
        x = torch.tensor([float(idx), 1.0])
        return dict(inputs=x, targets=torch.tensor([2.0 * idx - 1.0]))


def _cfg(work_dir, max_iters, resume=False, load_from=None):
    return dict(
        default_scope='mmseg',
        model=dict(type='_ToyRegressor'),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=dict(type='_ToyData'),
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=2,
            num_workers=0),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        param_scheduler=[dict(type='MultiStepLR', by_epoch=False, milestones=[3], gamma=0.5)],
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2),
            logger=dict(type='LoggerHook', interval=1)),
        log_processor=dict(by_epoch=False),
        resume=resume,
        load_from=load_from,
        randomness=dict(seed=0),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
    )


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_checkpoint_needs_the_allow_list(tmp_path):
    """The mmengine checkpoint really contains types that plain weights_only loading refuses."""
    runner = Runner.from_cfg(_cfg(tmp_path / 'a', max_iters=2))
    runner.train()
    path = tmp_path / 'a' / 'iter_2.pth'
    ckpt = torch.load(path, map_location='cpu')  # works: allow-listed by install_checkpoint_guard
    assert ckpt['meta']['iter'] == 2
    assert 'message_hub' in ckpt
    torch.serialization.clear_safe_globals()
    try:
        with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer|numpy'):
            torch.load(path, map_location='cpu', weights_only=True)
    finally:
        ckpt_utils._REGISTERED = False
        ckpt_utils.register_safe_globals()
    torch.load(path, map_location='cpu', weights_only=True)


def test_weights_only_still_refuses_arbitrary_objects(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'payload': _ToyData()}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, map_location='cpu')


def test_resume_continues_iterations_and_weights(tmp_path):
    # Uninterrupted reference run of 6 iterations.
    ref = Runner.from_cfg(_cfg(tmp_path / 'ref', max_iters=6))
    ref.train()
    ref_final = _weights(ref.model)

    # Interrupted run: 4 iterations, then resume up to 6 from the latest checkpoint.
    first = Runner.from_cfg(_cfg(tmp_path / 'run', max_iters=4))
    first.train()
    at_stop = _weights(first.model)
    assert first.iter == 4

    resumed = Runner.from_cfg(_cfg(tmp_path / 'run', max_iters=6, resume=True))
    resumed.train_loop  # build the loop (dataloader, optimizer) before loading the checkpoint
    resumed.load_or_resume()
    assert resumed.iter == 4
    for key, value in _weights(resumed.model).items():
        torch.testing.assert_close(value, at_stop[key])
    # The optimizer momentum and the LR schedule continue too (milestone at 3 already passed).
    assert resumed.optim_wrapper.get_lr()['lr'][0] == pytest.approx(0.005)
    resumed.train()
    assert resumed.iter == 6
    for key, value in _weights(resumed.model).items():
        torch.testing.assert_close(value, ref_final[key])


def test_load_from_loads_weights_only(tmp_path):
    src = Runner.from_cfg(_cfg(tmp_path / 'src', max_iters=2))
    src.train()
    trained = copy.deepcopy(_weights(src.model))
    fresh = Runner.from_cfg(
        _cfg(tmp_path / 'dst', max_iters=2, load_from=str(tmp_path / 'src' / 'iter_2.pth')))
    fresh.load_or_resume()
    assert fresh.iter == 0  # load_from does not resume the counter
    for key, value in _weights(fresh.model).items():
        torch.testing.assert_close(value, trained[key])


class _SneakyGetattr:
    """Pickles as getattr(HistoryBuffer, '__init__'): not a statistics method, must be refused."""

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer
        return getattr, (HistoryBuffer, '__init__')


def test_restricted_getattr_refuses_other_attributes(tmp_path):
    path = tmp_path / 'sneaky.pth'
    torch.save({'x': _SneakyGetattr()}, path)
    with pytest.raises(pickle.UnpicklingError, match='refused getattr'):
        torch.load(path, map_location='cpu')
    from mmengine.logging import HistoryBuffer
    assert ckpt_utils.history_buffer_getattr(HistoryBuffer, 'mean') is HistoryBuffer.mean
    with pytest.raises(pickle.UnpicklingError, match='refused getattr'):
        ckpt_utils.history_buffer_getattr(torch.Tensor, 'mean')


# --------------------------------------------------------------------------------------------
# issue 17, item 5: does a checkpoint fit the model?
# --------------------------------------------------------------------------------------------
class _TwoLayers(nn.Module):

    def __init__(self):
        super().__init__()
        self.body = nn.Linear(2, 3)
        self.norm = nn.BatchNorm1d(3)
        self.head = nn.Linear(3, 1)


def test_compare_state_dict_sorts_keys_into_kinds():
    model = _TwoLayers()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    assert ckpt_utils.compare_state_dict(model, state).fits
    del state['norm.num_batches_tracked']  # tolerated, as mmengine does
    state['head.weight'] = torch.zeros(2, 3)
    del state['head.bias']
    state['extra.weight'] = torch.zeros(1)
    report = ckpt_utils.compare_state_dict(model, state)
    assert report.missing == ['head.bias']
    assert report.unexpected == ['extra.weight']
    assert report.mismatched == [('head.weight', (2, 3), (1, 3))]
    assert report.matched_params == 4 and report.n_params == 6 and not report.fits


def test_strict_check_lists_keys_and_load_from_check_refuses_no_match():
    model = _TwoLayers()
    with pytest.raises(ckpt_utils.CheckpointMismatchError) as e:
        ckpt_utils.check_checkpoint_fits(model, dict(state_dict={'x.weight': torch.zeros(1)}),
                                         'f.pth', 'testing')
    msg = str(e.value)
    assert 'f.pth' in msg and 'testing' in msg and 'x.weight' in msg
    assert 'body.weight' in msg and 'head.bias' in msg
    assert 'by module: body 2, norm 4, head 2' in msg
    with pytest.raises(ckpt_utils.CheckpointMismatchError, match='none of the model'):
        ckpt_utils.check_load_from(model, {'x.weight': torch.zeros(1)}, 'f.pth')
    with pytest.raises(ckpt_utils.CheckpointError, match='not a dict'):
        ckpt_utils.check_load_from(model, [1, 2], 'f.pth')


def test_listing_is_capped():
    keys = [f'm.layer{i}.weight' for i in range(ckpt_utils.MAX_LISTED_KEYS + 5)]
    text = ckpt_utils._listing('missing', keys)
    assert keys[0] in text and keys[-1] not in text and '... and 5 more' in text


def test_suggest_converter():
    assert ckpt_utils.suggest_converter(['backbone.conv1.weight']) is None
    assert 'minet2dbdseg.py' in ckpt_utils.suggest_converter(['module.div_32.0.weight'])
    assert 'u2net2dbdseg.py' in ckpt_utils.suggest_converter(['stage5d.rebnconv1.bn_s1.bias'])


def test_resume_checkpoint_needs_meta():
    good = {'meta': {'epoch': 0, 'iter': 4}, 'message_hub': {}, 'state_dict': {}}
    ckpt_utils.check_resume_checkpoint(good, 'f.pth')
    with pytest.raises(ckpt_utils.CheckpointError, match="f.pth: it has no 'meta'"):
        ckpt_utils.check_resume_checkpoint({'state_dict': {}}, 'f.pth')
    with pytest.raises(ckpt_utils.CheckpointError, match="without 'epoch' / 'iter'"):
        ckpt_utils.check_resume_checkpoint({'meta': {}, 'message_hub': {}}, 'f.pth')
    with pytest.raises(ckpt_utils.CheckpointError, match="no 'message_hub'"):
        ckpt_utils.check_resume_checkpoint({'meta': {'epoch': 0, 'iter': 1}}, 'f.pth')


def test_hook_in_a_runner(tmp_path):
    """load_from (fine-tuning): partial fit loads what fits and reports the rest; no fit and
    a resume without meta are errors before any weight is copied."""
    from dbdseg.engine.hooks.checkpoint_check_hook import add_checkpoint_check
    src = Runner.from_cfg(_cfg(tmp_path / 'src', max_iters=2))
    src.train()
    trained = _weights(src.model)
    partial = tmp_path / 'partial.pth'
    torch.save({'state_dict': {'linear.weight': trained['linear.weight']}}, partial)
    runner = Runner.from_cfg(_cfg(tmp_path / 'a', max_iters=2, load_from=str(partial)))
    hook = add_checkpoint_check(runner, strict=False)
    runner.load_or_resume()
    assert hook.report.missing == ['linear.bias'] and hook.report.matched == ['linear.weight']
    torch.testing.assert_close(runner.model.linear.weight, trained['linear.weight'])

    runner = Runner.from_cfg(_cfg(tmp_path / 'b', max_iters=2, load_from=str(partial)))
    add_checkpoint_check(runner, strict=True)
    with pytest.raises(ckpt_utils.CheckpointMismatchError, match='linear.bias'):
        runner.load_or_resume()

    nothing = tmp_path / 'nothing.pth'
    torch.save({'state_dict': {'other.weight': torch.zeros(1, 2)}}, nothing)
    runner = Runner.from_cfg(_cfg(tmp_path / 'c', max_iters=2, load_from=str(nothing)))
    add_checkpoint_check(runner, strict=False)
    before = _weights(runner.model)
    with pytest.raises(ckpt_utils.CheckpointMismatchError, match='nothing.pth'):
        runner.load_or_resume()
    torch.testing.assert_close(_weights(runner.model), before)

    weights_only = tmp_path / 'weights_only.pth'
    torch.save({'state_dict': trained}, weights_only)
    runner = Runner.from_cfg(
        _cfg(tmp_path / 'd', max_iters=2, resume=True, load_from=str(weights_only)))
    runner.train_loop  # build the loop, as in test_resume_continues_iterations_and_weights
    add_checkpoint_check(runner, strict=False)
    with pytest.raises(ckpt_utils.CheckpointError, match="no 'meta'.*load_from"):
        runner.load_or_resume()
