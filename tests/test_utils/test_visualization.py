"""dbdseg.utils.visualization: probability maps from tensors, heat overlays."""
import numpy as np
import pytest
import torch

from dbdseg.utils.fileio import prob_to_uint8
from dbdseg.utils.visualization import heat_overlay, to_numpy_prob


def test_to_numpy_prob_then_uint8_values_and_shapes():
    prob = torch.tensor([[[0.0, 0.5, 1.0, 1.7, -0.2, float('nan')]]])
    out = prob_to_uint8(to_numpy_prob(prob))
    assert out.dtype == np.uint8 and out.shape == (1, 6)
    assert out.tolist() == [[0, 128, 255, 255, 0, 0]]
    assert to_numpy_prob(np.zeros((3, 4))).shape == (3, 4)
    with pytest.raises(ValueError, match='shape'):
        to_numpy_prob(np.zeros((2, 3, 4)))


def test_heat_overlay():
    img = np.full((20, 30, 3), 100, np.uint8)
    prob = np.zeros((20, 30), np.float32)
    prob[:, :15] = 1.0
    out = heat_overlay(img, prob, alpha=0.5, threshold=0.5)
    assert out.shape == (20, 30, 3) and out.dtype == np.uint8
    # JET: prob 1 -> red-ish (BGR R channel high), prob 0 -> blue-ish
    assert out[10, 5, 2] > out[10, 5, 0]
    assert out[10, 25, 0] > out[10, 25, 2]
    # alpha 0 leaves the image unchanged; a smaller map is resized to the image
    same = heat_overlay(img, np.ones((5, 5)), alpha=0.0)
    assert np.array_equal(same, img)
    assert heat_overlay(img[..., 0], prob).shape == (20, 30, 3)
    with pytest.raises(ValueError, match='alpha'):
        heat_overlay(img, prob, alpha=1.5)
