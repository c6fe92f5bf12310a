"""The CPU experiment configs (``configs/*/cpu_transfer``, ``configs/*/cpu_experiment``) load, build and run.

These configs produced the numbers in the folders' READMEs; the test pins what the READMEs say about them
(seed, input size, schedule length, which arm loads which checkpoint, gamma) and runs one tiny forward.
"""
import glob
import re
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import dbdseg  # noqa: F401
from mmseg.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    glob.glob(osp.join(REPO, 'configs', '*', 'cpu_transfer', '*.py')) +
    glob.glob(osp.join(REPO, 'configs', '*', 'cpu_experiment', '*.py')))


def test_experiment_configs_present():
    names = {osp.basename(p) for p in CONFIGS}
    assert 'afiu_r18_1xb8-200it_sod2dbd_synthetic-defocus-160x160.py' in names
    assert 'dd-gamma0_r18_1xb8-300it_synthetic-defocus-160x160.py' in names
    assert 'a2s-stage2_r18-randinit_1xb8-4e_pascal-s-224x224.py' in names
    assert len(CONFIGS) == 10


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_experiment_config_builds_and_runs(path):
    init_default_scope('mmseg')
    cfg = Config.fromfile(path)
    name = osp.basename(path)
    assert cfg.randomness.seed == 0
    size = int(name.rsplit('-', 1)[1].split('x')[0])
    assert tuple(cfg.model.data_preprocessor.size) == (size, size)
    match = re.search(r'-(\d+)it_', name)
    if match:  # iteration-based: the length in the name is the schedule's
        iters = int(match.group(1))
        assert cfg.train_cfg.max_iters == iters
        assert cfg.param_scheduler[-1].end == iters
    match = re.search(r'-(\d+)e_', name)
    if match:  # epoch-based (A2S)
        assert cfg.train_cfg.max_epochs == int(match.group(1))
    if '_sod2dbd_' in name:  # the fine-tune arm starts from its SOD step's last checkpoint
        assert cfg.load_from.startswith('work_dirs/cpu_transfer/')
    else:
        assert cfg.get('load_from') is None
    if name.startswith('dd'):
        gamma = cfg.model.decode_head.loss_depth.loss_weight
        assert gamma == (0.0 if 'gamma0' in name else 0.1)
        assert cfg.train_dataloader.dataset.data_prefix.depth_map_path == 'depth'
    model = MODELS.build(cfg.model)
    model.eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 64, 64), mode='tensor')
    out = out[0] if isinstance(out, (list, tuple)) else out
    assert out.shape[:2] == (1, 1) and torch.isfinite(out).all()
