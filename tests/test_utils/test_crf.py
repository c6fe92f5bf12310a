"""dense_crf / crf_pseudo_label (A2S Eq. 6): the CRF pulls a noisy label to the image edges; input
checks; median filter; the reference's hard unary equals pydensecrf's unary_from_labels."""
import numpy as np
import pytest

from dbdseg.utils.crf import crf_pseudo_label, dense_crf, median_binary


def _two_region_scene(h=48, w=64, edge=32, seed=0):
    """Dark left / bright right image (edge at column ``edge``) with mild noise."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.int32)
    img[:, :edge] = (40, 70, 90)
    img[:, edge:] = (210, 180, 150)
    img += rng.integers(-6, 7, img.shape)
    truth = np.zeros((h, w), bool)
    truth[:, edge:] = True
    return np.clip(img, 0, 255).astype(np.uint8), truth


def _noisy_label(h, w, start, seed=1, flip=0.1):
    """Foreground from column ``start`` (misplaced edge) with 10 % of the pixels flipped."""
    rng = np.random.default_rng(seed)
    prob = np.full((h, w), 0.3, np.float32)
    prob[:, start:] = 0.7
    flips = rng.random((h, w)) < flip
    prob[flips] = 1.0 - prob[flips]
    return prob


def test_crf_moves_noisy_label_to_image_edges():
    img, truth = _two_region_scene()
    for start in (22, 42):  # edge misplaced 10 px to the left, then to the right
        prob = _noisy_label(*truth.shape, start)
        before = np.mean((prob > 0.5) != truth)
        q = dense_crf(img, prob)
        assert q.shape == truth.shape and q.dtype == np.float32
        assert 0.0 <= q.min() and q.max() <= 1.0
        after = np.mean((q > 0.5) != truth)
        assert before > 0.15 and after < 0.02, (before, after)
        # the label edge is at the image edge in (almost) every row
        cols = np.argmax(q > 0.5, axis=1)
        assert np.median(np.abs(cols - 32)) <= 1
    # a uniform image gives the CRF no edge: the misplaced label keeps its own edge
    flat = np.full_like(img, 128)
    q = dense_crf(flat, _noisy_label(*truth.shape, 22, flip=0.0))
    assert np.mean((q > 0.5) != truth) > 0.15


def test_more_iterations_change_the_result():
    img, truth = _two_region_scene()
    prob = _noisy_label(*truth.shape, 22)
    one = dense_crf(img, prob, iterations=1)
    ten = dense_crf(img, prob, iterations=10)
    assert np.mean((ten > 0.5) != truth) <= np.mean((one > 0.5) != truth)
    assert not np.allclose(one, ten)


def test_crf_pseudo_label_is_0_255_and_median_filtered():
    img, truth = _two_region_scene()
    prob = _noisy_label(*truth.shape, 22)
    label = crf_pseudo_label(img, prob)
    assert label.dtype == np.uint8 and set(np.unique(label)) <= {0, 255}
    assert np.mean((label > 127) != truth) < 0.02
    # median filter removes an isolated speck
    mask = np.zeros((20, 20), bool)
    mask[5, 5] = True
    mask[10:, :] = True
    out = median_binary(mask, 7)
    assert out[5, 5] == 0 and out[15, 10] == 255
    assert median_binary(mask, 1)[5, 5] == 255


def test_hard_unary_equals_unary_from_labels():
    from pydensecrf.utils import unary_from_labels
    labels = np.array([[0, 1, 1], [1, 0, 0]])
    ref = unary_from_labels(labels, 2, gt_prob=0.7, zero_unsure=False)
    prob = np.where(labels == 1, 0.7, 0.3).reshape(1, -1)
    ours = -np.log(np.concatenate([1 - prob, prob], axis=0))
    assert np.allclose(ref, ours, atol=1e-6)


def test_input_errors():
    img = np.zeros((8, 10, 3), np.uint8)
    prob = np.zeros((8, 10), np.float32)
    with pytest.raises(ValueError, match=r'\(H, W, 3\)'):
        dense_crf(img[..., 0], prob)
    with pytest.raises(ValueError, match='uint8'):
        dense_crf(img.astype(np.float32), prob)
    with pytest.raises(ValueError, match='does not match'):
        dense_crf(img, prob[:, :9])
    with pytest.raises(ValueError, match=r'shape \(H, W\)'):
        dense_crf(img, prob[None])
    with pytest.raises(ValueError, match='float'):
        dense_crf(img, prob.astype(np.uint8))
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        dense_crf(img, prob + 2)
    with pytest.raises(ValueError, match='NaN'):
        dense_crf(img, np.full((8, 10), np.nan, np.float32))
    with pytest.raises(TypeError, match='numpy'):
        dense_crf(img.tolist(), prob)
    with pytest.raises(ValueError, match='iterations'):
        dense_crf(img, prob, iterations=0)
    with pytest.raises(ValueError, match='bilateral_srgb'):
        dense_crf(img, prob, bilateral_srgb=-1)
    with pytest.raises(ValueError, match='median_size'):
        crf_pseudo_label(img, prob, median_size=4)
    with pytest.raises(ValueError, match='unknown'):
        crf_pseudo_label(img, prob, sxy=3)
