"""MultiSetDataset: several named test sets in one dataloader, reported set by set."""
import os.path as osp

import numpy as np
import pytest
from mmengine.dataset import BaseDataset

from dbdseg.datasets import BinarySegDataset, CUHKDBDDataset, ECSSDDataset, MultiSetDataset
from dbdseg.registry import DATASETS

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(16, 16), keep_ratio=False),
    dict(type='LoadBinaryAnnotations'),
    dict(type='PackBinarySegInputs'),
]
PREFIX = dict(img_path='images', seg_map_path='masks')


def _cfg(root, **kwargs):
    cfg = dict(
        type='BinarySegDataset',
        data_root=str(root),
        data_prefix=dict(PREFIX),
        pipeline=list(PIPELINE))
    cfg.update(kwargs)
    return cfg


@pytest.fixture
def two_sets(tmp_path, make_folder_dataset):
    """``set_a`` with stems a0, a1 (8 x 10) and ``set_b`` with b0, b1, b2 (6 x 12)."""
    root_a = make_folder_dataset(['a1', 'a0'], h=8, w=10, root=tmp_path / 'set_a')
    root_b = make_folder_dataset(['b0', 'b2', 'b1'], h=6, w=12, root=tmp_path / 'set_b')
    return root_a, root_b


def test_concatenates_in_order_with_set_names(two_sets):
    root_a, root_b = two_sets
    ds = DATASETS.build(dict(type='MultiSetDataset', datasets=[_cfg(root_a), _cfg(root_b)]))
    assert isinstance(ds, MultiSetDataset)
    assert len(ds) == 5
    assert ds.set_names == ['set_a', 'set_b']
    assert ds.metainfo['set_names'] == ['set_a', 'set_b']
    assert ds.metainfo['classes'] == ('background', 'foreground')
    expected = [(root_a, 'a0', 'set_a', (8, 10)), (root_a, 'a1', 'set_a', (8, 10)),
                (root_b, 'b0', 'set_b', (6, 12)), (root_b, 'b1', 'set_b', (6, 12)),
                (root_b, 'b2', 'set_b', (6, 12))]
    for i, (root, stem, name, hw) in enumerate(expected):
        assert ds.get_data_info(i)['set_name'] == name
        out = ds[i]
        sample = out['data_samples']
        assert sample.metainfo['set_name'] == name
        assert sample.img_path == osp.join(str(root), 'images', stem + '.jpg')
        assert out['inputs'].shape == (3, 16, 16)
        gt = sample.gt_sem_seg.data[0]
        assert tuple(gt.shape) == hw  # ground truth at the original size
        assert gt[:, :hw[1] // 2].eq(1).all() and gt[:, hw[1] // 2:].eq(0).all()
    # negative indices run from the end, as ConcatDataset
    assert ds[-1]['data_samples'].img_path.endswith('b2.jpg')
    # metainfo is a copy: editing it does not change the dataset
    ds.metainfo['set_names'].append('x')
    assert ds.metainfo['set_names'] == ['set_a', 'set_b']


def test_set_names_argument_renames_configs(two_sets):
    root_a, root_b = two_sets
    ds = MultiSetDataset(
        [_cfg(root_a, set_name='ignored'), _cfg(root_b)], set_names=['First', 'Second'])
    assert ds.set_names == ['First', 'Second']
    assert ds.metainfo['set_names'] == ['First', 'Second']
    assert [ds[i]['data_samples'].metainfo['set_name'] for i in range(len(ds))] == \
        ['First'] * 2 + ['Second'] * 3


def test_built_datasets_must_match_set_names(two_sets):
    root_a, root_b = two_sets
    built_a = DATASETS.build(_cfg(root_a))
    built_b = DATASETS.build(_cfg(root_b, set_name='B'))
    ds = MultiSetDataset([built_a, built_b], set_names=['set_a', 'B'])
    assert ds.set_names == ['set_a', 'B'] and len(ds) == 5
    with pytest.raises(ValueError, match=r"set_name 'B'.*set_names\[1\] is 'Other'"):
        MultiSetDataset([built_a, built_b], set_names=['set_a', 'Other'])


def test_duplicate_set_names_are_listed(tmp_path, make_folder_dataset):
    root_a = make_folder_dataset(['a'], root=tmp_path / 'x' / 'test')
    root_b = make_folder_dataset(['b'], root=tmp_path / 'y' / 'test')
    root_c = make_folder_dataset(['c'], root=tmp_path / 'z' / 'other')
    with pytest.raises(ValueError, match=r"unique.*\['test'\]"):
        MultiSetDataset([_cfg(root_a), _cfg(root_b), _cfg(root_c)])
    with pytest.raises(ValueError, match=r"\['S'\]"):
        MultiSetDataset([_cfg(root_a), _cfg(root_b), _cfg(root_c)], set_names=['S', 'T', 'S'])
    # distinct names make the same sets valid
    ds = MultiSetDataset([_cfg(root_a), _cfg(root_b), _cfg(root_c)], set_names=['S', 'T', 'U'])
    assert ds.set_names == ['S', 'T', 'U']


def test_set_names_count_mismatch(two_sets):
    root_a, root_b = two_sets
    with pytest.raises(ValueError, match='3 names.*2 datasets'):
        MultiSetDataset([_cfg(root_a), _cfg(root_b)], set_names=['a', 'b', 'c'])
    with pytest.raises(TypeError, match='sequence of names'):
        MultiSetDataset([_cfg(root_a)], set_names='a')
    with pytest.raises(ValueError, match='empty'):
        MultiSetDataset([])


def test_empty_set_name_is_refused(two_sets):
    root_a, root_b = two_sets
    with pytest.raises(ValueError, match='set_name'):
        MultiSetDataset([_cfg(root_a), _cfg(root_b)], set_names=['a', ''])


class _NoSetName(BaseDataset):
    """A dataset that is not a BinarySegDataset."""

    def load_data_list(self):
        return [dict(x=1)]


def test_dataset_without_set_name_is_a_type_error(two_sets):
    root_a, _ = two_sets
    with pytest.raises(TypeError, match='_NoSetName.*no set_name.*BinarySegDataset'):
        MultiSetDataset([_cfg(root_a), _NoSetName()])
    with pytest.raises(TypeError, match='dataset config'):
        MultiSetDataset([_cfg(root_a), 'not a dataset'])


def test_dbd_and_sod_sets_cannot_be_mixed(tmp_path, make_folder_dataset):
    root_c = make_folder_dataset(['c'], root=tmp_path / 'cuhk')
    root_e = make_folder_dataset(['e'], root=tmp_path / 'ecssd')
    cuhk = dict(type='CUHKDBDDataset', data_root=str(root_c), data_prefix=dict(PREFIX))
    ecssd = dict(type='ECSSDDataset', data_root=str(root_e), data_prefix=dict(PREFIX))
    with pytest.raises(ValueError) as e:
        MultiSetDataset([cuhk, ecssd])
    msg = str(e.value)
    assert "'CUHK'" in msg and "'ECSSD'" in msg and 'same task' in msg
    assert 'blurred' in msg and 'salient' in msg  # the differing classes are shown
    # two DBD sets (or one class renamed to match) are fine
    ds = MultiSetDataset([cuhk, dict(ecssd, metainfo=dict(classes=('blurred', 'in-focus')))])
    assert ds.set_names == ['CUHK', 'ECSSD']
    assert ds.metainfo['classes'] == ('blurred', 'in-focus')
    # built instances are checked the same way
    with pytest.raises(ValueError, match='same task'):
        MultiSetDataset([
            ECSSDDataset(data_root=str(root_e), data_prefix=dict(PREFIX)),
            CUHKDBDDataset(data_root=str(root_c), data_prefix=dict(PREFIX))
        ])


def test_ignore_keys_and_lazy_init(tmp_path, make_folder_dataset):
    root_c = make_folder_dataset(['c0', 'c1'], root=tmp_path / 'cuhk')
    root_e = make_folder_dataset(['e'], root=tmp_path / 'ecssd')
    ds = MultiSetDataset([
        dict(type='CUHKDBDDataset', data_root=str(root_c), data_prefix=dict(PREFIX)),
        dict(type='ECSSDDataset', data_root=str(root_e), data_prefix=dict(PREFIX))
    ],
                         ignore_keys=['classes'],
                         lazy_init=True)
    assert ds.metainfo['classes'] == ('blurred', 'in-focus')  # the first set's
    assert ds.metainfo['set_names'] == ['CUHK', 'ECSSD']
    assert not ds._fully_initialized
    assert len(ds) == 3  # full_init on first use
    assert [ds.get_data_info(i)['set_name'] for i in range(3)] == ['CUHK', 'CUHK', 'ECSSD']
    # invert defaults of the named sets survive the concatenation
    assert [ds.get_data_info(i)['invert'] for i in range(3)] == [True, True, False]


def test_single_folder_dataset_is_a_binary_seg_dataset(two_sets):
    root_a, _ = two_sets
    ds = MultiSetDataset([BinarySegDataset(data_root=str(root_a), data_prefix=dict(PREFIX))])
    assert ds.set_names == ['set_a'] and len(ds) == 2
    assert np.array_equal(ds.metainfo['palette'], [[0, 0, 0], [255, 255, 255]])
