"""dbdseg.datasets.map_folders: listing images, checking saliency map folders, the annotation file.

Each test builds a tiny data root in ``tmp_path``: a few images of different sizes (grey with a red
square), their masks, train.txt / val.txt and grey saliency maps made here (any grey PNG at the
image size is a valid map; the checks never look at how it was made).
"""
import argparse
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from dbdseg.datasets.conversion import ConversionError
from dbdseg.datasets.map_folders import (attach_saliency_maps, check_map, check_map_folder,
                                         copies_mask, decode_image, list_image_jobs, listing,
                                         read_image_hw, read_name_list, read_split_stems,
                                         suffix_arg)

#: stem -> (H, W); non-square, all different
SIZES = {'a': (12, 16), 'b': (10, 14), 'c': (16, 12), 'd': (14, 18), 'e': (9, 11)}
TRAIN = ['a', 'b', 'c', 'd']
VAL = ['e']


def image(h, w, seed=0):
    """BGR uint8 image: grey with a little noise and a red rectangle."""
    rng = np.random.default_rng(seed)
    img = np.clip(128 + rng.normal(0, 4, size=(h, w, 3)), 0, 255).astype(np.uint8)
    img[h // 4:h // 2 + 1, w // 4:w // 2 + 1] = (0, 0, 255)
    return img


def soft_map(h, w):
    """A soft 8-bit map: a horizontal ramp 0..255."""
    return np.tile(np.linspace(0, 255, w).round().astype(np.uint8), (h, 1))


def write(path, array):
    os.makedirs(osp.dirname(str(path)), exist_ok=True)
    assert cv2.imwrite(str(path), array), path
    return str(path)


def make_root(tmp_path, maps=True):
    """Data root with images/, masks/, train.txt, val.txt and (``maps``) saliency/."""
    root = tmp_path / 'data'
    for i, (stem, (h, w)) in enumerate(SIZES.items()):
        write(root / 'images' / f'{stem}.png', image(h, w, seed=i))
        mask = np.zeros((h, w), np.uint8)
        mask[:h // 2, :] = 255
        write(root / 'masks' / f'{stem}.png', mask)
        if maps:
            write(root / 'saliency' / f'{stem}.png', soft_map(h, w))
    (root / 'train.txt').write_text(''.join(s + '\n' for s in TRAIN))
    (root / 'val.txt').write_text(''.join(s + '\n' for s in VAL))
    return str(root)


def attach(root, **kwargs):
    return attach_saliency_maps(root, img_suffix='.png', progress=False, **kwargs)


# ---------------------------------------------------------------------------- small helpers
def test_listing_read_name_list_suffix_arg(tmp_path):
    assert listing(['a', 'b', 'c'], 2) == 'a, b, ... (1 more)'
    assert listing([1, 2]) == '1, 2'
    names = tmp_path / 'names.txt'
    names.write_text('# header\n a \n\nb\n')
    assert read_name_list(str(names)) == ['a', 'b']
    names.write_text('a\nb\na\n')
    with pytest.raises(ConversionError, match='more than once: a'):
        read_name_list(str(names))
    names.write_text('# only\n\n')
    with pytest.raises(ConversionError, match='lists no names'):
        read_name_list(str(names))
    with pytest.raises(ConversionError, match='split file .*nope.txt.* does not exist'):
        read_name_list(str(tmp_path / 'nope.txt'), what='split')
    assert suffix_arg('jpg') == '.jpg' and suffix_arg(' .PNG ') == '.PNG'
    with pytest.raises(argparse.ArgumentTypeError):
        suffix_arg('  ')


def test_list_image_jobs(tmp_path):
    folder = tmp_path / 'images'
    write(folder / 'b.jpg', image(4, 4))
    write(folder / 'sub' / 'a.jpg', image(4, 4))
    write(folder / 'c.png', image(4, 4))
    (folder / '.hidden.jpg').write_bytes(b'x')  # an atomic write's temporary file
    jobs = list_image_jobs(str(folder), '.jpg')
    assert jobs == [('b', str(folder / 'b.jpg')), ('sub/a', str(folder / 'sub' / 'a.jpg'))]
    split = tmp_path / 'split.txt'
    split.write_text('sub/a\n# skipped\nb\n')
    assert [s for s, _ in list_image_jobs(str(folder), '.jpg', str(split))] == ['sub/a', 'b']
    split.write_text('b\nnope\n')
    with pytest.raises(ConversionError, match='1 image\\(s\\) listed .*nope.jpg'):
        list_image_jobs(str(folder), '.jpg', str(split))
    with pytest.raises(ConversionError, match='no .bmp image files'):
        list_image_jobs(str(folder), '.bmp')
    with pytest.raises(ConversionError, match='image folder .*missing.* does not exist'):
        list_image_jobs(str(tmp_path / 'missing'), '.jpg')


def test_read_split_stems(tmp_path):
    split = tmp_path / 'train.txt'
    split.write_text(' a\n\n#b\nc \n')
    assert read_split_stems(str(split)) == ['a', '#b', 'c']  # as mmengine.list_from_file reads
    split.write_text('a\na\n')
    with pytest.raises(ConversionError, match='more than once: a'):
        read_split_stems(str(split))
    split.write_text('\n \n')
    with pytest.raises(ConversionError, match='lists no stems'):
        read_split_stems(str(split))
    with pytest.raises(ConversionError, match='--split-file'):
        read_split_stems(str(tmp_path / 'none.txt'))


# ---------------------------------------------------------------------------- one map
def test_decode_image_and_read_image_hw(tmp_path):
    path = write(tmp_path / 'x.png', image(7, 9))
    assert decode_image(path).shape == (7, 9, 3)
    assert decode_image(path, cv2.IMREAD_GRAYSCALE).shape == (7, 9)
    assert read_image_hw(path) == (7, 9)
    (tmp_path / 'empty.png').write_bytes(b'')
    (tmp_path / 'bad.png').write_bytes(b'garbage')
    assert decode_image(str(tmp_path / 'empty.png')) is None
    assert decode_image(str(tmp_path / 'bad.png')) is None
    assert read_image_hw(str(tmp_path / 'missing.png')) is None


def test_check_map_values_and_problems(tmp_path):
    hw = (6, 8)

    def check(array=None, name='m.png', size=hw):
        path = tmp_path / name
        if array is not None:
            write(path, array)
        return check_map(str(path), f'sal/{name}', size, 'images/x.jpg')

    problem, values = check(soft_map(*hw))
    assert problem is None and values.dtype == np.float64
    np.testing.assert_allclose(values, soft_map(*hw) / 255.0)
    map16 = np.full(hw, 65535, np.uint16)
    map16[0, 0] = 32768
    problem, values = check(map16, 'm16.png')
    assert problem is None and values[0, 0] == 32768 / 65535 and values[1, 1] == 1.0
    assert check(name='none.png') == ('missing saliency map sal/none.png for image images/x.jpg',
                                      None)
    (tmp_path / 'bad.png').write_bytes(b'\x89PNG junk')
    assert check(name='bad.png')[0].startswith('unreadable saliency map sal/bad.png')
    grey = soft_map(*hw)
    problem, values = check(cv2.merge([grey, grey, grey]), 'grey3.png')
    assert '3 channels' in problem and '3 equal channels' in problem and values is None
    assert 'channels differ' in check(image(*hw), 'colour.png')[0]
    bgra = cv2.merge([grey, grey, grey, grey])
    assert 'with an alpha channel' in check(bgra, 'alpha.png')[0]
    assert check(soft_map(5, 8), 'small.png')[0] == (
        'saliency map sal/small.png is 5x8 (H x W) but image images/x.jpg is 6x8')


def test_copies_mask(tmp_path):
    mask = np.zeros((6, 8), np.uint8)
    mask[:3] = 255
    mask_path = write(tmp_path / 'mask.png', mask)
    binary = (mask > 128).astype(np.float64)
    assert copies_mask(binary, mask_path)
    assert copies_mask(1.0 - binary, mask_path)  # the inverse
    other = binary.copy()
    other[5, 7] = 1.0
    assert not copies_mask(other, mask_path)
    soft = binary * 0.9 + 0.05  # two values but not 0 / 1
    assert not copies_mask(soft, mask_path)
    assert not copies_mask(binary, str(tmp_path / 'missing.png'))
    assert not copies_mask(binary[:5], mask_path)  # other size
    mask01 = write(tmp_path / 'mask01.png', (mask > 0).astype(np.uint8))  # 0/1 mask
    assert copies_mask(binary, mask01)


def test_check_map_folder_stats(tmp_path):
    root = make_root(tmp_path)
    sal = osp.join(root, 'saliency')
    write(osp.join(sal, 'b.png'), np.full(SIZES['b'], 200, np.uint8))  # constant
    mask_c = cv2.imread(osp.join(root, 'masks', 'c.png'), cv2.IMREAD_GRAYSCALE)
    write(osp.join(sal, 'c.png'), mask_c)  # a copy of the mask
    problems, stats = check_map_folder(['a', 'b', 'c', 'x'],
                                       root,
                                       osp.join(root, 'images'),
                                       sal,
                                       osp.join(root, 'masks'),
                                       '.png',
                                       progress=False)
    assert problems == ["missing image images/x.png (listed as 'x')"]
    values = [soft_map(*SIZES['a']) / 255.0, np.full(SIZES['b'], 200 / 255.0), mask_c / 255.0]
    flat = np.concatenate([v.ravel() for v in values])
    assert stats['maps'] == 3
    assert stats['mean'] == pytest.approx(flat.mean())
    assert stats['above_half'] == pytest.approx((flat > 0.5).mean())
    assert stats['constant'] == ['saliency/b.png']
    assert stats['mask_copies'] == ['saliency/c.png']
    # without a mask folder copies are not looked for
    _, stats = check_map_folder(['c'],
                                root,
                                osp.join(root, 'images'),
                                sal,
                                None,
                                '.png',
                                progress=False)
    assert stats['mask_copies'] == []
    _, stats = check_map_folder([], root, osp.join(root, 'images'), sal, progress=False)
    assert stats['maps'] == 0 and stats['mean'] is None and stats['above_half'] is None


# ---------------------------------------------------------------------------- attach: success
def test_attach_writes_ann_file_and_config_lines(tmp_path, capsys):
    root = make_root(tmp_path)
    result = attach(root)
    out = capsys.readouterr().out
    with open(osp.join(root, 'train_saliency.txt')) as f:
        assert f.read() == 'a\nb\nc\nd\n'  # the train stems, in split order
    assert result['status'] == 'wrote' and result['stems'] == TRAIN
    assert result['ann_file'] == osp.join(root, 'train_saliency.txt')
    assert result['stats']['maps'] == 4
    assert 'train_dataloader.dataset.data_prefix.saliency_map_path=saliency\n' in out
    assert 'train_dataloader.dataset.ann_file=train_saliency.txt\n' in out
    assert "ann_file='train_saliency.txt'" in out
    assert f'mean saliency {result["stats"]["mean"]:.3f}' in out and 'pixels > 0.5:' in out
    assert 'WARNING' not in out and 'img_path' not in out
    assert [n for n in os.listdir(root) if n.endswith('.tmp')] == []
    # a second run with the same result keeps the file and succeeds
    assert attach(root)['status'] == 'unchanged'
    assert 'unchanged' in capsys.readouterr().out


def test_attach_all_images_custom_names_and_16bit(tmp_path, capsys):
    root = make_root(tmp_path, maps=False)
    for stem, (h, w) in SIZES.items():  # 16-bit grey maps in another folder
        write(
            osp.join(root, 'sal16', f'{stem}.png'),
            np.linspace(0, 65535, h * w).reshape(h, w).astype(np.uint16))
    attach(root, all_images=True, saliency='sal16', out_ann='lists/all.txt')
    out = capsys.readouterr().out
    with open(osp.join(root, 'lists', 'all.txt')) as f:
        assert f.read().split() == sorted(SIZES)
    assert 'data_prefix.saliency_map_path=sal16\n' in out
    assert 'ann_file=lists/all.txt\n' in out
    assert 'mean saliency 0.500' in out
    assert 'the ann_file line is optional' in out
    # images/ holds the val image too: training on the ann file would use it
    assert 'WARNING: 1 checked image(s) are listed in val.txt (e.g. e)' in out


def test_attach_cuhk_layout_and_absolute_paths(tmp_path, capsys):
    """Converted CUHK / DUT layout: train/images, train/masks, no split file."""
    root = tmp_path / 'cuhk'
    for stem in TRAIN:
        write(root / 'train' / 'images' / f'{stem}.png', image(*SIZES[stem]))
        write(root / 'train' / 'saliency' / f'{stem}.png', soft_map(*SIZES[stem]))
    attach(
        str(root),
        images='train/images',
        saliency='train/saliency',
        masks='train/masks',
        all_images=True)
    out = capsys.readouterr().out
    assert 'train_dataloader.dataset.data_prefix.saliency_map_path=train/saliency\n' in out
    assert 'train_dataloader.dataset.data_prefix.img_path=train/images\n' in out
    assert 'WARNING' not in out
    with open(root / 'train_saliency.txt') as f:
        assert f.read() == 'a\nb\nc\nd\n'
    # a map folder outside the data root is printed as an absolute path
    elsewhere = tmp_path / 'elsewhere'
    os.rename(root / 'train' / 'saliency', elsewhere)
    attach(
        str(root), images='train/images', saliency=str(elsewhere), all_images=True, out_ann='x.txt')
    assert f'saliency_map_path={elsewhere}\n' in capsys.readouterr().out


def test_attach_existing_ann_file_is_kept(tmp_path, capsys):
    root = make_root(tmp_path)
    ann = osp.join(root, 'train_saliency.txt')
    with open(ann, 'w') as f:
        f.write('old\n')
    with pytest.raises(ConversionError, match='already exists with other content'):
        attach(root)
    with open(ann) as f:
        assert f.read() == 'old\n'
    assert attach(root, overwrite=True)['status'] == 'wrote'
    with open(ann) as f:
        assert f.read() == 'a\nb\nc\nd\n'
    # the split file itself is never the output
    with pytest.raises(ConversionError, match='split file itself'):
        attach(root, out_ann='train.txt', overwrite=True)


def test_attach_warnings(tmp_path, capsys):
    root = make_root(tmp_path)
    sal = osp.join(root, 'saliency')
    mask = cv2.imread(osp.join(root, 'masks', 'a.png'), cv2.IMREAD_GRAYSCALE)
    write(osp.join(sal, 'a.png'), mask)  # the ground truth copied
    write(osp.join(sal, 'b.png'), 255 - cv2.imread(osp.join(root, 'masks', 'b.png'), 0))
    write(osp.join(sal, 'c.png'), np.zeros(SIZES['c'], np.uint8))  # constant
    write(osp.join(sal, 'a_overlay.jpg'), image(*SIZES['a']))  # tools/infer.py overlay
    attach(root)
    out = capsys.readouterr().out
    assert 'WARNING: 2 map(s)' in out and 'saliency/a.png' in out and 'saliency/b.png' in out
    assert 'warning: 1 map(s) hold one value only' in out and 'saliency/c.png' in out
    assert '1 *_overlay.jpg file(s)' in out
    # no mask folder: no copy check
    attach(root, masks='', out_ann='other.txt')
    assert 'WARNING' not in capsys.readouterr().out


# ---------------------------------------------------------------------------- attach: problems
def test_attach_reports_all_problems_together(tmp_path):
    root = make_root(tmp_path)
    sal = osp.join(root, 'saliency')
    os.remove(osp.join(sal, 'a.png'))  # missing
    write(osp.join(sal, 'b.png'), np.zeros((5, 5), np.uint8))  # wrong size
    with open(osp.join(sal, 'c.png'), 'wb') as f:  # unreadable
        f.write(b'\x89PNG garbage bytes')
    grey = soft_map(*SIZES['d'])
    write(osp.join(sal, 'd.png'), cv2.merge([grey, grey, grey]))  # 3 channels
    with pytest.raises(ConversionError) as info:
        attach(root)
    err = str(info.value)
    assert err.startswith(f'4 problem(s) in the saliency maps of the 4 image(s) of '
                          f'{osp.join(root, "train.txt")}')
    assert 'missing saliency map saliency/a.png' in err
    assert 'saliency/b.png is 5x5 (H x W) but image images/b.png is 10x14' in err
    assert 'unreadable saliency map saliency/c.png' in err
    assert 'saliency/d.png has 3 channels' in err and '3 equal channels' in err
    assert 'IMREAD_GRAYSCALE' in err and 'Missing maps: make them' in err
    assert 'e.png' not in err  # val image: not checked
    assert not osp.exists(osp.join(root, 'train_saliency.txt'))


def test_attach_lists_at_most_20_problems(tmp_path):
    root = tmp_path / 'many'
    stems = [f'img{i:02d}' for i in range(25)]
    for stem in stems:
        write(root / 'images' / f'{stem}.png', image(6, 8))
    (root / 'train.txt').write_text('\n'.join(stems) + '\n')
    os.makedirs(root / 'saliency')
    with pytest.raises(ConversionError) as info:
        attach(str(root))
    err = str(info.value)
    assert '25 problem(s)' in err and '... and 5 more' in err
    assert err.count('  - missing saliency map') == 20
    assert not osp.exists(root / 'train_saliency.txt')


def test_attach_missing_folders_and_split(tmp_path):
    root = make_root(tmp_path, maps=False)
    with pytest.raises(ConversionError, match='saliency folder .*classical_saliency.py'):
        attach(root)
    with pytest.raises(ConversionError, match='nope.txt'):
        attach(root, split_file='nope.txt')
    with pytest.raises(ConversionError, match="image folder .*imgs' does not exist"):
        attach(root, images='imgs')
    with pytest.raises(ConversionError, match='data root'):
        attach(str(tmp_path / 'no_root'))
    with pytest.raises(ConversionError, match='no .jpg image files'):
        attach_saliency_maps(root, all_images=True, progress=False)
