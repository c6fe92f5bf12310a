"""Energy-of-Laplacian defocus blur detector (the "gradient energy" baseline of DBD tables)."""
from typing import Optional

import numpy as np
from mmseg.registry import MODELS

from dbdseg.utils import gradient_energy_map
from .classical_dbd_segmentor import ClassicalDBDSegmentor

__all__ = ['GradientEnergyDBD']


@MODELS.register_module()
class GradientEnergyDBD(ClassicalDBDSegmentor):
    """Local mean of the squared Laplacian as in-focus map.

    Computes, on the grey image ``g`` in [0, 1] (optionally pre-blurred with a Gaussian of
    ``sigma`` pixels),

    ``E(x) = (1 / w^2) * sum_{y in W_w(x)} (Lap g)(y)^2``,

    with the 4-neighbour Laplacian ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]`` (OpenCV ``ksize=1``)
    and ``W_w(x)`` the ``w x w`` box centred on ``x`` (OpenCV's default reflected border), then
    stretches ``E`` to [0, 1] per image. This is exactly :func:`dbdseg.utils.gradient_energy_map`
    (the core's baseline), run here as a segmentor so that ``tools/test.py CONFIG none``
    evaluates it; with ``uint8_grey=True`` it equals that function on the loaded uint8 image bit
    for bit (the "gradient-energy" row of ``tools/demo.sh``).

    Source: the energy-of-Laplacian focus measure (Subbarao, Choi & Nikzad, "Focusing techniques",
    Optical Engineering 32(11), 1993), the LAP family of Pertuz, Puig & Garcia, "Analysis of focus
    measure operators for shape-from-focus", Pattern Recognition 46(5), 2013 (Table 1, "Energy of
    Laplacian"). Window, pre-blur and the per-image stretch are not fixed by those sources: they
    are the arguments below (window 15 as the core baseline).

    Only ``normalize='minmax'`` is available: ``gradient_energy_map`` stretches every map itself,
    and the Laplacian energy has no natural scale for a fixed mapping (use
    :class:`LaplacianVarianceDBD` with ``normalize='none'`` for one).

    Args:
        window (int): side of the box window in pixels, >= 1. Defaults to 15.
        sigma (float, optional): Gaussian pre-blur in pixels; None = none. Defaults to None.
        **kwargs: :class:`ClassicalDBDSegmentor` arguments (``normalize``, ``threshold``,
            ``channel_order``, ``data_preprocessor``, ...).

    Raises:
        ValueError: ``window < 1``, ``sigma < 0``, ``normalize='none'``, or a base-class argument
            error.
    """

    SUPPORTED_NORMALIZE = ('minmax', )

    def __init__(self, window: int = 15, sigma: Optional[float] = None, **kwargs):
        super().__init__(**kwargs)
        if int(window) != window or window < 1:
            raise ValueError(f'GradientEnergyDBD: window must be an integer >= 1, got {window}')
        if sigma is not None and sigma < 0:
            raise ValueError(f'GradientEnergyDBD: sigma must be >= 0 or None, got {sigma}')
        self.window = int(window)
        self.sigma = sigma

    def sharpness_map(self, grey: np.ndarray) -> np.ndarray:
        """Stretched Laplacian energy of one grey image.

        Args:
            grey (np.ndarray): ``(H, W)`` float32 in [0, 1].

        Returns:
            np.ndarray: ``(H, W)`` float32 in [0, 1] (all zeros for a constant image).
        """
        return gradient_energy_map(grey, window=self.window, sigma=self.sigma)
