"""Every render choice of the synthetic-defocus generator, in one dataclass.

The defaults follow ``docs/en/synthetic_defocus.md`` (the prototype whose renders transferred to
real defocus photos): sharpen the source by downscaling it, a tilted background plane plus nearer
constant-depth layers, focus on a layer ~50% / on the plane ~40% / anywhere ~10%, thin-lens circle
of confusion with the largest radius 6-10 px at 192x192, disk point-spread function in linear light,
layered occlusion-aware compositing, label = composited in-focus map > 0.5, then shared Gaussian
noise and JPEG over the whole image.

Depth units are arbitrary "scene units" (think metres); only ratios of depths matter, because the
lens constant ``k`` is chosen per scene from the target largest blur radius.
"""
from dataclasses import asdict, dataclass, fields
from typing import Optional, Tuple

__all__ = ['DefocusRenderConfig']


@dataclass
class DefocusRenderConfig:
    """Settings of :func:`~dbdseg.datasets.synthesis.render_defocus` and the dataset writer.

    Ranges ``(low, high)`` are sampled uniformly per render unless stated otherwise.

    Source preparation (:func:`~dbdseg.datasets.synthesis.sample_source_crop`):
        out_size: output ``(height, width)`` in pixels.
        source_scale_range: factor the source photo is resized by before cropping. Values below 1
            make the photo sharper than the blur added (docs/en/synthetic_defocus.md). When the
            scaled photo would be smaller than ``out_size`` the smallest covering factor is used
            instead (recorded as ``source_scale`` in the render parameters; it may exceed 1 for
            small photos).
        hflip_prob: probability of a horizontal flip of the crop.
        vflip_prob: probability of a vertical flip (0 by default: upside-down photos are unnatural).

    Depth layout (:func:`~dbdseg.datasets.synthesis.sample_layout`):
        ground_plane_prob: probability that the background plane is ground-like, i.e. its depth
            grows toward the top of the image (direction jittered by ``ground_tilt_jitter_deg``);
            otherwise the direction of growth is uniform in [0, 360) degrees.
        ground_tilt_jitter_deg: maximal deviation (degrees) of a ground plane's direction from "up".
        flat_plane_prob: probability of a fronto-parallel background (constant depth).
        background_near_depth_range: depth (scene units) of the nearest point of the background
            plane.
        background_depth_ratio_range: far / near depth ratio of the plane across the image (> 1).
        num_layers_probs: probabilities of 1, 2, 3, ... foreground layers.
        layer_depth_fraction_range: a layer's depth as a fraction of the plane's nearest depth (< 1
            so that every layer is nearer than the whole plane).
        object_mask_prob: probability that one layer takes the shape of the supplied object mask
            (when the photo has one whose area in the crop is at least ``min_object_area``).
        min_object_area: smallest area fraction of the object mask in the crop for it to be used.
        blob_area_range: area fraction of a random blob (before irregularity).
        blob_aspect_max: largest ratio of the blob's ellipse axes.
        blob_center_range: blob centre as a fraction of height / width.
        blob_ground_anchor_prob: probability that a blob touches the bottom edge (objects standing
            on the ground).
        blob_noise_grid: size of the low-resolution noise grid that makes blob outlines irregular.
        blob_irregularity: amplitude of that noise (0 = ellipse).
        edge_softness: Gaussian sigma (pixels) that anti-aliases sharp layer outlines.

    Focus (:func:`~dbdseg.datasets.synthesis.sample_focus`):
        focus_layer_prob: probability that the focus lies on a (visible) foreground layer.
        focus_plane_prob: probability that it lies on a visible point of the background plane; the
            rest of the time the focus is uniform in inverse depth over the scene's visible depth
            range.

    Blur (thin-lens model, Potmesil & Chakravarty 1981):
        max_coc_range: largest circle-of-confusion radius (pixels) of a scene at
            ``coc_reference_size``; ``k`` in ``r = k * |1/d_focus - 1/d|`` is set from it.
        coc_reference_size: the image side (pixels) ``max_coc_range`` refers to; the radius scales
            with ``min(H, W) / coc_reference_size`` of the rendered image (so 6-10 px at 192
            becomes 10-16.7 px at 320).
        in_focus_threshold: CoC radius (pixels) below which a surface counts as in focus.
        background_blur_levels: number of disk radii the background plane is blurred at; each pixel
            interpolates linearly between the two nearest levels by its radius.
        min_level_step: smallest radius step (pixels) between background levels (fewer levels when
            the plane's radius range is small).
        fill_method: how the background hidden behind a layer (and a layer's colour behind nearer
            layers) is filled before blurring: ``'pushpull'`` (normalised-convolution pyramid fill,
            in linear light) or ``'telea'`` (``cv2.inpaint``, in 8-bit sRGB; about 2x slower,
            similar look).
        fill_gain: push-pull weight gain; 1 gives a smooth membrane fill whose colours drift toward
            the hole's mean and show as light/dark rims through blurred layer edges; 16 extends the
            colours at the hole's border inward (close to ``'telea'``).
        fill_margin: pixels the hidden region is dilated by, so anti-aliased layer rims do not leak
            the layer's colour into the background.
        linear_light: blur in linear light (undo the sRGB curve, blur, redo it).

    Finish:
        add_noise: add the shared Gaussian sensor noise.
        noise_sigma_range: standard deviation of that noise in 8-bit sRGB units.
        jpeg: re-encode the whole image as JPEG.
        jpeg_quality_range: inclusive integer range of the JPEG quality.
    """

    # source preparation
    out_size: Tuple[int, int] = (320, 320)
    source_scale_range: Tuple[float, float] = (0.5, 0.65)
    hflip_prob: float = 0.5
    vflip_prob: float = 0.0
    # depth layout
    ground_plane_prob: float = 0.6
    ground_tilt_jitter_deg: float = 25.0
    flat_plane_prob: float = 0.15
    background_near_depth_range: Tuple[float, float] = (3.0, 6.0)
    background_depth_ratio_range: Tuple[float, float] = (1.5, 6.0)
    num_layers_probs: Tuple[float, ...] = (0.5, 0.35, 0.15)
    layer_depth_fraction_range: Tuple[float, float] = (0.2, 0.85)
    object_mask_prob: float = 0.6
    min_object_area: float = 0.01
    blob_area_range: Tuple[float, float] = (0.04, 0.3)
    blob_aspect_max: float = 2.0
    blob_center_range: Tuple[float, float] = (0.15, 0.85)
    blob_ground_anchor_prob: float = 0.25
    blob_noise_grid: int = 6
    blob_irregularity: float = 0.5
    edge_softness: float = 0.6
    # focus
    focus_layer_prob: float = 0.5
    focus_plane_prob: float = 0.4
    # blur
    max_coc_range: Tuple[float, float] = (6.0, 10.0)
    coc_reference_size: int = 192
    in_focus_threshold: float = 1.0
    background_blur_levels: int = 8
    min_level_step: float = 0.5
    fill_method: str = 'pushpull'
    fill_gain: float = 16.0
    fill_margin: int = 2
    linear_light: bool = True
    # finish
    add_noise: bool = True
    noise_sigma_range: Tuple[float, float] = (0.0, 3.0)
    jpeg: bool = True
    jpeg_quality_range: Tuple[int, int] = (70, 95)

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Check value ranges.

        Raises:
            ValueError: naming the first field whose value is out of range.
        """

        def _range(name, low_min=None, high_max=None):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f'DefocusRenderConfig.{name}: low {lo} > high {hi}')
            if low_min is not None and lo < low_min:
                raise ValueError(f'DefocusRenderConfig.{name}: low {lo} < {low_min}')
            if high_max is not None and hi > high_max:
                raise ValueError(f'DefocusRenderConfig.{name}: high {hi} > {high_max}')

        h, w = self.out_size
        if int(h) < 8 or int(w) < 8:
            raise ValueError(
                f'DefocusRenderConfig.out_size must be at least 8x8, got {self.out_size}')
        _range('source_scale_range', low_min=1e-3)
        _range('background_near_depth_range', low_min=1e-6)
        _range('background_depth_ratio_range', low_min=1.0)
        _range('layer_depth_fraction_range', low_min=1e-3, high_max=0.999)
        _range('blob_area_range', low_min=1e-4, high_max=1.0)
        _range('blob_center_range', low_min=0.0, high_max=1.0)
        _range('max_coc_range', low_min=0.0)
        _range('noise_sigma_range', low_min=0.0)
        _range('jpeg_quality_range', low_min=1, high_max=100)
        for name in ('hflip_prob', 'vflip_prob', 'ground_plane_prob', 'flat_plane_prob',
                     'object_mask_prob', 'blob_ground_anchor_prob', 'focus_layer_prob',
                     'focus_plane_prob'):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f'DefocusRenderConfig.{name} must be in [0, 1], '
                                 f'got {getattr(self, name)}')
        if self.focus_layer_prob + self.focus_plane_prob > 1.0 + 1e-9:
            raise ValueError(
                'DefocusRenderConfig: focus_layer_prob + focus_plane_prob must be <= 1')
        probs = self.num_layers_probs
        if len(probs) == 0 or min(probs) < 0 or abs(sum(probs) - 1.0) > 1e-6:
            raise ValueError(
                'DefocusRenderConfig.num_layers_probs must be non-negative and sum to 1, '
                f'got {probs}')
        if self.blob_aspect_max < 1.0:
            raise ValueError('DefocusRenderConfig.blob_aspect_max must be >= 1')
        if self.blob_noise_grid < 2:
            raise ValueError('DefocusRenderConfig.blob_noise_grid must be >= 2')
        if self.background_blur_levels < 1:
            raise ValueError('DefocusRenderConfig.background_blur_levels must be >= 1')
        if self.coc_reference_size <= 0 or self.in_focus_threshold <= 0:
            raise ValueError(
                'DefocusRenderConfig: coc_reference_size and in_focus_threshold must be '
                'positive')
        if self.fill_method not in ('pushpull', 'telea'):
            raise ValueError("DefocusRenderConfig.fill_method must be 'pushpull' or 'telea', got "
                             f'{self.fill_method!r}')
        if self.fill_gain < 1:
            raise ValueError(f'DefocusRenderConfig.fill_gain must be >= 1, got {self.fill_gain}')
        if self.fill_margin < 0 or self.edge_softness < 0 or self.min_level_step <= 0:
            raise ValueError('DefocusRenderConfig: fill_margin and edge_softness must be >= 0, '
                             'min_level_step > 0')

    @property
    def coc_scale(self) -> float:
        """Factor ``min(out_size) / coc_reference_size`` applied to :attr:`max_coc_range` for
        renders of size :attr:`out_size`."""
        return min(self.out_size) / float(self.coc_reference_size)

    def replace(self, **changes) -> 'DefocusRenderConfig':
        """Return a copy with some fields changed (validated)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        unknown = set(changes) - set(values)
        if unknown:
            raise ValueError(f'DefocusRenderConfig has no field(s) {sorted(unknown)}')
        values.update(changes)
        return DefocusRenderConfig(**values)

    def to_dict(self) -> dict:
        """JSON-friendly dict of all fields (tuples become lists)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Optional[dict]) -> 'DefocusRenderConfig':
        """Build from :meth:`to_dict` output (lists become tuples)."""
        values = dict(values or {})
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items()})
