"""Bad input, nothing lost: every broken file gets an error naming it, odd-but-valid files get a
documented conversion. Includes a fuzz test (seeded random bytes, corrupted and truncated real
files) over ``LoadImageFromFile`` as our pipelines configure it, ``LoadBinaryAnnotations`` (masks
and extra maps), ``BinarySegDataset`` and ``dbdseg.apis.inference_model``.

With the environment variable ``DBDSEG_H9_REPORT_DIR`` set, the outcomes are written there as JSON
(``bad_input.json``) for the issue report.
"""
import io
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile
from PIL import Image

import dbdseg  # noqa: F401
import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py
from dbdseg.datasets import BinarySegDataset
from dbdseg.datasets.transforms import LoadBinaryAnnotations

REPORT = {}


@pytest.fixture(scope='module', autouse=True)
def write_report():
    yield
    folder = os.environ.get('DBDSEG_H9_REPORT_DIR')
    if folder:
        with open(osp.join(folder, 'bad_input.json'), 'w') as f:
            json.dump(REPORT, f, indent=2, sort_keys=True)


def _outcome(fn):
    """('ok', value) or ('error', 'Type: message')."""
    try:
        return 'ok', fn()
    except Exception as e:  # noqa: BLE001
        return 'error', f'{type(e).__name__}: {e}'


def _png_bytes(arr):
    ok, buf = cv2.imencode('.png', arr)
    assert ok
    return buf.tobytes()


def _pil_bytes(im, fmt, **kwargs):
    b = io.BytesIO()
    im.save(b, fmt, **kwargs)
    return b.getvalue()


def _palette_png(indices, palette):
    im = Image.fromarray(np.asarray(indices, np.uint8), 'P')
    im.putpalette(list(np.asarray(palette, np.uint8).reshape(-1)) + [0] * (768 - 3 * len(palette)))
    return _pil_bytes(im, 'PNG')


# ------------------------------------------------------------------------------ images
H, W = 12, 20
BASE = tiny.make_image(H, W, seed=3)

#: smooth ramps (JPEG keeps them nearly exact): checks the orientation of a rotated JPEG
SMOOTH = np.dstack([
    np.tile(np.linspace(0, 250, W), (H, 1)),
    np.tile(np.linspace(0, 250, H)[:, None], (1, W)),
    np.full((H, W), 128.0)
]).astype(np.uint8)


def _exif_rotated_jpeg(img=BASE):
    im = Image.fromarray(np.ascontiguousarray(img[:, :, ::-1]))
    exif = im.getexif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    return _pil_bytes(im, 'JPEG', exif=exif, quality=95)


#: name -> (bytes, expected (h, w) after loading, what it is)
ODD_VALID_IMAGES = {
    'rgba.png': (_png_bytes(np.dstack([BASE, np.full(
        (H, W), 77, np.uint8)])), (H, W), 'RGBA: alpha dropped (not composited)'),
    'deep16.png': (_png_bytes(BASE.astype(np.uint16) * 257), (H, W), '16-bit: scaled to 8 bit'),
    'palette.png': (_pil_bytes(Image.fromarray(BASE[:, :, ::-1]).convert('P'),
                               'PNG'), (H, W), 'palette: expanded to colours'),
    'grey.png': (_png_bytes(BASE[:, :, 0]), (H, W), 'grey: replicated to 3 channels'),
    'grey16.png':
    (_png_bytes(BASE[:, :, 0].astype(np.uint16) * 257), (H, W), '16-bit grey: 8 bit, 3 channels'),
    'rotated.jpg': (_exif_rotated_jpeg(), (W, H), 'EXIF orientation 6: rotated for display'),
    'cmyk.jpg': (_pil_bytes(Image.fromarray(BASE[:, :, ::-1]).convert('CMYK'),
                            'JPEG'), (H, W), 'CMYK JPEG: converted to BGR'),
    'tiny.png': (_png_bytes(BASE[:1, :1]), (1, 1), '1x1 pixel'),
    'pic.bmp': (cv2.imencode('.bmp', BASE)[1].tobytes(), (H, W), 'BMP'),
}

_valid_jpeg = cv2.imencode('.jpg', BASE)[1].tobytes()
_valid_png = _png_bytes(BASE)
BROKEN_IMAGES = {
    'empty.png': b'',
    'truncated.jpg': _valid_jpeg[:len(_valid_jpeg) // 2],
    'truncated.png': _valid_png[:len(_valid_png) - 20],
    'text.jpg': b'<html>404 Not Found</html>',
    'zeros.png': bytes(500),
    'header_only.png': _valid_png[:33],
}


def _fuzz_cases(n=24, seed=0):
    """Seeded random bytes, valid files with random bytes overwritten, random truncations."""
    rng = np.random.default_rng(seed)
    cases = {}
    for i in range(n):
        kind = i % 4
        if kind == 0:
            data = rng.bytes(int(rng.integers(1, 4000)))
        elif kind == 1:  # a real PNG / JPEG header, then garbage
            src = _valid_png if i % 8 == 1 else _valid_jpeg
            data = src[:int(rng.integers(4, 40))] + rng.bytes(int(rng.integers(10, 2000)))
        elif kind == 2:  # a valid file with a burst of random bytes written over it
            src = bytearray(_valid_png if i % 8 == 2 else _valid_jpeg)
            at = int(rng.integers(0, len(src) - 16))
            src[at:at + 16] = rng.bytes(16)
            data = bytes(src)
        else:  # a valid file cut at a random point
            src = _valid_png if i % 8 == 3 else _valid_jpeg
            data = src[:int(rng.integers(0, len(src)))]
        cases[f'fuzz_{i:02d}.png'] = data
    return cases


def _write(folder, name, data):
    os.makedirs(folder, exist_ok=True)
    path = osp.join(folder, name)
    with open(path, 'wb') as f:
        f.write(data)
    return path


@pytest.mark.parametrize('name', sorted(ODD_VALID_IMAGES))
def test_load_image_from_file_converts_odd_valid_images(tmp_path, name):
    data, hw, what = ODD_VALID_IMAGES[name]
    path = _write(tmp_path, name, data)
    out = LoadImageFromFile()(dict(img_path=path))  # as configured in dbdseg's pipelines
    img = out['img']
    assert img.dtype == np.uint8 and img.shape == (*hw, 3), (name, img.shape)
    assert out['ori_shape'] == hw
    REPORT.setdefault('LoadImageFromFile', {})[name] = f'ok {img.shape} uint8 ({what})'


def test_exif_rotation_is_applied_not_ignored(tmp_path):
    path = _write(tmp_path, 'r.jpg', _exif_rotated_jpeg(SMOOTH))
    img = LoadImageFromFile()(dict(img_path=path))['img'].astype(int)
    clockwise = np.rot90(SMOOTH, k=-1).astype(int)  # orientation 6: 90 degrees clockwise
    assert np.abs(img - clockwise).mean() < 3  # JPEG loss only
    assert np.abs(img - np.rot90(SMOOTH, k=1).astype(int)).mean() > 30


@pytest.mark.parametrize('name', sorted(BROKEN_IMAGES))
def test_broken_images_are_errors_naming_the_file(tmp_path, name):
    path = _write(tmp_path, name, BROKEN_IMAGES[name])
    status, msg = _outcome(lambda: LoadImageFromFile()(dict(img_path=path)))
    assert status == 'error'
    REPORT.setdefault('LoadImageFromFile', {})[name] = msg.splitlines()[0][:160]
    # through the dataset every such error names the file (mmcv's cv2.error does not)
    root = tmp_path / 'set'
    _write(root / 'images', 'x.png', BROKEN_IMAGES[name])
    _write(root / 'masks', 'x.png', _png_bytes(np.zeros((4, 4), np.uint8)))
    ds = _dataset(root)
    with pytest.raises(Exception) as e:
        ds[0]
    assert osp.join('images', 'x.png') in str(e.value)
    REPORT.setdefault('BinarySegDataset[i]', {})[name] = str(e.value).splitlines()[0][:200]


def _dataset(root, **kwargs):
    return BinarySegDataset(
        data_root=str(root),
        data_prefix=dict(img_path='images', seg_map_path='masks'),
        img_suffix='.png',
        seg_map_suffix='.png',
        test_mode=True,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadBinaryAnnotations'),
            dict(type='PackBinarySegInputs')
        ],
        **kwargs)


# ------------------------------------------------------------------------------ masks
def _mask_case(tmp_path, name, data, ori_shape=(4, 6), **kwargs):
    path = _write(tmp_path, name, data)
    return _outcome(lambda: LoadBinaryAnnotations(**kwargs)(dict(
        seg_map_path=path, img_path='photo.jpg', ori_shape=ori_shape, seg_fields=[]))['gt_seg_map'])


M = np.array([[0, 0, 1, 1, 0, 0]] * 4, np.uint8)  # the intended labels, (4, 6)


def _two_colour_mask(bgr_a, bgr_b, dim=None):
    """(4, 6, 3) BGR mask: column 2 of M's object in colour a, column 3 in colour b; ``dim``
    (a darker shade) paints one background pixel, as anti-aliasing would."""
    img = np.zeros((4, 6, 3), np.uint8)
    img[:, 2] = bgr_a
    img[:, 3] = bgr_b
    if dim is not None:
        img[0, 4] = dim
    return img


#: name -> (bytes, expected labels or None for an error, expected message part)
MASK_CASES = {
    'zero_one.png': (_png_bytes(M), M, None),
    'zero_255.png': (_png_bytes(M * 255), M, None),
    'antialiased.png': (_png_bytes(np.where(M == 1, 250, 3).astype(np.uint8)), M, None),
    'all_background.png': (_png_bytes(np.zeros((4, 6), np.uint8)), M * 0, None),
    'deep16.png': (_png_bytes(M.astype(np.uint16) * 65535), M, None),
    'rgb_white.png': (_png_bytes(np.dstack([M * 255] * 3)), M, None),
    'rgba_cutout.png': (_png_bytes(np.dstack([np.full((4, 6, 3), 200, np.uint8),
                                              M * 255])), M, None),
    'rgba_opaque.png':
    (_png_bytes(np.dstack([M * 255] * 3 + [np.full((4, 6), 255, np.uint8)])), M, None),
    'palette_grey.png': (_palette_png(M, [[0, 0, 0], [255, 255, 255]]), M, None),
    'palette_voc.png': (_palette_png(M, [[0, 0, 0], [128, 0, 0]]), M, None),
    'palette_multiclass.png':
    (_palette_png(M * 2 + np.eye(4, 6, dtype=np.uint8),
                  [[0, 0, 0], [128, 0, 0], [0, 128, 0]]), None, 'colour-palette'),
    'class_index_012.png':
    (_png_bytes(M * 2 + np.eye(4, 6, dtype=np.uint8)), None, 'none above the threshold'),
    'dark_red.png': (_png_bytes(np.dstack([M * 0, M * 0,
                                           M * 255])), None, 'none above the threshold'),
    # a colour mask with a red and a green object (grey 76 and 150): the red one would become
    # background; two colours that both fall below the threshold would all be background
    'red_and_green.png': (_png_bytes(_two_colour_mask(
        (0, 0, 255), (0, 255, 0))), None, 'colour mask with 2 colours'),
    'red_and_blue.png': (_png_bytes(_two_colour_mask(
        (0, 0, 255), (255, 0, 0))), None, 'colour mask with 2 colours'),
    'yellow_and_white.png': (_png_bytes(_two_colour_mask(
        (0, 255, 255), (255, 255, 255))), None, 'colour mask with 2 colours'),
    'rgba_red_and_green.png': (_png_bytes(
        np.dstack([_two_colour_mask((0, 0, 255), (0, 255, 0)),
                   np.full((4, 6), 255, np.uint8)])), None, 'colour mask with 2 colours'),
    # one colour (green, grey 150) with darker anti-aliased shades of the same hue is one colour
    'green_antialiased.png':
    (_png_bytes(_two_colour_mask((0, 255, 0), (0, 255, 0), dim=(0, 90, 0))), M, None),
    'rgb_white.jpg': (cv2.imencode('.jpg', np.dstack([M * 255] * 3))[1].tobytes(), M, None),
    'index_with_255.png': (_png_bytes(np.where(np.eye(4, 6) > 0, 255,
                                               M).astype(np.uint8)), None, '0, 1 and 255'),
    'wrong_size.png': (_png_bytes(np.zeros((5, 6), np.uint8)), None, 'has size (h, w) = (5, 6)'),
    'transposed.png': (_png_bytes(np.zeros((6, 4), np.uint8)), None, 'EXIF orientation'),
    'empty.png': (b'', None, 'the file is empty'),
    'truncated.png': (_png_bytes(M * 255)[:40], None, 'cannot decode image'),
    'text.png': (b'not a mask', None, 'cannot decode image'),
}


@pytest.mark.parametrize('name', sorted(MASK_CASES))
def test_masks(tmp_path, name):
    data, expected, message = MASK_CASES[name]
    status, value = _mask_case(tmp_path, name, data)
    if expected is None:
        assert status == 'error', (name, value)
        assert name in value and message in value, value
        REPORT.setdefault('LoadBinaryAnnotations (mask)', {})[name] = value[:220]
    else:
        assert status == 'ok', value
        np.testing.assert_array_equal(value, expected)
        REPORT.setdefault(
            'LoadBinaryAnnotations (mask)',
            {})[name] = (f'ok: labels {sorted(np.unique(value).tolist())}, as intended')


def test_soft_mask_below_threshold_warns_and_is_background(tmp_path):
    # PASCAL-S has real masks like this (e.g. values 0, 43, 85, 106): soft maps, not labels
    soft = np.where(M == 1, 106, 0).astype(np.uint8)
    soft[0, 0], soft[1, 0] = 43, 85
    path = _write(tmp_path, 'soft.png', _png_bytes(soft))
    with pytest.warns(UserWarning, match=r'soft\.png.*all background'):
        out = LoadBinaryAnnotations()(dict(
            seg_map_path=path, img_path='photo.jpg', ori_shape=(4, 6), seg_fields=[]))['gt_seg_map']
    assert out.max() == 0 and out.shape == (4, 6)


def test_check_values_can_be_turned_off(tmp_path):
    status, value = _mask_case(tmp_path, 'idx.png', _png_bytes(M * 2), check_values=False)
    assert status == 'ok' and value.max() == 0  # the old behaviour: all background
    # a two-colour mask by grey level: red (76) -> 0, green (150) -> 1
    status, value = _mask_case(
        tmp_path,
        'rg.png',
        _png_bytes(_two_colour_mask((0, 0, 255), (0, 255, 0))),
        check_values=False)
    assert status == 'ok'
    np.testing.assert_array_equal(value, np.where(np.arange(6) == 3, 1, 0)[None].repeat(4, 0))


EXTRA_CASES = {
    'depth16.png': (_png_bytes(np.full((4, 6), 65535, np.uint16)), 1.0),
    'depth8_rgb.png': (_png_bytes(np.full((4, 6, 3), 255, np.uint8)), 1.0),
    'broken.png': (b'\x89PNG\r\n\x1a\n garbage', 'cannot decode image'),
    'wrong_size.png': (_png_bytes(np.zeros((3, 3), np.uint8)), 'has size (h, w) = (3, 3)'),
}


@pytest.mark.parametrize('name', sorted(EXTRA_CASES))
def test_extra_maps(tmp_path, name):
    data, expected = EXTRA_CASES[name]
    path = _write(tmp_path, name, data)
    status, value = _outcome(lambda: LoadBinaryAnnotations()(dict(
        depth_map_path=path, img_path='photo.jpg', ori_shape=(4, 6), seg_fields=[])))
    if isinstance(expected, str):
        assert status == 'error' and name in value and expected in value, value
        REPORT.setdefault('LoadBinaryAnnotations (extra map)', {})[name] = value[:200]
    else:
        assert status == 'ok', value
        assert value['gt_depth_map'].dtype == np.float32
        assert float(value['gt_depth_map'].max()) == expected
        REPORT.setdefault('LoadBinaryAnnotations (extra map)', {})[name] = 'ok: float32 in [0, 1]'


# ------------------------------------------------------------------------------ folders
def _pair(root, stem, img_suffix='.png', mask_suffix='.png'):
    _write(root / 'images', stem + img_suffix, _png_bytes(BASE))
    _write(root / 'masks', stem + mask_suffix, _png_bytes(np.zeros((H, W), np.uint8)))


def test_empty_image_folder_names_folder(tmp_path):
    (tmp_path / 'images').mkdir()
    (tmp_path / 'masks').mkdir()
    with pytest.raises(FileNotFoundError, match='the folder is empty'):
        _dataset(tmp_path)
    REPORT.setdefault('BinarySegDataset',
                      {})['empty folder'] = ('FileNotFoundError naming the folder')


def test_wrong_suffix_lists_what_is_there(tmp_path):
    for i in range(3):
        _write(tmp_path / 'images', f'p{i}.JPG', _valid_jpeg)
    (tmp_path / 'masks').mkdir()
    with pytest.raises(FileNotFoundError) as e:
        _dataset(tmp_path)
    assert '3 ending in .JPG' in str(e.value) and 'img_suffix' in str(e.value)
    REPORT.setdefault('BinarySegDataset', {})['only .JPG files'] = str(e.value)[:220]


def test_mismatched_names_point_at_the_near_miss(tmp_path):
    _write(tmp_path / 'images', 'IMG_1.png', _png_bytes(BASE))
    _write(tmp_path / 'masks', 'IMG_1_mask.png', _png_bytes(np.zeros((H, W), np.uint8)))
    with pytest.raises(FileNotFoundError) as e:
        _dataset(tmp_path)
    msg = str(e.value)
    assert 'IMG_1.png' in msg and "'IMG_1_mask.png'" in msg
    REPORT.setdefault('BinarySegDataset', {})['mask named IMG_1_mask.png'] = msg[:240]


def test_non_image_and_hidden_files_are_ignored(tmp_path):
    """Other suffixes are not listed; hidden files (macOS ``._a.png`` AppleDouble metadata) are
    skipped by mmengine's folder listing."""
    _pair(tmp_path, 'a')
    (tmp_path / 'images' / 'notes.txt').write_text('x')
    (tmp_path / 'images' / 'Thumbs.db').write_bytes(b'\x00' * 10)
    (tmp_path / 'masks' / 'desktop.ini').write_text('x')
    _write(tmp_path / 'images', '._a.png', b'\x00\x05\x16\x07 mac metadata')
    _write(tmp_path / 'masks', '._a.png', b'\x00\x05\x16\x07 mac metadata')
    ds = _dataset(tmp_path)
    assert len(ds) == 1 and ds[0]['inputs'].shape == (3, H, W)
    assert ds.get_data_info(0)['img_path'].endswith(osp.join('images', 'a.png'))
    REPORT.setdefault('BinarySegDataset', {})['notes.txt, Thumbs.db, desktop.ini, ._a.png'] = (
        'ignored (suffix filter; hidden files skipped by the listing)')


# ------------------------------------------------------------------------------ fuzz
@pytest.fixture(scope='module')
def tiny_model(tmp_path_factory):
    from dbdseg.apis import init_model
    root = tmp_path_factory.mktemp('bad_input_model')
    data_root = tiny.write_dataset(root / 'data')
    config = tiny.write_config(root / 'tiny.py', data_root)
    return init_model(config, tiny.save_untrained_checkpoint(config, root / 'tiny.pth'))


def test_fuzz_every_loader_names_the_file_or_returns_valid_output(tmp_path, tiny_model):
    from dbdseg.apis import inference_model
    cases = dict(_fuzz_cases(), **BROKEN_IMAGES)
    counts = {}
    for name, data in sorted(cases.items()):
        path = _write(tmp_path / 'fuzz', name, data)
        # 1. LoadImageFromFile as in our pipelines: valid image or an exception
        status, value = _outcome(lambda: LoadImageFromFile()(dict(img_path=path))['img'])
        if status == 'ok':
            assert value.dtype == np.uint8 and value.ndim == 3 and value.shape[2] == 3
        counts.setdefault('LoadImageFromFile', {}).setdefault(status, 0)
        counts['LoadImageFromFile'][status] += 1
        # 2. the mask loader and 3. an extra-map loader: valid labels / map, or an error naming
        for key in ('seg_map_path', 'saliency_map_path'):
            status, value = _outcome(lambda: LoadBinaryAnnotations(check_size=False)
                                     ({
                                         key: path,
                                         'seg_fields': []
                                     }))
            if status == 'error':
                assert path in value, value
            elif key == 'seg_map_path':
                assert set(np.unique(value['gt_seg_map']).tolist()) <= {0, 1}
            else:
                m = value['gt_saliency_map']
                assert m.dtype == np.float32 and 0.0 <= m.min() and m.max() <= 1.0
            counts.setdefault(f'LoadBinaryAnnotations({key})', {}).setdefault(status, 0)
            counts[f'LoadBinaryAnnotations({key})'][status] += 1
        # 4. inference_model on the file: a probability map at the image size, or an error naming
        status, value = _outcome(lambda: inference_model(tiny_model, path))
        if status == 'error':
            assert path in value, value
        else:
            prob = value.seg_logits.data
            assert prob.shape[0] == 1 and 0.0 <= float(prob.min()) and float(prob.max()) <= 1.0
        counts.setdefault('inference_model', {}).setdefault(status, 0)
        counts['inference_model'][status] += 1
    # 5. BinarySegDataset over all of them: every failing sample names its image file
    root = tmp_path / 'fuzzset'
    for name, data in cases.items():
        stem = name.replace('.', '_')  # 'truncated.jpg' and 'truncated.png' stay apart
        _write(root / 'images', stem + '.png', data)
        _write(root / 'masks', stem + '.png', _png_bytes(np.zeros((H, W), np.uint8)))
    ds = _dataset(root, serialize_data=False)
    for i in range(len(ds)):
        status, value = _outcome(lambda: ds[i])
        if status == 'error':
            assert ds.get_data_info(i)['img_path'] in value, value
        counts.setdefault('BinarySegDataset[i]', {}).setdefault(status, 0)
        counts['BinarySegDataset[i]'][status] += 1
    assert all(sum(c.values()) == len(cases) for c in counts.values())
    assert counts['inference_model'].get('error', 0) >= len(BROKEN_IMAGES)
    REPORT['fuzz'] = dict(n_files=len(cases), outcomes=counts)


@pytest.mark.parametrize('name', sorted(ODD_VALID_IMAGES))
def test_inference_model_on_odd_valid_images(tmp_path, tiny_model, name):
    from dbdseg.apis import inference_model
    data, hw, _ = ODD_VALID_IMAGES[name]
    path = _write(tmp_path, name, data)
    result = inference_model(tiny_model, path)
    assert tuple(result.seg_logits.data.shape) == (1, *hw)


def test_inference_model_on_odd_arrays(tiny_model):
    from dbdseg.apis import inference_model
    for arr in (BASE[:, :, 0], np.dstack([BASE, BASE[:, :, :1]]), BASE[:, :, :1]):
        assert tuple(inference_model(tiny_model, arr).seg_logits.data.shape) == (1, H, W)
    with pytest.raises(ValueError, match='shape'):
        inference_model(tiny_model, np.zeros((H, W, 5), np.uint8))


def test_colour_masks_one_colour_with_soft_edges_pass_two_colours_are_refused():
    """Issue 17: one colour with anti-aliased (blurred) edges, also after JPEG compression, is one
    colour; two objects of different hues are refused, also after JPEG compression."""
    from dbdseg.datasets.transforms.loading import check_mask_colours

    yy, xx = np.mgrid[:120, :160]
    disc = cv2.GaussianBlur(((yy - 60)**2 + (xx - 60)**2 < 35**2).astype(np.float32), (7, 7), 2)
    small = (yy - 60)**2 + (xx - 130)**2 < 18**2

    def jpeg(img, quality):
        return cv2.imdecode(cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], 1)

    for bgr in ((0, 255, 0), (0, 128, 255), (180, 105, 255), (0, 0, 128), (255, 255, 255)):
        img = (disc[..., None] * np.array(bgr)).astype(np.uint8)
        for version in (img, jpeg(img, 90), jpeg(img, 60)):
            check_mask_colours(version, 'one.png')  # no error
    # hues 30 degrees apart (orange, red) merge under strong JPEG compression (documented limit)
    pairs = [
        ((0, 0, 255), (0, 255, 0), (90, 60)),  # red, green
        ((0, 128, 255), (0, 0, 255), (90, )),  # orange, red
        ((0, 255, 255), (255, 255, 255), (90, 60)),  # yellow, white
    ]
    for a, b, qualities in pairs:
        img = (disc[..., None] * np.array(a)).astype(np.uint8)
        img[small] = b
        for version in [img] + [jpeg(img, q) for q in qualities]:
            with pytest.raises(ValueError, match=r"two\.png' is a colour mask with [23] colours"):
                check_mask_colours(version, 'two.png')
