"""SyncBN variants of the paper configs build and run on CUDA (single process: SyncBatchNorm
normalises with the local batch statistics when no process group spans several GPUs)."""
import os.path as osp

import pytest
import torch
from dbdseg_tests_cuda_helpers import PAPER_CONFIGS, cuda_marks, drop_pretrained, to_sync_bn

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py
from dbdseg.utils.runtime import replace_sync_bn

pytestmark = cuda_marks()


@pytest.mark.parametrize('config', PAPER_CONFIGS, ids=lambda c: osp.basename(c)[:40])
def test_sync_bn_config_builds_and_runs_on_cuda(config):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    cfg = Config.fromfile(osp.join(tiny.REPO_ROOT, config))
    drop_pretrained(cfg.model)
    n_bn = to_sync_bn(cfg.model)
    assert n_bn > 0, 'the paper config has no BN norm_cfg to turn into SyncBN'
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model).cuda()
    n_sync = sum(isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules())
    assert n_sync > 0
    assert not any(type(m) is torch.nn.BatchNorm2d for m in model.modules())
    x = torch.randn(2, 3, 64, 64, device='cuda')
    model.train()
    out = model(x, mode='tensor')
    out = out[0] if isinstance(out, (list, tuple)) else out
    out.float().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    model.eval()
    with torch.no_grad():
        out = model(x, mode='tensor')
    out = out[0] if isinstance(out, (list, tuple)) else out
    assert torch.isfinite(out).all()
    # and back: the CPU runtime's replacement finds exactly what was turned into SyncBN
    assert replace_sync_bn(cfg.model) == n_bn
