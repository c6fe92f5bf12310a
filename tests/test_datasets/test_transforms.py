"""LoadBinaryAnnotations and PackBinarySegInputs (docs/en/conventions.md)."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

import dbdseg  # noqa: F401  (registers everything)
from dbdseg.datasets.transforms import LoadBinaryAnnotations, PackBinarySegInputs
from dbdseg.datasets.transforms.loading import binarize_mask, map_to_float
from dbdseg.registry import TRANSFORMS


def _load(results, **kwargs):
    results.setdefault('seg_fields', [])
    return LoadBinaryAnnotations(**kwargs)(results)


def _mask_results(helpers, tmp_path, mask, name='m.png', **extra):
    path = helpers.write(tmp_path / name, mask)
    return dict(seg_map_path=path, seg_fields=[], **extra)


# ----------------------------------------------------------------------------- mask rule
def test_zero_one_mask_is_taken_as_is(helpers, tmp_path):
    mask = np.array([[0, 1, 1], [1, 0, 0]], np.uint8)
    out = _load(_mask_results(helpers, tmp_path, mask))
    assert out['gt_seg_map'].dtype == np.uint8
    np.testing.assert_array_equal(out['gt_seg_map'], mask)
    assert out['seg_fields'] == ['gt_seg_map']


def test_zero_255_mask_becomes_zero_one(helpers, tmp_path):
    mask = np.array([[0, 255, 255], [255, 0, 0]], np.uint8)
    out = _load(_mask_results(helpers, tmp_path, mask))
    np.testing.assert_array_equal(out['gt_seg_map'], mask // 255)
    assert 255 not in out['gt_seg_map']


def test_grey_levels_threshold_at_128(helpers, tmp_path):
    mask = np.array([[0, 1, 127, 128], [129, 130, 200, 255]], np.uint8)
    out = _load(_mask_results(helpers, tmp_path, mask))
    # not a {0, 1} mask: 1 is a grey level here and goes to 0; 128 -> 0, 129 -> 1
    np.testing.assert_array_equal(out['gt_seg_map'], [[0, 0, 0, 0], [1, 1, 1, 1]])


def test_threshold_is_an_argument(helpers, tmp_path):
    mask = np.array([[0, 100, 200, 255]], np.uint8)
    out = _load(_mask_results(helpers, tmp_path, mask), threshold=50)
    np.testing.assert_array_equal(out['gt_seg_map'], [[0, 1, 1, 1]])


@pytest.mark.parametrize(
    'mask', [np.array([[0, 255], [255, 255]], np.uint8),
             np.array([[0, 1], [1, 1]], np.uint8)])
def test_invert_flips_polarity(helpers, tmp_path, mask):
    out = _load(_mask_results(helpers, tmp_path, mask, invert=True))
    np.testing.assert_array_equal(out['gt_seg_map'], [[1, 0], [0, 0]])
    out = _load(_mask_results(helpers, tmp_path, mask, invert=False))
    np.testing.assert_array_equal(out['gt_seg_map'], [[0, 1], [1, 1]])


def test_rgb_and_rgba_masks_are_read_as_grey(helpers, tmp_path):
    bgr = np.zeros((2, 3, 3), np.uint8)
    bgr[0, 0] = 255  # white
    bgr[0, 1] = (200, 200, 200)  # light grey -> 1
    bgr[0, 2] = (100, 100, 100)  # dark grey -> 0
    bgr[1, 0] = (0, 0, 255)  # pure red: luminance 76 -> 0
    bgr[1, 1] = (0, 255, 0)  # pure green: luminance 150 -> 1
    bgr[1, 2] = (0, 128, 255)  # orange (stored B, G, R): luminance 151 -> 1 (104 if read as RGB)
    expected = [[1, 1, 0], [0, 1, 1]]
    # several colours are refused by default (issue 17); the grey rule itself, unchecked:
    with pytest.raises(ValueError, match=r"rgb\.png' is a colour mask with 4 colours"):
        _load(_mask_results(helpers, tmp_path, bgr, name='rgb.png'))
    out = _load(_mask_results(helpers, tmp_path, bgr, name='rgb.png'), check_values=False)
    assert out['gt_seg_map'].shape == (2, 3)
    np.testing.assert_array_equal(out['gt_seg_map'], expected)
    bgra = np.concatenate([bgr, np.full((2, 3, 1), 255, np.uint8)], axis=2)
    out = _load(_mask_results(helpers, tmp_path, bgra, name='rgba.png'), check_values=False)
    np.testing.assert_array_equal(out['gt_seg_map'], expected)
    # grey levels stored as RGB are grey, not colours
    grey_rgb = np.repeat(np.array([[0, 200, 100]], np.uint8)[..., None], 3, axis=2)
    out = _load(_mask_results(helpers, tmp_path, grey_rgb, name='grey_rgb.png'))
    np.testing.assert_array_equal(out['gt_seg_map'], [[0, 1, 0]])


def test_16bit_mask_is_scaled_to_8bit(helpers, tmp_path):
    mask = np.array([[0, 128 * 257, 129 * 257, 65535]], np.uint16)
    out = _load(_mask_results(helpers, tmp_path, mask))
    np.testing.assert_array_equal(out['gt_seg_map'], [[0, 0, 1, 1]])


def test_binarize_mask_float_input():
    np.testing.assert_array_equal(
        binarize_mask(np.array([[0.0, 0.5, 0.51, 1.0]], np.float32)), [[0, 0, 1, 1]])


def test_unlabeled_sample_has_no_gt(helpers, tmp_path):
    for results in (dict(seg_map_path=None), dict()):
        out = _load(results)
        assert 'gt_seg_map' not in out
        assert out['seg_fields'] == []


# ----------------------------------------------------------------------------- extra maps
def test_16bit_extra_map_becomes_float_0_1(helpers, tmp_path):
    depth = np.array([[0, 65535], [32768, 1]], np.uint16)
    path = helpers.write(tmp_path / 'd.png', depth)
    out = _load(dict(depth_map_path=path))
    assert out['gt_depth_map'].dtype == np.float32
    np.testing.assert_allclose(out['gt_depth_map'], depth / 65535.0, rtol=0, atol=1e-7)
    assert out['gt_depth_map'][0, 1] == 1.0 and out['gt_depth_map'][0, 0] == 0.0
    assert out['seg_fields'] == ['gt_depth_map']


def test_8bit_and_colour_extra_maps(helpers, tmp_path):
    sal = np.array([[0, 51, 255]], np.uint8)
    pseudo = np.zeros((1, 3, 3), np.uint8)
    pseudo[0, 1] = 255
    out = _load(
        dict(
            saliency_map_path=helpers.write(tmp_path / 's.png', sal),
            pseudo_label_path=helpers.write(tmp_path / 'p.png', pseudo)))
    np.testing.assert_allclose(out['gt_saliency_map'], [[0.0, 0.2, 1.0]], atol=1e-7)
    np.testing.assert_array_equal(out['gt_pseudo_label'], [[0.0, 1.0, 0.0]])
    assert out['gt_pseudo_label'].dtype == np.float32
    assert out['seg_fields'] == ['gt_saliency_map', 'gt_pseudo_label']


def test_with_extra_maps_false_skips_them(helpers, tmp_path):
    path = helpers.write(tmp_path / 'd.png', np.zeros((2, 2), np.uint8))
    out = _load(dict(depth_map_path=path), with_extra_maps=False)
    assert 'gt_depth_map' not in out


def test_map_to_float_rejects_out_of_range_float():
    with pytest.raises(ValueError, match='expected'):
        map_to_float(np.array([[0.0, 2.0]], np.float32), path='x.tif')


# ----------------------------------------------------------------------------- errors
def test_mask_size_mismatch_names_file_and_sizes(helpers, tmp_path):
    results = _mask_results(
        helpers, tmp_path, np.zeros((4, 5), np.uint8), ori_shape=(6, 8), img_path='img.jpg')
    with pytest.raises(ValueError) as e:
        _load(results)
    msg = str(e.value)
    assert results['seg_map_path'] in msg and '(4, 5)' in msg and '(6, 8)' in msg
    assert 'img.jpg' in msg


def test_extra_map_size_mismatch_names_file(helpers, tmp_path):
    mask_path = helpers.write(tmp_path / 'm.png', np.zeros((6, 8), np.uint8))
    sal_path = helpers.write(tmp_path / 's.png', np.zeros((6, 7), np.uint8))
    with pytest.raises(ValueError) as e:
        _load(dict(seg_map_path=mask_path, saliency_map_path=sal_path, ori_shape=(6, 8)))
    assert sal_path in str(e.value) and '(6, 7)' in str(e.value)


def test_check_size_compares_with_ori_shape_not_img_shape(helpers, tmp_path):
    # test pipeline: annotations are loaded after Resize, so img_shape differs from the mask
    results = _mask_results(
        helpers, tmp_path, np.zeros((6, 8), np.uint8), ori_shape=(6, 8), img_shape=(320, 320))
    assert _load(results)['gt_seg_map'].shape == (6, 8)


@pytest.mark.parametrize('content', [b'', b'this is not a png at all'])
def test_unreadable_file_names_file(tmp_path, content):
    path = tmp_path / 'broken.png'
    path.write_bytes(content)
    with pytest.raises(ValueError) as e:
        _load(dict(seg_map_path=str(path)))
    assert 'cannot decode image' in str(e.value) and str(path) in str(e.value)
    with pytest.raises(ValueError) as e:
        _load(dict(depth_map_path=str(path)))
    assert 'cannot decode image' in str(e.value) and str(path) in str(e.value)


def test_missing_file_at_load_time_names_file(tmp_path):
    path = str(tmp_path / 'gone.png')
    with pytest.raises(FileNotFoundError, match='gone.png'):
        _load(dict(seg_map_path=path))


def test_label_map_is_refused(helpers, tmp_path):
    results = _mask_results(helpers, tmp_path, np.zeros((2, 2), np.uint8), label_map={0: 1})
    with pytest.raises(ValueError, match='label_map'):
        _load(results)


# ----------------------------------------------------------------------------- geometry
def _sample_with_maps(helpers, tmp_path, h=6, w=8):
    """Image whose pixels encode (x, y); mask and 16-bit map that are functions of (x, y)."""
    img = helpers.coord_image(h, w)
    xs, ys = np.meshgrid(np.arange(w), np.arange(h))
    mask = ((xs + 2 * ys) % 3 == 0).astype(np.uint8) * 255
    code = (xs + w * ys).astype(np.uint16) * 1000  # unique per pixel, < 65535
    paths = dict(
        img_path=helpers.write(tmp_path / 'img.png', img),
        seg_map_path=helpers.write(tmp_path / 'mask.png', mask),
        saliency_map_path=helpers.write(tmp_path / 'sal.png', code),
        depth_map_path=helpers.write(tmp_path / 'depth.png', code))
    return dict(paths, seg_fields=[], invert=False, reduce_zero_label=False, label_map=None)


def _check_maps_follow_image(out, w=8):
    """Each map value must be the function of the (x, y) that the image pixel there encodes."""
    x = out['img'][..., 0].astype(np.int64)
    y = out['img'][..., 1].astype(np.int64)
    np.testing.assert_array_equal(out['gt_seg_map'], ((x + 2 * y) % 3 == 0).astype(np.uint8))
    expected = ((x + w * y) * 1000).astype(np.float32) / np.float32(65535.0)
    np.testing.assert_array_equal(out['gt_saliency_map'], expected)
    np.testing.assert_array_equal(out['gt_depth_map'], expected)


def _pipeline(*cfgs):
    ts = [TRANSFORMS.build(c) for c in cfgs]

    def run(results):
        for t in ts:
            results = t(results)
        return results

    return run


def test_resize_and_flip_move_extra_maps_with_image(helpers, tmp_path):
    load = [dict(type='LoadImageFromFile'), dict(type='LoadBinaryAnnotations')]
    base = _sample_with_maps(helpers, tmp_path)
    # nearest image resize so the image's coordinate code survives; upscale x2 then flip both ways
    out = _pipeline(*load,
                    dict(type='Resize', scale=(16, 12), keep_ratio=False, interpolation='nearest'),
                    dict(type='RandomFlip', prob=1.0, direction='horizontal'))(
                        dict(base))
    assert out['img'].shape[:2] == (12, 16) and out['flip'] is True
    for field in ('gt_seg_map', 'gt_saliency_map', 'gt_depth_map'):
        assert out[field].shape == (12, 16), field
    assert out['img'][0, 0, 0] == 7  # x of the last column is first now
    _check_maps_follow_image(out)
    assert out['gt_saliency_map'].dtype == np.float32

    # exact values against numpy: x2 nearest = repeat, then horizontal flip
    raw = np.arange(48).reshape(6, 8) * 1000 / 65535.0
    np.testing.assert_allclose(
        out['gt_depth_map'], np.repeat(np.repeat(raw, 2, 0), 2, 1)[:, ::-1], atol=1e-6)

    out = _pipeline(*load,
                    dict(type='Resize', scale=(4, 3), keep_ratio=False, interpolation='nearest'),
                    dict(type='RandomFlip', prob=1.0, direction='vertical'))(
                        dict(base))
    assert out['gt_depth_map'].shape == (3, 4)
    np.testing.assert_allclose(out['gt_depth_map'], raw[::2, ::2][::-1], atol=1e-6)
    _check_maps_follow_image(out)


def test_crop_and_rotate_move_extra_maps_with_image(helpers, tmp_path):
    base = _sample_with_maps(helpers, tmp_path)
    # square crop and a 90 degree turn about its centre: every pixel lands on a pixel, no border
    out = _pipeline(
        dict(type='LoadImageFromFile'), dict(type='LoadBinaryAnnotations'),
        dict(type='RandomCrop', crop_size=(5, 5)),
        dict(type='RandomRotate', prob=1.0, degree=(90, 90)))(
            dict(base))
    assert out['img'].shape[:2] == (5, 5)
    for field in ('gt_seg_map', 'gt_saliency_map', 'gt_depth_map'):
        assert out[field].shape == (5, 5), field
    x = out['img'][..., 0]
    assert (x == x[:, :1]).all() and not (x == x[:1, :]).all()  # rotated: x runs down the rows
    assert (out['img'][..., 2] == 7).all()
    _check_maps_follow_image(out)


# ----------------------------------------------------------------------------- packing
def test_pack_binary_seg_inputs_fields(helpers, tmp_path):
    results = _pipeline(dict(type='LoadImageFromFile'), dict(type='LoadBinaryAnnotations'))(
        _sample_with_maps(helpers, tmp_path))
    results['pseudo_label_path'] = results['saliency_map_path']
    LoadBinaryAnnotations()(results)  # adds gt_pseudo_label too
    packed = TRANSFORMS.build(dict(type='PackBinarySegInputs'))(results)
    assert packed['inputs'].shape == (3, 6, 8) and packed['inputs'].dtype == torch.uint8
    sample = packed['data_samples']
    assert sample.gt_sem_seg.data.shape == (1, 6, 8)
    assert sample.gt_sem_seg.data.dtype == torch.int64
    assert set(sample.gt_sem_seg.data.unique().tolist()) == {0, 1}
    for field in ('gt_depth_map', 'gt_saliency_map', 'gt_pseudo_label'):
        pd = getattr(sample, field)
        assert isinstance(pd, PixelData), field
        assert pd.data.shape == (1, 6, 8) and pd.data.dtype == torch.float32, field
        np.testing.assert_array_equal(pd.data[0].numpy(), results[field])
    for key in ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'reduce_zero_label'):
        assert key in sample.metainfo, key
    assert sample.ori_shape == (6, 8)


def test_pack_unlabeled_sample(helpers, tmp_path):
    img_path = helpers.write(tmp_path / 'img.png', helpers.coord_image(5, 7))
    results = _pipeline(
        dict(type='LoadImageFromFile'), dict(type='LoadBinaryAnnotations'),
        dict(type='PackBinarySegInputs'))(
            dict(img_path=img_path, seg_map_path=None, seg_fields=[]))
    sample = results['data_samples']
    assert results['inputs'].shape == (3, 5, 7)
    assert 'gt_sem_seg' not in sample
    assert 'gt_saliency_map' not in sample
    assert sample.img_path == img_path


def test_pack_rejects_non_2d_extra_map():
    with pytest.raises(ValueError, match='gt_saliency_map'):
        PackBinarySegInputs()(dict(gt_saliency_map=np.zeros((2, 2, 2), np.float32)))
