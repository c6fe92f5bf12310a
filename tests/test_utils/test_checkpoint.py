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
