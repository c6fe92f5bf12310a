"""The CPU experiment configs (``configs/*/cpu_experiment/``) hold what their READMEs say.

These configs produced the numbers in the folders' READMEs; the test pins what the READMEs say about
them (seed, input size, schedule length, which arm loads which checkpoint, gamma). Building their
models and datasets is checked with every other config in ``tests/test_config.py``.
"""
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', '*', 'cpu_experiment', '*.py')))


def test_one_folder_name_for_cpu_experiments():
    folders = {osp.basename(p) for p in glob.glob(osp.join(REPO, 'configs', '*', 'cpu*'))}
    assert folders == {'cpu_experiment'}
    names = {osp.basename(p) for p in CONFIGS}
    assert 'afiu_r18_1xb8-200it_sod2dbd_synthetic-defocus-160x160.py' in names
    assert 'dd-gamma0_r18_1xb8-300it_synthetic-defocus-160x160.py' in names
    assert 'a2s-stage2_r18-randinit_1xb8-4e_pascal-s-224x224.py' in names
    assert ('realtime-dbd_gradunet-half_1xb8-bce-self-hard-400it_synthetic-defocus-192x192.py'
            in names)
    # afiu 3, a2s 2, depth_distillation 2, realtime_dbd 3 (SOD -> DBD) + 4 (Table 1 ablation); the
    # EfficientNet-Lite encoder arms are pinned in test_effnet_lite_configs.py
    assert len([n for n in names if 'effnet-lite' not in n]) == 14


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_experiment_config_values(path):
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
        assert cfg.load_from.startswith(('work_dirs/cpu_transfer/', 'work_dirs/cpu_experiment/'))
        assert cfg.load_from.endswith('.pth')
    else:
        assert cfg.get('load_from') is None
    if cfg.get('train_dataloader') is None:  # test-only configs (real photos) train nothing
        assert '_test_' in name and cfg.get('train_cfg') is None
        return
    if name.startswith('dd'):
        gamma = cfg.model.decode_head.loss_depth.loss_weight
        assert gamma == (0.0 if 'gamma0' in name else 0.1)
        assert cfg.train_dataloader.dataset.data_prefix.depth_map_path == 'depth'
