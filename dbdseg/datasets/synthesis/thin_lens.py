"""Thin-lens defocus: circle of confusion, disk point-spread function, linear light, hole filling.

The circle of confusion (CoC) of a thin lens focused at depth ``d_f`` for a point at depth ``d`` has
the diameter ``c = A * f * |d - d_f| / (d * (d_f - f))`` (aperture diameter ``A``, focal length
``f``; Potmesil & Chakravarty, "A lens and aperture camera model for synthetic image generation",
SIGGRAPH 1981). Rewritten as ``c = (A * f * d_f / (d_f - f)) * |1/d_f - 1/d|``, the radius in pixels
is ``r = k * |1/d_f - 1/d|`` with one constant ``k`` (pixels x scene units) per camera setting: blur
is linear in inverse depth. The renderer picks ``k`` per scene from a target largest radius
(docs/en/synthetic_defocus.md).
"""
import math

import cv2
import numpy as np

__all__ = [
    'thin_lens_coc', 'disk_kernel', 'disk_blur', 'variable_disk_blur', 'srgb_to_linear',
    'linear_to_srgb', 'fill_holes'
]

_SRGB_TO_LINEAR_LUT = None


def thin_lens_coc(depth, focus_depth, k):
    """Circle-of-confusion radius of the thin-lens model, ``r = k * |1/focus_depth - 1/depth|``.

    Args:
        depth (float | np.ndarray): depth(s) of the scene points, scene units, > 0. Any shape.
        focus_depth (float): focus distance, scene units, > 0.
        k (float): lens constant, pixels x scene units, >= 0 (Potmesil & Chakravarty 1981, see
            module docstring).

    Returns:
        np.ndarray | float: CoC radius in pixels, float32 array of ``depth``'s shape (a float for a
        scalar depth); 0 at ``depth == focus_depth``, growing monotonically away from it on both
        sides.

    Raises:
        ValueError: a depth or the focus depth is not positive, or ``k`` is negative.
    """
    scalar = np.isscalar(depth)
    d = np.asarray(depth, dtype=np.float64)
    if not np.all(d > 0):
        raise ValueError('thin_lens_coc: depths must be positive')
    if not focus_depth > 0:
        raise ValueError(f'thin_lens_coc: focus_depth must be positive, got {focus_depth}')
    if not k >= 0:
        raise ValueError(f'thin_lens_coc: k must be >= 0, got {k}')
    r = k * np.abs(1.0 / float(focus_depth) - 1.0 / d)
    return float(r) if scalar else r.astype(np.float32)


def disk_kernel(radius):
    """Normalised disk point-spread function with an anti-aliased edge.

    Each pixel's weight approximates the fraction of the pixel covered by the disk,
    ``clip(radius + 0.5 - distance, 0, 1)`` (distance from the centre in pixels), so the kernel
    changes continuously with ``radius``; radii <= 0.5 give the identity kernel ``[[1]]``.

    Args:
        radius (float): disk radius in pixels, >= 0.

    Returns:
        np.ndarray: float32 kernel of shape ``(2n + 1, 2n + 1)`` with ``n = ceil(radius - 0.5)`` (0
        for radius <= 0.5), summing to 1.

    Raises:
        ValueError: negative or non-finite radius.
    """
    radius = float(radius)
    if not math.isfinite(radius) or radius < 0:
        raise ValueError(f'disk_kernel: radius must be finite and >= 0, got {radius}')
    n = max(0, int(math.ceil(radius - 0.5)))
    if n == 0:
        return np.ones((1, 1), np.float32)
    yy, xx = np.mgrid[-n:n + 1, -n:n + 1]
    dist = np.sqrt(xx * xx + yy * yy)
    w = np.clip(radius + 0.5 - dist, 0.0, 1.0)
    return (w / w.sum()).astype(np.float32)


def disk_blur(image, radius):
    """Blur with :func:`disk_kernel` (``cv2.filter2D``, ``BORDER_REFLECT_101`` border).

    Args:
        image (np.ndarray): float32 ``HxW`` or ``HxWxC`` (C <= 4).
        radius (float): disk radius in pixels, >= 0.

    Returns:
        np.ndarray: blurred float32 array of the same shape (a copy when the kernel is the
        identity).
    """
    kernel = disk_kernel(radius)
    if kernel.shape == (1, 1):
        return np.array(image, dtype=np.float32, copy=True)
    return cv2.filter2D(
        np.ascontiguousarray(image, dtype=np.float32),
        -1,
        kernel,
        borderType=cv2.BORDER_REFLECT_101)


def variable_disk_blur(image, radius_map, levels=8, min_step=0.5):
    """Spatially varying disk blur by interpolating a stack of uniformly blurred copies.

    The image is blurred at ``L`` radii evenly spaced from ``max(min r, 0.5)`` to
    ``max(max r, 0.5)`` (``L <= levels``, consecutive radii at least ``min_step`` apart); each pixel
    mixes the two levels around its radius linearly (radii below the first level use it; radius 0.5
    is the identity).

    Args:
        image (np.ndarray): float32 ``HxWxC`` (C <= 4) or ``HxW``.
        radius_map (np.ndarray): float ``HxW`` blur radius per pixel (pixels, >= 0).
        levels (int): largest number of blur levels.
        min_step (float): smallest radius step between levels, pixels.

    Returns:
        tuple: ``(blurred float32 array of the image's shape, list of level radii (floats))``.
    """
    r = np.asarray(radius_map, dtype=np.float32)
    r_lo = max(float(r.min()), 0.5)
    r_hi = max(float(r.max()), 0.5)
    n = int(min(levels, max(1, math.ceil((r_hi - r_lo) / min_step) + 1)))
    if n == 1:
        radii = [0.5 * (r_lo + r_hi)]
        return disk_blur(image, radii[0]), radii
    radii = np.linspace(r_lo, r_hi, n)
    pos = np.clip((r - r_lo) / (radii[1] - radii[0]), 0.0, n - 1).astype(np.float32)
    out = np.zeros(np.shape(image), np.float32)
    for i, rad in enumerate(radii):
        w = np.clip(1.0 - np.abs(pos - i), 0.0, 1.0)
        if not np.any(w > 0):
            continue
        blurred = disk_blur(image, rad)
        out += (w[..., None] if blurred.ndim == 3 else w) * blurred
    return out, [float(x) for x in radii]


def srgb_to_linear(image):
    """Undo the sRGB transfer curve (IEC 61966-2-1).

    Args:
        image (np.ndarray): uint8 sRGB values in [0, 255] (exact lookup table), or float in [0, 1].

    Returns:
        np.ndarray: float32 linear-light values in [0, 1], same shape.
    """
    global _SRGB_TO_LINEAR_LUT
    if image.dtype == np.uint8:
        if _SRGB_TO_LINEAR_LUT is None:
            _SRGB_TO_LINEAR_LUT = srgb_to_linear(np.arange(256, dtype=np.float64) / 255.0)
        return _SRGB_TO_LINEAR_LUT[image]
    x = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)
    out = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055)**2.4)
    return out.astype(np.float32)


def linear_to_srgb(image):
    """Apply the sRGB transfer curve (inverse of :func:`srgb_to_linear`).

    Args:
        image (np.ndarray): float linear-light values (clipped to [0, 1]).

    Returns:
        np.ndarray: float32 sRGB values in [0, 1] (multiply by 255 for 8-bit), same shape.
    """
    x = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    low = x * np.float32(12.92)
    high = np.float32(1.055) * np.power(
        np.maximum(x, np.float32(0.0031308)), np.float32(1.0 / 2.4)) - np.float32(0.055)
    return np.where(x <= 0.0031308, low, high).astype(np.float32)


def _pushpull(image, valid, gain=16.0):
    """Normalised-convolution pyramid fill (push-pull) of float32 ``image`` where ``valid`` is 0.

    At each pyramid level a pixel keeps its normalised colour with weight ``clip(gain * W, 0, 1)``
    (``W`` the fraction of valid pixels under it) and takes the upsampled coarser fill otherwise.
    ``gain = 1`` is the classic smooth (membrane-like) fill; a large gain extends the colours at the
    hole's border inward (close to nearest-neighbour), which avoids light/dark rims when the fill
    shows through the semi-transparent edge of a blurred layer.
    """
    img = np.ascontiguousarray(image, dtype=np.float32)
    if img.ndim == 2:
        img = img[..., None]
    chan = img.shape[2]
    if chan > 3:
        return np.dstack([_pushpull(img[..., i:i + 3], valid, gain) for i in range(0, chan, 3)])
    w = valid.astype(np.float32)
    # premultiplied colour and weight travel together (one pyrDown per level, <= 4 channels)
    pyr = [np.dstack([img * w[..., None], w])]
    while min(pyr[-1].shape[:2]) > 2:
        pyr.append(cv2.pyrDown(pyr[-1]))
    # coarsest level: normalised colour; the mean of all valid pixels where nothing is valid locally
    top = pyr[-1].reshape(-1, chan + 1)
    total = float(w.sum())
    mean = (pyr[0][..., :chan].reshape(-1, chan).sum(0) / total) if total > 0 else np.zeros(chan)
    ok = top[:, chan:] > 1e-6
    filled = np.where(ok, top[:, :chan] / np.maximum(top[:, chan:], 1e-6), mean[None])
    filled = np.ascontiguousarray(filled.reshape(pyr[-1].shape[:2] + (chan, )), dtype=np.float32)
    for level in range(len(pyr) - 2, -1, -1):
        h, wd = pyr[level].shape[:2]
        up = cv2.pyrUp(filled, dstsize=(wd, h))
        if up.ndim == 2:
            up = up[..., None]
        if level == 0:  # weight is the binary valid mask: the caller keeps the valid pixels
            return up
        wl = pyr[level][..., chan:]
        norm = pyr[level][..., :chan] / np.maximum(wl, 1e-6)
        a = np.minimum(wl * np.float32(gain), 1.0)
        filled = np.ascontiguousarray(up + a * (norm - up), dtype=np.float32)
    return filled  # pragma: no cover - only for a pyramid of one level


def fill_holes(image, valid, method='pushpull', gain=16.0):
    """Fill the pixels of ``image`` where ``valid`` is False from the valid ones.

    Used to reconstruct the background hidden behind a foreground layer before blurring it, so the
    layer's colour does not bleed into the blurred background as a halo
    (docs/en/synthetic_defocus.md).

    Args:
        image (np.ndarray): ``HxWx3`` float32 linear light in [0, 1] (``'pushpull'``) or uint8 sRGB
            (``'telea'``, ``cv2.inpaint`` with a 3 px radius; float input goes through 8 bits).
        valid (np.ndarray): bool ``HxW``; True where the colour is known.
        method (str): ``'pushpull'`` (pyramid normalised convolution) or ``'telea'``.
        gain (float): ``'pushpull'`` weight gain (see ``_pushpull``; >= 1).

    Returns:
        np.ndarray: array of the input's dtype and shape; valid pixels are unchanged.

    Raises:
        ValueError: unknown method or shape mismatch.
    """
    valid = np.asarray(valid, dtype=bool)
    if valid.shape != image.shape[:2]:
        raise ValueError(
            f'fill_holes: valid mask shape {valid.shape} != image shape {image.shape[:2]}')
    if valid.all():
        return image.copy()
    if not valid.any():
        return np.zeros_like(image)
    if method == 'pushpull':
        filled = _pushpull(image.astype(np.float32), valid, gain)
        if image.ndim == 2:
            filled = filled[..., 0]
        out = np.where(valid[..., None] if image.ndim == 3 else valid, image, filled)
        return out.astype(image.dtype)
    if method == 'telea':
        as_float = image.dtype != np.uint8
        img8 = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8) if as_float else image
        out = cv2.inpaint(
            np.ascontiguousarray(img8), (~valid).astype(np.uint8), 3, cv2.INPAINT_TELEA)
        if as_float:
            out = np.where(valid[..., None], image, out.astype(np.float32) / 255.0)
        return out.astype(image.dtype)
    raise ValueError(f"fill_holes: method must be 'pushpull' or 'telea', got {method!r}")
