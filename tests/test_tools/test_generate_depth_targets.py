"""Tests of tools/dataset_converters/generate_depth_targets.py (teacher depth maps for DD).

The teacher is the tiny project's model (mmseg UNet + 1-channel FCNHead, tests/test_tools/
tiny_project.py) with an untrained checkpoint saved in ``tmp_path``; the images are a few small
photos of different sizes. The script runs in-process through ``main(argv)``.
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
    """``dict(config, checkpoint)``: the tiny model, seed-0 weights, as a teacher."""
    root = tmp_path_factory.mktemp('teacher')
    data_root = tiny.write_dataset(root / 'data')
    config = tiny.write_config(root / 'teacher.py', data_root)
    ckpt = tiny.save_untrained_checkpoint(config, root / 'teacher.pth')
    # a second, different teacher (other seed) to test that folders never mix teachers
    torch.manual_seed(1)
    other = torch.load(ckpt, map_location='cpu', weights_only=False)
    other['state_dict'] = {
        k: (v + torch.randn_like(v) * 0.1) if v.is_floating_point() else v
        for k, v in other['state_dict'].items()
    }
    other_path = str(root / 'teacher_other.pth')
    torch.save(other, other_path)
    return dict(config=config, checkpoint=ckpt, other=other_path)


def make_images(tmp_path):
    root = tmp_path / 'data'
    os.makedirs(root / 'images')
    for i, (stem, (h, w)) in enumerate(SIZES.items()):
        assert cv2.imwrite(str(root / 'images' / f'{stem}.png'), tiny.make_image(h, w, seed=i))
    return root


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


def test_values_equal_the_teacher_prediction(tmp_path, teacher):
    """With --activation sigmoid --normalize clip a map is the teacher's probability, which
    dbdseg.apis.inference_model computes independently (resize of the logits to the image size,
    then sigmoid)."""
    from dbdseg.apis import inference_model, init_model
    root = make_images(tmp_path)
    assert run(teacher, root, '--activation', 'sigmoid', '--normalize', 'clip') == 0
    model = init_model(teacher['config'], teacher['checkpoint'])
    for stem in SIZES:
        prob = inference_model(model, str(root / 'images' / f'{stem}.png')).seg_logits.data[0]
        written = read(root / 'depth' / f'{stem}.png').astype(np.float64) / 65535.0
        assert np.abs(written - prob.numpy()).max() <= 0.6 / 65535 + 1e-6
    # --invert flips the polarity (a second folder)
    assert gen.main([
        teacher['config'], teacher['checkpoint'], '--images',
        str(root / 'images'), '--out',
        str(root / 'inverted'), '--img-suffix', '.png', '--no-progress', '--activation', 'sigmoid',
        '--normalize', 'clip', '--invert'
    ]) == 0
    for stem in SIZES:
        a = read(root / 'depth' / f'{stem}.png').astype(np.int64)
        b = read(root / 'inverted' / f'{stem}.png').astype(np.int64)
        assert np.abs(a + b - 65535).max() <= 1


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
    assert '--channel 3 is out of range' in capsys.readouterr().err
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


def test_normalize_depth():
    raw = np.array([[2.0, 4.0], [6.0, 10.0]])
    np.testing.assert_allclose(gen.normalize_depth(raw), [[0, 0.25], [0.5, 1.0]])
    np.testing.assert_allclose(gen.normalize_depth(raw, invert=True), [[1, 0.75], [0.5, 0.0]])
    np.testing.assert_allclose(gen.normalize_depth(np.full((2, 2), 3.0)), np.zeros((2, 2)))
    np.testing.assert_allclose(
        gen.normalize_depth(np.array([-1.0, 0.3, 2.0]), 'clip'), [0.0, 0.3, 1.0])
    assert gen.to_uint16(np.array([0.0, 0.5, 1.0])).tolist() == [0, 32768, 65535]
    with pytest.raises(gen.cu.ConversionError, match='NaN'):
        gen.normalize_depth(np.array([np.nan, 1.0]))


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
