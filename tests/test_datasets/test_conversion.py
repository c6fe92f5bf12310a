"""Tests of the dataset conversion engine (``dbdseg.datasets.conversion``).

Each test builds a tiny fake release in ``tmp_path``: 16x16 images whose in-focus half is random
texture and whose blurred half is flat, so the polarity statistic sees a real signal, and masks
stored with the release's polarity. The command lines are tested in
``tests/test_tools/test_dataset_converters.py``.
"""
import argparse
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from dbdseg.datasets.conversion import (DUT_DBD_SPEC, DUTS_SPEC, ConversionError, Pair, Warnings,
                                        _validation_split, build_pairs, check_sizes, common_suffix,
                                        convert_cuhk_dbd, convert_folder_pairs, convert_main,
                                        convert_release, listing, read_name_list, scan_folder,
                                        strip_image_ext, suffix_arg, write_pairs)
from dbdseg.datasets.validation_split import draw_validation_split

SIZE = 16
QUIET = dict(progress=False)


# ---------------------------------------------------------------------------- fake releases
def dbd_image(seed, h=SIZE, w=SIZE):
    """BGR image: left half random texture (in focus), right half flat grey (blurred)."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 128, np.uint8)
    img[:, :w // 2] = rng.integers(0, 256, size=(h, w // 2, 3), dtype=np.uint8)
    return img


def dbd_mask(white='in-focus', h=SIZE, w=SIZE):
    """Mask of :func:`dbd_image`: 255 on the in-focus (left) or on the blurred (right) half."""
    mask = np.zeros((h, w), np.uint8)
    if white == 'in-focus':
        mask[:, :w // 2] = 255
    else:
        mask[:, w // 2:] = 255
    return mask


def sod_mask(white='salient', h=SIZE, w=SIZE):
    """Mask with a centred object: 255 on the object (salient) or on the background."""
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4:3 * h // 4, w // 4:3 * w // 4] = 255
    return mask if white == 'salient' else 255 - mask


def write(path, array):
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), array), path
    return str(path)


def read_bytes(path):
    with open(path, 'rb') as f:
        return f.read()


def tree(root):
    """Sorted relative paths of the files under ``root``."""
    return sorted(osp.relpath(osp.join(d, n), root) for d, _, names in os.walk(root) for n in names)


def report_of(out):
    with open(osp.join(out, 'conversion_report.json')) as f:
        return json.load(f)


def write_list(path, names):
    with open(path, 'w') as f:
        f.write('\n'.join(names) + '\n')
    return str(path)


CUHK_STEMS = [f'out_of_focus{i:04d}' for i in range(1, 7)]


def make_cuhk(root, white='blurred', upper=('out_of_focus0002', )):
    """Fake CUHK release: 6 defocus images (``upper`` stems as .JPG), 2 motion images."""
    for i, stem in enumerate(CUHK_STEMS):
        ext = '.JPG' if stem in upper else '.jpg'
        write(osp.join(root, 'image', stem + ext), dbd_image(i))
        write(osp.join(root, 'gt', stem + '.png'), dbd_mask(white))
    for i in (1, 2):
        write(osp.join(root, 'image', f'motion{i:04d}.jpg'), dbd_image(10 + i))
        write(osp.join(root, 'gt', f'motion{i:04d}.png'), dbd_mask(white))
    return str(root)


# ---------------------------------------------------------------------------- CUHK
def test_cuhk_converts_test_list_and_train_rest(tmp_path, capsys):
    src = make_cuhk(tmp_path / 'CUHK')
    test_list = write_list(tmp_path / 'test.txt', ['out_of_focus0002.JPG', 'out_of_focus0005'])
    out = str(tmp_path / 'out')
    returned = convert_cuhk_dbd(src, out, test_list, strict=False, **QUIET)
    captured = capsys.readouterr()
    assert tree(out) == sorted([
        'conversion_report.json',
        'test/images/out_of_focus0002.jpg',
        'test/masks/out_of_focus0002.png',
        'test/images/out_of_focus0005.jpg',
        'test/masks/out_of_focus0005.png',
    ] + [
        f'train/{sub}/{s}{ext}'
        for s in CUHK_STEMS if s not in ('out_of_focus0002', 'out_of_focus0005')
        for sub, ext in (('images', '.jpg'), ('masks', '.png'))
    ])
    # bytes unchanged (the .JPG is only renamed to .jpg, the dataset reads one exact suffix)
    assert read_bytes(osp.join(out, 'test/images/out_of_focus0002.jpg')) == read_bytes(
        osp.join(src, 'image/out_of_focus0002.JPG'))
    for stem in ('out_of_focus0001', 'out_of_focus0006'):
        assert read_bytes(osp.join(out, f'train/images/{stem}.jpg')) == read_bytes(
            osp.join(src, f'image/{stem}.jpg'))
        assert read_bytes(osp.join(out, f'train/masks/{stem}.png')) == read_bytes(
            osp.join(src, f'gt/{stem}.png'))
    report = report_of(out)
    assert returned == report
    assert report['counts'] == {'train': 4, 'test': 2}
    assert report['release_counts'] == {'out_of_focus': 6, 'motion': 2, 'masks': 8}
    assert report['suffixes_found']['images'] == {'.JPG': 1, '.jpg': 5}
    assert report['renamed'] == [{
        'from': 'out_of_focus0002.JPG',
        'to': 'test/images/out_of_focus0002.jpg'
    }]
    assert report['image_size']['all'] == {'height': [SIZE, SIZE], 'width': [SIZE, SIZE]}
    assert report['config'] == {'img_suffix': '.jpg', 'seg_map_suffix': '.png', 'invert': True}
    assert report['test_list'] == test_list
    pol = report['polarity']
    assert pol['votes'] == {'white = in-focus': 0, 'white = blurred': 6}
    assert pol['majority'] == 'white = blurred' and pol['agrees'] is True
    assert len(report['warnings']) == 2 and 'found 6 out_of_focus* images' in report['warnings'][0]
    # 4 training images are too few to carve the 60-image validation split from: said, not written
    assert report['warnings'][1].startswith('only 4 training images: no validation split written')
    assert report['validation_split'] is None
    assert 'wrote CUHK-DBD' in captured.out and 'train 4, test 2' in captured.out
    assert 'POLARITY' not in captured.err


def test_cuhk_strict_counts_are_an_error(tmp_path):
    src = make_cuhk(tmp_path / 'CUHK')
    test_list = write_list(tmp_path / 'test.txt', ['out_of_focus0001.jpg'])
    out = tmp_path / 'out'
    with pytest.raises(ConversionError) as info:
        convert_cuhk_dbd(src, str(out), test_list, **QUIET)
    msg = str(info.value)
    assert 'found 6 out_of_focus* images (1 test' in msg and '5 train' in msg
    assert '704 (100 test, 604 train)' in msg and '--no-strict' in msg
    assert not out.exists()


def test_cuhk_missing_files_are_named(tmp_path):
    src = make_cuhk(tmp_path / 'CUHK')
    test_list = write_list(tmp_path / 'test.txt', ['out_of_focus0001.jpg', 'out_of_focus0099.jpg'])
    with pytest.raises(ConversionError) as info:
        convert_cuhk_dbd(src, str(tmp_path / 'o1'), test_list, strict=False, **QUIET)
    assert f"1 test image(s) of '{test_list}' are not among" in str(info.value)
    assert str(info.value).endswith(': out_of_focus0099.jpg')
    write_list(test_list, ['out_of_focus0001.jpg'])
    os.remove(osp.join(src, 'gt', 'out_of_focus0004.png'))
    with pytest.raises(ConversionError, match=r'1 image\(s\) have no mask.*out_of_focus0004.jpg'):
        convert_cuhk_dbd(src, str(tmp_path / 'o2'), test_list, strict=False, **QUIET)
    assert not (tmp_path / 'o1').exists() and not (tmp_path / 'o2').exists()


def test_cuhk_release_is_found_one_level_down(tmp_path):
    make_cuhk(tmp_path / 'CUHK' / 'BlurDatasetImage')
    test_list = write_list(tmp_path / 'test.txt', ['out_of_focus0001.jpg'])
    report = convert_cuhk_dbd(
        str(tmp_path / 'CUHK'),
        str(tmp_path / 'out'),
        test_list,
        strict=False,
        polarity_samples=0,
        **QUIET)
    assert report['source_folders']['images'] == str(tmp_path / 'CUHK/BlurDatasetImage/image')
    assert report['polarity'] is None and report['config']['invert'] is True
    (tmp_path / 'none').mkdir()
    with pytest.raises(ConversionError, match='no CUHK release found under'):
        convert_cuhk_dbd(str(tmp_path / 'none'), str(tmp_path / 'o2'), test_list, **QUIET)


def test_cuhk_mask_size_mismatch_is_an_error(tmp_path):
    src = make_cuhk(tmp_path / 'CUHK')
    write(osp.join(src, 'gt', 'out_of_focus0003.png'), dbd_mask('blurred', h=SIZE + 2))
    test_list = write_list(tmp_path / 'test.txt', ['out_of_focus0001.jpg'])
    with pytest.raises(
            ConversionError,
            match='out_of_focus0003.png is 18x16 but out_of_focus0003.jpg is 16x16'):
        convert_cuhk_dbd(src, str(tmp_path / 'out'), test_list, strict=False, **QUIET)


def test_cuhk_inverted_release_is_flagged(tmp_path, capsys):
    src = make_cuhk(tmp_path / 'CUHK', white='in-focus')  # a re-release stored white = in-focus
    test_list = write_list(tmp_path / 'test.txt', ['out_of_focus0001.jpg'])
    out = str(tmp_path / 'out')
    convert_cuhk_dbd(src, out, test_list, strict=False, **QUIET)
    err = capsys.readouterr().err
    assert 'POLARITY: 6 of 6 sampled images read as "white = in-focus"' in err
    # issue 20 item 14: the fix is given as command-line options / a user config, not as an edit
    # of a _base_ config inside the package
    assert ('--cfg-options train_dataloader.dataset.invert=False '
            'val_dataloader.dataset.invert=False test_dataloader.dataset.invert=False') in err
    assert 'test_dataloader.dataset.datasets.<i>.invert=False' in err
    assert 'train_dataloader = dict(dataset=dict(invert=False))' in err
    assert 'in both dataloaders of' not in err
    report = report_of(out)
    assert report['polarity']['agrees'] is False
    assert report['polarity']['majority'] == 'white = in-focus'
    assert report['config']['invert'] is False
    assert any(w.startswith('POLARITY') for w in report['warnings'])


def test_cuhk_polarity_samples_are_limited(tmp_path):
    src = make_cuhk(tmp_path / 'CUHK')
    # one one-valued mask: skipped and counted when sampled
    write(osp.join(src, 'gt', 'out_of_focus0001.png'), np.zeros((SIZE, SIZE), np.uint8))
    test_list = write_list(tmp_path / 'test.txt', ['out_of_focus0006.jpg'])
    out = str(tmp_path / 'out')
    convert_cuhk_dbd(src, out, test_list, strict=False, polarity_samples=3, **QUIET)
    pol = report_of(out)['polarity']
    assert pol['sampled'] == 3 and pol['of_pairs'] == 6
    assert pol['skipped_uniform'] == 1  # the first pair is always sampled
    assert pol['votes'] == {'white = in-focus': 0, 'white = blurred': 2}


def test_cuhk_xu100_is_checked_against_the_test_list(tmp_path, capsys):
    src = make_cuhk(tmp_path / 'CUHK')
    test_list = write_list(tmp_path / 'test.txt', ['out_of_focus0003.jpg', 'out_of_focus0005.jpg'])
    index = write_list(tmp_path / 'xu_index.txt',
                       ['1.bmp out_of_focus0003.jpg', '2.bmp out_of_focus0005.jpg'])
    xu = tmp_path / 'xu100'
    for n, stem in ((1, 'out_of_focus0003'), (2, 'out_of_focus0005')):
        write(xu / 'xu100-source' / f'{n}.bmp', cv2.imread(osp.join(src, 'image', stem + '.jpg')))
        write(xu / 'xu100-gt' / f'{n}.bmp', 255 - cv2.imread(osp.join(src, 'gt', stem + '.png')))
    kwargs = dict(xu_index=index, strict=False, **QUIET)
    out = str(tmp_path / 'out')
    convert_cuhk_dbd(src, out, test_list, xu100=str(xu), **kwargs)
    err = capsys.readouterr().err
    report = report_of(out)['xu100']
    assert report['xu100-source'] == {
        'role': 'images',
        'found': 2,
        'extra': [],
        'size_mismatch': 0,
        'content': {
            'same': 2
        }
    }
    assert report['xu100-gt']['content'] == {'inverted': 2}
    assert 'xu100 masks' in err and 'inverted' in err
    # a swapped index is noticed
    write_list(index, ['1.bmp out_of_focus0005.jpg', '2.bmp out_of_focus0003.jpg'])
    convert_cuhk_dbd(src, str(tmp_path / 'out2'), test_list, xu100=str(xu), **kwargs)
    assert report_of(tmp_path / 'out2')['xu100']['xu100-source']['content'] == {'different': 2}
    assert 'do not look like the CUHK images' in capsys.readouterr().err
    # a missing numbered file is an error naming it
    os.remove(xu / 'xu100-source' / '2.bmp')
    with pytest.raises(ConversionError, match=r'lacks 1 of the 100 numbered files: 2\.\*'):
        convert_cuhk_dbd(src, str(tmp_path / 'out3'), test_list, xu100=str(xu), **kwargs)
    # the check needs its index
    with pytest.raises(ConversionError, match='needs its index file'):
        convert_cuhk_dbd(src, str(tmp_path / 'out4'), test_list, xu100=str(xu), strict=False)


# ---------------------------------------------------------------------------- DUT
DUT_FOLDERS = {
    'flat': {
        'train': ('', 'dut600-source', 'dut600-gt'),
        'test': ('', 'dut500-source', 'dut500-gt')
    },
    'nested': {
        'train': ('train', 'dut600-source', 'dut600-gt'),
        'test': ('test', 'dut500-source', 'dut500-gt')
    },
    'archive': {
        'train': ('DUT-DBD_Dataset', 'DUT600S_Training', 'DUT600GT_Training'),
        'test': ('DUT-DBD_Dataset', 'DUT500S-Testing', 'DUT500GT-Testing')
    },
}


def make_dut(root, layout='flat', white='in-focus', mask_ext='.bmp', parts=('train', 'test')):
    """Fake DUT release: 3 train (dut600) and 2 test (dut500) images."""
    for split in parts:
        name, n = {'train': ('dut600', 3), 'test': ('dut500', 2)}[split]
        sub, img_folder, mask_folder = DUT_FOLDERS[layout][split]
        for i in range(n):
            write(osp.join(root, sub, img_folder, f'{name}_{i}.jpg'), dbd_image(i))
            write(osp.join(root, sub, mask_folder, f'{name}_{i}{mask_ext}'), dbd_mask(white))
    return str(root)


@pytest.mark.parametrize('layout', ['flat', 'nested', 'archive'])
def test_dut_layouts(tmp_path, capsys, layout):
    src = make_dut(tmp_path / 'DUT', layout=layout)
    out = str(tmp_path / 'out')
    convert_release(src, out, DUT_DBD_SPEC, **QUIET)
    captured = capsys.readouterr()
    expected = ['conversion_report.json']
    for split, name, n in (('train', 'dut600', 3), ('test', 'dut500', 2)):
        for i in range(n):
            expected += [f'{split}/images/{name}_{i}.jpg', f'{split}/masks/{name}_{i}.bmp']
    assert tree(out) == sorted(expected)
    folders = {
        split: (osp.join(src, sub, img), osp.join(src, sub, mask))
        for split, (sub, img, mask) in DUT_FOLDERS[layout].items()
    }
    assert read_bytes(osp.join(out, 'test/masks/dut500_1.bmp')) == read_bytes(
        osp.join(folders['test'][1], 'dut500_1.bmp'))
    assert read_bytes(osp.join(out, 'train/images/dut600_2.jpg')) == read_bytes(
        osp.join(folders['train'][0], 'dut600_2.jpg'))
    report = report_of(out)
    assert report['dataset'] == 'DUT-DBD'
    assert report['converter'] == 'tools/dataset_converters/dut_dbd.py'
    assert report['counts'] == {'train': 3, 'test': 2}
    assert report['expected_counts'] == {'train': 600, 'test': 500}
    for split in ('train', 'test'):
        assert report['splits'][split]['images_from'] == folders[split][0]
        assert report['splits'][split]['masks_from'] == folders[split][1]
    assert report['config'] == {'img_suffix': '.jpg', 'seg_map_suffix': '.bmp', 'invert': False}
    assert report['polarity']['votes'] == {'white = in-focus': 5, 'white = blurred': 0}
    assert report['polarity']['agrees'] is True
    assert sorted(report['warnings']) == sorted([
        f"DUT-DBD train: found 3 image/mask pairs in '{folders['train'][0]}', the release has 600",
        f"DUT-DBD test: found 2 image/mask pairs in '{folders['test'][0]}', the release has 500",
        'only 3 training images: no validation split written (the DBD configs read '
        'splits/train.txt and splits/val.txt; write them with '
        'tools/dataset_converters/validation_split.py OUT --n N)'
    ])
    assert 'train 3, test 2' in captured.out


def test_dut_png_masks_and_inverted_polarity_are_reported(tmp_path, capsys):
    src = make_dut(tmp_path / 'DUT', white='blurred', mask_ext='.png')
    out = str(tmp_path / 'out')
    convert_release(src, out, DUT_DBD_SPEC, **QUIET)
    err = capsys.readouterr().err
    assert "set seg_map_suffix='.png'" in err and 'configs/_base_/datasets/dut_dbd.py' in err
    assert 'POLARITY: 5 of 5 sampled images read as "white = blurred"' in err
    report = report_of(out)
    assert report['config'] == {'img_suffix': '.jpg', 'seg_map_suffix': '.png', 'invert': True}
    assert osp.isfile(osp.join(out, 'train', 'masks', 'dut600_0.png'))


def test_dut_missing_folders(tmp_path, capsys):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ConversionError, match='none of its folders found') as info:
        convert_release(str(tmp_path / 'empty'), str(tmp_path / 'out'), DUT_DBD_SPEC, **QUIET)
    for name in ('dut600-source', 'dut600-gt', 'dut500-source', 'dut500-gt'):
        assert name in str(info.value)
    # only the test part: converted, with a warning
    src = make_dut(tmp_path / 'DUT', parts=('test', ))
    out = str(tmp_path / 'out')
    convert_release(src, out, DUT_DBD_SPEC, **QUIET)
    assert 'the train split is not converted' in capsys.readouterr().err
    assert report_of(out)['counts'] == {'test': 2}
    assert not osp.exists(osp.join(out, 'train'))
    # an image folder without its mask folder is an error naming both
    os.makedirs(osp.join(src, 'dut600-source'))
    with pytest.raises(ConversionError, match="dut600-source.*no folder 'dut600-gt'"):
        convert_release(src, str(tmp_path / 'out2'), DUT_DBD_SPEC, **QUIET)


def test_dut_two_copies_of_a_split_are_an_error(tmp_path):
    src = make_dut(tmp_path / 'DUT', layout='flat')
    make_dut(tmp_path / 'DUT', layout='archive', parts=('test', ))
    out = tmp_path / 'out'
    with pytest.raises(ConversionError, match='several copies of the test split.*DUT-DBD_Dataset'):
        convert_release(src, str(out), DUT_DBD_SPEC, **QUIET)
    assert not out.exists()


def test_release_refuses_non_empty_output(tmp_path):
    src = make_dut(tmp_path / 'DUT')
    out = tmp_path / 'out'
    marker = write(out / 'notes.png', np.zeros((2, 2), np.uint8))
    content = read_bytes(marker)
    with pytest.raises(ConversionError, match=r'is not empty \(1 entries: notes.png\)'):
        convert_release(src, str(out), DUT_DBD_SPEC, **QUIET)
    assert tree(out) == ['notes.png'] and read_bytes(marker) == content
    # with overwrite: written next to it, and the report says the file was there before
    report = convert_release(src, str(out), DUT_DBD_SPEC, overwrite=True, **QUIET)
    assert 'notes.png' in tree(out) and read_bytes(marker) == content
    assert report['counts'] == {'train': 3, 'test': 2} and 'stale_files' not in report


# ---------------------------------------------------------------------------- DUTS
def make_duts(root, parts=('TR', 'TE'), white='salient', n=3):
    for part in parts:
        for i in range(n):
            base = osp.join(root, f'DUTS-{part}')
            write(osp.join(base, f'DUTS-{part}-Image', f'ILSVRC_{part}_{i}.jpg'), dbd_image(i))
            write(osp.join(base, f'DUTS-{part}-Mask', f'ILSVRC_{part}_{i}.png'), sod_mask(white))
    return str(root)


def test_duts_converts_and_checks_counts(tmp_path, capsys):
    src = make_duts(tmp_path / 'DUTS')
    out = str(tmp_path / 'out')
    convert_release(src, out, DUTS_SPEC, **QUIET)
    err = capsys.readouterr().err
    assert 'found 3 image/mask pairs' in err and 'the release has 10553' in err
    assert 'the release has 5019' in err
    assert len(tree(out)) == 1 + 2 * 6
    assert read_bytes(osp.join(out, 'train/images/ILSVRC_TR_2.jpg')) == read_bytes(
        osp.join(src, 'DUTS-TR/DUTS-TR-Image/ILSVRC_TR_2.jpg'))
    report = report_of(out)
    assert report['counts'] == {'train': 3, 'test': 3}
    assert report['polarity']['votes'] == {'white = salient': 6, 'white = background': 0}
    assert report['config'] == {'img_suffix': '.jpg', 'seg_map_suffix': '.png', 'invert': False}


def test_duts_test_part_only_and_inverted_masks(tmp_path, capsys):
    src = make_duts(tmp_path / 'DUTS', parts=('TE', ), white='background')
    out = str(tmp_path / 'out')
    convert_release(src, out, DUTS_SPEC, **QUIET)
    err = capsys.readouterr().err
    assert 'the train split is not converted' in err
    assert 'POLARITY: 3 of 3 sampled images read as "white = background"' in err
    report = report_of(out)
    assert report['counts'] == {'test': 3}
    assert report['polarity']['agrees'] is False
    assert report['config']['invert'] is True
    assert tree(out) == sorted(['conversion_report.json'] + [
        f'test/{sub}/ILSVRC_TE_{i}{ext}' for i in range(3)
        for sub, ext in (('images', '.jpg'), ('masks', '.png'))
    ])
    (tmp_path / 'nothing').mkdir()
    with pytest.raises(ConversionError, match='DUTS-TE-Image'):
        convert_release(str(tmp_path / 'nothing'), str(tmp_path / 'o2'), DUTS_SPEC, **QUIET)


# ---------------------------------------------------------------------------- folder pairs
def make_pairs(root, stems=('a', 'b', 'c'), img_ext='.jpg', mask_ext='.png'):
    for i, stem in enumerate(stems):
        write(osp.join(root, 'imgs', stem + img_ext), dbd_image(i))
        write(osp.join(root, 'gt', stem + mask_ext), sod_mask())
    return str(root / 'imgs'), str(root / 'gt')


def test_folder_pairs_copies_a_split_and_adds_splits(tmp_path, capsys):
    imgs, masks = make_pairs(tmp_path / 'src')
    out = str(tmp_path / 'ecssd')
    convert_folder_pairs(imgs, masks, out, **QUIET)
    captured = capsys.readouterr()
    assert tree(out) == sorted(['conversion_report.json'] + [
        f'test/{sub}/{s}{ext}' for s in 'abc'
        for sub, ext in (('images', '.jpg'), ('masks', '.png'))
    ])
    for s in 'abc':
        assert read_bytes(osp.join(out, 'test/masks',
                                   s + '.png')) == read_bytes(osp.join(masks, s + '.png'))
    assert "img_suffix='.jpg', seg_map_suffix='.png', invert=False" in captured.out
    # a second split goes next to the first; the report keeps both
    imgs2, masks2 = make_pairs(tmp_path / 'src2', stems=('d', 'e'), img_ext='.png')
    returned = convert_folder_pairs(imgs2, masks2, out, split='train', **QUIET)
    report = report_of(out)
    assert returned == report
    assert report['dataset'] == 'ecssd'
    assert report['counts'] == {'test': 3, 'train': 2}
    assert report['splits']['test']['images_from'] == imgs
    assert report['splits']['train']['config'] == {
        'img_suffix': '.png',
        'seg_map_suffix': '.png',
        'invert': False
    }
    assert report['splits']['test']['polarity']['votes'] == {
        'white = salient': 3,
        'white = background': 0
    }
    assert len(tree(out)) == 1 + 2 * 5


def test_folder_pairs_unpaired_files_are_named(tmp_path):
    imgs, masks = make_pairs(tmp_path / 'src')
    os.remove(osp.join(masks, 'b.png'))
    out = str(tmp_path / 'out')
    with pytest.raises(ConversionError) as info:
        convert_folder_pairs(imgs, masks, out, **QUIET)
    msg = str(info.value)
    assert '1 image(s) have no mask' in msg and 'b.jpg' in msg and masks in msg
    write(osp.join(masks, 'b.png'), sod_mask())
    write(osp.join(masks, 'zz.png'), sod_mask())
    with pytest.raises(ConversionError, match=r'1 mask\(s\) .* have no image .*: zz.png'):
        convert_folder_pairs(imgs, masks, out, **QUIET)
    # stems_file picks pairs; unlisted masks do not matter
    stems = write_list(tmp_path / 'stems.txt', ['c.jpg', 'a'])
    convert_folder_pairs(imgs, masks, out, stems_file=stems, **QUIET)
    assert tree(out) == sorted([
        'conversion_report.json', 'test/images/a.jpg', 'test/images/c.jpg', 'test/masks/a.png',
        'test/masks/c.png'
    ])
    entry = report_of(out)['splits']['test']
    assert entry['not_listed'] == {'images': 1, 'masks': 2} and entry['stems_file'] == stems


def test_folder_pairs_mixed_suffixes(tmp_path):
    imgs, masks = make_pairs(tmp_path / 'src')
    write(osp.join(imgs, 'd.png'), dbd_image(5))
    write(osp.join(masks, 'd.png'), sod_mask())
    out = str(tmp_path / 'out')
    with pytest.raises(ConversionError, match=r'mixed suffixes: .jpg \(3\), .png \(1\)') as info:
        convert_folder_pairs(imgs, masks, out, **QUIET)
    assert imgs in str(info.value)
    # choosing the suffix resolves it: only the .jpg images are paired, and the mask d.png
    # is now one without an image
    with pytest.raises(ConversionError, match=r'have no image \(same stem\)'):
        convert_folder_pairs(imgs, masks, out, img_suffix='.jpg', **QUIET)
    os.remove(osp.join(masks, 'd.png'))
    convert_folder_pairs(imgs, masks, out, img_suffix='.jpg', **QUIET)
    assert sorted(os.listdir(tmp_path / 'out' / 'test' / 'images')) == ['a.jpg', 'b.jpg', 'c.jpg']
    entry = report_of(out)['splits']['test']
    assert entry['count'] == 3 and entry['ignored_files'] == {'images': ['d.png'], 'masks': []}


def test_folder_pairs_refuses_non_empty_output(tmp_path, capsys):
    imgs, masks = make_pairs(tmp_path / 'src')
    out = tmp_path / 'out'
    old = write(out / 'test' / 'images' / 'a.jpg', np.zeros((4, 4, 3), np.uint8))
    keep = write(out / 'test' / 'images' / 'old.jpg', np.zeros((4, 4, 3), np.uint8))
    before = {p: read_bytes(p) for p in (old, keep)}
    with pytest.raises(ConversionError, match='is not empty.*--overwrite'):
        convert_folder_pairs(imgs, masks, str(out), **QUIET)
    assert tree(out) == ['test/images/a.jpg', 'test/images/old.jpg']
    assert {p: read_bytes(p) for p in (old, keep)} == before
    # overwrite replaces same-name files, keeps the others and says so
    report = convert_folder_pairs(imgs, masks, str(out), overwrite=True, **QUIET)
    err = capsys.readouterr().err
    assert read_bytes(old) == read_bytes(osp.join(imgs, 'a.jpg'))
    assert read_bytes(keep) == before[keep]
    assert 'old.jpg' in err and 'the dataset will read them too' in err
    assert report['splits']['test']['stale_files'] == {'test/images': ['old.jpg']}
    assert report['warnings'][0].startswith('[test] 1 file(s) in ')
    assert not [n for n in tree(out) if n.endswith('.tmp')]


def test_folder_pairs_existing_report(tmp_path):
    imgs, masks = make_pairs(tmp_path / 'src')
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'conversion_report.json').write_text('[1, 2]')
    with pytest.raises(ConversionError, match='not a conversion report this tool can add to'):
        convert_folder_pairs(imgs, masks, str(out), split='val', **QUIET)
    report = convert_folder_pairs(
        imgs, masks, str(out), split='val', overwrite=True, name='mine', **QUIET)
    assert report['dataset'] == 'mine' and report['counts'] == {'val': 3}
    with pytest.raises(ValueError, match="task must be 'sod' or 'dbd'"):
        convert_folder_pairs(imgs, masks, str(out), task='seg')
    (tmp_path / 'file').write_text('x')
    with pytest.raises(ConversionError, match='exists and is not a folder'):
        convert_folder_pairs(imgs, masks, str(tmp_path / 'file'), **QUIET)


def test_folder_pairs_dbd_task_sets_invert(tmp_path, capsys):
    for i, stem in enumerate(('p', 'q')):
        write(tmp_path / 'imgs' / f'{stem}.jpg', dbd_image(i))
        write(tmp_path / 'masks' / f'{stem}.bmp', dbd_mask('blurred'))
    args = (str(tmp_path / 'imgs'), str(tmp_path / 'masks'))
    out = str(tmp_path / 'out')
    convert_folder_pairs(*args, out, task='dbd', **QUIET)
    assert "seg_map_suffix='.bmp', invert=True" in capsys.readouterr().out
    entry = report_of(out)['splits']['test']
    assert entry['polarity']['majority'] == 'white = blurred'
    assert entry['config']['invert'] is True
    # without the statistic, a DBD split's invert is unknown ('?'), a SOD split's False
    convert_folder_pairs(*args, out, split='a', task='dbd', polarity_samples=0, **QUIET)
    assert 'invert=?' in capsys.readouterr().out
    assert report_of(out)['splits']['a']['config']['invert'] is None


# ---------------------------------------------------------------------------- building blocks
def test_scan_folder(tmp_path):
    folder = tmp_path / 'f'
    for name in ('a.jpg', 'b.PNG', 'c.jp2', '.hidden.png', 'notes.txt'):
        write(folder / 'x.png', np.zeros((2, 2), np.uint8))
        os.replace(folder / 'x.png', folder / name)
    (folder / 'sub.png').mkdir()
    files, ignored = scan_folder(str(folder), 'image')
    assert files == {
        s: str(folder / n)
        for s, n in (('a', 'a.jpg'), ('b', 'b.PNG'), ('c', 'c.jp2'))
    }
    assert ignored == ['.hidden.png', 'notes.txt']
    files, ignored = scan_folder(str(folder), 'image', suffix='.png')
    assert list(files) == ['b'] and ignored == ['.hidden.png', 'a.jpg', 'c.jp2', 'notes.txt']
    write(folder / 'a.png', np.zeros((2, 2), np.uint8))
    with pytest.raises(ConversionError, match='same stem: a.jpg / a.png'):
        scan_folder(str(folder), 'image')
    with pytest.raises(ConversionError, match="mask folder '.*nowhere' does not exist"):
        scan_folder(str(tmp_path / 'nowhere'), 'mask')


def test_pairs_suffixes_and_names(tmp_path):
    images = {'a': '/i/a.jpg', 'b': '/i/b.JPG'}
    masks = {'a': '/m/a.png', 'b': '/m/b.png', 'z': '/m/z.png'}
    pairs, orphans = build_pairs('test', images, masks, '/i', '/m')
    assert pairs == [
        Pair('test', 'a', '/i/a.jpg', '/m/a.png'),
        Pair('test', 'b', '/i/b.JPG', '/m/b.png')
    ]
    assert orphans == ['z']
    with pytest.raises(ConversionError, match=r"1 listed name\(s\) have no image in '/i': q"):
        build_pairs('test', images, masks, '/i', '/m', stems=['a', 'q'])
    assert common_suffix([p.image for p in pairs], 'image', '/i') == ('.jpg', {
        '.JPG': 1,
        '.jpg': 1
    })
    assert common_suffix([], 'image', '/i') == (None, {})
    assert strip_image_ext('a.JPG') == 'a' and strip_image_ext('a.jp2') == 'a'
    assert strip_image_ext('a.txt') == 'a.txt' and strip_image_ext('a') == 'a'
    assert listing(range(12)) == '0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ... (2 more)'
    assert listing(['x', 'y'], 1) == 'x, ... (1 more)'
    names = write_list(tmp_path / 'n.txt', ['# comment', 'b', '', '  a  '])
    assert read_name_list(names) == ['b', 'a']
    write_list(names, ['a', 'b', 'a'])
    with pytest.raises(ConversionError, match='lists names more than once: a'):
        read_name_list(names, what='test list')
    write_list(names, ['# only a comment'])
    with pytest.raises(ConversionError, match='lists no names'):
        read_name_list(names)
    with pytest.raises(ConversionError, match="list file '.*none.txt' does not exist"):
        read_name_list(str(tmp_path / 'none.txt'))


def test_write_pairs_and_sizes(tmp_path):
    src = tmp_path / 'src'
    img = write(src / 'a.JPG', dbd_image(0))
    mask = write(src / 'a.png', dbd_mask())
    os.chmod(img, 0o600)
    pairs = [Pair('train', 'a', img, mask)]
    out = str(tmp_path / 'out')
    renamed, stale = write_pairs(pairs, out, '.jpg', '.png', progress=False)
    assert renamed == [{'from': 'a.JPG', 'to': 'train/images/a.jpg'}] and stale == {}
    assert read_bytes(osp.join(out, 'train/images/a.jpg')) == read_bytes(img)
    assert os.stat(osp.join(out, 'train/images/a.jpg')).st_mode & 0o777 == 0o600
    assert check_sizes(
        pairs, progress=False) == {
            'train': {
                'height': [16, 16],
                'width': [16, 16]
            },
            'all': {
                'height': [16, 16],
                'width': [16, 16]
            }
        }
    # a source that is its own destination is refused, nothing is lost
    own = [Pair('train', 'a', osp.join(out, 'train/images/a.jpg'), mask)]
    before = read_bytes(own[0].image)
    with pytest.raises(ConversionError, match='source and destination are the same file'):
        write_pairs(own, out, '.jpg', '.png', progress=False)
    assert read_bytes(own[0].image) == before
    bad = write(src / 'b.png', np.zeros((3, 3), np.uint8))
    (src / 'c.png').write_bytes(b'not an image')
    with pytest.raises(ConversionError, match=r"1 file\(s\) cannot be read: .*c.png"):
        check_sizes([Pair('t', 'c', str(src / 'c.png'), mask)], progress=False)
    with pytest.raises(ConversionError, match=r'1 mask\(s\) differ in size'):
        check_sizes([Pair('t', 'b', img, bad)], progress=False)


def test_cli_helpers(capsys):
    assert suffix_arg(' jpg ') == '.jpg' and suffix_arg('.PNG') == '.PNG'
    with pytest.raises(argparse.ArgumentTypeError, match='empty suffix'):
        suffix_arg('  ')

    def failing(argv):
        raise ConversionError(f'bad {argv}')

    assert convert_main(failing, ['x']) == 2
    assert capsys.readouterr().err == "error: bad ['x']\n"
    assert convert_main(lambda argv: 0) == 0
    with pytest.raises(ValueError):
        convert_main(lambda argv: int('x'))


# ---------------------------------------------------------------------------- validation split
def test_validation_split_is_carved_from_train_by_the_converters(tmp_path, capsys):
    """Issue 18 item 7: DUT (drawn, seed 0) and CUHK (a list) write OUT/splits/{train,val}.txt;
    a list naming a non-training image is an error with ``strict``, a warning and a draw without."""
    src = tmp_path / 'DUT'
    stems = [f'{i:04d}' for i in range(70)]
    for stem in stems:
        write(str(src / "dut600-source" / f"{stem}.jpg"), dbd_image(0))
        write(str(src / 'dut600-gt' / f'{stem}.bmp'), dbd_mask('in-focus'))
    out = tmp_path / 'out'
    report = convert_release(str(src), str(out), DUT_DBD_SPEC, **QUIET)
    val = (out / 'splits' / 'val.txt').read_text().split()
    train = (out / 'splits' / 'train.txt').read_text().split()
    assert val == draw_validation_split(stems) and len(val) == 60
    assert sorted(train + val) == stems and not set(train) & set(val)
    assert report['validation_split']['counts'] == {'train': 10, 'val': 60}
    assert 'random.Random(0)' in report['validation_split']['procedure']
    # CUHK with a list
    cuhk = tmp_path / 'CUHK'
    cstems = [f'out_of_focus{i:04d}' for i in range(1, 66)]
    for stem in cstems:
        write(str(cuhk / "image" / f"{stem}.jpg"), dbd_image(0))
        write(str(cuhk / 'gt' / f'{stem}.png'), dbd_mask('blurred'))
    test_list = write_list(tmp_path / 'test.txt', cstems[:2])
    val_list = write_list(tmp_path / 'val.txt', [s + '.jpg' for s in cstems[2:62]])
    report = convert_cuhk_dbd(
        str(cuhk), str(tmp_path / 'c1'), test_list, strict=False, val_list=val_list, **QUIET)
    assert (tmp_path / 'c1' / 'splits' / 'val.txt').read_text().split() == cstems[2:62]
    assert (tmp_path / 'c1' / 'splits' / 'train.txt').read_text().split() == cstems[62:]
    assert report['validation_split']['procedure'] == f'list {val_list}'
    bad = write_list(tmp_path / 'bad.txt', cstems[:60])  # two of them are test images
    with pytest.raises(ConversionError, match='2 name.*not training images.*--val-list draw'):
        _validation_split(str(tmp_path / 'c2'), cstems[2:], bad, True, Warnings())
    assert not (tmp_path / 'c2').exists()
    report = convert_cuhk_dbd(
        str(cuhk), str(tmp_path / 'c3'), test_list, strict=False, val_list=bad, **QUIET)
    assert any('the split is drawn from the training images found' in w for w in report['warnings'])
    assert (tmp_path / 'c3' / 'splits' / 'val.txt').read_text().split() == draw_validation_split(
        cstems[2:])
