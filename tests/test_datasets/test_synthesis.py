"""Tests of the synthetic-defocus generator (``dbdseg.datasets.synthesis``) and its CLI.

Every image is generated here (tiny, textured); nothing is read from shared data folders.
"""
import json
import os
import os.path as osp
import runpy
import socket
import types

import cv2
import numpy as np
import pytest

from dbdseg.datasets.synthesis import (DefocusRenderConfig, DepthLayout, ImageReadError, Layer,
                                       bundled_scenes, disk_blur, disk_kernel, fill_holes,
                                       folder_scenes, linear_to_srgb, render_defocus, render_sample,
                                       sample_focus, sample_layout, sample_source_crop, soften_mask,
                                       split_scenes, srgb_to_linear, synthesize_dataset,
                                       thin_lens_coc)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
QUIET = dict(add_noise=False, jpeg=False)


def textured(h, w, seed=0):
    """uint8 HxWx3 RGB: strong pixel-level texture (high Laplacian energy) plus a colour ramp."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (h, w, 3)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), 0.7)
    ramp = np.linspace(0, 60, w, dtype=np.float32)[None, :, None]
    return np.clip(0.75 * noise + ramp, 0, 255).astype(np.uint8)


def disk_mask(h, w, cy, cx, radius):
    yy, xx = np.mgrid[0:h, 0:w]
    return (yy - cy)**2 + (xx - cx)**2 <= radius**2


def distance_outside(mask):
    """Distance (pixels) of each pixel to the mask, 0 inside."""
    return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)


def lap_var(img, region):
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(cv2.Laplacian(grey, cv2.CV_32F)[region].var())


def plane_and_disk_layout(h=96, w=96, radius=24, plane_depth=10.0, layer_depth=2.0, softness=0.6):
    fg = disk_mask(h, w, h // 2, w // 2, radius)
    layer = Layer(alpha=soften_mask(fg, softness), depth=layer_depth, shape='custom')
    return DepthLayout(np.full((h, w), plane_depth, np.float32), [layer]), fg


# --------------------------------------------------------------------------------------------------
# thin-lens model and disk PSF


def test_disk_kernel_normalised_and_identity():
    assert disk_kernel(0).shape == (1, 1) and disk_kernel(0)[0, 0] == 1.0
    assert disk_kernel(0.5).shape == (1, 1)  # radius <= 0.5 px is still the identity
    for r in (0.7, 1.0, 2.5, 7.3, 16.0):
        k = disk_kernel(r)
        assert k.dtype == np.float32
        assert abs(float(k.sum()) - 1.0) < 1e-5
        assert np.allclose(k, k.T) and np.allclose(k, k[::-1, ::-1])
    assert disk_kernel(2.5).shape == (5, 5)
    assert disk_kernel(2.6).shape == (7, 7)
    # r = 1: centre 1, 4 edge neighbours 0.5, 4 diagonals 1.5 - sqrt(2)
    k1 = disk_kernel(1.0)
    total = 1 + 4 * 0.5 + 4 * (1.5 - np.sqrt(2))
    assert k1[1, 1] == pytest.approx(1 / total, rel=1e-5)
    assert k1[0, 1] == pytest.approx(0.5 / total, rel=1e-5)
    assert k1[0, 0] == pytest.approx((1.5 - np.sqrt(2)) / total, rel=1e-5)
    # anti-aliased edge: partial weights exist between 0 and the centre weight
    k7 = disk_kernel(7.3)
    assert np.any((k7 > 0) & (k7 < k7.max() * 0.99))
    with pytest.raises(ValueError):
        disk_kernel(-1)


def test_disk_blur_preserves_constant_and_impulse():
    const = np.full((20, 20, 3), 0.37, np.float32)
    assert np.allclose(disk_blur(const, 4.2), 0.37, atol=1e-5)
    impulse = np.zeros((21, 21), np.float32)
    impulse[10, 10] = 1
    out = disk_blur(impulse, 3.0)
    assert np.allclose(out[7:14, 7:14], disk_kernel(3.0), atol=1e-6)
    assert np.array_equal(disk_blur(impulse, 0.0), impulse)


def test_thin_lens_coc_pinned_and_monotone():
    r = thin_lens_coc(np.array([1.0, 2.0, 4.0, 8.0]), 2.0, 8.0)
    assert r.dtype == np.float32
    assert np.allclose(r, [4.0, 0.0, 2.0, 3.0])
    assert thin_lens_coc(2.0, 2.0, 5.0) == 0.0
    far = thin_lens_coc(np.linspace(2.0, 50.0, 30), 2.0, 6.0)
    near = thin_lens_coc(np.linspace(2.0, 0.3, 30), 2.0, 6.0)
    assert far[0] == 0 and near[0] == 0
    assert np.all(np.diff(far) > 0) and np.all(np.diff(near) > 0)
    assert far[-1] < 6.0 * 0.5  # bounded by k / focus far away
    with pytest.raises(ValueError):
        thin_lens_coc(np.array([1.0, 0.0]), 2.0, 1.0)
    with pytest.raises(ValueError):
        thin_lens_coc(1.0, -2.0, 1.0)


def test_srgb_round_trip_and_values():
    u8 = np.arange(256, dtype=np.uint8)
    lin = srgb_to_linear(u8)
    assert lin[0] == 0 and lin[255] == pytest.approx(1.0)
    assert lin[128] == pytest.approx(0.2158605, abs=1e-6)  # IEC 61966-2-1
    back = np.round(linear_to_srgb(lin) * 255).astype(np.uint8)
    assert np.array_equal(back, u8)


def test_fill_holes_keeps_valid_and_extends_border_colour():
    img = np.zeros((40, 40, 3), np.float32)
    img[:, 20:] = 1.0
    valid = np.ones((40, 40), bool)
    valid[10:30, 5:18] = False  # hole entirely on the black side, near the white side
    for method in ('pushpull', 'telea'):
        out = fill_holes(img, valid, method)
        assert np.array_equal(out[valid], img[valid])
        # the fill continues the black surroundings (a mean-colour fill would be ~0.5 grey)
        assert float(out[~valid].mean()) < 0.15, method


# --------------------------------------------------------------------------------------------------
# rendering


def test_render_defocus_outputs_and_label_consistency():
    img = textured(64, 80, seed=1)
    cfg = DefocusRenderConfig(out_size=(64, 80))
    out = render_defocus(img, np.random.default_rng(3), cfg)
    assert out['image'].shape == (64, 80, 3) and out['image'].dtype == np.uint8
    assert out['mask'].shape == (64, 80) and out['mask'].dtype == np.uint8
    assert set(np.unique(out['mask']).tolist()) <= {0, 255}
    assert out['depth'].shape == (64, 80) and out['depth'].dtype == np.float32
    assert out['coc'].dtype == np.float32 and float(out['depth'].min()) > 0
    assert out['jpeg_bytes'][:2] == b'\xff\xd8'
    p = out['params']
    assert 70 <= p['jpeg_quality'] <= 95 and 0 <= p['noise_sigma'] <= 3
    # the largest visible radius is the sampled target (6-10 px at 192, scaled to 64 px)
    assert p['visible_max_coc'] == pytest.approx(p['target_max_coc'], rel=1e-4)
    assert 6 * 64 / 192 - 1e-6 <= p['target_max_coc'] <= 10 * 64 / 192 + 1e-6
    assert p['in_focus_fraction'] == pytest.approx((out['mask'] > 0).mean())
    # in-focus pixels coincide with a low composited CoC, blurred ones with a high one
    thr = cfg.in_focus_threshold
    for seed in range(6):
        o = render_defocus(img, np.random.default_rng(seed), cfg)
        assert np.all(o['mask'][o['coc'] < thr / 2] == 255)
        assert np.all(o['coc'][o['mask'] == 0] >= thr / 2 - 1e-5)
        if (o['mask'] == 255).any() and (o['mask'] == 0).any():
            assert o['coc'][o['mask'] == 255].mean() < o['coc'][o['mask'] == 0].mean()


def test_blurred_region_loses_and_in_focus_region_keeps_high_frequencies():
    img = textured(96, 96, seed=2)
    layout, fg = plane_and_disk_layout()
    cfg = DefocusRenderConfig(out_size=(96, 96), **QUIET)
    # focus on the near disk; k puts the plane at r = 5 px
    k = 5.0 / (1 / 2.0 - 1 / 10.0)
    out = render_defocus(img, np.random.default_rng(0), cfg, layout=layout, focus_depth=2.0, k=k)
    inner = cv2.erode(fg.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    far_bg = distance_outside(fg) > 9
    assert np.all(out['mask'][inner] == 255) and np.all(out['mask'][far_bg] == 0)
    assert np.allclose(out['coc'][far_bg], 5.0, atol=1e-4)
    src_in, src_bg = lap_var(img, inner), lap_var(img, far_bg)
    assert lap_var(out['image'], inner) > 0.9 * src_in
    assert lap_var(out['image'], far_bg) < 0.2 * src_bg
    # noise and JPEG on: the image changes, the label does not
    noisy = render_defocus(
        img,
        np.random.default_rng(0),
        DefocusRenderConfig(out_size=(96, 96)),
        layout=layout,
        focus_depth=2.0,
        k=k)
    assert not np.array_equal(noisy['image'], out['image'])
    assert np.array_equal(noisy['mask'], out['mask'])


def test_focus_near_layer_vs_far_plane_swaps_in_focus_region():
    img = textured(96, 96, seed=4)
    layout, fg = plane_and_disk_layout()
    cfg = DefocusRenderConfig(out_size=(96, 96), **QUIET)
    k = 6.0 / (1 / 2.0 - 1 / 10.0)
    near = render_defocus(img, np.random.default_rng(0), cfg, layout=layout, focus_depth=2.0, k=k)
    far = render_defocus(img, np.random.default_rng(0), cfg, layout=layout, focus_depth=10.0, k=k)
    inner = cv2.erode(fg.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    far_bg = distance_outside(fg) > 10
    assert np.all(near['mask'][inner] == 255) and np.all(near['mask'][far_bg] == 0)
    assert np.all(far['mask'][inner] == 0) and np.all(far['mask'][far_bg] == 255)
    assert lap_var(far['image'], inner) < 0.3 * lap_var(near['image'], inner)
    assert lap_var(far['image'], far_bg) > 3.0 * lap_var(near['image'], far_bg)


def test_label_is_the_composited_in_focus_map():
    """A thin, strongly blurred near bar becomes a faint haze over the in-focus plane: its blurred
    alpha stays below 0.5, so the composited label keeps the plane's "in-focus" there, whereas a
    label from the sharp geometry would call the bar blurred."""
    h = w = 64
    bar = np.zeros((h, w), bool)
    bar[:, 30:33] = True
    layout = DepthLayout(
        np.full((h, w), 10.0, np.float32), [Layer(alpha=bar.astype(np.float32), depth=2.0)])
    cfg = DefocusRenderConfig(out_size=(h, w), **QUIET)
    k = 8.0 / (1 / 2.0 - 1 / 10.0)
    out = render_defocus(
        textured(h, w), np.random.default_rng(0), cfg, layout=layout, focus_depth=10.0, k=k)
    assert np.all(out['mask'] == 255)
    assert 0.1 < float(out['in_focus'][:, 31].mean()) < 0.9
    # a wide bar is opaque enough: its middle is labelled blurred
    wide = np.zeros((h, w), bool)
    wide[:, 16:48] = True
    layout = DepthLayout(layout.plane_depth, [Layer(alpha=wide.astype(np.float32), depth=2.0)])
    out = render_defocus(
        textured(h, w), np.random.default_rng(0), cfg, layout=layout, focus_depth=10.0, k=k)
    assert np.all(out['mask'][:, 20:44] == 0) and np.all(out['mask'][:, :8] == 255)


def _ring_red_excess(image, fg, bg_red, fg_red):
    """Largest fraction of the foreground's red found 2-6 px outside the foreground edge."""
    dist = distance_outside(fg)
    ring = (dist >= 2) & (dist <= 6)
    return float((image[..., 0][ring].astype(np.float32) - bg_red).max() / (fg_red - bg_red))


def test_no_halo_around_in_focus_foreground():
    h = w = 96
    bg_rgb, fg_rgb = (30, 150, 40), (230, 20, 20)
    layout, fg = plane_and_disk_layout(h, w, radius=22)
    img = np.empty((h, w, 3), np.uint8)
    img[:] = bg_rgb
    img[fg] = fg_rgb
    cfg = DefocusRenderConfig(out_size=(h, w), **QUIET)
    k = 8.0 / (1 / 2.0 - 1 / 10.0)  # foreground in focus, background r = 8 px
    out = render_defocus(img, np.random.default_rng(0), cfg, layout=layout, focus_depth=2.0, k=k)
    ours = _ring_red_excess(out['image'], fg, bg_rgb[0], fg_rgb[0])
    # naive: blur the whole photo (foreground included) as background, paste the sharp foreground
    lin = srgb_to_linear(img)
    alpha = layout.layers[0].alpha[..., None]
    naive_lin = alpha * lin + (1 - alpha) * disk_blur(lin, 8.0)
    naive = np.round(linear_to_srgb(naive_lin) * 255).astype(np.uint8)
    naive_excess = _ring_red_excess(naive, fg, bg_rgb[0], fg_rgb[0])
    assert naive_excess > 0.3  # the check does catch a halo
    assert ours < 0.05
    # and the foreground itself stays sharp: its edge is a step in the output too
    inner = cv2.erode(fg.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert np.all(np.abs(out['image'][inner].astype(int) - fg_rgb) <= 1)


def test_blur_in_linear_light():
    """A blurred black/white edge is brighter in the middle in linear light (sRGB 188, not 128)."""
    img = np.zeros((64, 64, 3), np.uint8)
    img[:, 32:] = 255
    layout = DepthLayout(np.full((64, 64), 10.0, np.float32), [])
    values = {}
    for linear in (True, False):
        cfg = DefocusRenderConfig(out_size=(64, 64), linear_light=linear, **QUIET)
        out = render_defocus(
            img, np.random.default_rng(0), cfg, layout=layout, focus_depth=1.0, k=8.0 / 0.9)
        values[linear] = float(out['image'][32, 31:33, 0].mean())
    assert values[True] == pytest.approx(188, abs=6)
    assert values[False] == pytest.approx(128, abs=6)


def test_sample_source_crop_scales_and_aligns_mask():
    src = textured(200, 300, seed=5)
    mask = np.zeros((200, 300), bool)
    mask[50:150, 100:220] = True
    cfg = DefocusRenderConfig(out_size=(64, 64), hflip_prob=1.0)
    crop, m, p = sample_source_crop(src, np.random.default_rng(0), cfg, object_mask=mask)
    assert crop.shape == (64, 64, 3) and m.shape == (64, 64) and m.dtype == bool
    assert 0.5 <= p['source_scale'] <= 0.65 and p['hflip']
    # the same crop of a scaled copy, flipped, reproduces it
    s = p['source_scale']
    y, x = p['crop'][:2]
    scaled = cv2.resize(
        src, (int(round(300 * s)), int(round(200 * s))), interpolation=cv2.INTER_AREA)
    assert np.array_equal(crop, scaled[y:y + 64, x:x + 64][:, ::-1])
    # small source: smallest covering scale (> 1)
    crop2, _, p2 = sample_source_crop(src[:40, :50], np.random.default_rng(0), cfg)
    assert crop2.shape == (64, 64, 3) and p2['source_scale'] == pytest.approx(64 / 40)
    with pytest.raises(ValueError):
        sample_source_crop(src, np.random.default_rng(0), cfg, object_mask=mask[:10])


def test_layout_layers_nearer_and_object_mask_and_focus_modes():
    cfg = DefocusRenderConfig(out_size=(48, 48), object_mask_prob=1.0)
    obj = disk_mask(48, 48, 30, 20, 10)
    modes = []
    for seed in range(300):
        rng = np.random.default_rng(seed)
        layout = sample_layout((48, 48), rng, cfg, object_mask=obj if seed < 20 else None)
        assert 1 <= len(layout.layers) <= 3
        depths = [la.depth for la in layout.layers]
        assert depths == sorted(depths, reverse=True)  # far to near
        assert max(depths) < float(layout.plane_depth.min())
        if seed < 20:
            shapes = [la.shape for la in layout.layers]
            assert shapes.count('object_mask') == 1
            alpha = layout.layers[shapes.index('object_mask')].alpha
            assert np.array_equal(alpha > 0.5, obj)
        focus, mode, _ = sample_focus(layout, rng, cfg)
        modes.append(mode)
        d = layout.depth_map()
        assert d.min() - 1e-4 <= focus <= d.max() + 1e-4
    frac = {m: modes.count(m) / len(modes) for m in ('layer', 'plane', 'random')}
    assert 0.4 < frac['layer'] < 0.6 and 0.3 < frac['plane'] < 0.5 and frac['random'] < 0.2


def test_config_validation():
    with pytest.raises(ValueError, match='max_coc_range'):
        DefocusRenderConfig(max_coc_range=(10, 6))
    with pytest.raises(ValueError, match='num_layers_probs'):
        DefocusRenderConfig(num_layers_probs=(0.5, 0.2))
    with pytest.raises(ValueError, match='fill_method'):
        DefocusRenderConfig(fill_method='magic')
    cfg = DefocusRenderConfig()
    assert cfg.out_size == (320, 320) and cfg.coc_scale == pytest.approx(320 / 192)
    assert DefocusRenderConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_render_is_deterministic_for_a_seed():
    img = textured(120, 150, seed=6)
    cfg = DefocusRenderConfig(out_size=(48, 48))
    a = render_sample(img, np.random.default_rng([7, 1]), cfg)
    b = render_sample(img, np.random.default_rng([7, 1]), cfg)
    c = render_sample(img, np.random.default_rng([8, 1]), cfg)
    assert a['jpeg_bytes'] == b['jpeg_bytes'] and np.array_equal(a['mask'], b['mask'])
    assert a['params'] == b['params']
    assert a['jpeg_bytes'] != c['jpeg_bytes']


# --------------------------------------------------------------------------------------------------
# dataset writer and sources


@pytest.fixture
def photo_folder(tmp_path):
    src, masks = tmp_path / 'photos', tmp_path / 'masks'
    src.mkdir()
    masks.mkdir()
    for i, (name, ext) in enumerate([('alpha', '.png'), ('beta', '.jpg'), ('gamma', '.bmp')]):
        assert cv2.imwrite(str(src / f'{name}{ext}'), textured(60, 80, seed=10 + i))
    obj = disk_mask(60, 80, 30, 40, 18).astype(np.uint8) * 255
    assert cv2.imwrite(str(masks / 'beta.png'), obj)
    (src / 'notes.txt').write_text('not a photo')
    return src, masks


def _read_tree(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            path = osp.join(dirpath, f)
            with open(path, 'rb') as fh:
                out[osp.relpath(path, root)] = fh.read()
    return out


def test_synthesize_dataset_folder(photo_folder, tmp_path):
    src, masks = photo_folder
    out = tmp_path / 'out'
    summary = synthesize_dataset(
        str(src),
        str(out),
        num_per_scene=2,
        size=(32, 40),
        seed=3,
        val_scenes=1,
        workers=1,
        src_masks=str(masks),
        progress=False)
    assert summary['counts'] == {'train': 4, 'val': 2}
    assert len(summary['scenes']['val']) == 1 and len(summary['scenes']['train']) == 2
    train = (out / 'train.txt').read_text().split()
    val = (out / 'val.txt').read_text().split()
    assert len(train) == 4 and len(val) == 2
    scene_of = lambda stem: stem.rsplit('_', 1)[0]  # noqa: E731
    assert {scene_of(s) for s in train}.isdisjoint({scene_of(s) for s in val})
    assert {scene_of(s) for s in train + val} == {'alpha', 'beta', 'gamma'}
    for stem in train + val:
        img = cv2.imread(str(out / 'images' / f'{stem}.jpg'))
        assert img is not None and img.shape == (32, 40, 3)
        mask = cv2.imread(str(out / 'masks' / f'{stem}.png'), cv2.IMREAD_UNCHANGED)
        assert mask.dtype == np.uint8 and mask.shape == (32, 40)
        assert set(np.unique(mask).tolist()) <= {0, 255}
        depth = cv2.imread(str(out / 'depth' / f'{stem}.png'), cv2.IMREAD_UNCHANGED)
        assert depth.dtype == np.uint16 and depth.shape == (32, 40)
        assert depth.min() == 0 and depth.max() == 65535
    doc = json.loads((out / 'render_params.json').read_text())
    assert doc['settings']['seed'] == 3 and doc['settings']['size'] == [32, 40]
    assert doc['settings']['config']['out_size'] == [32, 40]
    assert sorted(doc['images']) == sorted(train + val)
    assert doc['scenes']['val'] == summary['scenes']['val']
    for stem, p in doc['images'].items():
        assert p['scene'] == scene_of(stem) and p['split'] == ('val' if stem in val else 'train')
        assert p['focus_depth'] > 0 and p['k'] > 0 and 70 <= p['jpeg_quality'] <= 95
        assert p['source'].endswith(('.png', '.jpg', '.bmp')) and p['seed'][0] == 3
        assert p['object_mask_available'] == (p['scene'] == 'beta')
        assert 0 <= p['depth_min'] < p['depth_max']
        mask = cv2.imread(str(out / 'masks' / f'{stem}.png'), cv2.IMREAD_UNCHANGED)
        assert p['in_focus_fraction'] == pytest.approx((mask > 0).mean())
    assert summary['in_focus_mean']['all'] == pytest.approx(
        np.mean([p['in_focus_fraction'] for p in doc['images'].values()]))


def test_synthesize_dataset_byte_identical_for_a_seed(photo_folder, tmp_path):
    src, _ = photo_folder
    kw = dict(num_per_scene=3, size=(24, 24), val_scenes=1, progress=False)
    synthesize_dataset(str(src), str(tmp_path / 'a'), seed=11, workers=1, **kw)
    synthesize_dataset(str(src), str(tmp_path / 'b'), seed=11, workers=2, **kw)
    synthesize_dataset(str(src), str(tmp_path / 'c'), seed=12, workers=1, **kw)
    a, b, c = (_read_tree(tmp_path / n) for n in 'abc')
    assert len(a) == 3 * 9 + 3 and a == b
    assert a['images/alpha_0000.jpg'] != c['images/alpha_0000.jpg']
    assert a['render_params.json'] != c['render_params.json']


def test_synthesize_dataset_errors(photo_folder, tmp_path):
    src, _ = photo_folder
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ValueError, match=str(empty)):
        synthesize_dataset(str(empty), str(tmp_path / 'o1'), progress=False)
    missing = tmp_path / 'missing'
    with pytest.raises(FileNotFoundError, match=str(missing)):
        synthesize_dataset(str(missing), str(tmp_path / 'o2'), progress=False)
    # non-empty output without overwrite: refused, nothing touched
    out = tmp_path / 'busy'
    out.mkdir()
    (out / 'keep.txt').write_text('x')
    kw = dict(num_per_scene=1, size=(16, 16), val_scenes=0, workers=1, progress=False)
    with pytest.raises(FileExistsError, match=str(out)):
        synthesize_dataset(str(src), str(out), **kw)
    assert sorted(os.listdir(out)) == ['keep.txt']
    (out / 'images').mkdir()
    (out / 'images' / 'stale.jpg').write_bytes(b'old')
    synthesize_dataset(str(src), str(out), overwrite=True, **kw)
    assert (out / 'keep.txt').exists() and not (out / 'images' / 'stale.jpg').exists()
    assert len(os.listdir(out / 'images')) == 3
    # output path below a regular file
    with pytest.raises(NotADirectoryError, match='keep.txt'):
        synthesize_dataset(str(src), str(out / 'keep.txt' / 'sub'), **kw)
    # not writable (simulated: root may write anywhere)
    real_access = os.access
    locked = str(tmp_path / 'locked')
    os.mkdir(locked)

    def fake_access(path, mode, *args, **kwargs):
        return False if osp.abspath(path) == locked else real_access(path, mode, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, 'access', fake_access)
        with pytest.raises(PermissionError, match='locked'):
            synthesize_dataset(str(src), osp.join(locked, 'new'), **kw)
    # unreadable photo: error naming it, or skipped and listed with skip_bad
    bad = src / 'broken.jpg'
    bad.write_bytes(b'this is not a jpeg')
    with pytest.raises(ImageReadError, match='broken.jpg'):
        synthesize_dataset(str(src), str(tmp_path / 'o3'), **kw)
    summary = synthesize_dataset(str(src), str(tmp_path / 'o4'), skip_bad=True, **kw)
    assert len(summary['bad']) == 1 and 'broken.jpg' in summary['bad'][0]
    assert summary['counts']['train'] == 3
    # all scenes held out: refused
    with pytest.raises(ValueError, match='training'):
        split_scenes(['a', 'b'], 2, seed=0)


def test_split_scenes_choices():
    names = ['s%d' % i for i in range(10)]
    tr, va = split_scenes(names, 0.2, seed=0)
    assert len(va) == 2 and set(tr) | set(va) == set(names) and not set(tr) & set(va)
    assert split_scenes(names, 0.2, seed=0) == (tr, va)
    assert split_scenes(names, ['s3'], seed=0)[1] == ['s3']
    with pytest.raises(ValueError, match='nope'):
        split_scenes(names, ['nope'], seed=0)


def test_folder_scenes_groups_by_stem(tmp_path):
    src = tmp_path / 'p'
    src.mkdir()
    img = textured(20, 20)
    for f in ('x.png', 'x.jpg', 'y.png'):
        assert cv2.imwrite(str(src / f), img)
    scenes, bad = folder_scenes(str(src))
    assert [s.name for s in scenes] == ['x', 'y'] and len(scenes[0].images) == 2 and not bad


def test_bundled_scenes_offline(monkeypatch):

    def no_network(*args, **kwargs):
        raise OSError('network access attempted')

    monkeypatch.setattr(socket.socket, 'connect', no_network)
    monkeypatch.setattr(socket, 'create_connection', no_network)
    scenes = bundled_scenes(strict=True)
    names = [n for n, _ in scenes]
    assert len(names) == len(set(names))
    assert names == [
        'astronaut', 'chelsea', 'coffee', 'rocket', 'motorcycle', 'china', 'flower', 'grace_hopper'
    ]
    images = dict(scenes)
    assert len(images['motorcycle']) == 2
    assert not np.array_equal(images['motorcycle'][0], images['motorcycle'][1])
    for ims in images.values():
        for im in ims:
            assert im.dtype == np.uint8 and im.ndim == 3 and im.shape[2] == 3 and min(
                im.shape[:2]) >= 256


def _load_cli():
    """The CLI script's globals (``main``...), run as a module, not as ``__main__``."""
    path = osp.join(REPO, 'tools', 'dataset_converters', 'synthesize_defocus.py')
    return types.SimpleNamespace(**runpy.run_path(path))


def test_cli(photo_folder, tmp_path, capsys):
    cli = _load_cli()
    src, masks = photo_folder
    out = tmp_path / 'cli'
    rc = cli.main([
        '--src',
        str(src), '--src-masks',
        str(masks), '--out',
        str(out), '--per-scene', '2', '--size', '24', '32', '--val-scenes', 'gamma', '--workers',
        '1', '--no-progress'
    ])
    text = capsys.readouterr().out
    assert rc == 0
    assert 'wrote 6 renders of 24x32' in text
    assert 'train: 4 images' in text and 'val: 2 images' in text
    assert 'in-focus fraction' in text
    assert (out / 'val.txt').read_text().split() == ['gamma_0000', 'gamma_0001']
    rc = cli.main(['--src', str(src), '--out', str(out), '--per-scene', '1', '--no-progress'])
    assert rc == 2 and 'not empty' in capsys.readouterr().err
    rc = cli.main(
        ['--src', str(tmp_path / 'nowhere'), '--out',
         str(tmp_path / 'x'), '--no-progress'])
    assert rc == 2 and 'nowhere' in capsys.readouterr().err
