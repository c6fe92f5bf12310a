import cv2
import numpy as np
import pytest

from dbdseg.utils import gradient_energy_map


def _half_blurred(size=64, seed=0):
    rng = np.random.default_rng(seed)
    img = (rng.random((size, size, 3)) * 255).astype(np.uint8)
    blurred = cv2.GaussianBlur(img, (0, 0), 4)
    img[:, size // 2:] = blurred[:, size // 2:]
    return img


def test_sharp_half_scores_higher():
    emap = gradient_energy_map(_half_blurred(), window=7)
    assert emap.shape == (64, 64) and emap.dtype == np.float32
    assert emap.min() == pytest.approx(0.0) and emap.max() == pytest.approx(1.0)
    # away from the boundary (window 7), the sharp half is far above the blurred half
    assert emap[:, :24].mean() > 5 * emap[:, 40:].mean()


def test_constant_image_gives_zeros_and_float_input_matches_uint8():
    assert not gradient_energy_map(np.full((8, 8, 3), 77, np.uint8)).any()
    img = _half_blurred(32, seed=1)
    np.testing.assert_allclose(
        gradient_energy_map(img), gradient_energy_map(img / 255.0), atol=5e-3)  # uint8 grey rounds
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    np.testing.assert_allclose(gradient_energy_map(img), gradient_energy_map(grey), atol=1e-6)


def test_local_mean_of_squared_laplacian_value():
    # single bright pixel: Laplacian (4-neighbour, ksize=1) is -4 at the centre and 1 at its 4
    # neighbours; with a 3x3 box window the centre's energy is (16 + 4 * 1) / 9 before stretching.
    img = np.zeros((9, 9), np.float32)
    img[4, 4] = 1.0
    emap = gradient_energy_map(img, window=3)
    # the centre is the maximum; a diagonal neighbour sees 16 + 2 * 1 of the same 9 pixels
    assert emap[4, 4] == pytest.approx(1.0)
    assert emap[3, 3] == pytest.approx(18.0 / 20.0, abs=1e-5)


def test_errors():
    with pytest.raises(ValueError, match='window'):
        gradient_energy_map(np.zeros((4, 4)), window=0)
    with pytest.raises(ValueError, match='shape'):
        gradient_energy_map(np.zeros((4, 4, 2)))
