"""Command line of tools/dataset_converters/generate_depth_targets.py (teacher depth maps for DD).

The teacher is the tiny project's model (mmseg UNet + 1-channel FCNHead, tests/test_tools/
tiny_project.py) with an untrained checkpoint saved in ``tmp_path``; the images are a few small
photos of different sizes. The script runs in-process through ``main(argv)``: options reach
:func:`dbdseg.apis.map_targets.generate_depth_targets` (tested in tests/test_apis/
test_map_targets.py), errors end with ``error: ...`` on stderr and exit status 2.
"""
import hashlib
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py

gen = tiny.load_tool('dataset_converters/generate_depth_targets')

#: stem -> (H, W); non-square, all different
SIZES = {'a': (20, 28), 'b': (18, 30), 'c': (26, 16)}


@pytest.fixture(autouse=True, scope='module')
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def teacher(tmp_path_factory):
    """``dict(config, checkpoint, other)``: the tiny model as a teacher, and a second checkpoint
    with other weights (to test that folders never mix teachers)."""
    return tiny.write_teacher(tmp_path_factory.mktemp('teacher'))


def make_images(tmp_path):
    return tiny.write_teacher_images(tmp_path, SIZES)


def run(teacher, root, *extra, checkpoint=None):
    return gen.main([
        teacher['config'], checkpoint or teacher['checkpoint'], '--images',
        str(root / 'images'), '--out',
        str(root / 'depth'), '--img-suffix', '.png', '--no-progress', *extra
    ])


def read(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def test_writes_16bit_minmax_maps_and_teacher_json(tmp_path, teacher, capsys):
    root = make_images(tmp_path)
    assert run(teacher, root) == 0
    out = root / 'depth'
    assert sorted(os.listdir(out)) == ['a.png', 'b.png', 'c.png', 'teacher.json']  # no temp files
    for stem, hw in SIZES.items():
        depth = read(out / f'{stem}.png')
        assert depth.dtype == np.uint16 and depth.shape == hw
        assert depth.min() == 0 and depth.max() == 65535  # per-image min-max normalisation
    record = json.loads((out / 'teacher.json').read_text())
    with open(teacher['checkpoint'], 'rb') as f:
        assert record['teacher']['checkpoint_sha256'] == hashlib.sha256(f.read()).hexdigest()
    assert record['teacher']['name'] == 'teacher'
    assert record['teacher']['config'] == osp.abspath(teacher['config'])
    assert record['teacher']['model'] == dict(
        segmentor='EncoderDecoder', backbone='UNet', decode_head='FCNHead')
    assert record['options'] == dict(channel=0, activation='none', normalize='minmax', invert=False)
    assert record['maps'] == 3
    assert 'wrote 3 depth map(s)' in capsys.readouterr().out


def test_options_reach_the_maps_and_the_record(tmp_path, teacher):
    """--activation / --normalize / --invert / --teacher-name / --cfg-options / --split-file are
    passed on: recorded in teacher.json, and --invert flips the maps of a run without it."""
    root = make_images(tmp_path)
    (tmp_path / 'split.txt').write_text('a\nc\n')
    common = [
        '--activation', 'sigmoid', '--normalize', 'clip', '--split-file',
        str(tmp_path / 'split.txt'), '--cfg-options', 'model.decode_head.threshold=0.4'
    ]
    assert run(teacher, root, *common) == 0
    assert gen.main([
        teacher['config'], teacher['checkpoint'], '--images',
        str(root / 'images'), '--out',
        str(root / 'inverted'), '--img-suffix', 'png', '--no-progress', '--invert',
        '--teacher-name', 'my teacher', *common
    ]) == 0
    record = json.loads((root / 'inverted' / 'teacher.json').read_text())
    assert record['teacher']['name'] == 'my teacher'
    assert record['teacher']['cfg_options'] == {'model.decode_head.threshold': 0.4}
    assert record['options'] == dict(channel=0, activation='sigmoid', normalize='clip', invert=True)
    assert record['maps'] == 2
    assert sorted(os.listdir(root / 'inverted')) == ['a.png', 'c.png', 'teacher.json']
    for stem in ('a', 'c'):
        a = read(root / 'depth' / f'{stem}.png').astype(np.int64)
        b = read(root / 'inverted' / f'{stem}.png').astype(np.int64)
        assert np.abs(a + b - 65535).max() <= 1
        assert 0 < a.min() and a.max() < 65535  # sigmoid + clip: no min-max stretch


def test_existing_maps_skip_and_overwrite(tmp_path, teacher, capsys):
    root = make_images(tmp_path)
    out = root / 'depth'
    assert run(teacher, root) == 0
    capsys.readouterr()
    before = {s: (out / f'{s}.png').read_bytes() for s in SIZES}
    mtimes = {s: os.stat(out / f'{s}.png').st_mtime_ns for s in SIZES}
    # existing maps without a flag: refused, nothing touched
    assert run(teacher, root) == 2
    assert 'already exist' in capsys.readouterr().err
    assert all(os.stat(out / f'{s}.png').st_mtime_ns == mtimes[s] for s in SIZES)
    # --skip-existing writes only the missing map
    os.remove(out / 'b.png')
    assert run(teacher, root, '--skip-existing') == 0
    assert 'wrote 1 depth map(s)' in capsys.readouterr().out
    assert os.stat(out / 'a.png').st_mtime_ns == mtimes['a']
    assert (out / 'b.png').read_bytes() == before['b']  # same teacher, same map
    assert json.loads((out / 'teacher.json').read_text())['maps'] == 3
    # another teacher (or other options) must not fill the same folder
    os.remove(out / 'c.png')
    assert run(teacher, root, '--skip-existing', checkpoint=teacher['other']) == 2
    assert 'must not mix teachers' in capsys.readouterr().err
    assert run(teacher, root, '--skip-existing', '--invert') == 2
    assert not (out / 'c.png').exists()
    # --overwrite recomputes everything with the new teacher and records it
    assert run(teacher, root, '--overwrite', checkpoint=teacher['other']) == 0
    record = json.loads((out / 'teacher.json').read_text())
    assert record['teacher']['checkpoint'] == osp.abspath(teacher['other'])
    assert (out / 'a.png').read_bytes() != before['a']


def test_errors(tmp_path, teacher, capsys):
    root = make_images(tmp_path)
    assert run(teacher, root, checkpoint=str(tmp_path / 'missing.pth')) == 2
    assert 'teacher checkpoint' in capsys.readouterr().err
    assert run(teacher, root, '--channel', '3') == 2
    assert capsys.readouterr().err.startswith('error: --channel 3 is out of range')
    assert run(teacher, root, '--channel', '-1') == 2
    assert '--channel must be >= 0' in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:  # argparse: mutually exclusive
        run(teacher, root, '--skip-existing', '--overwrite')
    assert info.value.code == 2
    assert gen.main([
        teacher['config'], teacher['checkpoint'], '--images',
        str(root / 'images'), '--out',
        str(root / 'images' / 'depth'), '--img-suffix', '.png'
    ]) == 2
    assert 'must not be the image folder' in capsys.readouterr().err
    # an unreadable image: the others are still written, exit status 2 names it
    (root / 'images' / 'broken.png').write_bytes(b'not a png')
    assert run(teacher, root) == 2
    assert 'broken.png' in capsys.readouterr().err
    assert sorted(p for p in os.listdir(root / 'depth') if p.endswith('.png')) == \
        ['a.png', 'b.png', 'c.png']


def test_maps_load_as_gt_depth_map(tmp_path, teacher):
    """The written maps feed DD training: BinarySegDataset + LoadBinaryAnnotations read them as
    float gt_depth_map in [0, 1] equal to png / 65535."""
    from mmengine.registry import init_default_scope

    from dbdseg.registry import DATASETS
    root = make_images(tmp_path)
    os.makedirs(root / 'masks')
    for stem, (h, w) in SIZES.items():
        assert cv2.imwrite(str(root / 'masks' / f'{stem}.png'), tiny.make_mask(h, w))
    assert run(teacher, root) == 0
    init_default_scope('mmseg')
    dataset = DATASETS.build(
        dict(
            type='BinarySegDataset',
            data_root=str(root),
            data_prefix=dict(img_path='images', seg_map_path='masks', depth_map_path='depth'),
            img_suffix='.png',
            seg_map_suffix='.png',
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadBinaryAnnotations'),
                dict(type='PackBinarySegInputs')
            ]))
    assert len(dataset) == 3
    for item in dataset:
        sample = item['data_samples']
        depth = sample.gt_depth_map.data[0].numpy()
        stem = osp.splitext(osp.basename(sample.img_path))[0]
        expected = read(root / 'depth' / f'{stem}.png').astype(np.float32) / 65535.0
        np.testing.assert_allclose(depth, expected, atol=1e-6)
        assert depth.shape == SIZES[stem] and 0.0 <= depth.min() and depth.max() <= 1.0
