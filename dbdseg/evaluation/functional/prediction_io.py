"""Saving probability maps as 8-bit PNGs, atomically.

The 8-bit quantisation here is the one :func:`dbdseg.evaluation.functional.image_sod_measures`
applies with ``normalize_pred=True``, so a toolbox run on the saved PNGs reproduces the metric.
"""
import cv2
import numpy as np

from dbdseg.utils.fileio import atomic_write_bytes, prob_to_uint8

__all__ = ['save_prob_png']


def save_prob_png(prob: np.ndarray, path: str) -> None:
    """Save a probability map as an 8-bit grey PNG, ``rint(prob * 255)`` (255 = in-focus /
    salient), atomically (see :func:`atomic_write_bytes`).

    Args:
        prob (np.ndarray): probabilities in [0, 1], shape (H, W), any float dtype.
        path (str): destination file, normally ``<dir>/<stem>.png``.

    Raises:
        ValueError: ``prob`` is not 2-D.
        RuntimeError: OpenCV fails to encode the image.
    """
    prob = np.asarray(prob)
    if prob.ndim != 2:
        raise ValueError(f'save_prob_png expects an (H, W) map, got shape {prob.shape}.')
    ok, buf = cv2.imencode('.png', prob_to_uint8(prob))
    if not ok:
        raise RuntimeError(f'OpenCV could not encode {path} as PNG.')
    atomic_write_bytes(path, buf.tobytes(), fsync=False)
