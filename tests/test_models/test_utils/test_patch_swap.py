"""Patch swap of Zhang & Yan 2020 (Sec. 3.2): box sampling and the swap itself."""
import itertools

import pytest
import torch

from dbdseg.models.utils import sample_swap_boxes, swap_patches


def _check_boxes(boxes, batch_size, h, w, p, align=1):
    assert boxes.dtype == torch.long and boxes.shape == (batch_size, 2, 2)
    ys, xs = boxes[..., 0], boxes[..., 1]
    assert (ys >= 0).all() and (xs >= 0).all()
    assert (ys <= h - p).all() and (xs <= w - p).all()
    d = (boxes[:, 0] - boxes[:, 1]).abs()
    assert ((d[:, 0] >= p) | (d[:, 1] >= p)).all(), 'patches overlap'
    assert (boxes % align == 0).all()


def coord_image(b, h, w):
    """(b, 3, h, w) int64 whose pixel (y, x) of image i holds (i, y, x) in its channels."""
    i, y, x = torch.meshgrid(torch.arange(b), torch.arange(h), torch.arange(w), indexing='ij')
    return torch.stack([i, y, x], dim=1)


@pytest.mark.parametrize('h,w,p', [(320, 320, 16), (320, 320, 64), (32, 32, 16), (16, 8, 8),
                                   (8, 16, 8), (8, 8, 4), (20, 12, 10), (8, 8, 1)])
def test_boxes_inside_and_disjoint(h, w, p):
    g = torch.Generator().manual_seed(0)
    for max_tries in (10, 0):  # rejection sampling, and the exact fallback alone
        boxes = sample_swap_boxes(16, h, w, p, generator=g, max_tries=max_tries)
        _check_boxes(boxes, 16, h, w, p)


def test_boxes_random_per_image_and_per_call_and_reproducible():
    g = torch.Generator().manual_seed(1)
    a = sample_swap_boxes(8, 320, 320, 16, generator=g)
    b = sample_swap_boxes(8, 320, 320, 16, generator=g)
    assert len({tuple(box.flatten().tolist()) for box in a}) == 8  # differ across the batch
    assert not torch.equal(a, b)  # differ across calls
    g2 = torch.Generator().manual_seed(1)
    assert torch.equal(sample_swap_boxes(8, 320, 320, 16, generator=g2), a)
    # the global RNG (generator=None) is used otherwise, seeded by torch.manual_seed
    torch.manual_seed(3)
    c = sample_swap_boxes(8, 64, 64, 16)
    torch.manual_seed(3)
    assert torch.equal(sample_swap_boxes(8, 64, 64, 16), c)
    assert sample_swap_boxes(0, 64, 64, 16).shape == (0, 2, 2)


@pytest.mark.parametrize('max_tries', [10, 0])
def test_boxes_uniform_over_ordered_pairs(max_tries):
    """1x5 image, p=2: corners x in 0..3, pairs with |xA - xB| >= 2 are (0,2) (0,3) (1,3) (2,0)
    (3,0) (3,1). A naive 'A uniform, then B uniform among the free' fallback gives (1,3) 1/4
    and (0,2) 1/8: the exact draw must give 1/6 each."""
    g = torch.Generator().manual_seed(0)
    n = 6000
    boxes = sample_swap_boxes(n, 2, 5, 2, generator=g, max_tries=max_tries)
    _check_boxes(boxes, n, 2, 5, 2)
    pairs = [tuple(b) for b in boxes[:, :, 1].tolist()]
    expected = {(0, 2), (0, 3), (1, 3), (2, 0), (3, 0), (3, 1)}
    assert set(pairs) == expected
    for pair in expected:  # 1000 expected, std ~ 29
        assert abs(pairs.count(pair) - n / 6) < 150, (pair, pairs.count(pair))


def test_boxes_align():
    g = torch.Generator().manual_seed(0)
    boxes = sample_swap_boxes(32, 64, 64, 16, generator=g, align=16)
    _check_boxes(boxes, 32, 64, 64, 16, align=16)
    assert len({tuple(b.flatten().tolist()) for b in boxes}) > 1


@pytest.mark.parametrize('h,w,p,align', [(320, 320, 161, 1), (16, 16, 9, 1), (8, 15, 8, 1),
                                         (8, 8, 16, 1), (32, 32, 16, 32), (24, 24, 10, 9)])
def test_boxes_error_when_they_cannot_fit(h, w, p, align):
    with pytest.raises(ValueError, match=f'{p}x{p}.*{h}x{w}'):
        sample_swap_boxes(2, h, w, p, align=align)


@pytest.mark.parametrize('bad', [dict(patch_size=0), dict(align=0), dict(batch_size=-1)])
def test_boxes_bad_arguments(bad):
    args = dict(batch_size=2, height=32, width=32, patch_size=8)
    args.update(bad)
    with pytest.raises(ValueError):
        sample_swap_boxes(**args)


@pytest.mark.parametrize('h,w,p', [(320, 320, 64), (320, 320, 16), (16, 24, 8), (8, 8, 4)])
def test_swap_moves_pixels_exactly_and_is_its_own_inverse(h, w, p):
    b = 3
    g = torch.Generator().manual_seed(2)
    boxes = sample_swap_boxes(b, h, w, p, generator=g)
    x = coord_image(b, h, w)
    x_before = x.clone()
    y = swap_patches(x, boxes, p)
    assert torch.equal(x, x_before)  # not modified in place
    expected = x.clone()
    for i, ((ya, xa), (yb, xb)) in enumerate(boxes.tolist()):
        expected[i, :, ya:ya + p, xa:xa + p] = x[i, :, yb:yb + p, xb:xb + p]
        expected[i, :, yb:yb + p, xb:xb + p] = x[i, :, ya:ya + p, xa:xa + p]
        # spot check: the corner of A now holds the coordinate of B's corner
        assert y[i, :, ya, xa].tolist() == [i, yb, xb]
        assert y[i, :, yb + p - 1, xb + p - 1].tolist() == [i, ya + p - 1, xa + p - 1]
    assert torch.equal(y, expected)
    assert (y != x).any()
    assert torch.equal(swap_patches(y, boxes, p), x)


@pytest.mark.parametrize('dtype',
                         [torch.bool, torch.long, torch.uint8, torch.float32, torch.float64])
def test_swap_dtypes(dtype):
    boxes = torch.tensor([[[0, 0], [4, 4]], [[4, 0], [0, 4]]])
    x = (coord_image(2, 8, 8)[:, 1:] % 2).to(dtype)  # (2, 2, 8, 8)
    y = swap_patches(x, boxes, 4)
    assert y.dtype == dtype and y.shape == x.shape
    assert torch.equal(y[0, :, :4, :4], x[0, :, 4:, 4:])
    assert torch.equal(y[1, :, :4, 4:], x[1, :, 4:, :4])
    assert torch.equal(swap_patches(y, boxes, 4), x)


def test_swap_is_differentiable():
    boxes = torch.tensor([[[0, 0], [0, 4]]])
    x = torch.randn(1, 2, 4, 8, requires_grad=True)
    weight = torch.arange(64, dtype=torch.float32).view(1, 2, 4, 8)
    (swap_patches(x, boxes, 4) * weight).sum().backward()
    # d/dx of sum(w * swap(x)) = swap(w)
    assert torch.equal(x.grad, swap_patches(weight, boxes, 4))


def test_swap_rejects_bad_boxes():
    x = torch.zeros(1, 1, 8, 8)
    with pytest.raises(ValueError, match='overlap'):
        swap_patches(x, torch.tensor([[[0, 0], [2, 2]]]), 4)
    with pytest.raises(ValueError, match='inside'):
        swap_patches(x, torch.tensor([[[0, 0], [5, 4]]]), 4)
    with pytest.raises(ValueError, match='shape'):
        swap_patches(x, torch.zeros(2, 2, 2, dtype=torch.long), 4)
    with pytest.raises(ValueError, match='B, C, H, W'):
        swap_patches(x[0], torch.zeros(1, 2, 2, dtype=torch.long), 4)


def test_swap_independent_per_image_in_batch():
    """Each image is swapped with its own boxes (the batch is not mixed)."""
    g = torch.Generator().manual_seed(5)
    boxes = sample_swap_boxes(4, 16, 16, 4, generator=g)
    x = coord_image(4, 16, 16)
    y = swap_patches(x, boxes, 4)
    for i in range(4):
        assert torch.equal(y[i:i + 1], swap_patches(x[i:i + 1], boxes[i:i + 1], 4))
        assert (y[i, 0] == i).all()
    # every image is a permutation of its own pixels
    for i, c in itertools.product(range(4), range(3)):
        assert torch.equal(y[i, c].flatten().sort().values, x[i, c].flatten().sort().values)
