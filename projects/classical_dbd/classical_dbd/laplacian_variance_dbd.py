"""Variance-of-Laplacian defocus blur detector."""
from typing import Optional

import cv2
import numpy as np
from mmseg.registry import MODELS

from .classical_dbd_segmentor import ClassicalDBDSegmentor

__all__ = ['LaplacianVarianceDBD']


@MODELS.register_module()
class LaplacianVarianceDBD(ClassicalDBDSegmentor):
    """Local variance of the Laplacian as in-focus map.

    On the grey image ``g`` in [0, 1] (optionally pre-blurred with a Gaussian of ``sigma``
    pixels), with ``L = Lap g`` (OpenCV ``cv2.Laplacian``, aperture ``ksize``; ``ksize=1`` is the
    4-neighbour kernel ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]``) and ``B_w`` the ``w x w`` box mean
    (replicated border):

    ``V(x) = B_w[L^2](x) - (B_w[L](x))^2``   (clipped at 0 against rounding).

    Source: the variance-of-Laplacian focus measure of Pech-Pacheco et al., "Diatom autofocusing
    in brightfield microscopy: a comparative study", ICPR 2000, listed as LAP4 ("Variance of
    Laplacian") by Pertuz, Puig & Garcia, Pattern Recognition 46(5), 2013. Both compute it over a
    whole image or a window; the sliding window as a per-pixel map, its size, the exact local
    variance form above (Pertuz's code squares the deviation from a first window mean and
    averages it with a second) and the mappings to [0, 1] are our choices, kept as arguments.

    ``normalize='none'`` maps ``V`` with the fixed rule ``p = V / (V + half_value)`` (0 for a flat
    region, 0.5 at ``V = half_value``, towards 1 for strong local contrast); ``half_value`` is in
    units of (grey / pixel^2)^2 with grey in [0, 1] and is not from a paper.

    Args:
        window (int): side of the box window in pixels, odd, >= 1. Defaults to 15.
        ksize (int): aperture of ``cv2.Laplacian``: 1, 3, 5 or 7. Defaults to 1.
        sigma (float, optional): Gaussian pre-blur in pixels; None = none. Defaults to None.
        half_value (float): variance mapped to 0.5 by ``normalize='none'``, > 0. Defaults to 1e-3.
        **kwargs: :class:`ClassicalDBDSegmentor` arguments.

    Raises:
        ValueError: ``window`` not an odd integer >= 1, ``ksize`` not in (1, 3, 5, 7),
            ``sigma < 0``, ``half_value <= 0``, or a base-class argument error.
    """

    def __init__(self,
                 window: int = 15,
                 ksize: int = 1,
                 sigma: Optional[float] = None,
                 half_value: float = 1e-3,
                 **kwargs):
        super().__init__(**kwargs)
        if int(window) != window or window < 1 or window % 2 == 0:
            raise ValueError(f'LaplacianVarianceDBD: window must be an odd integer >= 1, '
                             f'got {window}')
        if ksize not in (1, 3, 5, 7):
            raise ValueError(f'LaplacianVarianceDBD: ksize must be 1, 3, 5 or 7, got {ksize}')
        if sigma is not None and sigma < 0:
            raise ValueError(f'LaplacianVarianceDBD: sigma must be >= 0 or None, got {sigma}')
        if not half_value > 0:
            raise ValueError(f'LaplacianVarianceDBD: half_value must be > 0, got {half_value}')
        self.window = int(window)
        self.ksize = int(ksize)
        self.sigma = sigma
        self.half_value = float(half_value)

    def sharpness_map(self, grey: np.ndarray) -> np.ndarray:
        """Local Laplacian variance of one grey image.

        Args:
            grey (np.ndarray): ``(H, W)`` float32 in [0, 1].

        Returns:
            np.ndarray: ``(H, W)`` float32, >= 0, in (grey / pixel^2)^2.
        """
        g = np.asarray(grey, dtype=np.float32)
        if self.sigma:
            g = cv2.GaussianBlur(g, (0, 0), self.sigma)
        lap = cv2.Laplacian(g, cv2.CV_32F, ksize=self.ksize).astype(np.float64)
        size = (self.window, self.window)
        mean = cv2.boxFilter(lap, -1, size, borderType=cv2.BORDER_REPLICATE)
        mean_sq = cv2.boxFilter(lap * lap, -1, size, borderType=cv2.BORDER_REPLICATE)
        return np.maximum(mean_sq - mean * mean, 0.0).astype(np.float32)

    def fixed_mapping(self, raw: np.ndarray) -> np.ndarray:
        """``p = V / (V + half_value)``: ``(H, W)`` float32 in [0, 1)."""
        raw = np.maximum(np.asarray(raw, dtype=np.float32), 0.0)
        return (raw / (raw + self.half_value)).astype(np.float32)
