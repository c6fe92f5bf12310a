"""BinarySegDataset: listing and pairing by stem, split files, errors, set names, loading.

The base dataset configs are built in tests/test_config.py."""
import os.path as osp

import numpy as np
import pytest

from dbdseg.datasets import BinarySegDataset, PackBinarySegInputs


def _build(root, **kwargs):
    kwargs.setdefault('data_prefix', dict(img_path='images', seg_map_path='masks'))
    return BinarySegDataset(data_root=str(root), **kwargs)


# ----------------------------------------------------------------------------- listing and pairing
def test_pairs_by_stem_sorted_and_ignores_other_suffixes(make_folder_dataset, helpers):
    root = make_folder_dataset(['b', 'a', 'c'])
    helpers.write(root / 'images' / 'stray.png', np.zeros((6, 8), np.uint8))  # not img_suffix
    (root / 'images' / 'notes.txt').write_text('not an image')
    ds = _build(root)
    assert len(ds) == 3
    infos = [ds.get_data_info(i) for i in range(3)]
    assert [osp.basename(i['img_path']) for i in infos] == ['a.jpg', 'b.jpg', 'c.jpg']
    for info in infos:
        stem = osp.splitext(osp.basename(info['img_path']))[0]
        assert info['seg_map_path'] == osp.join(str(root), 'masks', stem + '.png')
        assert info['invert'] is False
        assert info['reduce_zero_label'] is False
        assert info['label_map'] is None
        assert info['seg_fields'] == []
    assert ds.metainfo['classes'] == ('background', 'foreground')
    assert len(ds.metainfo['palette']) == 2


def test_recursive_stems_with_subfolders(make_folder_dataset):
    root = make_folder_dataset(['a', 'sub/deeper/z'])
    ds = _build(root)
    paths = sorted(ds.get_data_info(i)['seg_map_path'] for i in range(len(ds)))
    assert paths == [
        osp.join(str(root), 'masks', 'a.png'),
        osp.join(str(root), 'masks', 'sub', 'deeper', 'z.png')
    ]


def test_data_infos_hold_the_stem_with_its_sub_folders(make_folder_dataset):
    """Issue 17 (``--out`` collisions): the stem relative to the image folder, sub-folders
    included, goes into every data info, so outputs can keep the sub-folder."""
    root = make_folder_dataset(['a/x', 'b/x', 'y'])
    ds = _build(root)
    assert [ds.get_data_info(i)['stem'] for i in range(len(ds))] == ['a/x', 'b/x', 'y']
    (root / 'split.txt').write_text('b/x\ny\n')
    ds = _build(root, ann_file='split.txt')
    assert [ds.get_data_info(i)['stem'] for i in range(len(ds))] == ['b/x', 'y']


def test_ann_file_selects_stems_in_file_order(make_folder_dataset):
    root = make_folder_dataset(['a', 'b', 'c', 'sub/d'])
    (root / 'split.txt').write_text('c\n\nsub/d\n a \n')
    ds = _build(root, ann_file='split.txt')
    names = [ds.get_data_info(i)['img_path'] for i in range(len(ds))]
    assert names == [osp.join(str(root), 'images', s + '.jpg') for s in ('c', 'sub/d', 'a')]
    assert ds.get_data_info(1)['seg_map_path'] == osp.join(str(root), 'masks', 'sub/d.png')


def test_suffixes_are_arguments(make_folder_dataset):
    root = make_folder_dataset(['x', 'y'], img_suffix='.png', mask_suffix='.bmp')
    ds = _build(root, img_suffix='.png', seg_map_suffix='.bmp')
    assert len(ds) == 2
    assert ds.get_data_info(0)['seg_map_path'].endswith(osp.join('masks', 'x.bmp'))


def test_invert_goes_into_every_data_info(make_folder_dataset):
    root = make_folder_dataset(['a', 'b'])
    ds = _build(root, invert=True)
    assert [ds.get_data_info(i)['invert'] for i in range(2)] == [True, True]


@pytest.mark.parametrize('prefix',
                         [dict(img_path='images', seg_map_path=None),
                          dict(img_path='images')])
def test_unlabeled_dataset(make_folder_dataset, prefix):
    root = make_folder_dataset(['a', 'b'])
    # masks are there but not asked for; an unlabeled dataset must not need them either
    (root / 'masks' / 'b.png').unlink()
    ds = _build(root, data_prefix=prefix)
    assert len(ds) == 2
    assert all(ds.get_data_info(i)['seg_map_path'] is None for i in range(2))


def test_metainfo_classes_can_be_renamed_but_stay_binary(make_folder_dataset):
    root = make_folder_dataset(['a'])
    ds = _build(root, metainfo=dict(classes=('blurred', 'in-focus')))
    assert ds.metainfo['classes'] == ('blurred', 'in-focus')
    assert ds.get_data_info(0)['label_map'] is None
    with pytest.raises(ValueError, match='binary'):
        _build(root, metainfo=dict(classes=('a', 'b', 'c')))


def test_reduce_zero_label_is_refused(make_folder_dataset):
    root = make_folder_dataset(['a'])
    with pytest.raises(ValueError, match='reduce_zero_label'):
        _build(root, reduce_zero_label=True)


def test_test_mode_builds(make_folder_dataset):
    root = make_folder_dataset(['a'])
    assert len(_build(root, test_mode=True)) == 1


# ----------------------------------------------------------------------------- set_name
def test_set_name_defaults_to_data_root_folder_and_goes_into_data_infos(
        tmp_path, make_folder_dataset):
    root = make_folder_dataset(['a', 'b'], root=tmp_path / 'my_set')
    ds = BinarySegDataset(
        data_root=str(root) + '/',  # trailing separator: normpath drops it
        data_prefix=dict(img_path='images', seg_map_path='masks'))
    assert ds.set_name == 'my_set'
    assert [ds.get_data_info(i)['set_name'] for i in range(2)] == ['my_set', 'my_set']
    assert 'set_name' not in ds.metainfo  # sets of one task share their metainfo


def test_set_name_without_data_root_is_the_image_folder(tmp_path, make_folder_dataset):
    root = make_folder_dataset(['a'], root=tmp_path / 'root')
    ds = BinarySegDataset(
        data_prefix=dict(img_path=str(root / 'images'), seg_map_path=str(root / 'masks')))
    assert ds.set_name == 'images'
    assert ds.get_data_info(0)['set_name'] == 'images'


def test_set_name_explicit_and_class_attribute(tmp_path, make_folder_dataset):
    root = make_folder_dataset(['a'], root=tmp_path / 'folder_name')
    assert _build(root, set_name='Mine').get_data_info(0)['set_name'] == 'Mine'

    class _Named(BinarySegDataset):
        SET_NAME = 'NAMED'

    ds = _Named(data_root=str(root), data_prefix=dict(img_path='images', seg_map_path='masks'))
    assert ds.set_name == 'NAMED' and ds.get_data_info(0)['set_name'] == 'NAMED'
    ds = _Named(
        data_root=str(root),
        data_prefix=dict(img_path='images', seg_map_path='masks'),
        set_name='Other')
    assert ds.set_name == 'Other'


@pytest.mark.parametrize('bad', ['', '  ', 'a/b', 'a\\b', 3])
def test_invalid_set_name_is_refused(make_folder_dataset, bad):
    root = make_folder_dataset(['a'])
    with pytest.raises(ValueError, match='set_name'):
        _build(root, set_name=bad)


def test_set_name_is_packed_into_sample_metainfo(tmp_path, make_folder_dataset):
    root = make_folder_dataset(['a'], root=tmp_path / 'packed_set')
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadBinaryAnnotations'),
        dict(type='PackBinarySegInputs')
    ]
    sample = _build(root, pipeline=pipeline)[0]['data_samples']
    assert sample.metainfo['set_name'] == 'packed_set'
    assert sample.set_name == 'packed_set'
    # a results dict without set_name (e.g. built by hand) packs as before
    packed = PackBinarySegInputs()(dict(img=np.zeros((4, 5, 3), np.uint8), img_path='x.jpg'))
    assert 'set_name' not in packed['data_samples'].metainfo
    assert packed['data_samples'].metainfo['img_path'] == 'x.jpg'


# ----------------------------------------------------------------------------- extra maps
def test_extra_map_paths_in_data_infos(make_folder_dataset, helpers):
    root = make_folder_dataset(['a', 'b'])
    for folder in ('depth', 'sal', 'pseudo'):
        for stem in ('a', 'b'):
            helpers.write(root / folder / f'{stem}.png', np.zeros((6, 8), np.uint8))
    ds = _build(
        root,
        data_prefix=dict(
            img_path='images',
            seg_map_path='masks',
            depth_map_path='depth',
            saliency_map_path='sal',
            pseudo_label_path='pseudo'))
    info = ds.get_data_info(1)
    assert info['depth_map_path'] == osp.join(str(root), 'depth', 'b.png')
    assert info['saliency_map_path'] == osp.join(str(root), 'sal', 'b.png')
    assert info['pseudo_label_path'] == osp.join(str(root), 'pseudo', 'b.png')
    # without the keys, nothing of the kind appears
    info = _build(root).get_data_info(0)
    assert not {'depth_map_path', 'saliency_map_path', 'pseudo_label_path'} & set(info)


def test_extra_map_suffix(make_folder_dataset, helpers):
    root = make_folder_dataset(['a'])
    helpers.write(root / 'sal' / 'a.bmp', np.zeros((6, 8), np.uint8))
    ds = _build(
        root,
        extra_map_suffix='.bmp',
        data_prefix=dict(img_path='images', seg_map_path='masks', saliency_map_path='sal'))
    assert ds.get_data_info(0)['saliency_map_path'] == osp.join(str(root), 'sal', 'a.bmp')


# ----------------------------------------------------------------------------- errors
def test_missing_mask_names_image_and_mask(make_folder_dataset):
    root = make_folder_dataset(['a', 'b'])
    (root / 'masks' / 'b.png').unlink()
    with pytest.raises(FileNotFoundError) as e:
        _build(root)
    assert osp.join(str(root), 'images', 'b.jpg') in str(e.value)
    assert osp.join(str(root), 'masks', 'b.png') in str(e.value)


def test_missing_extra_map_names_file(make_folder_dataset, helpers):
    root = make_folder_dataset(['a', 'b'])
    helpers.write(root / 'depth' / 'a.png', np.zeros((6, 8), np.uint8))
    with pytest.raises(FileNotFoundError) as e:
        _build(
            root, data_prefix=dict(img_path='images', seg_map_path='masks', depth_map_path='depth'))
    assert osp.join(str(root), 'depth', 'b.png') in str(e.value)
    assert 'depth_map_path' in str(e.value)


def test_missing_depth_maps_name_the_tool_that_makes_them(make_folder_dataset, helpers):
    """Issue 20 item 7: a missing depth/ folder (or map) names generate_depth_targets.py with its
    options, the synthetic renders' exact depth, and the way to switch the depth loss off."""
    root = make_folder_dataset(['a', 'b'])
    prefix = dict(img_path='images', seg_map_path='masks', depth_map_path='depth')
    for make_one in (False, True):
        if make_one:  # the folder exists, one map is missing
            helpers.write(root / 'depth' / 'a.png', np.zeros((6, 8), np.uint8))
        with pytest.raises(FileNotFoundError) as e:
            _build(root, data_prefix=prefix)
        msg = str(e.value)
        assert osp.join(str(root), 'depth') in msg
        assert ('python tools/dataset_converters/generate_depth_targets.py TEACHER_CONFIG '
                f'TEACHER_CHECKPOINT --images {osp.join(str(root), "images")} --out '
                f'{osp.join(str(root), "depth")} --img-suffix .jpg') in msg
        for option in ('--channel', '--normalize', '--invert', '--skip-existing',
                       'synthesize_defocus.py', 'model.decode_head.loss_depth.loss_weight=0'):
            assert option in msg, option
    # other extra maps keep their plain message
    with pytest.raises(FileNotFoundError) as e:
        _build(
            root, data_prefix=dict(img_path='images', seg_map_path='masks', saliency_map_path='s'))
    assert 'generate_depth_targets' not in str(e.value)


def test_missing_validation_split_list_says_how_to_write_it(make_folder_dataset):
    root = make_folder_dataset(['a'])
    with pytest.raises(FileNotFoundError) as e:
        _build(root, ann_file='splits/val.txt')
    assert 'tools/dataset_converters/validation_split.py ' + str(root) in str(e.value)
    with pytest.raises(FileNotFoundError) as e:
        _build(root, ann_file='other.txt')
    assert 'validation_split.py' not in str(e.value)


def test_missing_extra_map_folder_names_folder(make_folder_dataset):
    root = make_folder_dataset(['a'])
    with pytest.raises(FileNotFoundError) as e:
        _build(
            root,
            data_prefix=dict(img_path='images', seg_map_path='masks', pseudo_label_path='nope'))
    assert osp.join(str(root), 'nope') in str(e.value)


def test_missing_mask_folder_names_folder(make_folder_dataset):
    root = make_folder_dataset(['a'])
    with pytest.raises(FileNotFoundError) as e:
        _build(root, data_prefix=dict(img_path='images', seg_map_path='gt'))
    assert osp.join(str(root), 'gt') in str(e.value)


def test_empty_image_folder_names_folder(tmp_path):
    (tmp_path / 'images').mkdir()
    (tmp_path / 'masks').mkdir()
    (tmp_path / 'images' / 'a.png').write_bytes(b'')  # wrong suffix only
    with pytest.raises(FileNotFoundError) as e:
        _build(tmp_path)
    assert osp.join(str(tmp_path), 'images') in str(e.value)
    assert "'.jpg'" in str(e.value)


def test_missing_image_folder_names_folder(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        _build(tmp_path, data_prefix=dict(img_path='no_such_dir', seg_map_path=None))
    assert osp.join(str(tmp_path), 'no_such_dir') in str(e.value)


def test_ann_file_with_missing_image_names_file(make_folder_dataset):
    root = make_folder_dataset(['a'])
    (root / 'split.txt').write_text('a\nghost\n')
    with pytest.raises(FileNotFoundError) as e:
        _build(root, ann_file='split.txt')
    assert osp.join(str(root), 'images', 'ghost.jpg') in str(e.value)
    assert 'split.txt' in str(e.value)


def test_empty_or_missing_ann_file(make_folder_dataset):
    root = make_folder_dataset(['a'])
    (root / 'empty.txt').write_text('\n  \n')
    with pytest.raises(ValueError) as e:
        _build(root, ann_file='empty.txt')
    assert osp.join(str(root), 'empty.txt') in str(e.value)
    with pytest.raises(FileNotFoundError) as e:
        _build(root, ann_file='missing.txt')
    assert osp.join(str(root), 'missing.txt') in str(e.value)
