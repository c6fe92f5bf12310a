"""Tests of the dataset converters in tools/dataset_converters/ (CUHK, DUT, DUTS, folder pairs).

Each test builds a tiny fake release in ``tmp_path``: 16x16 images whose in-focus half is random
texture and whose blurred half is flat, so the polarity statistic sees a real signal, and masks
stored with the release's polarity. The scripts run in-process through their ``main(argv)``.
"""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py

SIZE = 16
cuhk = tiny.load_tool('dataset_converters/cuhk_dbd')
dut = tiny.load_tool('dataset_converters/dut_dbd')
duts = tiny.load_tool('dataset_converters/duts')
folder_pairs = tiny.load_tool('dataset_converters/folder_pairs')
cu = cuhk.cu  # tools/dataset_converters/_converter_utils.py, as the scripts import it
SPLITS_DIR = osp.join(tiny.REPO_ROOT, 'tools', 'dataset_converters', 'splits')


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


def write_list(path, names):
    with open(path, 'w') as f:
        f.write('\n'.join(names) + '\n')
    return str(path)


# ---------------------------------------------------------------------------- CUHK
def test_cuhk_converts_test_list_and_train_rest(tmp_path, capsys):
    src = make_cuhk(tmp_path / 'CUHK')
    test_list = write_list(tmp_path / 'test.txt', ['out_of_focus0002.JPG', 'out_of_focus0005'])
    out = str(tmp_path / 'out')
    rc = cuhk.main([src, out, '--test-list', test_list, '--no-strict', '--no-progress'])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
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
    assert report['counts'] == {'train': 4, 'test': 2}
    assert report['release_counts'] == {'out_of_focus': 6, 'motion': 2, 'masks': 8}
    assert report['suffixes_found']['images'] == {'.JPG': 1, '.jpg': 5}
    assert report['renamed'] == [{
        'from': 'out_of_focus0002.JPG',
        'to': 'test/images/out_of_focus0002.jpg'
    }]
    assert report['image_size']['all'] == {'height': [SIZE, SIZE], 'width': [SIZE, SIZE]}
    assert report['config'] == {'img_suffix': '.jpg', 'seg_map_suffix': '.png', 'invert': True}
    pol = report['polarity']
    assert pol['votes'] == {'white = in-focus': 0, 'white = blurred': 6}
    assert pol['majority'] == 'white = blurred' and pol['agrees'] is True
    assert len(report['warnings']) == 1 and 'found 6 out_of_focus* images' in report['warnings'][0]
    assert 'wrote CUHK-DBD' in captured.out and 'train 4, test 2' in captured.out
    assert 'POLARITY' not in captured.err


def test_cuhk_strict_counts_are_an_error(tmp_path, capsys):
    src = make_cuhk(tmp_path / 'CUHK')
    test_list = write_list(tmp_path / 'test.txt', ['out_of_focus0001.jpg'])
    out = tmp_path / 'out'
    assert cuhk.main([src, str(out), '--test-list', test_list, '--no-progress']) == 2
    err = capsys.readouterr().err
    assert 'found 6 out_of_focus* images (1 test' in err and '5 train' in err
    assert '704 (100 test, 604 train)' in err and '--no-strict' in err
    assert not out.exists()


def test_cuhk_missing_files_are_named(tmp_path, capsys):
    src = make_cuhk(tmp_path / 'CUHK')
    test_list = write_list(tmp_path / 'test.txt', ['out_of_focus0001.jpg', 'out_of_focus0099.jpg'])
    args = ['--test-list', test_list, '--no-strict', '--no-progress']
    assert cuhk.main([src, str(tmp_path / 'o1')] + args) == 2
    err = capsys.readouterr().err
    assert f"1 test image(s) of '{test_list}' are not among" in err
    assert err.rstrip().endswith(': out_of_focus0099.jpg')
    write_list(test_list, ['out_of_focus0001.jpg'])
    os.remove(osp.join(src, 'gt', 'out_of_focus0004.png'))
    assert cuhk.main([src, str(tmp_path / 'o2')] + args) == 2
    err = capsys.readouterr().err
    assert '1 image(s) have no mask' in err and 'out_of_focus0004.jpg' in err
    assert not (tmp_path / 'o1').exists() and not (tmp_path / 'o2').exists()


def test_cuhk_mask_size_mismatch_is_an_error(tmp_path, capsys):
    src = make_cuhk(tmp_path / 'CUHK')
    write(osp.join(src, 'gt', 'out_of_focus0003.png'), dbd_mask('blurred', h=SIZE + 2))
    test_list = write_list(tmp_path / 'test.txt', ['out_of_focus0001.jpg'])
    assert cuhk.main(
        [src, str(tmp_path / 'out'), '--test-list', test_list, '--no-strict', '--no-progress']) == 2
    err = capsys.readouterr().err
    assert 'out_of_focus0003.png is 18x16 but out_of_focus0003.jpg is 16x16' in err


def test_cuhk_inverted_release_is_flagged(tmp_path, capsys):
    src = make_cuhk(tmp_path / 'CUHK', white='in-focus')  # a re-release stored white = in-focus
    test_list = write_list(tmp_path / 'test.txt', ['out_of_focus0001.jpg'])
    out = str(tmp_path / 'out')
    assert cuhk.main([src, out, '--test-list', test_list, '--no-strict', '--no-progress']) == 0
    err = capsys.readouterr().err
    assert 'POLARITY: 6 of 6 sampled images read as "white = in-focus"' in err
    assert 'invert=False' in err
    report = report_of(out)
    assert report['polarity']['agrees'] is False
    assert report['polarity']['majority'] == 'white = in-focus'
    assert report['config']['invert'] is False
    assert any(w.startswith('POLARITY') for w in report['warnings'])


def test_cuhk_polarity_samples_are_limited(tmp_path, capsys):
    src = make_cuhk(tmp_path / 'CUHK')
    # one one-valued mask: skipped and counted when sampled
    write(osp.join(src, 'gt', 'out_of_focus0001.png'), np.zeros((SIZE, SIZE), np.uint8))
    test_list = write_list(tmp_path / 'test.txt', ['out_of_focus0006.jpg'])
    out = str(tmp_path / 'out')
    assert cuhk.main([
        src, out, '--test-list', test_list, '--no-strict', '--no-progress', '--polarity-samples',
        '3'
    ]) == 0
    pol = report_of(out)['polarity']
    assert pol['sampled'] == 3 and pol['of_pairs'] == 6
    assert pol['skipped_uniform'] == 1  # the first pair is always sampled
    assert pol['votes'] == {'white = in-focus': 0, 'white = blurred': 2}


def test_cuhk_shipped_test_list_is_the_benchmark_split():
    names = cu.read_name_list(osp.join(SPLITS_DIR, 'cuhk_dbd_test100.txt'))
    assert len(names) == 100 and len(set(names)) == 100
    assert all(n.startswith('out_of_focus') and n.lower().endswith('.jpg') for n in names)
    assert names[0] == 'out_of_focus0037.jpg'
    assert sum(n.endswith('.JPG') for n in names) == 5
    xu = [
        line.split()
        for line in cu.read_name_list(osp.join(SPLITS_DIR, 'cuhk_dbd_test100_xu_index.txt'))
    ]
    assert [a for a, _ in xu] == [f'{i}.bmp' for i in range(1, 101)]
    assert [b for _, b in xu] == names
    assert cuhk.DEFAULT_TEST_LIST == osp.join(SPLITS_DIR, 'cuhk_dbd_test100.txt')


def test_cuhk_xu100_is_checked_against_the_test_list(tmp_path, capsys):
    src = make_cuhk(tmp_path / 'CUHK')
    test_list = write_list(tmp_path / 'test.txt', ['out_of_focus0003.jpg', 'out_of_focus0005.jpg'])
    index = write_list(tmp_path / 'xu_index.txt',
                       ['1.bmp out_of_focus0003.jpg', '2.bmp out_of_focus0005.jpg'])
    xu = tmp_path / 'xu100'
    for n, stem in ((1, 'out_of_focus0003'), (2, 'out_of_focus0005')):
        write(xu / 'xu100-source' / f'{n}.bmp', cv2.imread(osp.join(src, 'image', stem + '.jpg')))
        write(xu / 'xu100-gt' / f'{n}.bmp', 255 - cv2.imread(osp.join(src, 'gt', stem + '.png')))
    args = ['--test-list', test_list, '--xu-index', index, '--no-strict', '--no-progress']
    out = str(tmp_path / 'out')
    assert cuhk.main([src, out, '--xu100', str(xu)] + args) == 0
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
    assert cuhk.main([src, str(tmp_path / 'out2'), '--xu100', str(xu)] + args) == 0
    assert report_of(tmp_path / 'out2')['xu100']['xu100-source']['content'] == {'different': 2}
    assert 'do not look like the CUHK images' in capsys.readouterr().err
    # a missing numbered file is an error naming it
    os.remove(xu / 'xu100-source' / '2.bmp')
    assert cuhk.main([src, str(tmp_path / 'out3'), '--xu100', str(xu)] + args) == 2
    assert 'lacks 1 of the 100 numbered files: 2.*' in capsys.readouterr().err


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
    assert dut.main([src, out, '--no-progress']) == 0
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
        f"DUT-DBD test: found 2 image/mask pairs in '{folders['test'][0]}', the release has 500"
    ])
    assert 'train 3, test 2' in captured.out


def test_dut_png_masks_and_inverted_polarity_are_reported(tmp_path, capsys):
    src = make_dut(tmp_path / 'DUT', white='blurred', mask_ext='.png')
    out = str(tmp_path / 'out')
    assert dut.main([src, out, '--no-progress']) == 0
    err = capsys.readouterr().err
    assert "set seg_map_suffix='.png'" in err and 'configs/_base_/datasets/dut_dbd.py' in err
    assert 'POLARITY: 5 of 5 sampled images read as "white = blurred"' in err
    report = report_of(out)
    assert report['config'] == {'img_suffix': '.jpg', 'seg_map_suffix': '.png', 'invert': True}
    assert osp.isfile(osp.join(out, 'train', 'masks', 'dut600_0.png'))


def test_dut_missing_folders(tmp_path, capsys):
    (tmp_path / 'empty').mkdir()
    assert dut.main([str(tmp_path / 'empty'), str(tmp_path / 'out')]) == 2
    err = capsys.readouterr().err
    assert 'none of its folders found' in err
    for name in ('dut600-source', 'dut600-gt', 'dut500-source', 'dut500-gt'):
        assert name in err
    # only the test part: converted, with a warning
    src = make_dut(tmp_path / 'DUT', parts=('test', ))
    out = str(tmp_path / 'out')
    assert dut.main([src, out, '--no-progress']) == 0
    assert 'the train split is not converted' in capsys.readouterr().err
    assert report_of(out)['counts'] == {'test': 2}
    assert not osp.exists(osp.join(out, 'train'))
    # an image folder without its mask folder is an error naming both
    os.makedirs(osp.join(src, 'dut600-source'))
    assert dut.main([src, str(tmp_path / 'out2')]) == 2
    err = capsys.readouterr().err
    assert 'dut600-source' in err and "no folder 'dut600-gt'" in err


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
    assert duts.main([src, out, '--no-progress']) == 0
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
    assert duts.main([src, out, '--no-progress']) == 0
    err = capsys.readouterr().err
    assert 'the train split is not converted' in err
    assert 'POLARITY: 3 of 3 sampled images read as "white = background"' in err
    report = report_of(out)
    assert report['counts'] == {'test': 3}
    assert report['polarity']['agrees'] is False
    assert tree(out) == sorted(['conversion_report.json'] + [
        f'test/{sub}/ILSVRC_TE_{i}{ext}' for i in range(3)
        for sub, ext in (('images', '.jpg'), ('masks', '.png'))
    ])
    (tmp_path / 'nothing').mkdir()
    assert duts.main([str(tmp_path / 'nothing'), str(tmp_path / 'o2')]) == 2
    assert 'DUTS-TE-Image' in capsys.readouterr().err


# ---------------------------------------------------------------------------- folder pairs
def make_pairs(root, stems=('a', 'b', 'c'), img_ext='.jpg', mask_ext='.png'):
    for i, stem in enumerate(stems):
        write(osp.join(root, 'imgs', stem + img_ext), dbd_image(i))
        write(osp.join(root, 'gt', stem + mask_ext), sod_mask())
    return str(root / 'imgs'), str(root / 'gt')


def test_folder_pairs_copies_a_split_and_adds_splits(tmp_path, capsys):
    imgs, masks = make_pairs(tmp_path / 'src')
    out = str(tmp_path / 'ecssd')
    assert folder_pairs.main(['--images', imgs, '--masks', masks, '--out', out,
                              '--no-progress']) == 0
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
    assert folder_pairs.main(
        ['--images', imgs2, '--masks', masks2, '--out', out, '--split', 'train',
         '--no-progress']) == 0
    report = report_of(out)
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


def test_folder_pairs_unpaired_files_are_named(tmp_path, capsys):
    imgs, masks = make_pairs(tmp_path / 'src')
    os.remove(osp.join(masks, 'b.png'))
    args = ['--images', imgs, '--masks', masks, '--out', str(tmp_path / 'out')]
    assert folder_pairs.main(args) == 2
    err = capsys.readouterr().err
    assert '1 image(s) have no mask' in err and 'b.jpg' in err and masks in err
    write(osp.join(masks, 'b.png'), sod_mask())
    write(osp.join(masks, 'zz.png'), sod_mask())
    assert folder_pairs.main(args) == 2
    err = capsys.readouterr().err
    assert '1 mask(s)' in err and 'zz.png' in err and 'have no image' in err
    # --stems picks pairs; unlisted masks do not matter
    stems = write_list(tmp_path / 'stems.txt', ['c.jpg', 'a'])
    assert folder_pairs.main(args + ['--stems', stems, '--no-progress']) == 0
    assert tree(tmp_path / 'out') == sorted([
        'conversion_report.json', 'test/images/a.jpg', 'test/images/c.jpg', 'test/masks/a.png',
        'test/masks/c.png'
    ])
    assert report_of(tmp_path / 'out')['splits']['test']['not_listed'] == {'images': 1, 'masks': 2}


def test_folder_pairs_mixed_suffixes(tmp_path, capsys):
    imgs, masks = make_pairs(tmp_path / 'src')
    write(osp.join(imgs, 'd.png'), dbd_image(5))
    write(osp.join(masks, 'd.png'), sod_mask())
    args = ['--images', imgs, '--masks', masks, '--out', str(tmp_path / 'out'), '--no-progress']
    assert folder_pairs.main(args) == 2
    err = capsys.readouterr().err
    assert 'mixed suffixes: .jpg (3), .png (1)' in err and imgs in err
    # choosing the suffix resolves it: only the .jpg images are paired, and the mask d.png
    # is now one without an image
    assert folder_pairs.main(args + ['--img-suffix', 'jpg']) == 2
    assert 'have no image (same stem)' in capsys.readouterr().err
    os.remove(osp.join(masks, 'd.png'))
    assert folder_pairs.main(args + ['--img-suffix', 'jpg']) == 0
    assert sorted(os.listdir(tmp_path / 'out' / 'test' / 'images')) == ['a.jpg', 'b.jpg', 'c.jpg']
    entry = report_of(tmp_path / 'out')['splits']['test']
    assert entry['count'] == 3 and entry['ignored_files'] == {'images': ['d.png'], 'masks': []}


def test_folder_pairs_refuses_non_empty_output(tmp_path, capsys):
    imgs, masks = make_pairs(tmp_path / 'src')
    out = tmp_path / 'out'
    old = write(out / 'test' / 'images' / 'a.jpg', np.zeros((4, 4, 3), np.uint8))
    keep = write(out / 'test' / 'images' / 'old.jpg', np.zeros((4, 4, 3), np.uint8))
    before = {p: read_bytes(p) for p in (old, keep)}
    args = ['--images', imgs, '--masks', masks, '--out', str(out), '--no-progress']
    assert folder_pairs.main(args) == 2
    err = capsys.readouterr().err
    assert 'is not empty' in err and '--overwrite' in err
    assert tree(out) == ['test/images/a.jpg', 'test/images/old.jpg']
    assert {p: read_bytes(p) for p in (old, keep)} == before
    # --overwrite replaces same-name files, keeps the others and says so
    assert folder_pairs.main(args + ['--overwrite']) == 0
    err = capsys.readouterr().err
    assert read_bytes(old) == read_bytes(osp.join(imgs, 'a.jpg'))
    assert read_bytes(keep) == before[keep]
    assert 'old.jpg' in err and 'the dataset will read them too' in err
    assert not [n for n in tree(out) if n.endswith('.tmp')]


def test_dataset_converters_refuse_non_empty_output(tmp_path, capsys):
    src = make_dut(tmp_path / 'DUT')
    out = tmp_path / 'out'
    marker = write(out / 'notes.png', np.zeros((2, 2), np.uint8))
    content = read_bytes(marker)
    assert dut.main([src, str(out)]) == 2
    assert 'is not empty (1 entries: notes.png)' in capsys.readouterr().err
    assert tree(out) == ['notes.png'] and read_bytes(marker) == content


def test_folder_pairs_dbd_task_recommends_invert(tmp_path, capsys):
    for i, stem in enumerate(('p', 'q')):
        write(tmp_path / 'imgs' / f'{stem}.jpg', dbd_image(i))
        write(tmp_path / 'masks' / f'{stem}.bmp', dbd_mask('blurred'))
    out = str(tmp_path / 'out')
    assert folder_pairs.main([
        '--images',
        str(tmp_path / 'imgs'), '--masks',
        str(tmp_path / 'masks'), '--out', out, '--task', 'dbd', '--no-progress'
    ]) == 0
    assert "seg_map_suffix='.bmp', invert=True" in capsys.readouterr().out
    entry = report_of(out)['splits']['test']
    assert entry['polarity']['majority'] == 'white = blurred'
    assert entry['config']['invert'] is True


# ---------------------------------------------------------------------------- helpers
def test_sample_evenly_and_votes(tmp_path):
    assert cu.sample_evenly(range(10), 3) == [0, 4, 9]
    assert cu.sample_evenly(range(100), 5) == [0, 25, 50, 74, 99]
    assert cu.sample_evenly(range(4), 50) == [0, 1, 2, 3]
    assert cu.sample_evenly(range(4), 0) == []
    img = write(tmp_path / 'i.png', dbd_image(0, h=64, w=48))
    fn, name = cu.load_sharpness_fn()
    assert name == 'dbdseg.utils.sharpness.gradient_energy_map'
    for white, vote in (('in-focus', 'in-focus'), ('blurred', 'blurred')):
        mask = write(tmp_path / f'm_{white}.png', dbd_mask(white, h=64, w=48))
        assert cu.dbd_vote(img, mask, fn) == vote
        assert cu.dbd_vote(img, mask, cu._laplacian_energy) == vote
    for white in ('salient', 'background'):
        assert cu.sod_vote(write(tmp_path / f's_{white}.png', sod_mask(white))) == white
    assert cu.sod_vote(write(tmp_path / 'flat.png', np.full((8, 8), 255, np.uint8))) == 'uniform'
    one = write(tmp_path / 'one.png', (dbd_mask('in-focus', h=64, w=48) // 255).astype(np.uint8))
    assert cu.dbd_vote(img, one, fn) == 'in-focus'  # 0/1 masks are taken as they are


def test_dut_two_copies_of_a_split_are_an_error(tmp_path, capsys):
    src = make_dut(tmp_path / 'DUT', layout='flat')
    make_dut(tmp_path / 'DUT', layout='archive', parts=('test', ))
    out = tmp_path / 'out'
    assert dut.main([src, str(out)]) == 2
    err = capsys.readouterr().err
    assert 'several copies of the test split' in err and 'DUT-DBD_Dataset' in err
    assert not out.exists()
