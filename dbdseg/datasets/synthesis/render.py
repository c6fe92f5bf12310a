"""Render thin-lens defocus onto a sharp photo (docs/en/synthetic_defocus.md).

Pipeline of :func:`render_defocus`:

1. layout and focus (:mod:`.layout`); ``k`` such that the largest visible CoC radius is the sampled
   target radius (``cfg.max_coc_range`` x ``min(H, W) / cfg.coc_reference_size``);
2. undo the sRGB curve (blur in linear light);
3. background plane: fill the region hidden behind the layers, blur at up to
   ``cfg.background_blur_levels`` disk radii, interpolate per pixel by its radius;
4. layers, far to near: fill the layer's colour where it is hidden or mixed, blur premultiplied
   colour and alpha with the layer's own disk, composite "over" (occlusion-aware: an in-focus layer
   keeps a sharp outline over a blurred background, and a blurred near layer spreads over what lies
   behind it);
5. label: the in-focus indicator ``r < cfg.in_focus_threshold`` composited with the same blurred
   alphas, > 0.5 -> 255 (in-focus), else 0 (blurred);
6. redo the sRGB curve, add shared Gaussian noise, JPEG re-encode the whole image.
"""
from typing import Optional

import cv2
import numpy as np

from .config import DefocusRenderConfig
from .layout import DepthLayout, sample_focus, sample_layout
from .thin_lens import (disk_blur, fill_holes, linear_to_srgb, srgb_to_linear, thin_lens_coc,
                        variable_disk_blur)

__all__ = ['sample_source_crop', 'render_layout', 'render_defocus', 'render_sample', 'finish_image']


def _as_rgb_uint8(image, name='image'):
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError(f'{name} must be HxW, HxWx3 or HxWx4, got shape {img.shape}')
    img = img[..., :3]
    if img.dtype != np.uint8:
        if np.issubdtype(img.dtype, np.floating) and img.max() <= 1.0:
            img = img * 255.0
        img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img)


def sample_source_crop(image, rng, cfg: Optional[DefocusRenderConfig] = None, object_mask=None):
    """Scale, crop and flip a source photo to ``cfg.out_size``.

    The photo is resized by ``s ~ U(cfg.source_scale_range)`` (area interpolation when shrinking,
    cubic when enlarging) - or by the smallest factor that still covers ``cfg.out_size`` when ``s``
    is too small - then a random ``out_size`` crop is taken and flipped with ``cfg.hflip_prob`` /
    ``cfg.vflip_prob``. Downscaling makes the photo sharper than the blur added later
    (docs/en/synthetic_defocus.md).

    Args:
        image (np.ndarray): ``HxWx3`` uint8 RGB (grey / RGBA / float in [0, 1] are converted).
        rng (np.random.Generator): random source.
        cfg (DefocusRenderConfig): settings; defaults if None.
        object_mask (np.ndarray, optional): ``HxW`` object mask of the photo (non-zero = object).

    Returns:
        tuple: ``(crop, mask, params)``: crop uint8 ``HxWx3`` with ``(H, W) = cfg.out_size``;
        mask bool ``HxW`` or None; params dict with ``source_scale`` (used), ``requested_scale``,
        ``crop`` ``[y, x, h, w]`` in the scaled photo, ``hflip``, ``vflip``.

    Raises:
        ValueError: the mask's shape differs from the image's.
    """
    cfg = cfg or DefocusRenderConfig()
    img = _as_rgb_uint8(image)
    out_h, out_w = (int(v) for v in cfg.out_size)
    h, w = img.shape[:2]
    if object_mask is not None:
        object_mask = np.asarray(object_mask)
        if object_mask.ndim == 3:
            object_mask = object_mask[..., 0]
        if object_mask.shape != (h, w):
            raise ValueError(
                f'object mask shape {object_mask.shape} differs from image shape {(h, w)}')
    requested = float(rng.uniform(*cfg.source_scale_range))
    scale = max(requested, out_h / h, out_w / w)
    new_h = max(out_h, int(round(h * scale)))
    new_w = max(out_w, int(round(w * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    scaled = cv2.resize(img, (new_w, new_h), interpolation=interp)
    y = int(rng.integers(new_h - out_h + 1))
    x = int(rng.integers(new_w - out_w + 1))
    hflip = bool(rng.random() < cfg.hflip_prob)
    vflip = bool(rng.random() < cfg.vflip_prob)
    crop = scaled[y:y + out_h, x:x + out_w]
    mask = None
    if object_mask is not None:
        m = cv2.resize(
            (object_mask > 0).astype(np.float32), (new_w, new_h),
            interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        mask = m[y:y + out_h, x:x + out_w] > 0.5
    if hflip:
        crop = crop[:, ::-1]
        mask = mask[:, ::-1] if mask is not None else None
    if vflip:
        crop = crop[::-1]
        mask = mask[::-1] if mask is not None else None
    params = dict(
        source_size=[h, w],
        requested_scale=requested,
        source_scale=float(scale),
        crop=[y, x, out_h, out_w],
        hflip=hflip,
        vflip=vflip)
    return np.ascontiguousarray(crop), (None
                                        if mask is None else np.ascontiguousarray(mask)), params


def render_layout(image,
                  layout: DepthLayout,
                  focus_depth,
                  k,
                  cfg: Optional[DefocusRenderConfig] = None):
    """Deterministic core: blur ``image`` for a given layout, focus and lens constant.

    Args:
        image (np.ndarray): ``HxWx3`` uint8 sRGB all-in-focus image.
        layout (DepthLayout): geometry of the same ``HxW``.
        focus_depth (float): focus distance, scene units, > 0.
        k (float): lens constant of :func:`thin_lens_coc`, pixels x scene units, >= 0.
        cfg (DefocusRenderConfig): ``in_focus_threshold``, ``background_blur_levels``,
            ``min_level_step``, ``fill_method``, ``fill_margin``, ``linear_light``.

    Returns:
        dict: ``linear`` float32 ``HxWx3`` rendered image in linear light [0, 1] (sRGB-encoded
        values in [0, 1] when ``cfg.linear_light`` is False), ``in_focus`` float32 ``HxW``
        composited in-focus indicator in [0, 1], ``coc`` float32 ``HxW`` composited CoC radius
        (pixels), ``plane_coc`` float32 ``HxW``, ``layer_coc`` list of floats (pixels),
        ``background_levels`` list of radii.
        Where the composited CoC is below ``threshold / 2`` the in-focus indicator is > 0.5, and
        where the indicator is <= 0.5 the composited CoC is >= ``threshold / 2``.

    Raises:
        ValueError: image and layout shapes differ.
    """
    cfg = cfg or DefocusRenderConfig()
    img8 = _as_rgb_uint8(image)
    if img8.shape[:2] != layout.shape:
        raise ValueError(
            f'render_layout: image shape {img8.shape[:2]} != layout shape {layout.shape}')
    to_lin = srgb_to_linear if cfg.linear_light else (lambda x: x.astype(np.float32) / 255.0)
    lin = to_lin(img8)
    thr = cfg.in_focus_threshold

    # background: fill what the layers hide (dilated by the margin: anti-aliased rims are mixed
    # colours)
    cover = np.zeros(layout.shape, np.float32)
    for layer in layout.layers:
        cover = np.maximum(cover, layer.alpha)
    hidden = cover > 0.02
    if cfg.fill_margin > 0 and hidden.any():
        size = 2 * cfg.fill_margin + 1
        hidden = cv2.dilate(hidden.astype(np.uint8), np.ones((size, size), np.uint8)) > 0
    bg_colour = _fill(img8, lin, ~hidden, cfg, to_lin)
    plane_coc = thin_lens_coc(layout.plane_depth, focus_depth, k)
    out, levels = variable_disk_blur(bg_colour, plane_coc, cfg.background_blur_levels,
                                     cfg.min_level_step)
    in_focus = (plane_coc < thr).astype(np.float32)
    coc = plane_coc.copy()

    _, vis = layout.visibility()
    layer_coc = []
    for layer, visible in zip(layout.layers, vis):  # far to near
        r = float(thin_lens_coc(layer.depth, focus_depth, k))
        layer_coc.append(r)
        premult = np.zeros(layout.shape + (4, ), np.float32)
        box = _support_box(layer.alpha, pad=8)
        if box is not None:
            # colour where the layer is hidden by nearer layers or only partly covers a pixel
            known = visible[box] > 0.98  # fully this layer's colour in the photo
            colour = _fill(img8[box], lin[box], known, cfg, to_lin) if known.any() else lin[box]
            alpha = layer.alpha[box][..., None]
            premult[box] = np.concatenate([colour * alpha, alpha], axis=2)
        blurred = disk_blur(premult, r)
        a = np.clip(blurred[..., 3], 0.0, 1.0)
        out = blurred[..., :3] + (1.0 - a)[..., None] * out
        in_focus = a * float(r < thr) + (1.0 - a) * in_focus
        coc = a * r + (1.0 - a) * coc
    return dict(
        linear=out.astype(np.float32),
        in_focus=in_focus.astype(np.float32),
        coc=coc.astype(np.float32),
        plane_coc=plane_coc,
        layer_coc=layer_coc,
        background_levels=levels)


def _support_box(alpha, pad):
    """Slices of the bounding box of ``alpha > 0`` grown by ``pad`` pixels (None if empty)."""
    rows = np.flatnonzero(alpha.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(alpha.any(axis=0))
    h, w = alpha.shape
    return (slice(max(0, rows[0] - pad), min(h, rows[-1] + pad + 1)),
            slice(max(0, cols[0] - pad), min(w, cols[-1] + pad + 1)))


def _fill(img8, lin, valid, cfg, to_lin):
    if valid.all():
        return lin
    if cfg.fill_method == 'telea':
        return to_lin(fill_holes(img8, valid, 'telea'))
    return fill_holes(lin, valid, 'pushpull', cfg.fill_gain)


def finish_image(linear, rng, cfg: Optional[DefocusRenderConfig] = None):
    """Redo the sRGB curve, add shared Gaussian noise and JPEG re-encode.

    The finish of ``docs/en/synthetic_defocus.md``, "Label and finish".

    The noise (sigma ~ U(``cfg.noise_sigma_range``), 8-bit units, independent per pixel and channel,
    the same sigma everywhere) and the JPEG quality (uniform integer in ``cfg.jpeg_quality_range``)
    are sampled in that order even when ``cfg.add_noise`` / ``cfg.jpeg`` are False, so switching
    them off does not change the other random draws.

    Args:
        linear (np.ndarray): float32 ``HxWx3`` linear light in [0, 1] (sRGB-encoded [0, 1] when
            ``cfg.linear_light`` is False).
        rng (np.random.Generator): random source.
        cfg (DefocusRenderConfig): settings.

    Returns:
        dict: ``image`` uint8 ``HxWx3`` RGB (decoded JPEG when ``cfg.jpeg``), ``jpeg_bytes``
        (bytes of the encoded JPEG, or None), ``noise_sigma`` (float, 0 when off), ``jpeg_quality``
        (int or None).
    """
    cfg = cfg or DefocusRenderConfig()
    srgb = (linear_to_srgb(linear) if cfg.linear_light else np.clip(linear, 0, 1)) * 255.0
    sigma = float(rng.uniform(*cfg.noise_sigma_range))
    quality = int(rng.integers(cfg.jpeg_quality_range[0], cfg.jpeg_quality_range[1] + 1))
    noise_seed = int(rng.integers(2**63 - 1))
    if cfg.add_noise and sigma > 0:
        noise = np.random.default_rng(noise_seed).standard_normal(srgb.shape, dtype=np.float32)
        srgb = srgb + np.float32(sigma) * noise
    else:
        sigma = 0.0
    img = np.clip(np.round(srgb), 0, 255).astype(np.uint8)
    jpeg_bytes = None
    if cfg.jpeg:
        ok, buf = cv2.imencode('.jpg', cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:  # pragma: no cover - cv2 failure
            raise RuntimeError('JPEG encoding failed')
        jpeg_bytes = buf.tobytes()
        img = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    else:
        quality = None
    return dict(image=img, jpeg_bytes=jpeg_bytes, noise_sigma=sigma, jpeg_quality=quality)


def render_defocus(image,
                   rng,
                   cfg: Optional[DefocusRenderConfig] = None,
                   object_mask=None,
                   *,
                   layout: Optional[DepthLayout] = None,
                   focus_depth: Optional[float] = None,
                   k: Optional[float] = None):
    """Render thin-lens defocus onto a sharp image, at the image's own size.

    No crop here; :func:`render_sample` scales/crops/flips a source photo first.

    Random draws, in order, from ``rng``: layout (unless given), focus (unless given), target
    largest radius (always drawn), noise sigma, JPEG quality, noise seed. Same generator state ->
    same output.

    Args:
        image (np.ndarray): ``HxWx3`` uint8 RGB all-in-focus photo.
        rng (np.random.Generator): random source.
        cfg (DefocusRenderConfig): settings; defaults if None. ``cfg.out_size`` is not used here:
            the target radius scales with the image's own size, ``min(H, W) /
            cfg.coc_reference_size``.
        object_mask (np.ndarray, optional): ``HxW`` object mask (non-zero = object) for the layout.
        layout (DepthLayout, optional): fixed geometry instead of a sampled one.
        focus_depth (float, optional): fixed focus distance (scene units).
        k (float, optional): fixed lens constant; otherwise chosen so that the largest CoC radius
            over the visible depths equals the target radius ``U(cfg.max_coc_range) * min(H, W) /
            cfg.coc_reference_size``.

    Returns:
        dict: ``image`` uint8 ``HxWx3`` RGB rendered (after noise/JPEG when enabled); ``mask`` uint8
        ``HxW`` in {0, 255}, 255 = in-focus; ``depth`` float32 ``HxW`` visible depth (scene units,
        larger = farther); ``coc`` float32 ``HxW`` composited CoC radius (pixels); ``in_focus``
        float32 ``HxW`` soft in-focus map in [0, 1]; ``sharp`` uint8 ``HxWx3`` the input;
        ``jpeg_bytes`` (bytes or None); ``params`` JSON-friendly dict (layout, focus, k, radii,
        noise, JPEG, in-focus fraction).

    Raises:
        ValueError: bad image/mask shapes or non-positive focus depth.
    """
    cfg = cfg or DefocusRenderConfig()
    img8 = _as_rgb_uint8(image)
    shape = img8.shape[:2]
    if layout is None:
        layout = sample_layout(shape, rng, cfg, object_mask=object_mask)
    if focus_depth is None:
        focus_depth, mode, focus_info = sample_focus(layout, rng, cfg)
    else:
        mode, focus_info = 'given', {}
    target = float(rng.uniform(*cfg.max_coc_range)) * min(shape) / float(cfg.coc_reference_size)
    depth = layout.depth_map()
    if k is None:
        inv = 1.0 / depth.astype(np.float64)
        spread = float(np.max(np.abs(1.0 / focus_depth - inv)))
        k = target / spread if spread > 1e-12 else 0.0
        k_mode = 'target'
    else:
        k_mode = 'given'
    rendered = render_layout(img8, layout, focus_depth, k, cfg)
    finished = finish_image(rendered['linear'], rng, cfg)
    mask = np.where(rendered['in_focus'] > 0.5, 255, 0).astype(np.uint8)
    params = dict(
        size=[int(shape[0]), int(shape[1])],
        layout=layout.params,
        focus_mode=mode,
        focus_depth=float(focus_depth),
        focus_info=focus_info,
        k=float(k),
        k_mode=k_mode,
        target_max_coc=target,
        max_coc=float(rendered['coc'].max()),
        visible_max_coc=float(np.max(thin_lens_coc(depth, focus_depth, k))) if k > 0 else 0.0,
        layer_coc=[float(r) for r in rendered['layer_coc']],
        plane_coc_range=[float(rendered['plane_coc'].min()),
                         float(rendered['plane_coc'].max())],
        background_levels=rendered['background_levels'],
        noise_sigma=finished['noise_sigma'],
        jpeg_quality=finished['jpeg_quality'],
        in_focus_fraction=float((mask > 0).mean()),
        depth_min=float(depth.min()),
        depth_max=float(depth.max()),
    )
    return dict(
        image=finished['image'],
        mask=mask,
        depth=depth,
        coc=rendered['coc'],
        in_focus=rendered['in_focus'],
        sharp=img8,
        jpeg_bytes=finished['jpeg_bytes'],
        params=params)


def render_sample(image, rng, cfg: Optional[DefocusRenderConfig] = None, object_mask=None):
    """Scale/crop/flip a source photo (:func:`sample_source_crop`) then :func:`render_defocus` it.

    Args:
        image (np.ndarray): uint8 RGB source photo of any size.
        rng (np.random.Generator): random source.
        cfg (DefocusRenderConfig): settings; output size ``cfg.out_size``.
        object_mask (np.ndarray, optional): ``HxW`` object mask of the source photo.

    Returns:
        dict: as :func:`render_defocus`, images of ``cfg.out_size``; ``params['source_crop']``
        holds the crop parameters.
    """
    cfg = cfg or DefocusRenderConfig()
    crop, mask, crop_params = sample_source_crop(image, rng, cfg, object_mask)
    out = render_defocus(crop, rng, cfg, object_mask=mask)
    out['params']['source_crop'] = crop_params
    out['params']['object_mask_available'] = mask is not None
    return out
