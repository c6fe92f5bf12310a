"""LBP-based sharpness of Yi & Eramian (IEEE TIP 2016) as a defocus blur detector."""
import math
from typing import Sequence

import cv2
import numpy as np
from mmseg.registry import MODELS

from .classical_dbd_segmentor import ClassicalDBDSegmentor

__all__ = ['LBPSharpnessDBD', 'lbp_riu2_codes', 'lbp_sharpness_map', 'SHARP_LBP_CODES']

#: The LBP^{riu2}_{8,1} codes counted as "sharp" by Yi & Eramian (Eq. (15)): uniform patterns with
#: 6, 7 or 8 neighbours above the centre (+ threshold) and the non-uniform code 9.
SHARP_LBP_CODES = (6, 7, 8, 9)

_P = 8  # neighbours
_DIAG = math.sqrt(2.0) / 2.0  # |x| = |y| offset of the diagonal neighbours at radius 1


def lbp_riu2_codes(grey: np.ndarray, lbp_threshold: float = 0.016) -> np.ndarray:
    """Thresholded rotation-invariant uniform LBP codes ``LBP^{riu2}_{8,1}`` of a grey image.

    For each pixel with grey value ``g_c``, the 8 neighbours ``g_p`` (p = 0..7) lie on the circle
    of radius 1 at angles ``2 pi p / 8`` (p = 0: right, p = 2: above); the diagonal ones are
    bilinearly interpolated at offsets ``(+-sqrt(2)/2, +-sqrt(2)/2)`` from the 2 x 2 pixels around
    them. Each neighbour gives the bit ``s_p = 1 if g_p - g_c >= T else 0`` with
    ``T = lbp_threshold``; with ``U`` the number of circular 0/1 transitions of ``s_0..s_7``, the
    code is ``sum_p s_p`` (0..8) when ``U <= 2`` (uniform) and 9 otherwise (Ojala, Pietikainen &
    Maenpaa, IEEE TPAMI 24(7), 2002, Eq. (9)-(10), ``P = 8, R = 1``; the threshold ``T`` is Yi &
    Eramian's addition, which keeps flat noisy areas at code 0 instead of random codes).

    ``T = 0`` is the classic operator: codes equal ``skimage.feature.local_binary_pattern(grey,
    8, 1, method='uniform')`` (whose non-uniform label is ``P + 1 = 9`` too) except on the
    1-pixel image border, where scikit-image samples zeros outside the image and this function
    replicates the border pixels (as the authors' code does). scikit-image has no threshold
    argument, hence this implementation (vectorised numpy, no pixel loops).

    Args:
        grey (np.ndarray): ``(H, W)`` grey image, float in [0, 1] (the unit of ``T``).
        lbp_threshold (float): ``T`` in grey units, >= 0. Yi & Eramian: 0.016. Defaults to 0.016.

    Returns:
        np.ndarray: ``(H, W)`` uint8 codes in 0..9.

    Raises:
        ValueError: ``grey`` is not 2-D or ``lbp_threshold < 0``.
    """
    g = np.asarray(grey, dtype=np.float64)
    if g.ndim != 2:
        raise ValueError(f'lbp_riu2_codes: expected an (H, W) grey image, got shape {g.shape}')
    if not lbp_threshold >= 0:
        raise ValueError(f'lbp_riu2_codes: lbp_threshold must be >= 0, got {lbp_threshold}')
    pad = np.pad(g, 1, mode='edge')
    right, left = pad[1:-1, 2:], pad[1:-1, :-2]
    above, below = pad[:-2, 1:-1], pad[2:, 1:-1]
    above_right, above_left = pad[:-2, 2:], pad[:-2, :-2]
    below_right, below_left = pad[2:, 2:], pad[2:, :-2]
    a = _DIAG

    def diagonal(horizontal, vertical, corner):
        # bilinear interpolation at (a, a) inside the unit square centre/horizontal/vertical/corner
        return (1 - a) * ((1 - a) * g + a * horizontal) + a * ((1 - a) * vertical + a * corner)

    neighbours = (right, diagonal(right, above,
                                  above_right), above, diagonal(left, above, above_left), left,
                  diagonal(left, below, below_left), below, diagonal(right, below, below_right))
    bits = np.stack([(n - g) >= lbp_threshold for n in neighbours])  # (8, H, W) bool
    ones = bits.sum(axis=0)
    transitions = (bits != np.roll(bits, 1, axis=0)).sum(axis=0)
    return np.where(transitions <= 2, ones, _P + 1).astype(np.uint8)


def lbp_sharpness_map(grey: np.ndarray,
                      window: int,
                      lbp_threshold: float = 0.016,
                      sharp_codes: Sequence[int] = SHARP_LBP_CODES) -> np.ndarray:
    """Yi & Eramian's LBP sharpness metric at every pixel, for one window size.

    ``m_LBP(x) = (1 / N) * sum_{i in sharp_codes} n_i(x)``, where ``n_i(x)`` is the number of
    pixels with code ``LBP^{riu2}_{8,1} = i`` (:func:`lbp_riu2_codes`) in the ``window x window``
    patch centred on ``x`` and ``N = window^2`` (Yi & Eramian, IEEE TIP 25(4), 2016, Eq. (15);
    patches outside the image use replicated codes, as the authors' released code).

    Args:
        grey (np.ndarray): ``(H, W)`` grey image, float in [0, 1].
        window (int): patch side in pixels, odd, >= 1 (the paper: 11, 15, 21).
        lbp_threshold (float): ``T_LBP`` in grey units (the paper: 0.016). Defaults to 0.016.
        sharp_codes (Sequence[int]): codes counted as sharp. Defaults to (6, 7, 8, 9).

    Returns:
        np.ndarray: ``(H, W)`` float32 in [0, 1]: the fraction of sharp codes in the patch.

    Raises:
        ValueError: ``window`` not an odd integer >= 1; errors of :func:`lbp_riu2_codes`.
    """
    if int(window) != window or window < 1 or window % 2 == 0:
        raise ValueError(f'lbp_sharpness_map: window must be an odd integer >= 1, got {window}')
    codes = lbp_riu2_codes(grey, lbp_threshold)
    sharp = np.isin(codes, np.asarray(sharp_codes)).astype(np.float32)
    window = int(window)
    return cv2.boxFilter(
        sharp, -1, (window, window), normalize=True, borderType=cv2.BORDER_REPLICATE)


@MODELS.register_module()
class LBPSharpnessDBD(ClassicalDBDSegmentor):
    """LBP-based sharpness (Yi & Eramian, "LBP-based segmentation of defocus blur", IEEE TIP
    25(4):1626-1638, 2016) as in-focus map.

    Per window size ``s`` in ``window_sizes`` the metric ``m_LBP`` of Eq. (15)
    (:func:`lbp_sharpness_map`: fraction of pixels of the ``s x s`` patch whose thresholded
    ``LBP^{riu2}_{8,1}`` code is 6, 7, 8 or 9), on the grey image in [0, 1] with threshold
    ``T_LBP = lbp_threshold``; the per-scale maps (all fractions in [0, 1]) are fused by
    ``fusion`` (``'mean'`` or ``'max'`` per pixel), then mapped to [0, 1] by ``normalize``
    (``'minmax'``: per-image stretch, what the authors' code (``normPatch``) does with each
    scale's map; ``'none'``: the fused metric itself, already a fraction in [0, 1]).

    Checked against the authors' released code (github.com/xinario/defocus_segmentation,
    ``demo.m``, ``lbpCode.m``, ``lbpSharpness.m/.py``): ``T_LBP = 0.016`` (applied to 8-bit
    grey as ``0.016 * 255``), patch sizes 11, 15 and 21, codes >= 6 counted, replicated
    borders. Not checked against the paper's text itself (not available offline).

    Not reproduced: the paper's segmentation stage (per-scale image matting of the thresholded
    metric, Eq. (16)-(18) with ``T_m1 = 0.3`` / ``T_m2 = 0.01``, and the multi-scale inference of
    a graphical model over the three scales, Section III-C). Fusing the raw per-scale metrics by
    their mean (or maximum) is our choice, kept as ``fusion``. Small differences to the authors'
    code, kept on purpose: their neighbour test is ``g_p - g_c - T > 0`` on 8-bit values with the
    interpolated diagonals floored (MATLAB) or on a min-max stretched image (Python script); here
    it is ``g_p - g_c >= T`` on unrounded grey values in [0, 1] (``>=`` makes ``T = 0`` the
    classic LBP of Ojala et al. / scikit-image).

    Args:
        window_sizes (Sequence[int]): patch sides in pixels, odd, >= 1. Defaults to (11, 15, 21).
        lbp_threshold (float): ``T_LBP`` in grey units [0, 1], >= 0. Defaults to 0.016.
        fusion (str): ``'mean'`` or ``'max'`` over scales. Defaults to ``'mean'``.
        **kwargs: :class:`ClassicalDBDSegmentor` arguments (``normalize``, ``threshold``,
            ``channel_order``, ``data_preprocessor``, ...).

    Raises:
        ValueError: empty or invalid ``window_sizes``, ``lbp_threshold < 0``, unknown ``fusion``,
            or a base-class argument error.
    """

    def __init__(self,
                 window_sizes: Sequence[int] = (11, 15, 21),
                 lbp_threshold: float = 0.016,
                 fusion: str = 'mean',
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(window_sizes, int):
            window_sizes = (window_sizes, )
        window_sizes = tuple(window_sizes)
        if not window_sizes:
            raise ValueError('LBPSharpnessDBD: window_sizes is empty')
        for s in window_sizes:
            if int(s) != s or s < 1 or s % 2 == 0:
                raise ValueError(f'LBPSharpnessDBD: window sizes must be odd integers >= 1, got '
                                 f'{window_sizes}')
        if not lbp_threshold >= 0:
            raise ValueError(f'LBPSharpnessDBD: lbp_threshold must be >= 0, got {lbp_threshold}')
        if fusion not in ('mean', 'max'):
            raise ValueError(f"LBPSharpnessDBD: fusion must be 'mean' or 'max', got {fusion!r}")
        self.window_sizes = tuple(int(s) for s in window_sizes)
        self.lbp_threshold = float(lbp_threshold)
        self.fusion = fusion

    def sharpness_map(self, grey: np.ndarray) -> np.ndarray:
        """Fused multi-scale ``m_LBP`` of one grey image.

        Args:
            grey (np.ndarray): ``(H, W)`` float32 in [0, 1].

        Returns:
            np.ndarray: ``(H, W)`` float32 in [0, 1].
        """
        codes = lbp_riu2_codes(grey, self.lbp_threshold)
        sharp = np.isin(codes, np.asarray(SHARP_LBP_CODES)).astype(np.float32)
        maps = np.stack([
            cv2.boxFilter(sharp, -1, (s, s), normalize=True, borderType=cv2.BORDER_REPLICATE)
            for s in self.window_sizes
        ])
        fused = maps.mean(axis=0) if self.fusion == 'mean' else maps.max(axis=0)
        return fused.astype(np.float32)

    def fixed_mapping(self, raw: np.ndarray) -> np.ndarray:
        """Identity (clipped): ``m_LBP`` is already a fraction in [0, 1]."""
        return np.clip(np.asarray(raw, dtype=np.float32), 0.0, 1.0)
