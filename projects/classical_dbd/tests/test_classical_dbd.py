"""Tests of the hand-crafted DBD detectors (projects/classical_dbd).

Synthetic images with known blur: random texture whose right half is Gaussian-blurred
(sigma 3), so the left half is in focus. Run from the repository root:
``.venv/bin/python -m pytest projects/classical_dbd/tests -q``.
"""
import importlib.util
import json
import os
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import METRICS, MODELS
from mmseg.structures import SegDataSample

from projects.classical_dbd.classical_dbd import (ClassicalDBDSegmentor, ConstantDBD,
                                                  GradientEnergyDBD, LaplacianVarianceDBD,
                                                  LBPSharpnessDBD, lbp_riu2_codes,
                                                  lbp_sharpness_map)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIG_DIR = osp.join(REPO_ROOT, 'projects', 'classical_dbd', 'configs')
TINY_NAME = 'dbdseg_tests_tiny_project'  # the name tests/conftest.py registers it under

DETECTORS = [
    dict(type='GradientEnergyDBD'),
    dict(type='GradientEnergyDBD', window=9, sigma=0.5),
    dict(type='LBPSharpnessDBD'),
    dict(type='LBPSharpnessDBD', fusion='max'),
    dict(type='LBPSharpnessDBD', normalize='none'),
    dict(type='LaplacianVarianceDBD'),
    dict(type='LaplacianVarianceDBD', normalize='none', ksize=3),
]


def _tiny():
    """tests/test_tools/tiny_project.py (``load_tool``, ``unique_name``), loaded by path."""
    if TINY_NAME not in sys.modules:
        path = osp.join(REPO_ROOT, 'tests', 'test_tools', 'tiny_project.py')
        spec = importlib.util.spec_from_file_location(TINY_NAME, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[TINY_NAME] = module
        spec.loader.exec_module(module)
    return sys.modules[TINY_NAME]


@pytest.fixture(autouse=True)
def _mmseg_scope():
    init_default_scope('mmseg')


def half_blurred(h=64, w=64, seed=0, sigma=3.0):
    """``(h, w, 3)`` uint8 BGR random texture, right half blurred (in focus: left half)."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    blurred = cv2.GaussianBlur(img, (0, 0), sigma)
    img[:, w // 2:] = blurred[:, w // 2:]
    return img


def half_mask(h=64, w=64):
    """``(h, w)`` uint8 mask, 255 = in focus (left half)."""
    mask = np.zeros((h, w), np.uint8)
    mask[:, :w // 2] = 255
    return mask


def to_batch(img):
    """``(H, W, 3)`` uint8 -> ``(1, 3, H, W)`` float 0..255 (what the preprocessor outputs)."""
    return torch.from_numpy(img).permute(2, 0, 1)[None].float()


def sharp_minus_blurred(prob, margin=12):
    """Mean probability on the left (sharp) interior minus the right (blurred) interior, leaving
    ``margin`` columns on both sides of the middle (> half the largest window, 21)."""
    w = prob.shape[-1]
    return float(prob[..., :w // 2 - margin].mean() - prob[..., w // 2 + margin:].mean())


# --- registration, arguments ----------------------------------------------------------------
@pytest.mark.parametrize('name,cls', [('GradientEnergyDBD', GradientEnergyDBD),
                                      ('LBPSharpnessDBD', LBPSharpnessDBD),
                                      ('LaplacianVarianceDBD', LaplacianVarianceDBD),
                                      ('ConstantDBD', ConstantDBD)])
def test_registered_without_parameters(name, cls):
    assert MODELS.get(name) is cls
    model = MODELS.build(dict(type=name))
    assert isinstance(model, ClassicalDBDSegmentor)
    assert sum(p.numel() for p in model.parameters()) == 0
    assert len(list(model.buffers())) == 0
    assert model.channel_order == 'bgr' and model.threshold == 0.5


@pytest.mark.parametrize('cfg,match', [
    (dict(type='GradientEnergyDBD', normalize='none'), 'not supported'),
    (dict(type='GradientEnergyDBD', window=0), 'window'),
    (dict(type='LBPSharpnessDBD', window_sizes=(11, 14)), 'odd'),
    (dict(type='LBPSharpnessDBD', window_sizes=()), 'empty'),
    (dict(type='LBPSharpnessDBD', lbp_threshold=-0.1), 'lbp_threshold'),
    (dict(type='LBPSharpnessDBD', fusion='median'), 'fusion'),
    (dict(type='LaplacianVarianceDBD', half_value=0), 'half_value'),
    (dict(type='LaplacianVarianceDBD', normalize='sigmoid'), 'normalize'),
    (dict(type='ConstantDBD', normalize='minmax'), 'not supported'),
    (dict(type='ConstantDBD', value=1.5), 'value'),
    (dict(type='LBPSharpnessDBD', threshold=1.5), 'threshold'),
    (dict(type='LBPSharpnessDBD', channel_order='grb'), 'channel_order'),
    (dict(
        type='LBPSharpnessDBD',
        data_preprocessor=dict(
            type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
            std=[58.4, 57.1, 57.4])), 'raw pixel values'),
])
def test_bad_arguments_raise(cfg, match):
    with pytest.raises(ValueError, match=match):
        MODELS.build(cfg)


def test_identity_normalisation_is_accepted():
    model = MODELS.build(
        dict(
            type='LBPSharpnessDBD',
            data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0], std=[1, 1, 1])))
    assert model.channel_order == 'bgr'


def test_loss_raises():
    model = MODELS.build(dict(type='LBPSharpnessDBD'))
    with pytest.raises(RuntimeError, match='nothing to train.*tools/test.py CONFIG none'):
        model.loss(to_batch(half_blurred()), [SegDataSample()])
    with pytest.raises(RuntimeError, match='non-learned'):
        model(to_batch(half_blurred()), [SegDataSample()], mode='loss')


# --- grey conversion --------------------------------------------------------------------------
def test_channel_order_of_grey_conversion():
    pixel = torch.tensor([255.0, 0.0, 0.0]).view(1, 3, 1, 1)  # first channel only
    bgr = MODELS.build(dict(type='GradientEnergyDBD'))
    rgb = MODELS.build(dict(type='GradientEnergyDBD', channel_order='rgb'))
    swapped = MODELS.build(
        dict(
            type='GradientEnergyDBD',
            data_preprocessor=dict(type='SegDataPreProcessor', bgr_to_rgb=True)))
    assert bgr.grey_images(pixel).item() == pytest.approx(0.114, abs=1e-6)  # blue weight
    assert rgb.grey_images(pixel).item() == pytest.approx(0.299, abs=1e-6)  # red weight
    assert swapped.channel_order == 'rgb'
    # same as OpenCV's BGR -> grey on a random image
    img = np.random.default_rng(3).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    expected = cv2.cvtColor(img.astype(np.float32), cv2.COLOR_BGR2GRAY) / 255.0
    np.testing.assert_allclose(bgr.grey_images(to_batch(img))[0].numpy(), expected, atol=1e-5)
    with pytest.raises(ValueError, match=r'\(B, 3, H, W\)'):
        bgr.grey_images(torch.zeros(1, 2, 4, 4))


# --- detectors on known blur ------------------------------------------------------------------
@pytest.mark.parametrize('cfg', DETECTORS, ids=lambda c: '-'.join(f'{v}' for v in c.values()))
def test_sharp_half_scores_higher(cfg):
    model = MODELS.build(cfg)
    for seed in (0, 1):
        img = half_blurred(seed=seed)
        sample = model.predict(to_batch(img))[0]
        prob = sample.seg_logits.data
        pred = sample.pred_sem_seg.data
        assert prob.shape == (1, 64, 64) and prob.dtype == torch.float32
        assert float(prob.min()) >= 0.0 and float(prob.max()) <= 1.0
        assert pred.dtype == torch.int64 and torch.equal(pred, (prob > 0.5).long())
        assert sharp_minus_blurred(prob) > 0.3
        # the check tells a correct map from an inverted one
        assert sharp_minus_blurred(1.0 - prob) < -0.3
        # thresholded: the sharp interior is mostly 1, the blurred interior 0
        assert float(pred[..., :20].float().mean()) > 0.6
        assert float(pred[..., 44:].float().mean()) < 0.05


def test_gradient_energy_equals_core_baseline():
    from dbdseg.utils import gradient_energy_map
    img = half_blurred(seed=5)
    model = MODELS.build(dict(type='GradientEnergyDBD', window=7))
    prob = model.predict(to_batch(img))[0].seg_logits.data[0].numpy()
    grey = cv2.cvtColor(img.astype(np.float32), cv2.COLOR_BGR2GRAY) / 255.0
    np.testing.assert_allclose(prob, gradient_energy_map(grey, window=7), atol=1e-5)


def test_uint8_grey_reproduces_the_core_function_on_uint8_images():
    """``uint8_grey=True``: bit for bit what gradient_energy_map gives for the uint8 image (8-bit
    grey from OpenCV), which differs slightly from the unrounded grey of the default."""
    from dbdseg.utils import gradient_energy_map
    img = half_blurred(48, 40, seed=6)
    model = MODELS.build(dict(type='GradientEnergyDBD', uint8_grey=True))
    prob = model.predict(to_batch(img))[0].seg_logits.data[0].numpy()
    np.testing.assert_array_equal(prob, gradient_energy_map(img, window=15))
    grey = model.grey_images(to_batch(img))[0].numpy()
    np.testing.assert_array_equal(grey, cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) / np.float32(255))
    default = MODELS.build(dict(type='GradientEnergyDBD')).predict(to_batch(img))[0]
    assert not np.array_equal(default.seg_logits.data[0].numpy(), prob)
    # RGB input order and grey (1-channel) input
    rgb = MODELS.build(dict(type='GradientEnergyDBD', uint8_grey=True, channel_order='rgb'))
    np.testing.assert_array_equal(rgb.grey_images(to_batch(img[..., ::-1].copy()))[0].numpy(), grey)
    one = torch.from_numpy(img[..., 1].copy())[None, None].float()
    np.testing.assert_array_equal(model.grey_images(one)[0].numpy(), img[..., 1] / np.float32(255))


def test_constant_map():
    model = MODELS.build(dict(type='ConstantDBD'))
    sample = model.predict(to_batch(half_blurred(12, 20)))[0]
    assert torch.equal(sample.seg_logits.data, torch.ones(1, 12, 20))
    assert torch.equal(sample.pred_sem_seg.data, torch.ones(1, 12, 20, dtype=torch.int64))
    low = MODELS.build(dict(type='ConstantDBD', value=0.25)).predict(to_batch(half_blurred()))[0]
    assert torch.equal(low.seg_logits.data, torch.full((1, 64, 64), 0.25))
    assert int(low.pred_sem_seg.data.sum()) == 0


def test_laplacian_variance_value():
    # a vertical step edge 0 -> 1: Laplacian (ksize=1) is +1 / -1 on the two edge columns
    grey = np.zeros((9, 9), np.float32)
    grey[:, 5:] = 1.0
    model = LaplacianVarianceDBD(window=3)
    var = model.sharpness_map(grey)
    # 3 x 3 window at (4, 4) covers columns 3..5: L = 0, +1, -1 -> mean 0, mean of squares 2/3
    assert var[4, 4] == pytest.approx(2.0 / 3.0, abs=1e-6)
    assert var[4, 0] == pytest.approx(0.0, abs=1e-7)
    p = LaplacianVarianceDBD(window=3, normalize='none', half_value=2.0 / 3.0).to_probability(var)
    assert p[4, 4] == pytest.approx(0.5, abs=1e-6)


# --- LBP --------------------------------------------------------------------------------------
@pytest.mark.filterwarnings('ignore:Applying `local_binary_pattern`')
def test_lbp_codes_match_skimage_uniform_at_zero_threshold():
    from skimage.feature import local_binary_pattern
    grey = np.random.default_rng(0).random((40, 48))
    ours = lbp_riu2_codes(grey, lbp_threshold=0.0)
    ref = local_binary_pattern(grey, P=8, R=1, method='uniform')
    assert ours.dtype == np.uint8 and ours.min() >= 0 and ours.max() <= 9
    # skimage samples zeros outside the image, we replicate the border: compare the interior
    np.testing.assert_array_equal(ours[1:-1, 1:-1], ref[1:-1, 1:-1].astype(np.uint8))
    assert len(np.unique(ours[1:-1, 1:-1])) >= 8  # uniform codes and the non-uniform 9 occur
    # a threshold > 0 changes codes
    assert (lbp_riu2_codes(grey, 0.05)[1:-1, 1:-1] != ours[1:-1, 1:-1]).mean() > 0.1


def test_lbp_codes_by_hand():
    grey = np.zeros((5, 5))
    grey[2, 3] = 1.0  # one bright pixel
    codes = lbp_riu2_codes(grey, lbp_threshold=0.016)
    # left of it: right neighbour (1.0) and the two interpolated right diagonals
    # ((1 - a) * a = 0.207 >= T) are set -> 3 consecutive bits, uniform -> code 3
    assert codes[2, 2] == 3
    assert codes[2, 3] == 0  # the bright pixel: all neighbours darker
    grey = np.zeros((5, 5))
    grey[2, 1] = grey[2, 3] = 1.0  # bright left and right of (2, 2): bits 1,1,0,1,1,1,0,1
    assert lbp_riu2_codes(grey)[2, 2] == 9  # 4 transitions: non-uniform
    assert lbp_riu2_codes(np.full((4, 4), 0.3), 0.0)[1, 1] == 8  # flat, T = 0: all bits >= 0


def test_lbp_threshold_suppresses_flat_noise():
    rng = np.random.default_rng(1)
    # noise amplitude 0.007 < T / 2: every neighbour difference (also interpolated) is < T
    flat = 0.5 + rng.uniform(-0.007, 0.007, size=(32, 32))
    codes = lbp_riu2_codes(flat, lbp_threshold=0.016)
    assert (codes == 0).all()  # the code of a flat patch
    assert (lbp_sharpness_map(flat, 11, lbp_threshold=0.016) == 0).all()
    # without the threshold the same noise looks sharp
    assert lbp_sharpness_map(flat, 11, lbp_threshold=0.0).mean() > 0.3
    # texture well above T still gives sharp codes
    texture = 0.5 + rng.uniform(-0.2, 0.2, size=(32, 32))
    assert lbp_sharpness_map(texture, 11, lbp_threshold=0.016).mean() > 0.3


def test_lbp_sharpness_map_is_window_fraction():
    grey = np.random.default_rng(2).random((12, 10))
    window = 5
    sharp = np.isin(lbp_riu2_codes(grey), (6, 7, 8, 9)).astype(np.float64)
    padded = np.pad(sharp, window // 2, mode='edge')
    expected = np.array([[padded[i:i + window, j:j + window].mean() for j in range(10)]
                         for i in range(12)])
    np.testing.assert_allclose(lbp_sharpness_map(grey, window), expected, atol=1e-6)
    with pytest.raises(ValueError, match='odd'):
        lbp_sharpness_map(grey, 4)


def test_lbp_multiscale_fusion():
    img = half_blurred(seed=4)
    grey = cv2.cvtColor(img.astype(np.float32), cv2.COLOR_BGR2GRAY) / 255.0
    maps = np.stack([lbp_sharpness_map(grey, s) for s in (11, 15, 21)])
    mean = LBPSharpnessDBD().sharpness_map(grey)
    high = LBPSharpnessDBD(fusion='max').sharpness_map(grey)
    np.testing.assert_allclose(mean, maps.mean(0), atol=1e-6)
    np.testing.assert_allclose(high, maps.max(0), atol=1e-6)
    prob = LBPSharpnessDBD(normalize='none').to_probability(mean)
    np.testing.assert_allclose(prob, mean, atol=1e-7)  # m_LBP is its own fixed mapping


# --- outputs, metainfo, ori_shape -------------------------------------------------------------
def test_predict_keeps_metainfo_and_resizes_to_ori_shape():
    model = MODELS.build(dict(type='LBPSharpnessDBD', window_sizes=(5, )))
    img = half_blurred(32, 32, seed=6)  # as if the pipeline had resized a 48 x 64 image
    gt = PixelData(data=torch.ones(1, 48, 64, dtype=torch.int64))
    sample = SegDataSample(metainfo=dict(img_path='x.png', ori_shape=(48, 64), img_shape=(32, 32)))
    sample.gt_sem_seg = gt
    out = model.predict(to_batch(img), [sample])[0]
    assert out is sample and out.img_path == 'x.png' and out.gt_sem_seg is gt
    assert out.seg_logits.data.shape == (1, 48, 64) and out.pred_sem_seg.shape == (48, 64)
    prob = out.seg_logits.data
    assert 0.0 <= float(prob.min()) and float(prob.max()) <= 1.0
    assert sharp_minus_blurred(prob, margin=8) > 0.3

    # a horizontally flipped view is flipped back; padding is cropped
    flipped = SegDataSample(
        metainfo=dict(ori_shape=(32, 32), flip=True, flip_direction='horizontal'))
    plain = SegDataSample(metainfo=dict(ori_shape=(32, 32)))
    p_plain = model.predict(to_batch(img), [plain])[0].seg_logits.data
    p_flip = model.predict(to_batch(img), [flipped])[0].seg_logits.data
    torch.testing.assert_close(p_flip, p_plain.flip(-1))
    padded = SegDataSample(metainfo=dict(ori_shape=(32, 28), padding_size=[0, 4, 0, 0]))
    assert model.predict(to_batch(img), [padded])[0].seg_logits.shape == (32, 28)
    # no data samples: maps at the input size
    assert model.predict(to_batch(img))[0].seg_logits.shape == (32, 32)
    assert model(to_batch(img), mode='tensor').shape == (1, 1, 32, 32)


def test_inference_model_at_original_size_after_resize(tmp_path):
    from dbdseg.apis import inference_model, init_model
    path = str(tmp_path / 'photo.png')
    assert cv2.imwrite(path, half_blurred(48, 64, seed=7))
    resize_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(40, 30), keep_ratio=False),
        dict(type='LoadBinaryAnnotations'),
        dict(type='PackBinarySegInputs')
    ]
    for name in ('lbp-sharpness', 'gradient-energy', 'laplacian-variance'):
        model = init_model(
            osp.join(CONFIG_DIR, f'{name}_dut-dbd.py'),
            None,
            cfg_options={'test_dataloader.dataset.pipeline': resize_pipeline})
        result = inference_model(model, path)
        prob = result.seg_logits.data
        assert prob.shape == (1, 48, 64) and result.img_shape == (30, 40)
        assert 0.0 <= float(prob.min()) and float(prob.max()) <= 1.0
        assert sharp_minus_blurred(prob, margin=8) > 0.3, name
        assert set(result.pred_sem_seg.data.unique().tolist()) <= {0, 1}


# --- end to end through tools/test.py and tools/infer.py ---------------------------------------
def write_dut_like_set(root, n=3, h=48, w=64):
    """``root/test/images/<i>.png`` + ``root/test/masks/<i>.bmp`` (white = in focus)."""
    for sub in ('images', 'masks'):
        (root / 'test' / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        assert cv2.imwrite(
            str(root / 'test' / 'images' / f'{i}.png'), half_blurred(h, w, seed=10 + i))
        assert cv2.imwrite(str(root / 'test' / 'masks' / f'{i}.bmp'), half_mask(h, w))
    return str(root)


def max_f_of(pred_dir, data_root, invert):
    """maxF of the saved prediction PNGs (optionally inverted) with a fresh SODMetric."""
    metric = METRICS.build(dict(type='SODMetric', sod_metrics=['maxF']))
    stems = sorted(osp.splitext(f)[0] for f in os.listdir(pred_dir))
    for stem in stems:
        prob = cv2.imread(osp.join(pred_dir, f'{stem}.png'), cv2.IMREAD_GRAYSCALE) / 255.0
        prob = 1.0 - prob if invert else prob
        gt = cv2.imread(osp.join(data_root, 'test', 'masks', f'{stem}.bmp'), 0) > 128
        sample = SegDataSample(metainfo=dict(img_path=f'{stem}.png', ori_shape=prob.shape))
        sample.seg_logits = PixelData(data=torch.from_numpy(prob).float()[None])
        sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt.astype(np.int64))[None])
        metric.process([], [sample.to_dict()])
    return metric.evaluate(len(stems))['maxF']


@pytest.mark.parametrize('name', ['lbp-sharpness', 'gradient-energy'])
def test_tools_test_end_to_end(tmp_path, name):
    tiny = _tiny()
    data_root = write_dut_like_set(tmp_path / 'data')
    work_dir, preds = str(tmp_path / 'work'), str(tmp_path / 'preds')
    metrics_file = str(tmp_path / 'metrics.json')
    test_tool = tiny.load_tool('test')
    flat = test_tool.main([
        osp.join(CONFIG_DIR, f'{name}_dut-dbd.py'), 'none', '--work-dir', work_dir, '--out', preds,
        '--metrics-out', metrics_file, '--cfg-options',
        f'test_dataloader.dataset.data_root={data_root}', 'test_dataloader.dataset.img_suffix=.png',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
        f'experiment_name={tiny.unique_name("classical")}', 'log_level=WARNING'
    ])
    with open(metrics_file) as f:
        metrics = json.load(f)
    for key in ('maxF', 'MAE', 'Sm', 'ddF', 'ddpF', 'fixF', 'fixIoU'):
        assert key in metrics and 0.0 <= metrics[key] <= 1.0, key
    assert metrics == pytest.approx(flat)
    assert metrics['maxF'] > 0.9 and metrics['MAE'] < 0.3 and metrics['fixF'] > 0.8
    pngs = sorted(os.listdir(preds))
    assert pngs == ['0.png', '1.png', '2.png']
    assert cv2.imread(osp.join(preds, '0.png'), 0).shape == (48, 64)
    inverted = max_f_of(preds, data_root, invert=True)
    assert max_f_of(preds, data_root, invert=False) == pytest.approx(metrics['maxF'], abs=0.02)
    assert metrics['maxF'] > inverted + 0.3


def test_tools_infer_end_to_end(tmp_path):
    tiny = _tiny()
    img = tmp_path / 'photo.png'
    assert cv2.imwrite(str(img), half_blurred(48, 64, seed=20))
    out_dir = tmp_path / 'out'
    written = tiny.load_tool('infer').execute([
        osp.join(CONFIG_DIR, 'lbp-sharpness_dut-dbd.py'), 'none',
        str(img), '--out-dir',
        str(out_dir)
    ]).written
    assert sorted(osp.basename(p) for p in written) == ['photo.png', 'photo_overlay.jpg']
    prob = cv2.imread(str(out_dir / 'photo.png'), cv2.IMREAD_GRAYSCALE) / 255.0
    assert prob.shape == (48, 64)
    assert sharp_minus_blurred(prob, margin=8) > 0.3


def _former_eval_baselines(data_root, window=15):
    """The loop of the former tools/analysis_tools/eval_baselines.py (what tools/demo.sh printed
    until the baselines became tools/test.py runs): the maps computed on the loaded uint8 image at
    its original size, scored by a fresh SODMetric per baseline."""
    from dbdseg.utils import gradient_energy_map
    stems = sorted(osp.splitext(f)[0] for f in os.listdir(osp.join(data_root, 'test', 'images')))
    baselines = {
        'all-in-focus': lambda img: np.ones(img.shape[:2], np.float32),
        'gradient-energy': lambda img: gradient_energy_map(img, window=window),
    }
    cfg = dict(type='SODMetric', dbd_protocols=['dd', 'dd_pooled', 'fixed'])
    metrics = {name: METRICS.build(cfg) for name in baselines}
    for stem in stems:
        img_path = osp.join(data_root, 'test', 'images', f'{stem}.png')
        img = cv2.imread(img_path)
        gt = cv2.imread(osp.join(data_root, 'test', 'masks', f'{stem}.bmp'), 0) > 128
        for name, metric in metrics.items():
            sample = SegDataSample(metainfo=dict(img_path=img_path, ori_shape=img.shape[:2]))
            sample.seg_logits = PixelData(data=torch.from_numpy(baselines[name](img))[None])
            sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt.astype(np.int64))[None])
            metric.process([], [sample.to_dict()])
    return {name: metric.evaluate(len(stems)) for name, metric in metrics.items()}


def test_demo_baselines_equal_the_former_eval_baselines(tmp_path):
    """tools/demo.sh's all-in-focus and gradient-energy rows (tools/test.py, ConstantDBD and
    GradientEnergyDBD with uint8_grey=True) equal the former eval_baselines.py numbers exactly;
    the constant map scores MAE = blurred fraction and F = 1.3 f / (0.3 f + 1)."""
    tiny = _tiny()
    data_root = write_dut_like_set(tmp_path / 'data')
    expected = _former_eval_baselines(data_root)
    for name, extra in (('all-in-focus', []), ('gradient-energy', ['model.uint8_grey=True'])):
        flat = tiny.load_tool('test').main([
            osp.join(CONFIG_DIR, f'{name}_dut-dbd.py'), 'none', '--work-dir',
            str(tmp_path / name), '--cfg-options', f'test_dataloader.dataset.data_root={data_root}',
            'test_dataloader.dataset.img_suffix=.png', 'test_dataloader.num_workers=0',
            'test_dataloader.persistent_workers=False', 'log_level=WARNING',
            f'experiment_name={tiny.unique_name("baseline")}', *extra
        ])
        assert flat == pytest.approx(expected[name], abs=1e-12, rel=0), name
    frac = float((half_mask(48, 64) > 128).mean())
    const = expected['all-in-focus']
    assert const['MAE'] == pytest.approx(1 - frac, abs=1e-6)
    assert const['maxF'] == pytest.approx(1.3 * frac / (0.3 * frac + 1), abs=1e-3)
    assert expected['gradient-energy']['maxF'] > const['maxF'] + 0.2
