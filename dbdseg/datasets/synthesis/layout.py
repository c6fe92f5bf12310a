"""Procedural depth layouts and focus sampling.

The render choices of ``docs/en/synthetic_defocus.md``, "Depth layout" and "Focus".

A layout is a background plane (depth per pixel, random tilt, often ground-like: farther toward the
top) plus one to three nearer foreground layers of constant depth, each shaped by a random smooth
blob or by the photo's object mask. The plane's inverse depth is affine in the image coordinates, as
for a real plane seen through a pinhole camera. Depths are in arbitrary scene units (> 0); only
their ratios matter.
"""
import functools
import math
from dataclasses import dataclass, field
from typing import List, Optional

import cv2
import numpy as np

from .config import DefocusRenderConfig

__all__ = ['Layer', 'DepthLayout', 'sample_layout', 'sample_focus', 'random_blob', 'soften_mask']


@dataclass
class Layer:
    """A fronto-parallel foreground layer.

    Attributes:
        alpha (np.ndarray): float32 ``HxW`` sharp coverage in [0, 1] of the whole layer shape,
            including the parts hidden behind nearer layers; edges anti-aliased.
        depth (float): depth in scene units, > 0.
        shape (str): where the shape came from: ``'blob'``, ``'object_mask'`` or ``'custom'``.
    """
    alpha: np.ndarray
    depth: float
    shape: str = 'custom'


@dataclass
class DepthLayout:
    """Scene geometry of one render.

    Attributes:
        plane_depth (np.ndarray): float32 ``HxW`` depth of the background plane (scene units, > 0),
            defined everywhere (also behind the layers).
        layers (list[Layer]): foreground layers sorted far to near (compositing order).
        params (dict): JSON-friendly description (plane tilt, depths, layer shapes and areas).
    """
    plane_depth: np.ndarray
    layers: List[Layer] = field(default_factory=list)
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        self.plane_depth = np.asarray(self.plane_depth, dtype=np.float32)
        if self.plane_depth.ndim != 2 or not np.all(self.plane_depth > 0):
            raise ValueError('DepthLayout.plane_depth must be a positive HxW array')
        for layer in self.layers:
            if layer.alpha.shape != self.plane_depth.shape or not layer.depth > 0:
                raise ValueError('DepthLayout: every layer needs an HxW alpha and a positive depth')
        self.layers = sorted(self.layers, key=lambda la: -la.depth)

    @property
    def shape(self):
        return self.plane_depth.shape

    def visibility(self):
        """Sharp (unblurred) visibility weights.

        Returns:
            tuple: ``(plane weight HxW, [layer weight HxW, ...])`` float32, summing to 1 per
            pixel; layer weights in the order of :attr:`layers` (far to near).
        """
        remaining = np.ones(self.shape, np.float32)
        weights = []
        for layer in reversed(self.layers):  # near to far
            w = layer.alpha * remaining
            weights.append(w)
            remaining = remaining * (1.0 - layer.alpha)
        return remaining, weights[::-1]

    def depth_map(self):
        """Visible depth: the nearest layer whose sharp alpha is >= 0.5, else the plane.

        Returns:
            np.ndarray: float32 ``HxW`` depth in scene units.
        """
        depth = self.plane_depth.copy()
        for layer in self.layers:  # far to near, nearer ones overwrite
            depth[layer.alpha >= 0.5] = layer.depth
        return depth


@functools.lru_cache(maxsize=4)
def _grid(h, w):
    """Read-only float32 pixel coordinates ``(yy, xx)``, each ``HxW``."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy.flags.writeable = False
    xx.flags.writeable = False
    return yy, xx


def soften_mask(mask, sigma):
    """Anti-alias a binary mask: Gaussian blur with ``sigma`` pixels (no-op for sigma <= 0).

    Args:
        mask (np.ndarray): bool or {0, 1} ``HxW``.
        sigma (float): Gaussian standard deviation in pixels.

    Returns:
        np.ndarray: float32 ``HxW`` in [0, 1].
    """
    m = np.asarray(mask, dtype=np.float32)
    if sigma <= 0:
        return m
    return np.clip(cv2.GaussianBlur(m, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE), 0.0, 1.0)


def random_blob(shape, rng, cfg: DefocusRenderConfig, max_tries=8):
    """A smooth random blob: an ellipse whose outline is perturbed by smooth low-resolution noise.

    Args:
        shape (tuple): ``(H, W)`` in pixels.
        rng (np.random.Generator): random source.
        cfg (DefocusRenderConfig): ``blob_*`` fields.
        max_tries (int): attempts to get a blob of at least 0.5% of the image; the last one falls
            back to the plain ellipse.

    Returns:
        tuple: ``(mask bool HxW, params dict)``.
    """
    h, w = shape
    yy, xx = _grid(h, w)
    for attempt in range(max_tries):
        area = rng.uniform(*cfg.blob_area_range) * h * w
        aspect = math.exp(rng.uniform(-1, 1) * math.log(cfg.blob_aspect_max))
        rx = math.sqrt(area * aspect / math.pi)
        ry = math.sqrt(area / aspect / math.pi)
        theta = rng.uniform(0, math.pi)
        cx = rng.uniform(*cfg.blob_center_range) * w
        anchored = bool(rng.random() < cfg.blob_ground_anchor_prob)
        if anchored:
            cy = h - rng.uniform(0.3, 0.9) * ry
        else:
            cy = rng.uniform(*cfg.blob_center_range) * h
        g = cfg.blob_noise_grid
        noise = rng.standard_normal((g, g)).astype(np.float32)
        amp = cfg.blob_irregularity if attempt < max_tries - 1 else 0.0
        noise = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
        c, s = math.cos(theta), math.sin(theta)
        u = ((xx - cx) * c + (yy - cy) * s) / rx
        v = (-(xx - cx) * s + (yy - cy) * c) / ry
        f = 1.0 - np.sqrt(u * u + v * v) + amp * noise
        mask = f > 0
        if mask.mean() >= 0.005:
            break
    params = dict(
        center=[float(cy), float(cx)],
        radii=[float(ry), float(rx)],
        angle=float(theta),
        irregularity=float(amp),
        ground_anchored=anchored)
    return mask, params


def _sample_plane(shape, rng, cfg):
    h, w = shape
    if rng.random() < cfg.flat_plane_prob:
        kind, ratio, angle = 'flat', 1.0, 0.0
    else:
        ratio = rng.uniform(*cfg.background_depth_ratio_range)
        if rng.random() < cfg.ground_plane_prob:
            kind = 'ground'
            angle = 90.0 + rng.uniform(-1, 1) * cfg.ground_tilt_jitter_deg
        else:
            kind = 'tilted'
            angle = rng.uniform(0.0, 360.0)
    near = rng.uniform(*cfg.background_near_depth_range)
    far = near * ratio
    # direction of growing depth; angle 90 = toward the top of the image (y points down)
    a = math.radians(angle)
    ux, uy = math.cos(a), -math.sin(a)
    yy, xx = _grid(h, w)
    t = xx * ux + yy * uy
    t_min, t_max = float(t.min()), float(t.max())
    t = (t - t_min) / (t_max - t_min) if t_max > t_min else np.zeros_like(t)
    inv = (1.0 / near) + (1.0 / far - 1.0 / near) * t  # inverse depth affine in (x, y)
    depth = (1.0 / inv).astype(np.float32)
    params = dict(
        kind=kind, direction_deg=float(angle), near_depth=float(near), far_depth=float(far))
    return depth, params


def sample_layout(shape, rng, cfg: Optional[DefocusRenderConfig] = None, object_mask=None):
    """Sample a random depth layout (docs/en/synthetic_defocus.md, "Depth layout").

    Args:
        shape (tuple): ``(H, W)`` in pixels.
        rng (np.random.Generator): random source (the only one used).
        cfg (DefocusRenderConfig): settings; defaults if None.
        object_mask (np.ndarray, optional): bool/uint8 ``HxW`` object mask of the photo (non-zero =
            object). One layer takes this shape with probability ``cfg.object_mask_prob`` when its
            area is at least ``cfg.min_object_area``.

    Returns:
        DepthLayout: the plane, 1-3 layers (all nearer than the whole plane), and ``params``.

    Raises:
        ValueError: ``object_mask`` shape differs from ``shape``.
    """
    cfg = cfg or DefocusRenderConfig()
    h, w = shape
    plane, plane_params = _sample_plane(shape, rng, cfg)
    n_layers = int(rng.choice(len(cfg.num_layers_probs), p=np.asarray(cfg.num_layers_probs))) + 1
    use_object = -1
    if object_mask is not None:
        object_mask = np.asarray(object_mask) > 0
        if object_mask.shape != (h, w):
            raise ValueError(f'sample_layout: object mask shape {object_mask.shape} != {(h, w)}')
        take = rng.random() < cfg.object_mask_prob
        if take and object_mask.mean() >= cfg.min_object_area:
            use_object = int(rng.integers(n_layers))
    near = plane_params['near_depth']
    layers, layer_params = [], []
    for i in range(n_layers):
        frac = rng.uniform(*cfg.layer_depth_fraction_range)
        depth = float(near * frac)
        if i == use_object:
            mask, shape_params, kind = object_mask, {}, 'object_mask'
        else:
            mask, shape_params = random_blob((h, w), rng, cfg)
            kind = 'blob'
        alpha = soften_mask(mask, cfg.edge_softness)
        layers.append(Layer(alpha=alpha, depth=depth, shape=kind))
        layer_params.append(dict(depth=depth, shape=kind, area=float(mask.mean()), **shape_params))
    layout = DepthLayout(plane_depth=plane, layers=layers)
    _, vis = layout.visibility()
    order = sorted(range(n_layers), key=lambda j: -layer_params[j]['depth'])
    layer_params = [layer_params[j] for j in order]
    for p, v in zip(layer_params, vis):
        p['visible_area'] = float(v.mean())
    layout.params = dict(plane=plane_params, layers=layer_params)
    return layout


def sample_focus(layout: DepthLayout, rng, cfg: Optional[DefocusRenderConfig] = None):
    """Sample the focus distance (docs/en/synthetic_defocus.md, "Focus").

    With probability ``cfg.focus_layer_prob`` the depth of a random layer that is visible (sharp
    weight > 0.5 somewhere); with ``cfg.focus_plane_prob`` the plane's depth at a random visible
    plane pixel; otherwise uniform in inverse depth between the nearest and farthest visible depth.
    A mode without a candidate (no visible layer / no visible plane pixel) falls through to the
    random depth.

    Args:
        layout (DepthLayout): the scene.
        rng (np.random.Generator): random source.
        cfg (DefocusRenderConfig): settings; defaults if None.

    Returns:
        tuple: ``(focus_depth float in scene units, mode str in {'layer', 'plane', 'random'}, info
        dict)``.
    """
    cfg = cfg or DefocusRenderConfig()
    u = rng.random()
    plane_w, layer_w = layout.visibility()
    if u < cfg.focus_layer_prob:
        candidates = [i for i, v in enumerate(layer_w) if np.any(v > 0.5)]
        if candidates:
            i = candidates[int(rng.integers(len(candidates)))]
            return float(layout.layers[i].depth), 'layer', dict(layer=i)
    elif u < cfg.focus_layer_prob + cfg.focus_plane_prob:
        ys, xs = np.nonzero(plane_w > 0.5)
        if len(ys):
            j = int(rng.integers(len(ys)))
            y, x = int(ys[j]), int(xs[j])
            return float(layout.plane_depth[y, x]), 'plane', dict(point=[y, x])
    depth = layout.depth_map()
    inv_lo, inv_hi = 1.0 / float(depth.max()), 1.0 / float(depth.min())
    inv = rng.uniform(inv_lo, inv_hi)
    return float(1.0 / inv), 'random', {}
