"""Command-line tests of the dataset converters in tools/dataset_converters/.

The scripts parse arguments and call ``dbdseg.datasets.conversion``, whose behaviour (pairing,
checks, polarity, report) is tested in ``tests/test_datasets/test_conversion.py``. Here: each
script's options, its defaults, its exit status and its wiring to the package, on tiny releases
(8x8 images; the polarity vote is skipped or irrelevant). The scripts are run with ``runpy``
(their ``main(argv)``), as ``python tools/dataset_converters/<name>.py`` would run them.
"""
import json
import os
import os.path as osp
import runpy
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from dbdseg.datasets.conversion import read_name_list, strip_image_ext
from dbdseg.datasets.validation_split import draw_validation_split

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS_DIR = osp.join(REPO_ROOT, 'tools', 'dataset_converters')
SPLITS_DIR = osp.join(TOOLS_DIR, 'splits')


def load(name):
    """The globals of ``tools/dataset_converters/<name>.py`` (not run as ``__main__``)."""
    return SimpleNamespace(**runpy.run_path(osp.join(TOOLS_DIR, f'{name}.py')))


cuhk = load('cuhk_dbd')
dut = load('dut_dbd')
duts = load('duts')
folder_pairs = load('folder_pairs')
validation_split = load('validation_split')


def fake_pairs(img_dir, mask_dir, stems, img_ext='.jpg', mask_ext='.png'):
    """Write ``<stem><img_ext>`` and ``<stem><mask_ext>``: 8x8, the left half textured (in focus)
    and white in the mask, the right half flat grey (blurred) and black in the mask."""
    rng = np.random.default_rng(0)
    mask = np.zeros((8, 8), np.uint8)
    mask[:, :4] = 255
    for folder in (img_dir, mask_dir):
        os.makedirs(folder, exist_ok=True)
    for stem in stems:
        img = np.full((8, 8, 3), 128, np.uint8)
        img[:, :4] = rng.integers(0, 256, (8, 4, 3), dtype=np.uint8)
        assert cv2.imwrite(osp.join(img_dir, stem + img_ext), img)
        assert cv2.imwrite(osp.join(mask_dir, stem + mask_ext), mask)
    return str(img_dir), str(mask_dir)


def files_under(root):
    return sorted(osp.relpath(osp.join(d, n), root) for d, _, names in os.walk(root) for n in names)


def report_of(out):
    with open(osp.join(out, 'conversion_report.json')) as f:
        return json.load(f)


# ---------------------------------------------------------------------------- CUHK
def test_cuhk_options_and_defaults():
    args = cuhk.parse_args(['SRC', 'OUT'])
    assert (args.src, args.out) == ('SRC', 'OUT')
    assert args.test_list == cuhk.DEFAULT_TEST_LIST == osp.join(SPLITS_DIR, 'cuhk_dbd_test100.txt')
    assert args.xu_index == osp.join(SPLITS_DIR, 'cuhk_dbd_test100_xu_index.txt')
    assert args.xu100 is None and args.strict is True
    assert (args.overwrite, args.polarity_samples, args.no_progress) == (False, 50, False)
    args = cuhk.parse_args([
        'S', 'O', '--no-strict', '--overwrite', '--polarity-samples', '0', '--no-progress',
        '--xu100', 'X', '--test-list', 'T'
    ])
    assert (args.strict, args.overwrite, args.polarity_samples, args.no_progress) == (False, True,
                                                                                      0, True)
    assert (args.xu100, args.test_list) == ('X', 'T')


def test_cuhk_shipped_test_list_is_the_benchmark_split():
    names = read_name_list(osp.join(SPLITS_DIR, 'cuhk_dbd_test100.txt'))
    assert len(names) == 100 and len(set(names)) == 100
    assert all(n.startswith('out_of_focus') and n.lower().endswith('.jpg') for n in names)
    assert names[0] == 'out_of_focus0037.jpg'
    assert sum(n.endswith('.JPG') for n in names) == 5
    xu = [
        line.split()
        for line in read_name_list(osp.join(SPLITS_DIR, 'cuhk_dbd_test100_xu_index.txt'))
    ]
    assert [a for a, _ in xu] == [f'{i}.bmp' for i in range(1, 101)]
    assert [b for _, b in xu] == names


def test_cuhk_shipped_validation_list_is_the_seeded_draw():
    """Issue 18 item 7: the 60 CUHK validation images are the documented draw (seed 0) from the
    604 training stems (out_of_focus0001..0704 less the test list), disjoint from the test set."""
    test = [
        strip_image_ext(n) for n in read_name_list(osp.join(SPLITS_DIR, 'cuhk_dbd_test100.txt'))
    ]
    train = [f'out_of_focus{i:04d}' for i in range(1, 705) if f'out_of_focus{i:04d}' not in test]
    assert len(train) == 604
    shipped = read_name_list(cuhk.DEFAULT_VAL_LIST)
    assert cuhk.DEFAULT_VAL_LIST == osp.join(SPLITS_DIR, 'cuhk_dbd_val60.txt')
    assert [strip_image_ext(n) for n in shipped] == draw_validation_split(train, 60, 0)
    assert len(set(shipped)) == 60 and not {strip_image_ext(n) for n in shipped} & set(test)
    assert cuhk.parse_args(['S', 'O']).val_list == cuhk.DEFAULT_VAL_LIST
    assert cuhk.parse_args(['S', 'O', '--val-list', 'draw']).val_list == 'draw'


def test_validation_split_cli_for_a_folder_converted_before(tmp_path, capsys):
    root = tmp_path / 'dut_dbd'
    stems = [f'{i:03d}' for i in range(70)]
    fake_pairs(root / 'train' / 'images', root / 'train' / 'masks', stems, mask_ext='.bmp')
    assert validation_split.main([str(root)]) == 0
    val = (root / 'splits' / 'val.txt').read_text().split()
    assert val == draw_validation_split(stems)
    assert (root / 'splits' / 'train.txt').read_text().split() == [s for s in stems if s not in val]
    assert '60 of 70 training images' in capsys.readouterr().out
    with pytest.raises(SystemExit, match='already exist.*--overwrite'):
        validation_split.main([str(root)])
    listed = tmp_path / 'val.txt'
    listed.write_text('001.jpg\n005\n')
    assert validation_split.main([str(root), '--val-list', str(listed), '--overwrite']) == 0
    assert (root / 'splits' / 'val.txt').read_text().split() == ['001', '005']
    assert len((root / 'splits' / 'train.txt').read_text().split()) == 68
    listed.write_text('nope\n')
    with pytest.raises(SystemExit, match="not training images.*'nope'"):
        validation_split.main([str(root), '--val-list', str(listed), '--overwrite'])
    with pytest.raises(SystemExit, match='no training images folder'):
        validation_split.main([str(tmp_path / 'none')])


def test_cuhk_cli_converts_and_exits_2_on_an_error(tmp_path, capsys):
    stems = ['out_of_focus0001', 'out_of_focus0002', 'out_of_focus0003']
    src = tmp_path / 'CUHK'
    fake_pairs(src / 'image', src / 'gt', stems)
    test_list = tmp_path / 'test.txt'
    test_list.write_text('out_of_focus0002.jpg\n')
    out = tmp_path / 'out'
    base = [str(src), str(out), '--test-list', str(test_list), '--no-progress']
    assert cuhk.main(base) == 2  # --strict is the default: 3 images are not the 704 of CUHK
    err = capsys.readouterr().err
    assert err.startswith('error: found 3 out_of_focus* images (1 test')
    assert not out.exists()
    assert cuhk.main(base + ['--no-strict', '--polarity-samples', '0']) == 0
    assert 'wrote CUHK-DBD' in capsys.readouterr().out
    assert files_under(out) == sorted(['conversion_report.json'] + [
        f'{split}/{sub}/{stem}{ext}'
        for split, stem in (('test', stems[1]), ('train', stems[0]), ('train', stems[2]))
        for sub, ext in (('images', '.jpg'), ('masks', '.png'))
    ])
    report = report_of(out)
    assert report['polarity'] is None and report['test_list'] == str(test_list)
    assert cuhk.main(base + ['--no-strict']) == 2  # out is not empty now
    assert '--overwrite' in capsys.readouterr().err
    assert cuhk.main(base + ['--no-strict', '--overwrite', '--xu100', str(tmp_path / 'no')]) == 2
    assert "--xu100 folder '" in capsys.readouterr().err


# ---------------------------------------------------------------------------- DUT, DUTS
def test_dut_cli(tmp_path, capsys):
    src = tmp_path / 'DUT'
    fake_pairs(src / 'dut500-source', src / 'dut500-gt', ['a', 'b'], mask_ext='.bmp')
    out = tmp_path / 'out'
    assert dut.parse_args(['S', 'O']).polarity_samples == 50
    assert dut.main([str(src), str(out), '--no-progress']) == 0
    captured = capsys.readouterr()
    assert 'wrote DUT-DBD' in captured.out and 'the train split is not converted' in captured.err
    report = report_of(out)
    assert report['counts'] == {'test': 2} and report['polarity']['sampled'] == 2
    assert report['polarity']['votes'] == {'white = in-focus': 2, 'white = blurred': 0}
    assert report['config'] == {'img_suffix': '.jpg', 'seg_map_suffix': '.bmp', 'invert': False}
    assert dut.main([str(tmp_path / 'nowhere'), str(tmp_path / 'o2')]) == 2
    assert capsys.readouterr().err.startswith("error: source folder '")


def test_duts_cli(tmp_path, capsys):
    src = tmp_path / 'DUTS'
    fake_pairs(src / 'DUTS-TR' / 'DUTS-TR-Image', src / 'DUTS-TR' / 'DUTS-TR-Mask', ['x'])
    out = tmp_path / 'out'
    assert duts.main([str(src), str(out), '--polarity-samples', '0', '--no-progress']) == 0
    assert 'wrote DUTS' in capsys.readouterr().out
    report = report_of(out)
    assert report['counts'] == {'train': 1} and report['polarity'] is None
    assert files_under(out) == ['conversion_report.json', 'train/images/x.jpg', 'train/masks/x.png']
    (tmp_path / 'empty').mkdir()
    assert duts.main([str(tmp_path / 'empty'), str(tmp_path / 'o2')]) == 2
    assert 'DUTS: none of its folders found' in capsys.readouterr().err


# ---------------------------------------------------------------------------- folder pairs
def test_folder_pairs_options():
    base = ['--images', 'I', '--masks', 'M', '--out', 'O']
    args = folder_pairs.parse_args(base)
    assert (args.split, args.task, args.img_suffix, args.mask_suffix) == ('test', 'sod', None, None)
    assert (args.stems, args.name, args.polarity_samples) == (None, None, 50)
    args = folder_pairs.parse_args(
        base +
        ['--img-suffix', 'JPG', '--mask-suffix', ' .png ', '--split', 'train_2', '--task', 'dbd'])
    assert (args.img_suffix, args.mask_suffix, args.split, args.task) == ('.JPG', '.png', 'train_2',
                                                                          'dbd')
    for bad in (['--split', '..'], ['--split', 'a/b'], ['--img-suffix', ' '], ['--task', 'seg']):
        with pytest.raises(SystemExit) as info:
            folder_pairs.parse_args(base + bad)
        assert info.value.code == 2
    with pytest.raises(SystemExit):
        folder_pairs.parse_args(['--images', 'I', '--masks', 'M'])  # --out is required


def test_folder_pairs_cli(tmp_path, capsys):
    imgs, masks = fake_pairs(tmp_path / 'imgs', tmp_path / 'gt', ['a', 'b', 'c'])
    stems = tmp_path / 'stems.txt'
    stems.write_text('c.jpg\na\n')
    out = tmp_path / 'set'
    argv = [
        '--images', imgs, '--masks', masks, '--out',
        str(out), '--split', 'val', '--stems',
        str(stems), '--name', 'MySet', '--img-suffix', 'jpg', '--task', 'dbd', '--no-progress'
    ]
    assert folder_pairs.main(argv) == 0
    assert "data_prefix=dict(img_path='val/images'" in capsys.readouterr().out
    assert files_under(out) == [
        'conversion_report.json', 'val/images/a.jpg', 'val/images/c.jpg', 'val/masks/a.png',
        'val/masks/c.png'
    ]
    report = report_of(out)
    assert report['dataset'] == 'MySet' and report['counts'] == {'val': 2}
    entry = report['splits']['val']
    assert entry['task'] == 'dbd' and entry['stems_file'] == str(stems)
    assert entry['polarity']['task'] == 'dbd' and entry['config']['invert'] is False
    assert folder_pairs.main(argv) == 2  # val is not empty now
    assert capsys.readouterr().err.startswith("error: output split folder '")
