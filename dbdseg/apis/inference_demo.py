"""The logic of the web demo (``demo/web_demo.py``): one photo in, the map and its views out.

The demo predicts once per uploaded photo (:func:`predict_photo`) and redraws the views when the
threshold or the overlay weight changes (:func:`render_views`), without running the model again.
Images here are RGB (what browsers, PIL and Gradio use); the model side converts to the BGR
arrays of :func:`dbdseg.apis.inference_model`. Nothing here imports a web framework, so it is
tested without a browser.
"""
from typing import Dict, Optional

import numpy as np

__all__ = ['positive_class_name', 'predict_photo', 'render_views']


def positive_class_name(model) -> str:
    """The name of what the map shows (255 = this), from ``model.dataset_meta['classes'][-1]``
    (``'in-focus'`` for the DBD datasets, ``'salient'`` for the SOD ones). The generic
    ``'foreground'`` of :class:`dbdseg.datasets.BinarySegDataset` (folder and synthetic
    datasets), or no metainfo, gives ``'in-focus / salient'``."""
    classes = (getattr(model, 'dataset_meta', None) or {}).get('classes') or ('foreground', )
    name = str(classes[-1])
    return 'in-focus / salient' if name == 'foreground' else name


def predict_photo(model, image, max_side: Optional[int] = None) -> np.ndarray:
    """The probability map of one photo.

    Args:
        model (nn.Module): a segmentor from :func:`dbdseg.apis.init_model`.
        image (np.ndarray | PIL.Image.Image): (H, W, 3) uint8 RGB array (grey (H, W) and RGBA
            (H, W, 4) are accepted), or a PIL image (EXIF orientation applied).
        max_side (int, optional): see :func:`dbdseg.apis.inference_model`. Defaults to None:
            the config's test size.

    Returns:
        np.ndarray: (H, W) float32 in [0, 1], the in-focus / salient probability at the photo's
        size.

    Raises:
        ValueError: ``image`` is None or of an unsupported shape.
    """
    from dbdseg.apis.inference import inference_model
    from dbdseg.utils.visualization import to_numpy_prob
    if image is None:
        raise ValueError('no image: upload a photo first')
    if isinstance(image, np.ndarray):
        if image.ndim == 3 and image.shape[2] in (3, 4):
            image = np.ascontiguousarray(image[:, :, 2::-1])  # RGB(A) -> BGR
        elif image.ndim != 2:
            raise ValueError(f'expected an (H, W, 3) RGB image, got shape {image.shape}')
    result = inference_model(model, image, max_side=max_side)
    return to_numpy_prob(result.seg_logits.data)


def render_views(image: np.ndarray,
                 prob: np.ndarray,
                 threshold: float = 0.5,
                 alpha: float = 0.5) -> Dict[str, np.ndarray]:
    """The three views the demo shows, as RGB uint8 arrays of the photo's size.

    Args:
        image (np.ndarray): (H, W, 3) uint8 RGB photo (grey (H, W) and RGBA accepted).
        prob (np.ndarray): (H, W) probability in [0, 1] (:func:`predict_photo`).
        threshold (float): in [0, 1]; the mask is ``prob > threshold`` and the overlay outlines
            it. Defaults to 0.5.
        alpha (float): weight of the heat map in the overlay, in [0, 1]. Defaults to 0.5.

    Returns:
        dict[str, np.ndarray]: ``map`` (the probability as grey, ``uint8(rint(prob * 255))`` in
        each channel), ``overlay`` (JET heat map over the photo, red = high, white outline of
        the mask; :func:`dbdseg.utils.visualization.heat_overlay`) and ``mask`` (white where
        ``prob > threshold``, else black); each (H, W, 3) uint8 RGB.

    Raises:
        ValueError: ``threshold`` or ``alpha`` outside [0, 1], or sizes that differ.
    """
    from dbdseg.utils.fileio import prob_to_uint8
    from dbdseg.utils.visualization import heat_overlay, to_numpy_prob
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f'threshold must be in [0, 1], got {threshold}')
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    rgb = np.ascontiguousarray(image[:, :, :3]).astype(np.uint8)
    prob = to_numpy_prob(prob)
    if prob.shape != rgb.shape[:2]:
        raise ValueError(f'the map ({prob.shape}) and the photo ({rgb.shape[:2]}) differ in size')
    grey = prob_to_uint8(prob)
    overlay_bgr = heat_overlay(rgb[:, :, ::-1], prob, alpha=alpha, threshold=threshold)
    mask = np.where(prob > threshold, 255, 0).astype(np.uint8)
    return dict(
        map=np.repeat(grey[:, :, None], 3, axis=2),
        overlay=np.ascontiguousarray(overlay_bgr[:, :, ::-1]),
        mask=np.repeat(mask[:, :, None], 3, axis=2))
