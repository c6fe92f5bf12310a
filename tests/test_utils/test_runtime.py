"""dbdseg.utils.runtime: SyncBN -> BN, the gloo switch without CUDA, launcher errors."""
import pytest
import torch
from mmengine.config import Config

from dbdseg.utils import runtime


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)


def test_replace_sync_bn_nested():
    tree = dict(
        backbone=dict(norm_cfg=dict(type='SyncBN', requires_grad=True)),
        decode_head=[dict(norm_cfg=dict(type='MMSyncBN')),
                     dict(norm_cfg=dict(type='GN'))],
        aux=(dict(block=dict(norm_cfg=dict(type='SyncBN'))), ),
        norm_cfg='SyncBN')  # not a dict: left alone
    assert runtime.replace_sync_bn(tree) == 3
    assert tree['backbone']['norm_cfg'] == dict(type='BN', requires_grad=True)
    assert tree['decode_head'][0]['norm_cfg']['type'] == 'BN'
    assert tree['decode_head'][1]['norm_cfg']['type'] == 'GN'
    assert tree['aux'][0]['block']['norm_cfg']['type'] == 'BN'
    assert tree['norm_cfg'] == 'SyncBN'
    assert runtime.replace_sync_bn(tree) == 0  # nothing left to replace


def test_replace_sync_bn_in_config():
    cfg = Config(dict(model=dict(backbone=dict(norm_cfg=dict(type='SyncBN')))))
    assert runtime.replace_sync_bn(cfg.model) == 1
    assert cfg.model.backbone.norm_cfg.type == 'BN'


def test_backend_switches_to_gloo_without_cuda(no_cuda):
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=60))))
    runtime.setup_cpu_runtime(cfg, 'none')
    assert cfg.env_cfg.dist_cfg == dict(backend='gloo', timeout=60)
    assert 'model_wrapper_cfg' not in cfg  # launcher 'none': no DDP set-up

    cfg = Config(dict())  # no env_cfg at all
    runtime.setup_cpu_runtime(cfg, 'none')
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'


def test_other_backend_kept_without_cuda(no_cuda):
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='mpi'))))
    runtime.setup_cpu_runtime(cfg, 'none')
    assert cfg.env_cfg.dist_cfg.backend == 'mpi'


def test_noop_with_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    runtime.setup_cpu_runtime(cfg, 'slurm')  # no error: CUDA runs take any launcher
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'


@pytest.mark.parametrize('launcher', ['slurm', 'mpi'])
def test_unsupported_launcher_without_cuda(no_cuda, launcher):
    with pytest.raises(ValueError, match=f'got "{launcher}"') as e:
        runtime.setup_cpu_runtime(Config(dict()), launcher)
    assert isinstance(e.value, runtime.UnsupportedLauncherError)
    assert 'tools/dist_train.sh' in str(e.value)
    with pytest.raises(ValueError, match='tools/dist_test.sh'):
        runtime.setup_cpu_runtime(Config(dict()), launcher, dist_script='tools/dist_test.sh')


def test_pytorch_launcher_without_cuda_sets_cpu_ddp(no_cuda, monkeypatch):
    import torch.distributed as dist
    monkeypatch.setattr(dist, 'is_initialized', lambda: True)  # no real process group
    cfg = Config(dict(model=dict(backbone=dict(norm_cfg=dict(type='SyncBN'))), sync_bn='torch'))
    runtime.setup_cpu_runtime(cfg, 'pytorch')
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.type == 'MMDistributedDataParallel'
    assert cfg.model_wrapper_cfg.device_ids is None
    assert cfg.sync_bn is None
    assert cfg.model.backbone.norm_cfg.type == 'BN'


def test_shutdown_distributed_without_group_is_noop(monkeypatch):
    import torch.distributed as dist
    monkeypatch.setattr(dist, 'is_initialized', lambda: False)
    runtime.shutdown_distributed()  # must not raise
