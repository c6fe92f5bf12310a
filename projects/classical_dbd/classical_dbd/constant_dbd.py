"""Constant-map "detector": the all-in-focus reference row of DBD tables."""
import numpy as np
from mmseg.registry import MODELS

from .classical_dbd_segmentor import ClassicalDBDSegmentor

__all__ = ['ConstantDBD']


@MODELS.register_module()
class ConstantDBD(ClassicalDBDSegmentor):
    """The same in-focus probability ``value`` at every pixel of every image.

    With ``value=1`` (the default) every pixel is predicted in focus: the trivial "all in focus"
    reference of a DBD table, which shows what a metric gives for a map that uses no image
    content. On an image where a fraction ``f`` of the pixels is in focus it scores
    ``MAE = 1 - f`` and, the map being left unstretched by ``SODMetric``, precision ``f`` and
    recall 1 at every threshold, so ``F = (1 + beta^2) f / (beta^2 f + 1)`` (beta^2 = 0.3, the
    F-measure of the SOD benchmarks, Achanta et al., CVPR 2009). It is not a method of any paper:
    a reference row, ``value`` our choice.

    Only ``normalize='none'`` is available (the default here): a per-image min-max stretch would
    turn the constant map into zeros. The fixed mapping is the identity.

    Args:
        value (float): the probability, in [0, 1]. Defaults to 1.0.
        normalize (str): must be ``'none'``. Defaults to ``'none'``.
        **kwargs: :class:`ClassicalDBDSegmentor` arguments (``threshold``, ``data_preprocessor``,
            ...).

    Raises:
        ValueError: ``value`` outside [0, 1], ``normalize='minmax'``, or a base-class argument
            error.
    """

    SUPPORTED_NORMALIZE = ('none', )

    def __init__(self, value: float = 1.0, normalize: str = 'none', **kwargs):
        super().__init__(normalize=normalize, **kwargs)
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f'ConstantDBD: value must be in [0, 1], got {value}')
        self.value = float(value)

    def sharpness_map(self, grey: np.ndarray) -> np.ndarray:
        """``value`` everywhere.

        Args:
            grey (np.ndarray): ``(H, W)`` grey image in [0, 1] (only its shape is used).

        Returns:
            np.ndarray: ``(H, W)`` float32, all ``value``.
        """
        return np.full(np.shape(grey), self.value, dtype=np.float32)

    def fixed_mapping(self, raw: np.ndarray) -> np.ndarray:
        """The identity: ``raw`` is already a probability in [0, 1].

        Args:
            raw (np.ndarray): ``(H, W)`` output of :meth:`sharpness_map`.

        Returns:
            np.ndarray: ``(H, W)`` float32, ``raw`` unchanged.
        """
        return np.asarray(raw, dtype=np.float32)
