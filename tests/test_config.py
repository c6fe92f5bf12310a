"""Every config builds: its model, its pipelines and its datasets.

The configs are every ``.py`` file under ``configs/`` (except ``configs/_base_/``) and under
``projects/*/configs/``; the base dataset configs (``configs/_base_/datasets/``) are checked for
their pipelines and datasets too. For each config:

* inheritance: at most three levels of ``_base_`` below the file (leaf -> parent -> grandparent ->
  ``_base_`` file);
* the model is built and predicts on a tiny 64x96 input (every model builds in about a second on
  a CPU, the ResNeXt-101 and ResNet-50 ones included; no weights are fetched, ``init_weights`` is
  not called): probabilities in [0, 1] at the original size, the prediction is their threshold;
* every pipeline (the dataloaders', ``tta_pipeline``) is built through mmseg's ``TRANSFORMS``;
* every dataloader's dataset is built on a fake layout written where the config looks (two 8x12
  images per set, masks white on the left quarter) and one sample of each set runs through the
  pipeline: the resolved ``img_suffix``, ``seg_map_suffix`` and ``invert`` are the dataset class's
  defaults unless the config overrides them, and the masks load with the release's polarity (the
  CUHK originals are white = blurred, every other release white = in-focus / salient);
* configs do not restate a dataset class's default ``img_suffix`` / ``seg_map_suffix`` /
  ``invert``.

Paper-specific values (schedules, widths, parameter counts) are checked in ``tests/test_configs/``.
"""
import ast
import copy
import functools
import glob
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS, TRANSFORMS
from mmseg.structures import SegDataSample

from dbdseg.datasets import BinarySegDataset, MultiSetDataset

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted([
    p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    if f'{os.sep}_base_{os.sep}' not in p
] + glob.glob(osp.join(REPO, 'projects', '*', 'configs', '**', '*.py'), recursive=True))
BASE_DATASETS = osp.join(REPO, 'configs', '_base_', 'datasets')
BASE_DATASET_CONFIGS = sorted(glob.glob(osp.join(BASE_DATASETS, '*.py')))


def _id(path):
    return osp.relpath(path, REPO)


@pytest.fixture(autouse=True)
def _scope():
    """Pipelines and models resolve names in mmseg's scope, as the runner sets it."""
    init_default_scope('mmseg')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@functools.lru_cache(maxsize=None)
def _load_cached(path):
    return Config.fromfile(path)


def load(path):
    """The config at ``path`` (a fresh copy: tests may edit it)."""
    return copy.deepcopy(_load_cached(path))


def test_every_config_is_collected():
    names = {_id(p) for p in CONFIGS}
    assert len(CONFIGS) > 60
    for folder in ('a2s', 'afiu', 'depth_distillation', 'realtime_dbd', 'demo'):
        assert any(n.startswith(f'configs/{folder}/') for n in names), folder
    assert any(n.startswith('projects/classical_dbd/configs/') for n in names)
    assert not any('/_base_/' in n for n in names)


# ----------------------------------------------------------------------------- inheritance
def _bases(path):
    """The files in the ``_base_`` list of ``path`` (absolute paths)."""
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == '_base_' for t in node.targets):
            bases = ast.literal_eval(node.value)
            bases = [bases] if isinstance(bases, str) else list(bases)
            return [osp.normpath(osp.join(osp.dirname(path), b)) for b in bases]
    return []


def _depth(path):
    """Levels of ``_base_`` below ``path``: 0 for a file without ``_base_``."""
    bases = _bases(path)
    return 1 + max(_depth(b) for b in bases) if bases else 0


def test_depth_counts_levels(tmp_path):
    (tmp_path / 'a.py').write_text('x = 1\n')
    (tmp_path / 'b.py').write_text("_base_ = './a.py'\n")
    (tmp_path / 'c.py').write_text("_base_ = ['./b.py', './a.py']\n")
    assert [_depth(str(tmp_path / n)) for n in ('a.py', 'b.py', 'c.py')] == [0, 1, 2]


@pytest.mark.parametrize('path', CONFIGS, ids=_id)
def test_at_most_three_inheritance_levels(path):
    for base in _bases(path):
        assert osp.isfile(base), base
    assert _depth(path) <= 3, _id(path)


# ----------------------------------------------------------------------------- models
@pytest.mark.parametrize('path', CONFIGS, ids=_id)
def test_config_builds_model_and_predicts(path):
    cfg = load(path)
    size, ori = (64, 96), (48, 72)  # non-square; divisible by every model's total stride (32)
    preprocessor = cfg.model.get('data_preprocessor')
    if preprocessor is not None and preprocessor.get('size') is not None:
        preprocessor.size = size  # pad the tiny input to itself, not to the crop size
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == cfg.model.type
    model.eval()
    img = torch.randint(
        0, 256, (3, ) + size, generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    sample = SegDataSample(metainfo=dict(img_shape=size, ori_shape=ori, pad_shape=size))
    with torch.no_grad():
        (out, ) = model.test_step(dict(inputs=[img], data_samples=[sample]))
    prob = out.seg_logits.data
    assert prob.shape == (1, ) + ori
    assert torch.isfinite(prob).all() and prob.min() >= 0 and prob.max() <= 1
    pred = out.pred_sem_seg.data
    assert pred.shape == (1, ) + ori
    threshold = getattr(getattr(model, 'decode_head', model), 'threshold', None)
    if threshold is None:
        threshold = getattr(model, 'threshold', 0.5)
    assert torch.equal(pred, (prob > threshold).to(pred.dtype))


# ----------------------------------------------------------------------------- pipelines
def _loader_datasets(cfg):
    """``{loader name: dataset config}`` of the dataloaders the config sets (not None)."""
    out = {}
    for name in ('train', 'val', 'test'):
        loader = cfg.get(f'{name}_dataloader')
        if loader is not None:
            out[name] = loader.dataset
    return out


def _leaves(dcfg):
    """The dataset configs that read files: ``dcfg`` or those of a Concat/MultiSetDataset."""
    if 'datasets' in dcfg:
        return [leaf for d in dcfg['datasets'] for leaf in _leaves(d)]
    return [dcfg]


@pytest.mark.parametrize('path', CONFIGS + BASE_DATASET_CONFIGS, ids=_id)
def test_config_builds_pipelines(path):
    cfg = load(path)
    pipelines = {}
    for name, dcfg in _loader_datasets(cfg).items():
        for i, leaf in enumerate(_leaves(dcfg)):
            pipelines[f'{name}_dataloader[{i}]'] = leaf['pipeline']
    for name in ('train_pipeline', 'test_pipeline', 'tta_pipeline'):
        if cfg.get(name) is not None:
            pipelines[name] = cfg[name]
    assert pipelines, 'no pipeline'
    for name, pipeline in pipelines.items():
        composed = Compose(copy.deepcopy(pipeline))
        assert len(composed.transforms) == len(pipeline), name
        for transform, tcfg in zip(composed.transforms, pipeline):
            assert type(transform) is TRANSFORMS.get(tcfg['type']), (name, tcfg['type'])


# ----------------------------------------------------------------------------- datasets
H, W = 8, 12  # fake images: non-square; masks white on the left quarter
WHITE_COLS = W // 4
#: the releases whose masks are white = blurred (all others: white = in-focus / salient)
WHITE_IS_BLURRED = {'CUHKDBDDataset'}
EXTRA_MAPS = ('depth_map_path', 'saliency_map_path', 'pseudo_label_path')
DEFAULTS = dict(img_suffix='IMG_SUFFIX', seg_map_suffix='SEG_MAP_SUFFIX', invert='INVERT')


def _write(path, arr):
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, arr), path


def _resolved(leaf, arg):
    """What ``arg`` resolves to for the dataset config ``leaf``: its value, else the default."""
    return leaf.get(arg, getattr(DATASETS.get(leaf['type']), DEFAULTS[arg]))


def _fake_layout(leaf, base):
    """Write two image/mask pairs (and extra maps, ann_file) where ``leaf`` looks, under ``base``.

    The fake root keeps the folder name of the config's data_root, so derived set names match.
    Returns ``leaf`` pointing at the fake root.
    """
    leaf = copy.deepcopy(leaf)
    root = osp.join(str(base), osp.basename(osp.normpath(leaf.get('data_root') or 'root')))
    prefix = leaf.get('data_prefix', dict(img_path='', seg_map_path=''))
    stems = ('p0', 'p1')
    mask = np.zeros((H, W), np.uint8)
    mask[:, :WHITE_COLS] = 255
    for i, stem in enumerate(stems):
        img = np.full((H, W, 3), 60 + 40 * i, np.uint8)
        _write(osp.join(root, prefix['img_path'], stem + _resolved(leaf, 'img_suffix')), img)
        if prefix.get('seg_map_path') is not None:
            _write(
                osp.join(root, prefix['seg_map_path'], stem + _resolved(leaf, 'seg_map_suffix')),
                mask)
        for key in EXTRA_MAPS:
            if prefix.get(key):
                _write(
                    osp.join(root, prefix[key], stem + leaf.get('extra_map_suffix', '.png')), mask)
    if leaf.get('ann_file'):
        os.makedirs(osp.dirname(osp.join(root, leaf['ann_file'])), exist_ok=True)
        with open(osp.join(root, leaf['ann_file']), 'w') as f:
            f.write('\n'.join(stems) + '\n')
    leaf['data_root'] = root
    # mmengine serialises the data list with a gc.collect() per dataset (about 0.4 s each in a
    # test session); two samples need no serialisation
    leaf['serialize_data'] = False
    return leaf


def _with_fake_layout(dcfg, base):
    dcfg = copy.deepcopy(dcfg)
    if 'datasets' in dcfg:
        dcfg['datasets'] = [
            _with_fake_layout(d, osp.join(str(base), str(i)))
            for i, d in enumerate(dcfg['datasets'])
        ]
        return dcfg
    return _fake_layout(dcfg, base)


def _built_leaves(dataset):
    if hasattr(dataset, 'datasets'):
        return [leaf for d in dataset.datasets for leaf in _built_leaves(d)]
    return [dataset]


def _white_label(leaf):
    """Label of the white mask pixels after loading: 0 for masks stored white = blurred."""
    blurred = leaf['type'] in WHITE_IS_BLURRED
    if 'invert' in leaf:  # a config that overrides the release's polarity
        blurred = leaf['invert']
    return 0 if blurred else 1


def _check_sample(out, leaf, set_name):
    sample = out['data_samples']
    inputs = out['inputs']
    assert inputs.dtype == torch.uint8 and inputs.shape[0] == 3
    assert sample.metainfo['set_name'] == set_name
    prefix = leaf.get('data_prefix', {})
    if prefix.get('seg_map_path') is None:  # unlabeled: no human label is loaded
        assert 'gt_sem_seg' not in sample
    else:
        gt = sample.gt_sem_seg.data[0]
        valid = gt != 255  # rotated-in corners are ignored
        assert set(gt[valid].unique().tolist()) <= {0, 1}
        white = float(gt[valid].eq(_white_label(leaf)).float().mean())
        # flips keep the white share; a rotation by up to 15 degrees changes it a little
        assert abs(white - WHITE_COLS / W) < 0.1, (leaf['type'], white)
    for key, field in (('depth_map_path', 'gt_depth_map'), ('saliency_map_path', 'gt_saliency_map'),
                       ('pseudo_label_path', 'gt_pseudo_label')):
        if prefix.get(key) and any(t['type'] == 'LoadBinaryAnnotations' for t in leaf['pipeline']):
            assert field in sample, field


@pytest.mark.parametrize('path', CONFIGS + BASE_DATASET_CONFIGS, ids=_id)
def test_config_builds_datasets(path, tmp_path):
    cfg = load(path)
    loaders = _loader_datasets(cfg)
    assert loaders, 'no dataloader'
    for name, dcfg in loaders.items():
        dcfg = _with_fake_layout(dcfg, tmp_path / name)
        leaves = _leaves(dcfg)
        dataset = DATASETS.build(dcfg)
        built = _built_leaves(dataset)
        assert len(built) == len(leaves) and len(dataset) == 2 * len(leaves)
        if isinstance(dataset, MultiSetDataset):
            assert dataset.set_names == [d.set_name for d in built]
        for i, (leaf, ds) in enumerate(zip(leaves, built)):
            assert isinstance(ds, BinarySegDataset) and type(ds).__name__ == leaf['type']
            for arg in DEFAULTS:
                assert getattr(ds, arg) == _resolved(leaf, arg), (name, leaf['type'], arg)
            assert ds.get_data_info(0)['invert'] is ds.invert
            _check_sample(dataset[2 * i], leaf, ds.set_name)


@pytest.mark.parametrize('path', CONFIGS + BASE_DATASET_CONFIGS, ids=_id)
def test_config_tta_pipeline_runs(path, tmp_path):
    """``tools/test.py --tta`` puts ``tta_pipeline`` on the test sets: every view keeps the ground
    truth at the original size and orientation."""
    cfg = load(path)
    if cfg.get('tta_pipeline') is None or cfg.get('test_dataloader') is None:
        pytest.skip('no tta_pipeline or no test set')
    dcfg = _with_fake_layout(cfg.test_dataloader.dataset, tmp_path)
    for leaf in _leaves(dcfg):
        leaf['pipeline'] = copy.deepcopy(cfg.tta_pipeline)
    dataset = DATASETS.build(dcfg)
    leaves = _leaves(dcfg)
    for i in (0, len(dataset) - 1):  # the first and the last set
        out = dataset[i]
        leaf = leaves[i // 2]
        assert len(out['inputs']) == len(out['data_samples']) >= 2
        assert [s.flip for s in out['data_samples']][:2] == [False, True]
        white = _white_label(leaf)
        for sample in out['data_samples']:
            gt = sample.gt_sem_seg.data[0]
            assert gt.shape == (H, W)
            assert gt[:, :WHITE_COLS].eq(white).all() and gt[:, WHITE_COLS:].eq(1 - white).all()


def _dataset_dicts(obj):
    """Every dict with a dataset ``type`` anywhere in a config (helper variables included)."""
    if isinstance(obj, dict):
        if isinstance(obj.get('type'), str) and obj['type'] in DATASETS:
            yield obj
        for value in obj.values():
            yield from _dataset_dicts(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _dataset_dicts(value)


@pytest.mark.parametrize('path', CONFIGS + BASE_DATASET_CONFIGS, ids=_id)
def test_config_does_not_restate_dataset_defaults(path):
    found = 0
    for dcfg in _dataset_dicts(load(path).to_dict()):
        cls = DATASETS.get(dcfg['type'])
        if not (isinstance(cls, type) and issubclass(cls, BinarySegDataset)):
            continue
        found += 1
        for arg, attr in DEFAULTS.items():
            if arg in dcfg:
                assert dcfg[arg] != getattr(cls, attr), (dcfg['type'], arg, dcfg[arg])
    assert found


# ----------------------------------------------------------------------------- base dataset configs
# config: loader -> expected set name (list for a MultiSetDataset); the synthetic set has no
# name of its own and is named after its data_root folder.
EXPECTED = {
    'cuhk_dbd.py':
    dict(train='CUHK', val='CUHK', test='CUHK'),
    'dut_dbd.py':
    dict(train='DUT', val='DUT', test='DUT'),
    'synthetic_defocus.py':
    dict(train='synthetic_defocus', val='synthetic_defocus', test='synthetic_defocus'),
    'duts.py':
    dict(train='DUTS-TR', val='DUTS-TE', test='DUTS-TE'),
    'msra_b.py':
    dict(train='MSRA-B-train', val='MSRA-B-val', test='MSRA-B'),
    'sod_benchmarks.py':
    dict(
        train='DUTS-TR',
        val='DUTS-TE',
        test=['DUTS-TE', 'ECSSD', 'HKU-IS', 'PASCAL-S', 'DUT-OMRON', 'SOD']),
    'dbd_benchmarks.py':
    dict(train='DUT', val='DUT', test=['CUHK', 'DUT']),
}
# data roots the base configs point at (the converters' layout)
DATA_ROOTS = {
    'CUHKDBDDataset': 'data/cuhk_dbd',
    'DUTDBDDataset': 'data/dut_dbd',
    'DUTSDataset': 'data/duts',
    'ECSSDDataset': 'data/ecssd',
    'HKUISDataset': 'data/hku_is',
    'PASCALSDataset': 'data/pascal_s',
    'DUTOMRONDataset': 'data/dut_omron',
    'SODDataset': 'data/sod',
    'MSRABDataset': 'data/msra_b',
    'BinarySegDataset': 'data/synthetic_defocus',
}


def test_every_base_dataset_config_is_used_and_covered():
    assert {osp.basename(p) for p in BASE_DATASET_CONFIGS} == set(EXPECTED)
    used = {b for p in CONFIGS for b in _bases(p)}
    for path in BASE_DATASET_CONFIGS:
        assert path in used, f'no config inherits {_id(path)}'


@pytest.mark.parametrize('path', BASE_DATASET_CONFIGS, ids=osp.basename)
def test_base_dataset_config(path, tmp_path):
    cfg = load(path)
    expected = EXPECTED[osp.basename(path)]
    assert cfg.crop_size == (320, 320)
    assert cfg.val_evaluator == dict(type='SODMetric')
    assert cfg.test_evaluator == dict(type='SODMetric')
    assert 'tta_model' not in cfg  # lives in default_runtime.py
    assert set(_loader_datasets(cfg)) == set(expected)
    for name, want in expected.items():
        loader = cfg[f'{name}_dataloader']
        assert loader.sampler.type == ('InfiniteSampler' if name == 'train' else 'DefaultSampler')
        for leaf in _leaves(loader.dataset):
            assert leaf['data_root'] == DATA_ROOTS[leaf['type']], leaf['type']
        dataset = DATASETS.build(_with_fake_layout(loader.dataset, tmp_path / name))
        names = [d.set_name for d in _built_leaves(dataset)]
        assert names == (want if isinstance(want, list) else [want])
        assert isinstance(dataset, MultiSetDataset) == isinstance(want, list)
    # TTA: 3 scales (crop x 0.7 / 1.0 / 1.3, multiples of 32) x {no flip, flip}
    dcfg = _with_fake_layout(cfg.test_dataloader.dataset, tmp_path / 'tta')
    for leaf in _leaves(dcfg):
        leaf['pipeline'] = copy.deepcopy(cfg.tta_pipeline)
    out = DATASETS.build(dcfg)[0]
    sizes = [tuple(x.shape[1:]) for x in out['inputs']]
    assert sizes == [(224, 224)] * 2 + [(320, 320)] * 2 + [(416, 416)] * 2
    assert [s.flip for s in out['data_samples']] == [False, True] * 3
    assert torch.equal(out['inputs'][3], out['inputs'][2].flip(-1))  # the flipped view at 320


def _write_synthetic_layout(root, stems, h=12, w=16):
    for stem in stems:
        img = np.zeros((h, w, 3), np.uint8)
        img[..., 0] = np.arange(w, dtype=np.uint8)[None, :]
        img[..., 1] = np.arange(h, dtype=np.uint8)[:, None]
        mask = np.zeros((h, w), np.uint8)
        mask[:, w // 4:] = 255  # 255 = in-focus in the renderer's layout
        depth = np.tile(np.linspace(0, 65535, w).astype(np.uint16)[None], (h, 1))
        _write(str(root / 'images' / f'{stem}.png'), img)  # lossless for exact checks
        _write(str(root / 'masks' / f'{stem}.png'), mask)
        _write(str(root / 'depth' / f'{stem}.png'), depth)
    (root / 'train.txt').write_text('\n'.join(stems) + '\n')
    (root / 'val.txt').write_text(stems[0] + '\n')


def test_synthetic_config_train_and_val_through_pipeline(tmp_path):
    """The synthetic-defocus base: the train split also loads the depth maps (16-bit, read as
    [0, 1]); the validation ground truth stays at the original size."""
    root = tmp_path / 'synthetic_defocus'
    _write_synthetic_layout(root, ['s0', 's1'])
    cfg = load(osp.join(BASE_DATASETS, 'synthetic_defocus.py'))
    train_cfg = cfg.train_dataloader.dataset
    train_cfg.update(data_root=str(root), img_suffix='.png')
    train_cfg.pipeline[3] = dict(type='RandomFlip', prob=0.0)  # deterministic
    ds = DATASETS.build(train_cfg)
    assert len(ds) == 2
    out = ds[0]
    assert out['inputs'].shape == (3, 320, 320) and out['inputs'].dtype == torch.uint8
    sample = out['data_samples']
    gt = sample.gt_sem_seg.data
    assert gt.shape == (1, 320, 320) and gt.dtype == torch.int64
    assert gt[0, :, :80].eq(0).all() and gt[0, :, 80:].eq(1).all()  # w//4 of 16 -> 80 of 320
    depth = sample.gt_depth_map.data
    assert depth.shape == (1, 320, 320) and depth.dtype == torch.float32
    assert depth[0, 0, 0] == 0.0 and depth[0, 0, -1] == 1.0
    assert sample.img_path.endswith('s0.png')

    val_cfg = cfg.val_dataloader.dataset
    val_cfg.update(data_root=str(root), img_suffix='.png')
    vds = DATASETS.build(val_cfg)
    assert len(vds) == 1
    out = vds[0]
    assert out['inputs'].shape == (3, 320, 320)
    gt = out['data_samples'].gt_sem_seg.data
    assert gt.shape == (1, 12, 16)  # ground truth kept at the original size
    assert gt[0, :, :4].eq(0).all() and gt[0, :, 4:].eq(1).all()
    assert out['data_samples'].ori_shape == (12, 16)


# ----------------------------------------------------------------------------- offline fine-tuning
def _pretrained_init_cfgs(obj, where='model'):
    """``(where, checkpoint)`` of every ``init_cfg`` of type ``Pretrained`` in a model config."""
    if isinstance(obj, dict):
        init_cfg = obj.get('init_cfg')
        for item in init_cfg if isinstance(init_cfg, list) else [init_cfg]:
            if isinstance(item, dict) and item.get('type') == 'Pretrained':
                yield where, item.get('checkpoint')
        for key, value in obj.items():
            if key != 'init_cfg':
                yield from _pretrained_init_cfgs(value, f'{where}.{key}')
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from _pretrained_init_cfgs(value, f'{where}[{i}]')


def test_pretrained_init_cfgs_are_found():
    model = dict(
        backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='a')),
        head=[dict(init_cfg=[dict(
            type='Normal'), dict(type='Pretrained', checkpoint='b')])])
    assert list(_pretrained_init_cfgs(model)) == [('model.backbone', 'a'), ('model.head[0]', 'b')]


LOAD_FROM_CONFIGS = [p for p in CONFIGS if load(p).get('load_from')]


def test_the_load_from_configs_are_found():
    # the SOD -> DBD fine-tuning steps of every paper (and DD's DUTS step): the check below must not
    # silently run on nothing
    assert len(LOAD_FROM_CONFIGS) >= 8
    assert all('sod2dbd' in p or 'duts' in p for p in LOAD_FROM_CONFIGS)


@pytest.mark.parametrize('path', LOAD_FROM_CONFIGS, ids=_id)
def test_load_from_config_fetches_no_pretrained_weights(path):
    """A config whose ``load_from`` overwrites every weight (the SOD -> DBD fine-tuning steps) must
    not fetch ImageNet / MoCo weights first: it would fail offline for nothing (issue 18 item 9)."""
    assert list(_pretrained_init_cfgs(load(path).model.to_dict())) == []


# ----------------------------------------------------------------------------- validation split
DBD_TYPES = ('CUHKDBDDataset', 'DUTDBDDataset')


def _is_dbd_config(cfg):
    """A config that tests on a DBD benchmark (CUHK / DUT test folders)."""
    test = cfg.get('test_dataloader')
    return test is not None and any(leaf['type'] in DBD_TYPES for leaf in _leaves(test.dataset))


@pytest.mark.parametrize('path', CONFIGS + BASE_DATASET_CONFIGS, ids=_id)
def test_dbd_configs_select_on_a_validation_split_not_the_test_set(path):
    """Issue 18 item 7: a DBD config validates (and keeps its 'best' checkpoint) on the seeded
    validation split carved from the training images, trains on the rest and tests on the test
    folders; the papers' practice stays a named option (``val_on_test_*``)."""
    cfg = load(path)
    for dcfg in _loader_datasets(cfg).values():  # the split lists belong to the DBD sets only
        for leaf in _leaves(dcfg):
            assert leaf['type'] in DBD_TYPES or not str(leaf.get('ann_file',
                                                                 '')).startswith('splits/'), leaf
    if not _is_dbd_config(cfg):
        pytest.skip('not a DBD config')
    tests = {(leaf['data_root'], leaf['data_prefix']['img_path'])
             for leaf in _leaves(cfg.test_dataloader.dataset)}
    assert all(img.startswith('test/') for _, img in tests)
    if cfg.get('val_dataloader') is not None:
        for leaf in _leaves(cfg.val_dataloader.dataset):
            if leaf['type'] in DBD_TYPES:
                assert leaf['data_prefix']['img_path'] == 'train/images', leaf
                assert leaf['ann_file'] == 'splits/val.txt', leaf
                assert (leaf['data_root'], 'train/images') not in tests
    if cfg.get('train_dataloader') is None:  # test-only configs (classical baselines)
        return
    for leaf in _leaves(cfg.train_dataloader.dataset):
        if leaf['type'] in DBD_TYPES:
            assert leaf['data_prefix']['img_path'] == 'train/images'
            assert leaf.get('ann_file') == 'splits/train.txt', leaf
    assert cfg.val_on_test_train == dict(ann_file='')
    assert cfg.val_on_test_val['data_prefix']['img_path'] == 'test/images'


def test_papers_practice_is_a_three_line_user_config(tmp_path):
    """The named option of the DBD READMEs: train on every training image, validate on the test
    split; the datasets build from it."""
    base = osp.join(REPO, 'configs', 'realtime_dbd',
                    'realtime-dbd_gradunet_1xb64-bce-19k_dut-320x320.py')
    user = tmp_path / 'val_on_test.py'
    user.write_text(f"_base_ = '{base}'\n"
                    'train_dataloader = dict(dataset={{_base_.val_on_test_train}})\n'
                    'val_dataloader = dict(dataset={{_base_.val_on_test_val}})\n')
    cfg = Config.fromfile(str(user))
    val, train = cfg.val_dataloader.dataset, cfg.train_dataloader.dataset
    assert val.data_prefix == dict(img_path='test/images', seg_map_path='test/masks')
    assert val.ann_file == '' and train.ann_file == '' and val.type == 'DUTDBDDataset'
    assert cfg.test_dataloader.dataset.data_prefix.img_path == 'test/images'
    assert load(base).val_dataloader.dataset.ann_file == 'splits/val.txt'  # the default
    # the val set is the test folder: every test image, no list
    root = tmp_path / 'dut_dbd'
    for folder, stems in (('test', ('t0', 't1', 't2')), ('train', ('a0', 'a1'))):
        for stem in stems:
            _write(str(root / folder / 'images' / f'{stem}.jpg'), np.zeros((H, W, 3), np.uint8))
            _write(str(root / folder / 'masks' / f'{stem}.bmp'), np.zeros((H, W), np.uint8))
    built = DATASETS.build(dict(val.to_dict(), data_root=str(root), serialize_data=False))
    assert [osp.basename(d['img_path'])
            for d in built.load_data_list()] == ['t0.jpg', 't1.jpg', 't2.jpg']
