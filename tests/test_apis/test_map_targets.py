"""dbdseg.apis.map_targets: teacher depth targets and classical saliency maps for image folders.

The teacher is the tiny project's model (mmseg UNet + 1-channel FCNHead,
tests/test_tools/tiny_project.py) with an untrained checkpoint; the images are a few small
non-square pictures of different sizes written into ``tmp_path``.
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
from dbdseg.apis import inference_model, init_model
from dbdseg.apis.map_targets import (generate_depth_targets, normalize_depth, same_teacher,
                                     sha256_file, teacher_record, to_uint16,
                                     write_classical_saliency)
from dbdseg.datasets.conversion import ConversionError
from dbdseg.utils.fileio import prob_to_uint8
from dbdseg.utils.saliency import frequency_tuned_saliency, spectral_residual_saliency

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


def read(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def depth(teacher, root, out='depth', checkpoint=None, **kwargs):
    return generate_depth_targets(
        teacher['config'],
        checkpoint or teacher['checkpoint'],
        str(root / 'images'),
        str(root / out),
        img_suffix='.png',
        progress=False,
        **kwargs)


# ---------------------------------------------------------------------------- depth: functions
def test_normalize_depth_and_to_uint16():
    raw = np.array([[2.0, 4.0], [6.0, 10.0]])
    np.testing.assert_allclose(normalize_depth(raw), [[0, 0.25], [0.5, 1.0]])
    np.testing.assert_allclose(normalize_depth(raw, invert=True), [[1, 0.75], [0.5, 0.0]])
    np.testing.assert_allclose(normalize_depth(np.full((2, 2), 3.0)), np.zeros((2, 2)))
    np.testing.assert_allclose(normalize_depth(np.array([-1.0, 0.3, 2.0]), 'clip'), [0.0, 0.3, 1.0])
    assert normalize_depth(np.array([1, 2], np.int64)).dtype == np.float64
    assert to_uint16(np.array([0.0, 0.5, 1.0])).tolist() == [0, 32768, 65535]
    assert to_uint16(np.array([-0.5, 1.5, 1 / 65535])).tolist() == [0, 65535, 1]
    with pytest.raises(ValueError, match='NaN'):
        normalize_depth(np.array([np.nan, 1.0]))
    with pytest.raises(ValueError, match='NaN or infinite'):
        normalize_depth(np.array([np.inf, 1.0]))
    with pytest.raises(ValueError, match='unknown normalize mode'):
        normalize_depth(raw, 'zscore')


def test_teacher_record_and_same_teacher(tmp_path):
    cfg, ckpt, other = tmp_path / 'my_teacher.py', tmp_path / 'w.pth', tmp_path / 'v.pth'
    cfg.write_text('x = 1\n')
    ckpt.write_bytes(b'weights')
    other.write_bytes(b'other weights')
    types = dict(segmentor='EncoderDecoder')
    rec = teacher_record(str(cfg), str(ckpt), types, cfg_options={'a.b': (1, 2)}, invert=1)
    assert rec['teacher']['name'] == 'my_teacher'
    digest = hashlib.sha256(b'weights').hexdigest()
    assert rec['teacher']['checkpoint_sha256'] == digest
    assert sha256_file(str(ckpt), chunk=3) == digest  # several blocks
    assert rec['teacher']['cfg_options'] == {'a.b': [1, 2]}  # as JSON stores it
    assert rec['options'] == dict(channel=0, activation='none', normalize='minmax', invert=True)
    assert teacher_record(str(cfg), str(ckpt), types, name='T')['teacher']['name'] == 'T'
    stored = json.loads(json.dumps(rec))
    assert same_teacher(stored, rec)
    assert not same_teacher(
        stored, teacher_record(
            str(cfg), str(other), types, cfg_options={'a.b': (1, 2)}, invert=True))
    assert not same_teacher(stored,
                            teacher_record(str(cfg), str(ckpt), types, cfg_options={'a.b': (1, 2)}))
    assert not same_teacher(stored, teacher_record(str(cfg), str(ckpt), types, invert=True))
    assert not same_teacher({'teacher': {}}, rec) and not same_teacher(None, rec)


# ---------------------------------------------------------------------------- depth: folders
def test_depth_values_equal_the_teacher_prediction(tmp_path, teacher, capsys):
    """With sigmoid + clip a map is the teacher's probability, which
    dbdseg.apis.inference_model computes independently; invert flips it."""
    root = make_images(tmp_path)
    record = depth(teacher, root, activation='sigmoid', normalize='clip')
    out = capsys.readouterr().out
    assert 'wrote 3 depth map(s)' in out and 'depth_map_path=' in out
    assert sorted(os.listdir(root / 'depth')) == ['a.png', 'b.png', 'c.png', 'teacher.json']
    assert json.loads((root / 'depth' / 'teacher.json').read_text()) == record
    assert record['maps'] == 3 and record['options']['activation'] == 'sigmoid'
    model = init_model(teacher['config'], teacher['checkpoint'])
    for stem, hw in SIZES.items():
        prob = inference_model(model, str(root / 'images' / f'{stem}.png')).seg_logits.data[0]
        written = read(root / 'depth' / f'{stem}.png')
        assert written.dtype == np.uint16 and written.shape == hw
        assert np.abs(written / 65535.0 - prob.numpy()).max() <= 0.6 / 65535 + 1e-6
    depth(teacher, root, out='inverted', activation='sigmoid', normalize='clip', invert=True)
    for stem in SIZES:
        a = read(root / 'depth' / f'{stem}.png').astype(np.int64)
        b = read(root / 'inverted' / f'{stem}.png').astype(np.int64)
        assert np.abs(a + b - 65535).max() <= 1


def test_depth_minmax_split_file_and_teacher_checks(tmp_path, teacher):
    root = make_images(tmp_path)
    split = tmp_path / 'split.txt'
    split.write_text('# comment\nc\n\na\n')
    record = depth(teacher, root, split_file=str(split))
    assert sorted(os.listdir(root / 'depth')) == ['a.png', 'c.png', 'teacher.json']
    assert record['maps'] == 2
    for stem in ('a', 'c'):
        d = read(root / 'depth' / f'{stem}.png')
        assert d.min() == 0 and d.max() == 65535  # per-image min-max
    # existing maps: refused without a flag; skip_existing fills in with the same teacher only
    with pytest.raises(ConversionError, match='2 of the 3 depth map\\(s\\) already exist'):
        depth(teacher, root)
    with pytest.raises(ConversionError, match='must not mix teachers'):
        depth(teacher, root, skip_existing=True, checkpoint=teacher['other'])
    with pytest.raises(ConversionError, match='must not mix teachers'):
        depth(teacher, root, skip_existing=True, normalize='clip')
    assert not (root / 'depth' / 'b.png').exists()
    before = (root / 'depth' / 'a.png').read_bytes()
    assert depth(teacher, root, skip_existing=True)['maps'] == 3
    assert (root / 'depth' / 'a.png').read_bytes() == before
    depth(teacher, root, overwrite=True, checkpoint=teacher['other'], teacher_name='other')
    assert (root / 'depth' / 'a.png').read_bytes() != before
    rec = json.loads((root / 'depth' / 'teacher.json').read_text())
    assert rec['teacher']['name'] == 'other'
    # a folder without teacher.json is an unknown teacher
    os.remove(root / 'depth' / 'teacher.json')
    with pytest.raises(ConversionError, match='unknown teacher'):
        depth(teacher, root, skip_existing=True, checkpoint=teacher['other'])


def test_depth_errors(tmp_path, teacher):
    root = make_images(tmp_path)
    with pytest.raises(ConversionError, match='--channel must be >= 0'):
        depth(teacher, root, channel=-1)
    with pytest.raises(ConversionError, match='^--channel 2 is out of range: the teacher '):
        depth(teacher, root, channel=2)
    with pytest.raises(ConversionError, match='must not be the image folder'):
        depth(teacher, root, out='images/depth')
    with pytest.raises(ConversionError, match='no .tif image files'):
        generate_depth_targets(
            teacher['config'],
            teacher['checkpoint'],
            str(root / 'images'),
            str(root / 'depth'),
            img_suffix='.tif',
            progress=False)
    with pytest.raises(FileNotFoundError, match='teacher checkpoint'):
        depth(teacher, root, checkpoint=str(tmp_path / 'missing.pth'))
    (root / 'images' / 'broken.png').write_bytes(b'not a png')
    with pytest.raises(ConversionError, match='1 image\\(s\\) cannot be decoded.*broken.png'):
        depth(teacher, root)
    assert sorted(os.listdir(root / 'depth')) == ['a.png', 'b.png', 'c.png', 'teacher.json']


# ---------------------------------------------------------------------------- classical saliency
def saliency(root, **kwargs):
    return write_classical_saliency(
        str(root / 'images'), str(root / 'saliency'), img_suffix='.png', progress=False, **kwargs)


def test_classical_saliency_maps_equal_the_detectors(tmp_path, capsys):
    root = make_images(tmp_path)
    os.makedirs(root / 'images' / 'sub')
    assert cv2.imwrite(str(root / 'images' / 'sub' / 'd.png'), tiny.make_image(9, 13, seed=7))
    stats = saliency(root)
    assert sorted(os.listdir(root / 'saliency')) == ['a.png', 'b.png', 'c.png', 'sub']
    means = []
    for stem in ('a', 'b', 'c', 'sub/d'):
        img = cv2.imread(str(root / 'images' / f'{stem}.png'))
        sal = read(root / 'saliency' / f'{stem}.png')
        expected = prob_to_uint8(frequency_tuned_saliency(img))
        assert sal.dtype == np.uint8 and sal.shape == img.shape[:2]
        np.testing.assert_array_equal(sal, expected)
        means.append(sal.astype(np.float64) / 255.0)
    assert stats['written'] == 4
    flat = np.concatenate([m.ravel() for m in means])
    assert stats['mean'] == pytest.approx(flat.mean())
    assert stats['above_half'] == pytest.approx((flat > 0.5).mean())
    out = capsys.readouterr().out
    assert 'wrote 4 saliency map(s)' in out and 'frequency-tuned' in out
    assert (f'next: python tools/dataset_converters/attach_saliency_maps.py --data-root {root} '
            '--images images --saliency saliency --img-suffix .png --all-images') in out


def test_classical_saliency_sr_blur_and_split(tmp_path, capsys):
    root = make_images(tmp_path)
    (root / 'val.txt').write_text('b\n')
    saliency(root, method='sr', split_file=str(root / 'val.txt'))
    assert os.listdir(root / 'saliency') == ['b.png']
    img = cv2.imread(str(root / 'images' / 'b.png'))
    np.testing.assert_array_equal(
        read(root / 'saliency' / 'b.png'), prob_to_uint8(spectral_residual_saliency(img)))
    assert '--split-file val.txt' in capsys.readouterr().out
    saliency(root, blur_sigma=0.0, overwrite=True)
    img = cv2.imread(str(root / 'images' / 'a.png'))
    np.testing.assert_array_equal(
        read(root / 'saliency' / 'a.png'),
        prob_to_uint8(frequency_tuned_saliency(img, blur_sigma=0.0)))


def test_classical_saliency_errors(tmp_path):
    root = make_images(tmp_path)
    with pytest.raises(ConversionError, match='--blur-sigma applies to --method ft only'):
        saliency(root, method='sr', blur_sigma=1.0)
    with pytest.raises(ConversionError, match='unknown --method'):
        saliency(root, method='xx')
    with pytest.raises(ConversionError, match='dataset would list the maps as images'):
        write_classical_saliency(str(root / 'images'), str(root / 'images'), img_suffix='.png')
    (root / 'saliency').mkdir()
    keep = root / 'saliency' / 'b.png'
    cv2.imwrite(str(keep), np.full(SIZES['b'], 7, np.uint8))
    with pytest.raises(ConversionError, match='1 of the 3 output file.*nothing was written'):
        saliency(root)
    assert os.listdir(root / 'saliency') == ['b.png'] and (read(keep) == 7).all()
    (root / 'images' / 'c.png').write_bytes(b'not an image')
    with pytest.raises(ConversionError, match='cannot be decoded.*c.png'):
        saliency(root, overwrite=True)
    assert sorted(os.listdir(root / 'saliency')) == ['a.png', 'b.png']
    assert not (read(keep) == 7).all()
    assert osp.isfile(root / 'saliency' / 'a.png')
