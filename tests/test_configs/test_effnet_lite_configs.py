"""The EfficientNet-Lite0 configs: every paper model's Lite variant and the demo model build from
the installed ImageNet weights, and A2S's Lite variant runs end to end (stage 1 -> pseudo labels ->
stage 2) on a folder of unlabeled photos."""
import glob
import os
import os.path as osp
import uuid

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from dbdseg.models.backbones.efficientnet_lite import (convert_efficientnet_lite_state_dict,
                                                       efficientnet_lite_weights_path)
from dbdseg.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LITE_CONFIGS = sorted(
    glob.glob(osp.join(ROOT, 'configs', '**', '*effnet-lite0*.py'), recursive=True))
A2S = osp.join(ROOT, 'configs', 'a2s', 'cpu_experiment')
STAGE1 = osp.join(A2S, 'a2s-stage1_effnet-lite0_1xb8-6e_pascal-s-224x224.py')
STAGE2 = osp.join(A2S, 'a2s-stage2_effnet-lite0_1xb8-4e_pascal-s-224x224.py')


@pytest.fixture(autouse=True, scope='module')
def _one_thread():
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _packaged_stem_weight():
    raw = torch.load(efficientnet_lite_weights_path('lite0'), weights_only=True)
    return convert_efficientnet_lite_state_dict(raw, 'lite0')['stem.conv.weight']


def test_one_lite_config_per_paper_model_and_the_demo():
    names = {osp.relpath(p, osp.join(ROOT, 'configs')).split(os.sep)[0] for p in LITE_CONFIGS}
    assert names == {'afiu', 'depth_distillation', 'a2s', 'demo', 'realtime_dbd'}


@pytest.mark.parametrize('path', LITE_CONFIGS, ids=osp.basename)
def test_lite_config_builds_from_the_installed_imagenet_weights(path):
    cfg = Config.fromfile(path)
    assert cfg.model.data_preprocessor.mean == [127.0, 127.0, 127.0]
    assert cfg.model.data_preprocessor.std == [128.0, 128.0, 128.0]
    model = MODELS.build(cfg.model)
    model.init_weights()
    encoder = getattr(model.backbone, 'encoder', model.backbone)
    assert type(encoder).__name__ == 'EfficientNetLite'
    if cfg.get('load_from'):  # every weight comes from load_from: the ImageNet file is not read
        assert encoder.init_cfg is None
        assert not torch.equal(encoder.stem.conv.weight, _packaged_stem_weight())
    else:
        assert torch.equal(encoder.stem.conv.weight, _packaged_stem_weight())
    model.eval()
    size = tuple(cfg.model.data_preprocessor.size)
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 64), mode='tensor')
    assert out.shape[:2] == (1, 1) and size[0] >= 160


def _photos(folder, n=4, size=(40, 52)):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        img = rng.integers(0, 60, size + (3, )).astype(np.uint8)
        img[10:30, 15:40] = 200  # a bright object on a dark background
        cv2.imwrite(str(folder / f'p{i}.jpg'), img)


def _tiny(cfg, work_dir, data_root):
    cfg.merge_from_dict({
        'train_dataloader.batch_size': 2,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.data_root': str(data_root),
        'train_cfg.max_epochs': 1,
        'default_hooks.logger.interval': 1,
        'default_hooks.checkpoint.interval': 1,
    })
    cfg.model.data_preprocessor.size = (64, 64)
    for t in cfg.train_dataloader.dataset.pipeline:
        if t.type == 'Resize':
            t.scale = (64, 64)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'lite_{uuid.uuid4().hex[:8]}'
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook', draw=False)
    cfg.env_cfg.dist_cfg = dict(backend='gloo')
    return cfg


def test_a2s_lite_end_to_end_on_unlabeled_photos(tmp_path):
    from mmengine.runner import Runner

    from dbdseg.apis.pseudo_label import build_model_cue, generate_pseudo_labels
    root = tmp_path / 'data'
    _photos(root / 'images')
    (root / 'train.txt').write_text('\n'.join(f'p{i}' for i in range(4)) + '\n')

    # stage 1: frozen ImageNet encoder, activation head trained without labels
    cfg1 = _tiny(Config.fromfile(STAGE1), tmp_path / 'stage1', root)
    Runner.from_cfg(cfg1).train()
    ckpt1 = tmp_path / 'stage1' / 'epoch_1.pth'
    state = torch.load(ckpt1, map_location='cpu', weights_only=False)['state_dict']
    assert torch.equal(state['backbone.stem.conv.weight'], _packaged_stem_weight())  # frozen

    # pseudo labels from the stage-1 network + CRF, at each photo's own size
    cue = build_model_cue(STAGE1, str(ckpt1))
    result = generate_pseudo_labels(
        str(root / 'images'), str(root / 'pseudo_labels'), cue=cue, workers=0, progress=False)
    assert len(result['written']) == 4
    label = cv2.imread(str(root / 'pseudo_labels' / 'p0.png'), cv2.IMREAD_UNCHANGED)
    assert label.shape == (40, 52) and set(np.unique(label)) <= {0, 255}

    # stage 2: RAM detector on the pseudo labels (never on masks), ImageNet encoder trainable
    cfg2 = _tiny(Config.fromfile(STAGE2), tmp_path / 'stage2', root)
    Runner.from_cfg(cfg2).train()
    state2 = torch.load(
        tmp_path / 'stage2' / 'epoch_1.pth', map_location='cpu', weights_only=False)['state_dict']
    assert not torch.equal(state2['backbone.stem.conv.weight'], _packaged_stem_weight())
