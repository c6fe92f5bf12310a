"""Patch swap: the data augmentation of Zhang & Yan's real-time DBD model.

Source: N. Zhang, J. Yan, "Rethinking the Defocus Blur Detection Problem and A Real-Time Deep DBD
Model", ECCV 2020, Section 3.2 and Fig. 2: "for an input image I, we randomly choose two patches
with the same size and swapped the pixel value of one patches for the other"; the same transition
``f`` is applied to the ground truth (G -> G'), to the hard-mining weights (W -> W', Sec. 3.3) and
to the prediction of the original image (O -> O'', Eq. 3-4).

What the paper does not state, and how it is read here (each one an argument):

* the patches are square (side ``patch_size``; 64 in Sec. 3.2, 16 in Sec. 4.1) and lie fully
  inside the image;
* the two patches do not overlap (a swap of overlapping patches is not a permutation of the
  pixels, so it would not be its own inverse and would duplicate pixels);
* positions are drawn uniformly over all ordered pairs of non-overlapping positions,
  independently per image (and per call: per training iteration); ``align`` restricts the
  top-left corners to multiples of ``align`` (1 = any pixel).

Functions:

* :func:`sample_swap_boxes` draws the top-left corners, a ``(B, 2, 2)`` int64 tensor;
* :func:`swap_patches` exchanges the two patches of every image of a ``(B, C, H, W)`` tensor.
"""
from typing import Optional, Tuple, Union

import torch

__all__ = ['sample_swap_boxes', 'swap_patches']


def _num_positions(size: int, patch_size: int, align: int) -> int:
    """Number of aligned top-left coordinates ``0, align, 2 * align, ...`` with the patch inside."""
    return (size - patch_size) // align + 1


def _check_fit(height: int, width: int, patch_size: int, align: int) -> Tuple[int, int]:
    """Validate the sizes; return the number of aligned positions along y and x.

    Raises:
        ValueError: ``patch_size < 1``, ``align < 1``, a patch larger than the image, or no two
            non-overlapping aligned positions.
    """
    if int(patch_size) != patch_size or patch_size < 1:
        raise ValueError(f'patch_size must be a positive integer, got {patch_size!r}')
    if int(align) != align or align < 1:
        raise ValueError(f'align must be a positive integer, got {align!r}')
    if height < patch_size or width < patch_size:
        raise ValueError(f'a {patch_size}x{patch_size} patch does not fit in a {height}x{width} '
                         f'(HxW) image')
    ny = _num_positions(height, patch_size, align)
    nx = _num_positions(width, patch_size, align)
    # Two same-size squares do not overlap iff their corners are >= patch_size apart along y or x.
    if (ny - 1) * align < patch_size and (nx - 1) * align < patch_size:
        raise ValueError(
            f'two non-overlapping {patch_size}x{patch_size} patches (top-left corners at multiples '
            f'of align={align}) do not fit in a {height}x{width} (HxW) image: one side must be at '
            f'least {2 * patch_size} pixels (with align > 1, two aligned corners must be '
            f'{patch_size} apart); use a smaller patch_size or larger images')
    return ny, nx


def _overlap_counts(n: int, patch_size: int, align: int, device) -> torch.Tensor:
    """(n,) int64: for each aligned coordinate i, how many aligned j have |i - j| * align < p."""
    idx = torch.arange(n, device=device)
    near = (idx[:, None] - idx[None, :]).abs() * align < patch_size
    return near.sum(1)


def sample_swap_boxes(batch_size: int,
                      height: int,
                      width: int,
                      patch_size: int,
                      generator: Optional[torch.Generator] = None,
                      device: Optional[Union[str, torch.device]] = None,
                      align: int = 1,
                      max_tries: int = 10) -> torch.Tensor:
    """Draw two non-overlapping square patches per image (Zhang & Yan 2020, Sec. 3.2).

    Each image gets its own pair, uniformly distributed over all *ordered* pairs (A, B) of
    aligned top-left corners whose ``patch_size`` x ``patch_size`` squares lie inside the
    ``height`` x ``width`` image and do not overlap. Sampling: up to ``max_tries`` rounds of
    rejection sampling (A and B uniform over the positions, kept when they do not overlap); the
    images still without a pair then get an exact draw: A with probability proportional to the
    number of positions B that do not overlap it, then B uniform among those (so the result is
    uniform over the pairs in both branches, and still random). The paper only says "randomly
    choose two patches with the same size": uniformity, squareness, non-overlap and alignment
    are this module's reading.

    Args:
        batch_size (int): B, number of images (>= 0).
        height (int): H of the image the patches are cut from.
        width (int): W of the image.
        patch_size (int): side p of both square patches (paper: 64 in Sec. 3.2, 16 in Sec. 4.1).
        generator (torch.Generator, optional): random source (for reproducible draws). The draw
            runs on the generator's device (CPU when None, using torch's global RNG).
        device (str | torch.device, optional): device of the returned tensor. Defaults to the
            generator's device, else CPU.
        align (int): top-left corners are multiples of ``align`` along both axes (1 = any
            pixel). Defaults to 1.
        max_tries (int): rejection-sampling rounds before the exact draw (>= 0). Defaults to 10.

    Returns:
        torch.Tensor: int64 (B, 2, 2); ``boxes[b, 0] = (y, x)`` is the top-left corner of patch
        A of image b and ``boxes[b, 1]`` that of patch B, with ``0 <= y <= H - p``,
        ``0 <= x <= W - p`` and ``|yA - yB| >= p or |xA - xB| >= p``.

    Raises:
        ValueError: ``patch_size`` or ``align`` not a positive integer, a negative
            ``batch_size`` or ``max_tries``, or two non-overlapping patches that do not fit
            (the message gives the patch and image sizes).
    """
    if batch_size < 0 or max_tries < 0:
        raise ValueError(f'batch_size and max_tries must be >= 0, got {batch_size}, {max_tries}')
    ny, nx = _check_fit(height, width, patch_size, align)
    draw_device = generator.device if generator is not None else torch.device('cpu')
    if device is None:
        device = draw_device
    n = ny * nx

    def overlap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """a, b: (..., 2) aligned grid indices (iy, ix) -> bool (...): squares overlap."""
        d = (a - b).abs() * align
        return (d[..., 0] < patch_size) & (d[..., 1] < patch_size)

    def to_grid(flat: torch.Tensor) -> torch.Tensor:
        return torch.stack([flat // nx, flat % nx], dim=-1)

    grid = torch.zeros(batch_size, 2, 2, dtype=torch.long, device=draw_device)
    todo = torch.ones(batch_size, dtype=torch.bool, device=draw_device)
    for _ in range(max_tries):
        if not bool(todo.any()):
            break
        pair = to_grid(torch.randint(n, (batch_size, 2), generator=generator, device=draw_device))
        accept = todo & ~overlap(pair[:, 0], pair[:, 1])
        grid[accept] = pair[accept]
        todo &= ~accept
    rest = int(todo.sum())
    if rest:
        # P(A) proportional to the number of non-overlapping B, then B uniform: exact uniform.
        free = n - _overlap_counts(ny, patch_size, align, draw_device)[:, None] * \
            _overlap_counts(nx, patch_size, align, draw_device)[None, :]
        flat_a = torch.multinomial(
            free.flatten().double().expand(rest, n), 1, generator=generator)[:, 0]
        a = to_grid(flat_a)  # (rest, 2)
        all_pos = to_grid(torch.arange(n, device=draw_device))  # (n, 2)
        allowed = ~overlap(a[:, None, :], all_pos[None, :, :])  # (rest, n)
        flat_b = torch.multinomial(allowed.double(), 1, generator=generator)[:, 0]
        grid[todo] = torch.stack([a, to_grid(flat_b)], dim=1)
    return (grid * align).to(device)


def swap_patches(x: torch.Tensor, boxes: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Exchange patch A and patch B of every image, in every channel (Zhang & Yan 2020, Sec. 3.2).

    The transition ``f`` of Eq. 3: ``I' = f(I)``, ``G' = f(G)``, ``W' = f(W)``, ``O'' = f(O)``.
    With non-overlapping patches it is a permutation of the pixel positions and its own inverse
    (``swap_patches(swap_patches(x, b, p), b, p) == x``).

    Args:
        x (torch.Tensor): (B, C, H, W), any dtype (float, int64, bool, ...); any device.
        boxes (torch.Tensor): integer (B, 2, 2) top-left (y, x) corners of patch A and patch B
            per image, as :func:`sample_swap_boxes` returns; moved to ``x``'s device.
        patch_size (int): side p of both square patches.

    Returns:
        torch.Tensor: a new (B, C, H, W) tensor of ``x``'s dtype and device; ``x`` is not
        modified. Implemented with ``gather``, so it is differentiable with respect to ``x``
        (the gradient is swapped back).

    Raises:
        ValueError: ``x`` not 4-D, ``boxes`` not (B, 2, 2) for the batch size of ``x``, a patch
            not fully inside the image, or overlapping patches.
    """
    if x.dim() != 4:
        raise ValueError(f'swap_patches expects a (B, C, H, W) tensor, got shape {tuple(x.shape)}')
    b, c, h, w = x.shape
    if tuple(boxes.shape) != (b, 2, 2):
        raise ValueError(f'boxes must have shape ({b}, 2, 2) for a batch of {b}, '
                         f'got {tuple(boxes.shape)}')
    if int(patch_size) != patch_size or patch_size < 1:
        raise ValueError(f'patch_size must be a positive integer, got {patch_size!r}')
    p = int(patch_size)
    boxes = boxes.to(device=x.device, dtype=torch.long)
    ys, xs = boxes[..., 0], boxes[..., 1]  # (B, 2)
    inside = (ys >= 0) & (xs >= 0) & (ys + p <= h) & (xs + p <= w)
    d = (boxes[:, 0] - boxes[:, 1]).abs()
    disjoint = (d[:, 0] >= p) | (d[:, 1] >= p)
    if b and not bool(inside.all() & disjoint.all()):
        raise ValueError(f'swap_patches: every {p}x{p} patch must lie inside the {h}x{w} image '
                         f'and the two patches of an image must not overlap; got boxes '
                         f'{boxes.tolist()}')
    offs = torch.arange(p, device=x.device)
    rows = ys[..., None] + offs  # (B, 2, p)
    cols = xs[..., None] + offs
    flat = (rows[..., :, None] * w + cols[..., None, :]).flatten(2)  # (B, 2, p * p)
    index = torch.arange(h * w, device=x.device).expand(b, -1).clone()
    index.scatter_(1, flat[:, 0], flat[:, 1])  # pixels of A read from B
    index.scatter_(1, flat[:, 1], flat[:, 0])  # and B from A
    out = x.reshape(b, c, h * w).gather(2, index[:, None, :].expand(b, c, h * w))
    return out.view(b, c, h, w)
