"""configs/depth_distillation/: each config holds the paper's settings (Cun & Pun, ECCV 2020),
builds and runs.

Each config is loaded with ``mmengine.Config.fromfile``; its model is built at full width on the
meta device (no weights; parameter counts checked against the reference where the paper's model is
meant, and against metafile.yaml) and, with the backbone narrowed and pretrained weights off,
trained one step (loss + backward) and run once for prediction on a tiny batch.
"""
import glob
import os.path as osp
import re

import pytest
import torch
import yaml
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from dbdseg.registry import DATASETS, MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(REPO, 'configs', 'depth_distillation')
CONFIGS = sorted(glob.glob(osp.join(CONFIG_DIR, '*.py')))
NAMES = [osp.basename(c) for c in CONFIGS]
PRIMITIVE = 'dd_resnext101-32x4d_1xb6-10k_cuhk-320x320.py'
#: total parameters of the official models (``resskspp`` / ``vggskspp`` of
#: github.com/vinthony/depth-distillation @ 6a59c510, built with random weights)
REF_TOTAL = {'resnext': 84468186, 'vgg': 19436634}
with open(osp.join(CONFIG_DIR, 'metafile.yaml')) as _f:
    METAFILE = {m['Name']: m for m in yaml.safe_load(_f)['Models']}
NAME_RE = re.compile(r'^dd(-[a-z0-9]+)*_(resnext101-32x4d|vgg16)_1xb6-\d+k(_sod2dbd)?_'
                     r'(cuhk|dut|duts)-320x320\.py$')


@pytest.fixture(autouse=True, scope='module')
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    init_default_scope('mmseg')
    yield
    torch.set_num_threads(threads)


def load(name):
    return Config.fromfile(osp.join(CONFIG_DIR, name))


def depth_loss_on(cfg):
    head = cfg.model.decode_head
    loss = head.get('loss_depth')
    return bool(head.get('use_depth', True)) and loss is not None and loss.get('loss_weight', 1) > 0


def chain_length(name):
    """Number of config files of this folder in the inheritance chain (the file included)."""
    n = 0
    while name:
        n += 1
        with open(osp.join(CONFIG_DIR, name)) as f:
            m = re.search(r"^_base_ = '\./([^'/]+\.py)'", f.read(), re.M)
        name = m.group(1) if m else None
    return n


def test_folder_has_the_expected_configs():
    assert PRIMITIVE in NAMES
    expected = {
        'dd_resnext101-32x4d_1xb6-10k_dut-320x320.py',
        'dd-fcn_resnext101-32x4d_1xb6-10k_cuhk-320x320.py',
        'dd-fcn-d_resnext101-32x4d_1xb6-10k_cuhk-320x320.py',
        'dd-fcn-d-srfb_resnext101-32x4d_1xb6-10k_cuhk-320x320.py',
        'dd-fcn-d-rfb-sab_resnext101-32x4d_1xb6-10k_cuhk-320x320.py',
        'dd_vgg16_1xb6-10k_cuhk-320x320.py', 'dd-fcn_vgg16_1xb6-10k_cuhk-320x320.py',
        'dd_resnext101-32x4d_1xb6-20k_duts-320x320.py',
        'dd_resnext101-32x4d_1xb6-10k_sod2dbd_cuhk-320x320.py',
        'dd_resnext101-32x4d_1xb6-10k_sod2dbd_dut-320x320.py'
    }
    assert expected <= set(NAMES)
    for name in NAMES:
        assert NAME_RE.match(name), name
        assert chain_length(name) <= 3, name


@pytest.mark.parametrize('name', NAMES)
def test_config_settings(name):
    cfg = load(name)
    # the paper's optimiser, batch and crop (Sec. 4)
    assert cfg.optim_wrapper.optimizer.type == 'SGD'
    assert cfg.optim_wrapper.optimizer.lr == 0.005 and cfg.optim_wrapper.optimizer.momentum == 0.9
    assert cfg.train_dataloader.batch_size == 6
    assert tuple(cfg.crop_size) == (320, 320) and tuple(
        cfg.model.data_preprocessor.size) == (320, 320)
    assert cfg.model.decode_head.type == 'SABHead'
    prefix = cfg.train_dataloader.dataset.data_prefix
    # depth maps are read exactly when the depth loss is on
    assert ('depth_map_path' in prefix) == depth_loss_on(cfg), name
    if 'duts' in name:
        assert cfg.train_dataloader.dataset.type == 'DUTSDataset'
        assert cfg.model.decode_head.loss_depth.loss_weight == 0.0
        assert cfg.model.decode_head.use_depth  # same network as the DBD fine-tuning
        assert not cfg.val_evaluator.get('dbd_protocols')
    else:
        assert list(cfg.val_evaluator.dbd_protocols) == ['dd', 'dd_pooled']
    if '_sod2dbd_' in name:
        duts = 'dd_resnext101-32x4d_1xb6-20k_duts-320x320'
        iters = load(duts + '.py').train_cfg.max_iters
        assert cfg.load_from == f'work_dirs/{duts}/iter_{iters}.pth'
    if name.startswith('dd-fcn_'):
        assert not cfg.model.decode_head.use_depth and not cfg.model.decode_head.use_sab
        assert cfg.model.decode_head.block_cfg.type == 'UpsampleConvBlock'


def _resolved_invert(dcfg):
    """``invert`` of a dataset config: its value, else the dataset class's default."""
    return dcfg.get('invert', DATASETS.get(dcfg['type']).INVERT)


def test_primitive_tests_cuhk100_and_dut500():
    """Sec. 4: trained on the CUHK training images (less dbdseg's 60-image validation split),
    tested on CUHK100 and DUT500 (the DBD benchmark base's test sets); the CUHK originals are
    white = blurred."""
    cfg = load(PRIMITIVE)
    ds = cfg.test_dataloader.dataset
    assert ds.type == 'MultiSetDataset'
    assert [(d.type, d.data_root, _resolved_invert(d))
            for d in ds.datasets] == [('CUHKDBDDataset', 'data/cuhk_dbd', True),
                                      ('DUTDBDDataset', 'data/dut_dbd', False)]
    # trained on 544 of the 604, validated on the other 60 (the seeded validation split)
    for loader, split in ((cfg.train_dataloader, 'train'), (cfg.val_dataloader, 'val')):
        dcfg = loader.dataset
        assert (dcfg.type, dcfg.data_root) == ('CUHKDBDDataset', 'data/cuhk_dbd')
        assert dcfg.data_prefix.img_path == 'train/images' and _resolved_invert(dcfg)
        assert dcfg.ann_file == f'splits/{split}.txt'
    with open(osp.join(CONFIG_DIR, PRIMITIVE)) as f:  # one home for the DBD test sets
        assert "'../_base_/datasets/dbd_benchmarks.py'" in f.read()


@pytest.mark.parametrize('name', [n for n in NAMES if '_dut-' in n])
def test_dut_configs_train_and_test_on_dut(name):
    """The DUT split (540 train / 60 val carved from the 600 / 500 test): tested on DUT500 alone."""
    cfg = load(name)
    for loader, split, list_file in ((cfg.train_dataloader, 'train', 'splits/train.txt'),
                                     (cfg.val_dataloader, 'train',
                                      'splits/val.txt'), (cfg.test_dataloader, 'test', None)):
        dcfg = loader.dataset
        assert (dcfg.type, dcfg.data_root) == ('DUTDBDDataset', 'data/dut_dbd')
        assert dcfg.data_prefix.img_path == f'{split}/images' and not _resolved_invert(dcfg)
        assert dcfg.get('ann_file') == list_file
        assert 'datasets' not in dcfg
    head = cfg.model.decode_head
    assert head.loss_depth.loss_weight == 0.1 and head.loss_depth.mode == 'mse'  # gamma, MSE
    assert head.block_cfg.type == 'SRFB' and head.use_sab and head.use_depth


def _narrow(cfg):
    """Tiny widths and no pretrained weights; returns the head's new in_channels."""
    bb = cfg.model.backbone
    bb.init_cfg = None
    if bb.type == 'ResNeXtWithStem':
        bb.update(stem_channels=8, base_channels=8, groups=4, base_width=4)
        channels = (8, 32, 64, 128, 256)
    else:  # VGG16 has no width argument; it is small enough at 32 x 32
        channels = (64, 128, 256, 512, 512)
    cfg.model.decode_head.in_channels = channels
    return channels


def _samples(n, size, depth):
    out = []
    for i in range(n):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, size, size)))
        if depth:
            s.gt_depth_map = PixelData(data=torch.rand(1, size, size))
        s.set_metainfo(
            dict(
                img_shape=(size, size),
                pad_shape=(size, size),
                ori_shape=(size, size),
                img_path=f'{i}.jpg'))
        out.append(s)
    return out


@pytest.mark.parametrize('name', NAMES)
def test_config_builds_and_runs(name):
    cfg = load(name)
    with torch.device('meta'):
        full = MODELS.build(cfg.model)
    total = sum(p.numel() for p in full.parameters())
    assert METAFILE[name[:-3]]['Metadata']['Parameters'] == total  # metafile.yaml is current
    backbone = 'vgg' if 'vgg16' in name else 'resnext'
    if name.startswith('dd_'):  # the full model: the reference's size exactly
        assert total == REF_TOTAL[backbone], name
    else:  # ablations change the decoder
        assert total != REF_TOTAL[backbone], name
    del full
    _narrow(cfg)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    size = 32
    x = torch.randn(2, 3, size, size)
    model.train()
    losses = model.loss(x, _samples(2, size, depth_loss_on(cfg)))
    # the fused output's term and the side outputs' terms
    assert 'decode.loss_defocus' in losses and 'decode.loss_defocus_side5' in losses
    assert ('decode.loss_depth_side1' in losses) == depth_loss_on(cfg)
    total_loss = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total_loss)
    total_loss.backward()
    model.eval()
    with torch.no_grad():
        result = model.predict(x[:1], _samples(1, size, False))
    prob = result[0].seg_logits.data
    assert prob.shape == (1, size, size) and 0 <= prob.min() and prob.max() <= 1


def test_vgg_with_stem_backbone():
    """VGGWithStem (the DD VGG configs' encoder): five levels after the max-pools, torchvision's
    ``features.<i>`` names and VGG16's 14,714,688 parameters, out_indices, frozen stages, errors."""
    from dbdseg.models.backbones import VGGWithStem
    with torch.device('meta'):
        vgg = VGGWithStem(depth=16, init_cfg=None)
    assert sum(p.numel() for p in vgg.parameters()) == 14714688
    convs = sorted(int(k.split('.')[1]) for k in vgg.state_dict() if k.endswith('weight'))
    assert convs == [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    vgg = VGGWithStem(depth=11, out_indices=(0, 2, 4), frozen_stages=2, init_cfg=None).train()
    outs = vgg(torch.randn(1, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(1, 64, 32, 48), (1, 256, 8, 12), (1, 512, 2, 3)]
    frozen = [p.requires_grad for p in vgg.features[:vgg.stage_ranges[1][1]].parameters()]
    assert frozen and not any(frozen)
    assert all(p.requires_grad for p in vgg.features[vgg.stage_ranges[2][0]:].parameters())
    with pytest.raises(ValueError, match='depth'):
        VGGWithStem(depth=15)
    with pytest.raises(ValueError, match='out_indices'):
        VGGWithStem(out_indices=(2, 1))
