"""configs/afiu/*.py: each loads, holds the paper's settings (Qian et al. Sec. 3.3), builds and
runs; a ResNet-18 AFIU at reduced widths trains 2 iterations through tools/train.py."""
import glob
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py
from dbdseg.registry import DATASETS, MODELS
from dbdseg.utils.set_env import REGISTERING_MODULES

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'afiu', '*.py')))
PRIMITIVE = osp.join(ROOT, 'configs', 'afiu', 'afiu_r50_1xb8-198k_duts-320x320.py')
R18 = (64, 64, 128, 256, 512)


@pytest.fixture(autouse=True, scope='module')
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _resolved(dcfg, arg):
    """``img_suffix`` / ``seg_map_suffix`` / ``invert`` of a dataset config: its value, else the
    dataset class's default (``IMG_SUFFIX``, ``SEG_MAP_SUFFIX``, ``INVERT``)."""
    attr = dict(img_suffix='IMG_SUFFIX', seg_map_suffix='SEG_MAP_SUFFIX', invert='INVERT')[arg]
    return dcfg.get(arg, getattr(DATASETS.get(dcfg['type']), attr))


def _reduce(model_cfg, width=8):
    """ResNet-18 backbone (no pretrained fetch) and narrow neck / head, for fast tests."""
    model_cfg.backbone.update(depth=18, init_cfg=None)
    model_cfg.neck.update(
        in_channels=R18,
        aim_channels=width,
        aim_mid_channels=width,
        sim_low_channels=width // 2,
        out_channels=width)
    model_cfg.decode_head.update(
        in_channels=(width, ) * 5, mid_channels=width // 2, block_channels=width, channels=width)
    return model_cfg


def test_the_three_configs_exist():
    assert [osp.basename(p) for p in CONFIGS] == [
        'afiu_r50_1xb8-15k_sod2dbd_cuhk-320x320.py', 'afiu_r50_1xb8-198k_duts-320x320.py',
        'afiu_r50_1xb8-32k_cuhk-320x320.py'
    ]


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_holds_the_paper_settings(path):
    cfg = Config.fromfile(path)
    name = osp.basename(path)
    m = cfg.model
    assert m.type == 'EncoderDecoder' and m.data_preprocessor.size == (320, 320)
    assert m.backbone.type == 'ResNetWithStem' and m.backbone.depth == 50
    assert m.backbone.out_indices == (0, 1, 2, 3, 4)
    assert m.neck.type == 'AIMSIMNeck' and m.neck.in_channels == (64, 256, 512, 1024, 2048)
    assert m.decode_head.type == 'RSUStackHead' and m.decode_head.side_outputs is False
    assert m.decode_head.in_channels == (m.neck.out_channels, ) * 5
    assert m.decode_head.out_channels == 1 and m.decode_head.threshold == 0.5
    assert m.decode_head.loss_decode == dict(
        type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)
    assert cfg.optim_wrapper.optimizer == dict(
        type='Adam', lr=1e-5, betas=(0.9, 0.999), weight_decay=0.0)
    assert cfg.param_scheduler == []
    assert cfg.train_dataloader.batch_size == 8
    pipe = cfg.train_dataloader.dataset.pipeline
    assert [t.type for t in pipe] == [
        'LoadImageFromFile', 'LoadBinaryAnnotations', 'Resize', 'RandomFlip',
        'PhotoMetricDistortion', 'PackBinarySegInputs'
    ]
    assert pipe[2].scale == (320, 320) and pipe[2].keep_ratio is False
    assert pipe[3].direction == 'vertical' and pipe[3].prob == 0.5
    assert cfg.default_hooks.checkpoint.save_best == 'maxF'
    assert cfg.custom_imports.imports == list(REGISTERING_MODULES)
    train, val, test = cfg.train_dataloader.dataset, cfg.val_dataloader.dataset, \
        cfg.test_dataloader.dataset
    assert test.type == 'MultiSetDataset'
    if '_duts-' in name:
        assert cfg.train_cfg.max_iters == 198000 and cfg.load_from is None
        assert (train.type, train.set_name, val.set_name) == ('DUTSDataset', 'DUTS-TR', 'DUTS-TE')
        assert [d.type for d in test.datasets] == [
            'DUTSDataset', 'ECSSDDataset', 'HKUISDataset', 'PASCALSDataset', 'DUTOMRONDataset',
            'SODDataset'
        ]
        assert m.backbone.init_cfg == dict(type='Pretrained', checkpoint='torchvision://resnet50')
    else:
        assert train.type == val.type == 'CUHKDBDDataset'
        assert _resolved(train, 'invert') is True and _resolved(val, 'invert') is True
        assert train.set_name is None
        assert train.data_prefix.img_path == 'train/images'
        # validation on the 60 images carved from the 604 training images, not on the test split
        assert val.data_prefix.img_path == 'train/images'
        assert (train.ann_file, val.ann_file) == ('splits/train.txt', 'splits/val.txt')
        assert [(d.type, _resolved(d, 'invert'), d.data_prefix.img_path)
                for d in test.datasets] == [('CUHKDBDDataset', True, 'test/images'),
                                            ('DUTDBDDataset', False, 'test/images')]
        assert _resolved(test.datasets[1], 'seg_map_suffix') == '.bmp'
        assert [t.type for t in test.datasets[0].pipeline] == [
            'LoadImageFromFile', 'Resize', 'LoadBinaryAnnotations', 'PackBinarySegInputs'
        ]
        if 'sod2dbd' in name:
            assert cfg.train_cfg.max_iters == 15000
            assert cfg.load_from == 'work_dirs/afiu_r50_1xb8-198k_duts-320x320/iter_198000.pth'
            assert m.backbone.init_cfg is None
        else:
            assert cfg.train_cfg.max_iters == 32000 and cfg.load_from is None
            assert m.backbone.init_cfg.checkpoint == 'torchvision://resnet50'


def test_full_size_model_parameter_counts():
    """ResNet-50 AFIU at the paper's widths (configs/_base_/models/afiu.py: MINet's AIM / SIM and
    U²-Net's RSU blocks, whose released models give the reference counts), built on the meta
    device."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs/_base_/models/afiu.py'))
    init_default_scope('mmseg')
    with torch.device('meta'):
        model = MODELS.build(cfg.model)

    def count(module):
        return sum(p.numel() for p in module.parameters())

    assert count(model.backbone) == 23508032  # = MINet's backbone (torchvision ResNet-50, no fc)
    assert count(model.neck.aims) == 137722176  # = MINet's AIM (trans)
    assert count(model.neck.sims) == 5 * 194464  # = MINet's SIM(64, 32) x 5
    assert count(model.neck.fusions) == 5 * 36992  # [RECON] 3x3 conv 64 -> 64 + BN
    assert count(model.decode_head) == 278016 + 250176 + 554880 + 443904 + 157632 + 65
    assert count(model) == 23508032 + 137722176 + 972320 + 184960 + 1684673 == 164072161


def test_resnet18_afiu_trains_two_iterations_and_tests_on_two_sets(tmp_path, monkeypatch):
    # mmengine re-formats the whole config with yapf for every log dump and checkpoint (about 5 s
    # each for this config tree on a busy 2-core machine); the test skips the cosmetics only.
    monkeypatch.setattr('mmengine.config.config.FormatCode', lambda text, **kwargs: (text, None))
    data_root = tiny.write_dataset(tmp_path / 'data')
    config = tmp_path / 'afiu_r18_tiny.py'
    config.write_text(f'''
_base_ = [{PRIMITIVE!r}]
crop_size = (64, 64)
data_root = {str(data_root)!r}
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(depth=18, init_cfg=None),
    neck=dict(in_channels={R18!r}, aim_channels=8, aim_mid_channels=8, sim_low_channels=4,
              out_channels=8),
    decode_head=dict(in_channels=(8, 8, 8, 8, 8), mid_channels=4, block_channels=8, channels=8))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackBinarySegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='LoadBinaryAnnotations'),
    dict(type='PackBinarySegInputs'),
]
tiny = dict(type='BinarySegDataset', data_root=data_root,
            data_prefix=dict(img_path='images', seg_map_path='masks'), img_suffix='.png',
            seg_map_suffix='.png')
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(tiny, _delete_=True, pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(tiny, _delete_=True, pipeline=test_pipeline))
# several test sets in one run, as the SOD primitive's six (MultiSetDataset)
test_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(
    datasets=[dict(tiny, pipeline=test_pipeline, set_name='SetA'),
              dict(tiny, pipeline=test_pipeline, set_name='SetB')]))
optim_wrapper = dict(optimizer=dict(lr=1e-3))
train_cfg = dict(max_iters=2, val_interval=2)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
log_level = 'WARNING'
randomness = dict(seed=0)
''')
    work_dir = tmp_path / 'work'
    train = tiny.load_tool('train')
    runner = train.main([
        str(config), '--work-dir',
        str(work_dir), '--cfg-options', f'experiment_name={tiny.unique_name("afiu")}'
    ])
    assert runner.iter == 2
    ckpt = torch.load(work_dir / 'iter_2.pth', map_location='cpu')
    state = ckpt['state_dict']
    assert 'neck.aims.4.stage2.convs.l.weight' in state
    assert 'decode_head.blocks.4.bottom.conv.weight' in state
    assert state['backbone.conv1.weight'].shape == (64, 3, 7, 7)
    # the weights moved (Adam, lr 1e-3 for the test) and the validation metric was computed
    init = MODELS.build(runner.cfg.model)
    assert not torch.equal(state['decode_head.conv_seg.weight'],
                           init.state_dict()['decode_head.conv_seg.weight'])
    # read the runner's own message hub (named after the unique experiment): the visualizer's
    # vis_data folder belongs to whichever runner of the test session created the instance
    losses = runner.message_hub.get_scalar('train/decode.loss_ce').data[0]
    assert len(losses) == 2 and all(0 < v < 10 for v in losses)
    max_f = runner.message_hub.get_scalar('val/maxF').current()
    assert 0 <= max_f <= 1
    # tools/test.py: one run over the test sets, one metric block per set
    test = tiny.load_tool('test')
    metrics = test.main([
        str(config),
        str(work_dir / 'iter_2.pth'), '--work-dir',
        str(tmp_path / 'test'), '--metrics-out',
        str(tmp_path / 'm.json'), '--cfg-options',
        f'experiment_name={tiny.unique_name("afiu_test")}'
    ])
    assert {'SetA/maxF', 'SetB/maxF', 'SetA/MAE', 'SetB/MAE'} <= set(metrics)
    assert metrics['SetA/maxF'] == pytest.approx(metrics['SetB/maxF'])  # the same images
    assert json.loads((tmp_path / 'm.json').read_text()) == pytest.approx(metrics)


def test_metafile_lists_every_config():
    import yaml
    meta = yaml.safe_load(open(osp.join(ROOT, 'configs', 'afiu', 'metafile.yaml')))
    models = {m['Name']: m for m in meta['Models']}
    assert set(models) == {osp.basename(p)[:-3] for p in CONFIGS}
    for name, m in models.items():
        assert osp.isfile(osp.join(ROOT, m['Config'])) and m['Config'].endswith(name + '.py')
        assert m['Metadata']['Parameters'] == 164072161
        assert m['Metadata']['Iterations'] == Config.fromfile(osp.join(ROOT, m['Config'])) \
            .train_cfg.max_iters
