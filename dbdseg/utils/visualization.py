"""Drawing helpers for probability maps (``tools/infer.py``, the visualizers, demos).

Conventions of dbdseg: a probability map holds the in-focus (DBD) / salient (SOD) probability in
[0, 1]; saved 8-bit maps are :func:`dbdseg.utils.fileio.prob_to_uint8` of it (255 = in-focus /
salient; ``prob_to_uint8(to_numpy_prob(tensor))`` for a model output); images are OpenCV/mmcv BGR
uint8 arrays.
"""
from typing import Optional, Tuple, Union

import cv2
import numpy as np

try:  # torch is optional for these helpers
    import torch
except ImportError:  # pragma: no cover
    torch = None

ArrayLike = Union[np.ndarray, 'torch.Tensor']


def to_numpy_prob(prob: ArrayLike) -> np.ndarray:
    """Turn a probability map into a float32 (H, W) array clipped to [0, 1].

    Args:
        prob (np.ndarray | torch.Tensor): (H, W) or (1, H, W) probabilities; NaN becomes 0.

    Returns:
        np.ndarray: float32 (H, W) in [0, 1].

    Raises:
        ValueError: the map is not 2-D (after removing a leading channel of size 1).
    """
    if torch is not None and isinstance(prob, torch.Tensor):
        prob = prob.detach().float().cpu().numpy()
    prob = np.asarray(prob, dtype=np.float32)
    if prob.ndim == 3 and prob.shape[0] == 1:
        prob = prob[0]
    if prob.ndim != 2:
        raise ValueError(f'expected a (H, W) or (1, H, W) probability map, got shape {prob.shape}')
    return np.clip(np.nan_to_num(prob, nan=0.0), 0.0, 1.0)


def heat_overlay(img: np.ndarray,
                 prob: ArrayLike,
                 alpha: float = 0.5,
                 threshold: Optional[float] = None,
                 colormap: int = cv2.COLORMAP_JET,
                 contour_color: Tuple[int, int, int] = (255, 255, 255),
                 contour_thickness: Optional[int] = None) -> np.ndarray:
    """Blend a colour-mapped probability map over an image.

    ``out = (1 - alpha) * img + alpha * colormap(prob)`` (JET: blue = blurred/background,
    red = in-focus/salient); with ``threshold`` the boundary of ``prob > threshold`` is drawn as a
    line.

    Args:
        img (np.ndarray): (H, W, 3) uint8 BGR image (grey (H, W) is accepted).
        prob (np.ndarray | torch.Tensor): (H, W) or (1, H, W) probabilities in [0, 1]; resized
            (bilinear) to the image size if it differs.
        alpha (float): Weight of the heat map in [0, 1]. Defaults to 0.5.
        threshold (float, optional): Draw the contour of ``prob > threshold``. Defaults to None.
        colormap (int): OpenCV colormap id. Defaults to ``cv2.COLORMAP_JET``.
        contour_color (tuple): BGR colour of the contour. Defaults to white.
        contour_thickness (int, optional): Line width in pixels; default
            ``max(1, min(H, W) // 200)``.

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR overlay.

    Raises:
        ValueError: ``alpha`` outside [0, 1] or an image that is not (H, W) / (H, W, 3).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f'alpha must be in [0, 1], got {alpha}')
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f'expected a (H, W, 3) BGR image, got shape {img.shape}')
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    h, w = img.shape[:2]
    p = to_numpy_prob(prob)
    if p.shape != (h, w):
        p = cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR)
    heat = cv2.applyColorMap(np.round(p * 255.0).astype(np.uint8), colormap)
    out = cv2.addWeighted(img, 1.0 - alpha, heat, alpha, 0.0)
    if threshold is not None:
        mask = (p > threshold).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        thickness = contour_thickness or max(1, min(h, w) // 200)
        cv2.drawContours(out, contours, -1, contour_color, thickness)
    return out
