"""Saving probability maps as 8-bit PNGs, atomically.

The 8-bit quantisation here is the one :func:`dbdseg.evaluation.functional.image_sod_measures`
applies with ``normalize_pred=True``, so a toolbox run on the saved PNGs reproduces the metric.
"""
import os
import os.path as osp
import tempfile

import cv2
import numpy as np

__all__ = ['prob_to_uint8', 'atomic_write_bytes', 'save_prob_png']

# mkstemp creates files readable by the owner only; give written files the usual mode instead
_UMASK = os.umask(0)
os.umask(_UMASK)


def prob_to_uint8(prob: np.ndarray) -> np.ndarray:
    """Quantise a probability map to 8 bits: ``uint8(rint(prob * 255))``.

    Rounds to the nearest integer, halves to even (``numpy.rint``, as OpenCV's ``saturate_cast``
    does when it writes a float image), so 0.5 -> 128 and 0.999 -> 255; values are computed in
    float64 and clipped to [0, 255].

    Args:
        prob (np.ndarray): probabilities in [0, 1], any shape, any float dtype.

    Returns:
        np.ndarray: uint8 array of the same shape, values in [0, 255].
    """
    scaled = np.rint(np.asarray(prob, dtype=np.float64) * 255)
    return np.clip(scaled, 0, 255).astype(np.uint8)


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, then
    ``os.replace``. Creates missing parent folders. On any error the temporary file is removed,
    so no half-written file is left under ``path`` or beside it.

    Args:
        path (str): destination file.
        data (bytes): content.

    Raises:
        OSError: the folder cannot be created or written.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{osp.basename(path)}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


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
    atomic_write_bytes(path, buf.tobytes())
