"""Command lines of tools/dataset_converters/classical_saliency.py and attach_saliency_maps.py.

Each test builds a tiny data root in ``tmp_path`` (a few images of different sizes with a red
square on grey, their masks, train.txt / val.txt) and runs the scripts in-process through their
``main(argv)``: options reach the package, errors end with ``error: ...`` on stderr and exit status
2; the last test loads the maps through BinarySegDataset + LoadBinaryAnnotations. The algorithms
are tested in tests/test_apis/test_map_targets.py and tests/test_datasets/test_map_folders.py.
"""
import os
import os.path as osp

import cv2
import numpy as np
import pytest

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py
from dbdseg.utils import frequency_tuned_saliency
from dbdseg.utils.fileio import prob_to_uint8

classical = tiny.load_tool('dataset_converters/classical_saliency')
attach = tiny.load_tool('dataset_converters/attach_saliency_maps')

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


def write(path, array):
    os.makedirs(osp.dirname(str(path)), exist_ok=True)
    assert cv2.imwrite(str(path), array), path
    return str(path)


def make_root(tmp_path, ext='.png'):
    """Data root with images/ (lossless ``ext`` by default), masks/, train.txt and val.txt."""
    root = tmp_path / 'data'
    for i, (stem, (h, w)) in enumerate(SIZES.items()):
        write(root / 'images' / f'{stem}{ext}', image(h, w, seed=i))
        mask = np.zeros((h, w), np.uint8)
        mask[:h // 2, :] = 255
        write(root / 'masks' / f'{stem}.png', mask)
    (root / 'train.txt').write_text(''.join(s + '\n' for s in TRAIN))
    (root / 'val.txt').write_text(''.join(s + '\n' for s in VAL))
    return str(root)


def run_classical(root, *extra, ext='.png'):
    return classical.main([
        '--images',
        osp.join(root, 'images'), '--out',
        osp.join(root, 'saliency'), '--img-suffix', ext, '--no-progress', *extra
    ])


def run_attach(root, *extra, ext='.png'):
    return attach.main(['--data-root', root, '--img-suffix', ext, '--no-progress', *extra])


def read_unchanged(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


# ---------------------------------------------------------------------------- classical_saliency
def test_classical_writes_one_map_per_image(tmp_path, capsys):
    root = make_root(tmp_path)
    assert run_classical(root) == 0
    out = osp.join(root, 'saliency')
    assert sorted(os.listdir(out)) == [f'{s}.png' for s in SIZES]
    for i, (stem, hw) in enumerate(SIZES.items()):
        sal = read_unchanged(osp.join(out, f'{stem}.png'))
        assert sal.shape == hw and sal.dtype == np.uint8  # grey 8-bit at the image size
        img = cv2.imread(osp.join(root, 'images', f'{stem}.png'))
        expected = prob_to_uint8(frequency_tuned_saliency(img))
        np.testing.assert_array_equal(sal, expected)
        assert sal.max() == 255 and sal.min() == 0
    text = capsys.readouterr().out
    assert 'wrote 5 saliency map(s)' in text and 'model-free' in text
    assert 'attach_saliency_maps.py' in text  # the next step is printed


def test_classical_split_file_and_sr_method(tmp_path):
    root = make_root(tmp_path)
    assert run_classical(root, '--split-file', osp.join(root, 'val.txt'), '--method', 'sr') == 0
    assert os.listdir(osp.join(root, 'saliency')) == ['e.png']
    assert read_unchanged(osp.join(root, 'saliency', 'e.png')).shape == SIZES['e']
    # the train maps can be added to the same folder later
    assert run_classical(root, '--split-file', osp.join(root, 'train.txt')) == 0
    assert len(os.listdir(osp.join(root, 'saliency'))) == 5


def test_classical_refuses_to_overwrite(tmp_path, capsys):
    root = make_root(tmp_path)
    keep = write(osp.join(root, 'saliency', 'b.png'), np.full(SIZES['b'], 7, np.uint8))
    assert run_classical(root) == 2
    err = capsys.readouterr().err
    assert 'b.png' in err and '--overwrite' in err and 'nothing was written' in err
    assert os.listdir(osp.join(root, 'saliency')) == ['b.png']  # nothing else written either
    assert (read_unchanged(keep) == 7).all()
    assert run_classical(root, '--overwrite') == 0
    assert not (read_unchanged(keep) == 7).all()
    assert len(os.listdir(osp.join(root, 'saliency'))) == 5


def test_classical_errors(tmp_path, capsys):
    root = make_root(tmp_path)
    assert run_classical(root, '--method', 'sr', '--blur-sigma', '1') == 2
    assert capsys.readouterr().err.startswith('error: --blur-sigma applies to --method ft only')
    with pytest.raises(SystemExit) as info:  # argparse: choices
        run_classical(root, '--method', 'xx')
    assert info.value.code == 2
    assert not osp.exists(osp.join(root, 'saliency'))
    # output inside the image folder
    assert classical.main([
        '--images',
        osp.join(root, 'images'), '--out',
        osp.join(root, 'images', 'sal'), '--img-suffix', '.png'
    ]) == 2
    assert 'must not be the image folder' in capsys.readouterr().err
    # a listed image that does not exist
    (tmp_path / 'split.txt').write_text('a\nnope\n')
    assert run_classical(root, '--split-file', str(tmp_path / 'split.txt')) == 2
    assert 'nope.png' in capsys.readouterr().err
    assert not osp.exists(osp.join(root, 'saliency'))
    # an undecodable image: the others are written, the bad one is named, exit status 2
    with open(osp.join(root, 'images', 'c.png'), 'wb') as f:
        f.write(b'not an image')
    assert run_classical(root) == 2
    assert 'c.png' in capsys.readouterr().err
    assert sorted(os.listdir(osp.join(root, 'saliency'))) == ['a.png', 'b.png', 'd.png', 'e.png']


# ---------------------------------------------------------------------------- attach: success
def test_attach_success_writes_ann_file_and_config_lines(tmp_path, capsys):
    root = make_root(tmp_path)
    assert run_classical(root) == 0
    capsys.readouterr()
    assert run_attach(root) == 0
    out = capsys.readouterr().out
    with open(osp.join(root, 'train_saliency.txt')) as f:
        assert f.read() == 'a\nb\nc\nd\n'  # the train stems, in split order
    assert 'train_dataloader.dataset.data_prefix.saliency_map_path=saliency\n' in out
    assert 'train_dataloader.dataset.ann_file=train_saliency.txt\n' in out
    assert "ann_file='train_saliency.txt'" in out
    assert 'mean saliency 0.' in out and 'pixels > 0.5:' in out
    assert 'WARNING' not in out
    # a second run with the same result keeps the file and succeeds
    assert run_attach(root) == 0
    assert 'unchanged' in capsys.readouterr().out


def test_attach_all_images_custom_names_and_16bit(tmp_path, capsys):
    root = make_root(tmp_path)
    for stem, (h, w) in SIZES.items():  # 16-bit grey maps in another folder
        write(
            osp.join(root, 'sal16', f'{stem}.png'),
            np.linspace(0, 65535, h * w).reshape(h, w).astype(np.uint16))
    assert run_attach(root, '--all-images', '--saliency', 'sal16', '--out-ann',
                      'lists/all.txt') == 0
    out = capsys.readouterr().out
    with open(osp.join(root, 'lists', 'all.txt')) as f:
        assert f.read().split() == sorted(SIZES)
    assert 'data_prefix.saliency_map_path=sal16\n' in out
    assert 'ann_file=lists/all.txt\n' in out
    assert 'mean saliency 0.500' in out
    # images/ holds the val image too: training on the ann file would use it
    assert 'WARNING: 1 checked image(s) are listed in val.txt (e.g. e)' in out


def test_attach_cuhk_layout(tmp_path, capsys):
    """Converted CUHK / DUT layout: train/images, train/masks, no split file."""
    root = tmp_path / 'cuhk'
    for stem in TRAIN:
        write(root / 'train' / 'images' / f'{stem}.png', image(*SIZES[stem]))
    assert classical.main([
        '--images',
        str(root / 'train' / 'images'), '--out',
        str(root / 'train' / 'saliency'), '--img-suffix', '.png', '--no-progress'
    ]) == 0
    capsys.readouterr()
    assert run_attach(
        str(root), '--images', 'train/images', '--saliency', 'train/saliency', '--masks',
        'train/masks', '--all-images') == 0
    out = capsys.readouterr().out
    assert 'train_dataloader.dataset.data_prefix.saliency_map_path=train/saliency\n' in out
    assert 'train_dataloader.dataset.data_prefix.img_path=train/images\n' in out
    assert 'WARNING' not in out
    with open(root / 'train_saliency.txt') as f:
        assert f.read() == 'a\nb\nc\nd\n'


def test_attach_existing_ann_file_is_kept(tmp_path, capsys):
    root = make_root(tmp_path)
    assert run_classical(root) == 0
    ann = osp.join(root, 'train_saliency.txt')
    with open(ann, 'w') as f:
        f.write('old\n')
    assert run_attach(root) == 2
    assert 'already exists' in capsys.readouterr().err
    with open(ann) as f:
        assert f.read() == 'old\n'
    assert run_attach(root, '--overwrite') == 0
    with open(ann) as f:
        assert f.read() == 'a\nb\nc\nd\n'
    # the split file itself is never the output
    assert run_attach(root, '--out-ann', 'train.txt', '--overwrite') == 2
    assert 'split file itself' in capsys.readouterr().err


# ---------------------------------------------------------------------------- attach: problems
def test_attach_reports_all_problems_together(tmp_path, capsys):
    root = make_root(tmp_path)
    assert run_classical(root) == 0
    sal = osp.join(root, 'saliency')
    os.remove(osp.join(sal, 'a.png'))  # missing
    write(osp.join(sal, 'b.png'), np.zeros((5, 5), np.uint8))  # wrong size
    with open(osp.join(sal, 'c.png'), 'wb') as f:  # unreadable
        f.write(b'\x89PNG garbage bytes')
    grey = read_unchanged(osp.join(sal, 'd.png'))
    write(osp.join(sal, 'd.png'), cv2.merge([grey, grey, grey]))  # 3 channels
    capsys.readouterr()
    assert run_attach(root) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: 4 problem(s)')
    assert 'missing saliency map saliency/a.png' in err
    assert 'saliency/b.png is 5x5 (H x W) but image images/b.png is 10x14' in err
    assert 'unreadable saliency map saliency/c.png' in err
    assert 'saliency/d.png has 3 channels' in err and '3 equal channels' in err
    assert 'IMREAD_GRAYSCALE' in err  # how to convert
    assert 'e.png' not in err  # val image: not checked
    assert not osp.exists(osp.join(root, 'train_saliency.txt'))


def test_attach_missing_folders_and_split(tmp_path, capsys):
    root = make_root(tmp_path)
    assert run_attach(root) == 2  # no saliency folder at all
    err = capsys.readouterr().err
    assert 'saliency folder' in err and 'classical_saliency.py' in err and 'tools/infer.py' in err
    assert run_attach(root, '--split-file', 'nope.txt') == 2
    assert 'nope.txt' in capsys.readouterr().err
    assert run_attach(root, '--images', 'imgs') == 2
    assert 'imgs' in capsys.readouterr().err


def test_attach_cli_options(tmp_path, capsys):
    """Suffixes without the dot, --masks '' (no copy check), --all-images excludes
    --split-file."""
    root = make_root(tmp_path)
    assert run_classical(root) == 0
    write(osp.join(root, 'saliency', 'a.png'), read_unchanged(osp.join(root, 'masks', 'a.png')))
    capsys.readouterr()
    assert attach.main(
        ['--data-root', root, '--img-suffix', 'png', '--mask-suffix', 'png', '--no-progress']) == 0
    assert 'WARNING: 1 map(s)' in capsys.readouterr().out
    assert run_attach(root, '--masks', '', '--out-ann', 'b.txt') == 0
    assert 'WARNING' not in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        run_attach(root, '--all-images', '--split-file', 'train.txt')
    assert info.value.code == 2
    assert 'not allowed with argument' in capsys.readouterr().err


# ---------------------------------------------------------------------------- dataset loading
def test_maps_load_through_binary_seg_dataset(tmp_path):
    from mmengine.registry import init_default_scope

    from dbdseg.datasets import BinarySegDataset
    init_default_scope('mmseg')
    root = make_root(tmp_path, ext='.jpg')
    assert run_classical(root, ext='.jpg') == 0
    assert run_attach(root, ext='.jpg') == 0
    ds = BinarySegDataset(
        data_root=root,
        data_prefix=dict(img_path='images', seg_map_path='masks', saliency_map_path='saliency'),
        img_suffix='.jpg',
        ann_file='train_saliency.txt',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadBinaryAnnotations'),
            dict(type='PackBinarySegInputs')
        ])
    assert len(ds) == len(TRAIN)
    for i, stem in enumerate(TRAIN):
        sample = ds[i]['data_samples']
        sal = sample.gt_saliency_map.data
        assert tuple(sal.shape) == (1, *SIZES[stem])
        assert sal.dtype.is_floating_point
        assert float(sal.min()) == 0.0 and float(sal.max()) == pytest.approx(1.0)
        png = read_unchanged(osp.join(root, 'saliency', f'{stem}.png'))
        np.testing.assert_allclose(sal[0].numpy(), png / 255.0, atol=1e-6)
        assert tuple(sample.gt_sem_seg.data.shape) == (1, *SIZES[stem])
