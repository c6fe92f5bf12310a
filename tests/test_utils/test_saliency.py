"""Tests of dbdseg/utils/saliency.py: the classical, model-free saliency detectors.

The references below recompute the frequency-tuned map of Achanta et al. (CVPR 2009) with an
independent blur (numpy padding + explicit 5 x 5 binomial convolution) and, for the colour order,
with OpenCV's own BGR -> Lab conversion, so a swapped channel order or another kernel fails.
"""
import cv2
import numpy as np
import pytest
from skimage.color import rgb2lab

from dbdseg.utils import frequency_tuned_saliency
from dbdseg.utils import saliency as saliency_module
from dbdseg.utils import spectral_residual_saliency

GREY = (128, 128, 128)


def square_image(h=32, w=40, colour_bgr=(0, 0, 255), box=(10, 22, 12, 28), background=GREY):
    """(h, w, 3) uint8 BGR image of one colour with a square of another (rows/cols ``box``)."""
    img = np.empty((h, w, 3), np.uint8)
    img[:] = background
    y0, y1, x0, x1 = box
    img[y0:y1, x0:x1] = colour_bgr
    return img


def reference_ft(lab):
    """FT saliency from an (H, W, 3) Lab image: 5x5 binomial blur (reflect-101), distance to the
    mean Lab vector, min-max; written without OpenCV."""
    k = np.array([1., 4., 6., 4., 1.]) / 16.0
    pad = np.pad(lab, ((2, 2), (2, 2), (0, 0)), mode='reflect')  # numpy 'reflect' = REFLECT_101
    h, w = lab.shape[:2]
    rows = sum(k[i] * pad[i:i + h, :, :] for i in range(5))
    blurred = sum(k[j] * rows[:, j:j + w, :] for j in range(5))
    sal = np.linalg.norm(blurred - lab.reshape(-1, 3).mean(axis=0), axis=2)
    return (sal - sal.min()) / (sal.max() - sal.min())


# ---------------------------------------------------------------------------- frequency-tuned
def test_ft_red_square_is_salient():
    img = square_image()
    sal = frequency_tuned_saliency(img)
    inside = np.zeros(img.shape[:2], bool)
    inside[12:20, 14:26] = True  # the square without its blurred rim
    outside = np.ones(img.shape[:2], bool)
    outside[8:24, 10:30] = False  # the background away from the rim
    assert sal[inside].mean() > 0.9
    assert sal[outside].mean() < 0.2  # the mean colour is pulled towards red a little
    assert sal[inside].mean() > sal[outside].mean() + 0.5


def test_ft_constant_image_gives_zeros():
    for value in (0, 77, 255):
        img = np.full((9, 11, 3), value, np.uint8)
        sal = frequency_tuned_saliency(img)
        assert sal.shape == (9, 11) and sal.dtype == np.float32
        assert not sal.any()
    # one colour that is not grey: still constant
    sal = frequency_tuned_saliency(np.full((5, 6, 3), (10, 200, 30), np.uint8))
    assert not sal.any()


def test_ft_shape_dtype_range_non_square():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(13, 21, 3), dtype=np.uint8)
    sal = frequency_tuned_saliency(img)
    assert sal.shape == (13, 21)
    assert sal.dtype == np.float32
    assert sal.min() == 0.0 and sal.max() == pytest.approx(1.0)
    assert np.all((sal >= 0) & (sal <= 1))
    # a single pixel (blur and min-max must not fail) is constant -> zero
    assert frequency_tuned_saliency(img[:1, :1]).tolist() == [[0.0]]


def test_ft_matches_skimage_reference_in_rgb_order():
    """The map equals the paper's formula on skimage's Lab of the RGB image (BGR reversed)."""
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, size=(7, 9, 3), dtype=np.uint8)  # BGR
    sal = frequency_tuned_saliency(img)
    expected = reference_ft(rgb2lab(img[..., ::-1]))
    np.testing.assert_allclose(sal, expected, atol=1e-5)
    # the wrong channel order (BGR taken as RGB) gives a clearly different map
    wrong = reference_ft(rgb2lab(img))
    assert np.abs(sal - wrong).max() > 0.1


def test_ft_colour_order_agrees_with_opencv_lab():
    """OpenCV's own BGR -> Lab (an independent implementation) gives the same map."""
    img = square_image(24, 24, colour_bgr=(255, 0, 0), box=(4, 12, 4, 12))  # pure blue square
    img[14:22, 12:20] = (0, 0, 255)  # and a pure red one
    lab_cv = cv2.cvtColor(img.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab).astype(np.float64)
    sal = frequency_tuned_saliency(img)
    np.testing.assert_allclose(sal, reference_ft(lab_cv), atol=0.02)
    # pure blue (L 32) is darker than pure red (L 53): the L channel the map used must say so
    lab = rgb2lab(img[..., ::-1])
    assert lab[8, 8, 0] < lab[18, 16, 0]
    assert lab_cv[8, 8, 0] == pytest.approx(lab[8, 8, 0], abs=0.5)


def test_ft_blur_sigma_options():
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, size=(10, 12, 3), dtype=np.uint8)
    lab = rgb2lab(img[..., ::-1])
    raw = np.linalg.norm(lab - lab.reshape(-1, 3).mean(axis=0), axis=2)
    np.testing.assert_allclose(
        frequency_tuned_saliency(img, blur_sigma=0), (raw - raw.min()) / (raw.max() - raw.min()),
        atol=1e-5)
    default = frequency_tuned_saliency(img)
    wide = frequency_tuned_saliency(img, blur_sigma=3.0)
    assert wide.shape == (10, 12) and np.abs(wide - default).max() > 0.05
    with pytest.raises(ValueError, match='blur_sigma'):
        frequency_tuned_saliency(img, blur_sigma=-1)


@pytest.mark.parametrize('bad, text', [
    (np.zeros((8, 8), np.uint8), r'shape \(8, 8\) and dtype uint8'),
    (np.zeros((8, 8, 4), np.uint8), r'shape \(8, 8, 4\)'),
    (np.zeros((8, 8, 3), np.float32), 'dtype float32'),
    (np.zeros((8, 8, 3), np.uint16), 'dtype uint16'),
    (np.zeros((0, 8, 3), np.uint8), 'empty'),
    ([[0, 0, 0]], 'list'),
])
def test_invalid_input_raises_value_error(bad, text):
    for fn in (frequency_tuned_saliency, spectral_residual_saliency):
        with pytest.raises(ValueError, match=text):
            fn(bad)


# ---------------------------------------------------------------------------- spectral residual
def test_sr_small_object_is_salient():
    img = np.full((64, 80, 3), 90, np.uint8)
    img[30:36, 50:56] = 250  # a small bright blob on a flat background
    sal = spectral_residual_saliency(img)
    assert sal.shape == (64, 80) and sal.dtype == np.float32
    assert sal.min() == 0.0 and sal.max() == pytest.approx(1.0)
    peak = np.unravel_index(np.argmax(sal), sal.shape)
    assert 26 <= peak[0] <= 40 and 46 <= peak[1] <= 60
    assert sal[28:38, 48:58].mean() > 3 * sal[:, :30].mean()


def test_sr_constant_and_arguments():
    assert not spectral_residual_saliency(np.full((7, 5, 3), 40, np.uint8)).any()
    img = np.random.default_rng(3).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    assert spectral_residual_saliency(img, width=16, blur_sigma=0).shape == (20, 30)
    with pytest.raises(ValueError, match='width'):
        spectral_residual_saliency(img, width=4)
    with pytest.raises(ValueError, match='blur_sigma'):
        spectral_residual_saliency(img, blur_sigma=-0.5)


def test_exported_from_dbdseg_utils():
    import dbdseg.utils as utils
    assert 'frequency_tuned_saliency' in utils.__all__
    assert 'spectral_residual_saliency' in utils.__all__
    assert utils.frequency_tuned_saliency is saliency_module.frequency_tuned_saliency
    np.testing.assert_array_equal(saliency_module.BINOMIAL_5 * 16, [1, 4, 6, 4, 1])


# ---------------------------------------------------------------------------- centre prior
def _prior_pseudo_label_tool(height, width, sigma=0.25):
    """The former ``centre_prior`` of tools/a2s/generate_pseudo_labels.py, verbatim."""
    y = (np.arange(height, dtype=np.float64) + 0.5) / height - 0.5
    x = (np.arange(width, dtype=np.float64) + 0.5) / width - 0.5
    dist2 = y[:, None]**2 + x[None, :]**2
    return np.exp(-dist2 / (2.0 * sigma * sigma)).astype(np.float32)


def _prior_eval_tool(height, width, sigma=0.25):
    """The former ``centre_prior_map`` of tools/analysis_tools/eval_pred_folder.py, verbatim."""
    y = (np.arange(height, dtype=np.float32) + 0.5 - height / 2) / (sigma * height)
    x = (np.arange(width, dtype=np.float32) + 0.5 - width / 2) / (sigma * width)
    return np.exp(-0.5 * (y[:, None]**2 + x[None, :]**2)).astype(np.float32)


def test_centre_prior_values():
    prior = saliency_module.centre_prior(4, 6, 0.25)
    assert prior.shape == (4, 6) and prior.dtype == np.float32
    peak = np.exp(-((1 / 12)**2 + (1 / 8)**2) / (2 * 0.0625))
    assert prior.max() == pytest.approx(peak, rel=1e-5)
    assert prior[0, 0] == pytest.approx(np.exp(-((5 / 12)**2 + (3 / 8)**2) / 0.125), rel=1e-5)
    np.testing.assert_allclose(prior, prior[::-1, ::-1], rtol=1e-6)  # centred
    # odd sides: exactly 1 at the centre pixel, falling off towards the corners (both precisions)
    for dtype in (np.float64, np.float32):
        m = saliency_module.centre_prior(5, 7, sigma=0.25, compute_dtype=dtype)
        assert m.shape == (5, 7) and m.dtype == np.float32 and m[2, 3] == 1.0
        assert m[0, 0] < m[1, 1] < m[2, 3]
        assert np.allclose(m, m[::-1, ::-1])
    # the blob follows the aspect ratio: sigma * width along x, sigma * height along y
    wide = saliency_module.centre_prior(11, 41, sigma=0.2)
    assert wide[5, 20 + 8] == pytest.approx(np.exp(-0.5 * (8 / (0.2 * 41))**2), rel=1e-6)
    assert wide[5 + 2, 20] == pytest.approx(np.exp(-0.5 * (2 / (0.2 * 11))**2), rel=1e-6)


@pytest.mark.parametrize('height, width, sigma', [(1, 1, 0.25), (4, 6, 0.25), (5, 7, 0.25),
                                                  (32, 40, 0.25), (321, 481, 0.1), (480, 640, 0.5),
                                                  (33, 17, 1.3)])
def test_centre_prior_reproduces_both_former_copies(height, width, sigma):
    """float64 (default) gives the pseudo-label tool's values, float32 the evaluation tool's, bit
    for bit (the two differ in the last bits of float32: up to about 2e-7)."""
    new64 = saliency_module.centre_prior(height, width, sigma)
    new32 = saliency_module.centre_prior(height, width, sigma, compute_dtype='float32')
    np.testing.assert_array_equal(new64, _prior_pseudo_label_tool(height, width, sigma))
    np.testing.assert_array_equal(new32, _prior_eval_tool(height, width, sigma))
    assert np.abs(new64.astype(np.float64) - new32).max() < 5e-7


@pytest.mark.parametrize('args, kwargs', [((0, 5), {}), ((5, 0), {}), ((5, 5, 0.0), {}),
                                          ((5, 5, -0.1), {}), ((5, 5, float('nan')), {}),
                                          ((5, 5), dict(compute_dtype=np.float16))])
def test_centre_prior_rejects_bad_arguments(args, kwargs):
    with pytest.raises(ValueError, match='centre_prior'):
        saliency_module.centre_prior(*args, **kwargs)
