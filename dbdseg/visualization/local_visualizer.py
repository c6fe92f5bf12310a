"""Visualizer for binary probability maps (``tools/test.py --show-dir``) and its panel helpers.

:class:`BinarySegLocalVisualizer` draws, for a 1-channel probability prediction, one picture of
four panels with a title strip each::

    [ image | ground truth (label 1 tinted) | probability heat map (jet) | prediction (tinted) ]

The module-level helpers (:func:`tint_mask`, :func:`mask_panel`, :func:`title_strip`,
:func:`add_title`, :func:`hstack_panels`, :func:`prob_heatmap`) are shared with
:mod:`dbdseg.visualization.browse`. They work on uint8 (H, W, 3) arrays in whatever channel
order the caller uses; colours are given in that same order (the visualizer works in RGB, as
mmengine's ``Visualizer`` and mmseg's ``SegVisualizationHook`` do).
"""
import os
import os.path as osp
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.dist import master_only
from mmseg.structures import SegDataSample
from mmseg.visualization import SegLocalVisualizer

from dbdseg.registry import VISUALIZERS
from dbdseg.utils.fileio import imwrite_atomic
from dbdseg.utils.visualization import heat_overlay, to_numpy_prob

#: Class names and palette of a binary dataset when none are given (as ``BinarySegDataset``).
BINARY_CLASSES = ('background', 'foreground')
BINARY_PALETTE = [[0, 0, 0], [255, 255, 255]]

Color = Tuple[int, int, int]

_FONT = cv2.FONT_HERSHEY_SIMPLEX


# --------------------------------------------------------------------------------- panel helpers
def default_title_height(width: int) -> int:
    """Height in pixels of a title strip over a panel ``width`` pixels wide: 6 % of the width,
    clipped to [16, 40]."""
    return int(np.clip(round(width * 0.06), 16, 40))


def _put_text_fit(img: np.ndarray,
                  text: str,
                  x0: int,
                  x1: int,
                  y0: int,
                  y1: int,
                  color: Color = (255, 255, 255),
                  center: bool = False) -> None:
    """Write ``text`` into the box [x0, x1) x [y0, y1) of ``img`` (in place), as large as fits the
    box height and width (never below font scale 0.25; longer text is clipped at the box)."""
    box_w, box_h = max(1, x1 - x0), max(1, y1 - y0)
    (tw, th), base = cv2.getTextSize(text, _FONT, 1.0, 1)
    scale = min(0.7 * box_h / max(th + base, 1), (box_w - 2) / max(tw, 1))
    scale = max(scale, 0.25)
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, 1)
    x = x0 + (max(0, (box_w - tw) // 2) if center else min(3, max(1, box_h // 6)))
    y = y0 + (box_h + th) // 2 - 1
    sub = img[y0:y1, x0:x1]  # clip drawing to the box
    canvas = np.ascontiguousarray(sub)
    cv2.putText(canvas, text, (x - x0, y - y0), _FONT, scale, color, 1, cv2.LINE_AA)
    img[y0:y1, x0:x1] = canvas


def title_strip(text: str,
                width: int,
                height: int,
                bg: Color = (40, 40, 40),
                fg: Color = (255, 255, 255)) -> np.ndarray:
    """A (height, width, 3) uint8 strip with ``text`` written left-aligned, scaled to fit.

    Raises:
        ValueError: ``width`` or ``height`` < 1.
    """
    if width < 1 or height < 1:
        raise ValueError(f'title strip needs a positive size, got {width} x {height}')
    strip = np.empty((height, width, 3), np.uint8)
    strip[:] = bg
    _put_text_fit(strip, text, 0, width, 0, height, fg)
    return strip


# yapf: disable
def colorbar_strip(text: str,
                   width: int,
                   height: int,
                   colormap: int = cv2.COLORMAP_JET,
                   rgb: bool = True,
                   bg: Color = (40, 40, 40),
                   fg: Color = (255, 255, 255)) -> np.ndarray:
    # yapf: enable
    """A title strip with ``text`` on the left and a colour bar ``0 [colormap] 1`` on the right.

    Args:
        text (str): Title.
        width, height (int): Strip size in pixels (>= 1).
        colormap (int): OpenCV colormap of the bar. Defaults to JET (blue = 0, red = 1).
        rgb (bool): Return the strip in RGB (True) or BGR order. Defaults to True.
        bg, fg (tuple): Background and text colours in the returned order.

    Returns:
        np.ndarray: (height, width, 3) uint8.
    """
    strip = title_strip(text, max(1, int(width * 0.55)), height, bg, fg)
    rest = width - strip.shape[1]
    if rest <= 0:
        return strip[:, :width]
    right = np.empty((height, rest, 3), np.uint8)
    right[:] = bg
    label_w = max(1, min(rest // 5, height))
    bar_x0, bar_x1 = label_w, rest - label_w
    if bar_x1 > bar_x0:
        ramp = np.linspace(0, 255, bar_x1 - bar_x0).round().astype(np.uint8)[None]
        bar = cv2.applyColorMap(ramp, colormap)  # (1, n, 3) BGR
        if rgb:
            bar = bar[..., ::-1]
        y0, y1 = height // 4, height - height // 4
        right[y0:max(y1, y0 + 1), bar_x0:bar_x1] = bar
    _put_text_fit(right, '0', 0, label_w, 0, height, fg, center=True)
    _put_text_fit(right, '1', bar_x1, rest, 0, height, fg, center=True)
    return np.concatenate([strip, right], axis=1)


def add_title(panel: np.ndarray, title, height: Optional[int] = None) -> np.ndarray:
    """Put a title strip over ``panel``.

    Args:
        panel (np.ndarray): (H, W, 3) uint8.
        title (str | np.ndarray): Text, or a ready (h, W, 3) strip (e.g. :func:`colorbar_strip`).
        height (int, optional): Strip height; default :func:`default_title_height` of W.

    Returns:
        np.ndarray: (H + height, W, 3) uint8.
    """
    if isinstance(title, np.ndarray):
        strip = title
    else:
        strip = title_strip(
            str(title), panel.shape[1], height or default_title_height(panel.shape[1]))
    return np.concatenate([strip, panel], axis=0)


def hstack_panels(panels: Sequence[np.ndarray]) -> np.ndarray:
    """Concatenate panels of equal height side by side (no gaps).

    Raises:
        ValueError: no panels, or panels of different heights.
    """
    if not panels:
        raise ValueError('hstack_panels: no panels to stack')
    heights = [p.shape[0] for p in panels]
    if len(set(heights)) != 1:
        raise ValueError(f'hstack_panels: panels have different heights {heights}')
    return np.concatenate(list(panels), axis=1)


def _as_mask(mask, shape: Tuple[int, int]) -> np.ndarray:
    """(H, W) integer label map resized (nearest) to ``shape`` (H, W)."""
    if isinstance(mask, torch.Tensor):
        mask = mask.detach().cpu().numpy()
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[0] == 1:
        mask = mask[0]
    if mask.ndim != 2:
        raise ValueError(f'expected a (H, W) or (1, H, W) label map, got shape {mask.shape}')
    mask = mask.astype(np.int64)
    if mask.shape != tuple(shape):
        mask = cv2.resize(
            mask.astype(np.int32), (shape[1], shape[0]),
            interpolation=cv2.INTER_NEAREST).astype(np.int64)
    return mask


def tint_mask(image: np.ndarray,
              mask,
              color: Color = (255, 40, 40),
              alpha: float = 0.5,
              contour_color: Optional[Color] = None,
              ignore_index: int = 255,
              ignore_color: Color = (128, 128, 128)) -> np.ndarray:
    """Tint the label-1 pixels of ``image``, grey out ignored pixels, outline the label-1 region.

    Pixels with label 0 keep the image's values exactly; label 1 becomes
    ``(1 - alpha) * image + alpha * color``; ``ignore_index`` pixels become ``ignore_color``.

    Args:
        image (np.ndarray): (H, W, 3) uint8 (grey (H, W) accepted).
        mask (np.ndarray | torch.Tensor): (H, W) or (1, H, W) labels {0, 1} (and
            ``ignore_index``); resized (nearest) to the image when it differs.
        color (tuple): Tint colour, in the image's channel order. Defaults to red in RGB.
        alpha (float): Tint weight in [0, 1]. Defaults to 0.5.
        contour_color (tuple, optional): Colour of the 1-pixel outline drawn on the border pixels
            of the label-1 region (inside it); None uses ``color``.
        ignore_index (int): Label shown as ``ignore_color``. Defaults to 255.
        ignore_color (tuple): Defaults to mid grey.

    Returns:
        np.ndarray: (H, W, 3) uint8.

    Raises:
        ValueError: ``alpha`` outside [0, 1]; a mask that is not 2-D.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f'alpha must be in [0, 1], got {alpha}')
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    image = np.clip(image, 0, 255).astype(np.uint8)
    m = _as_mask(mask, image.shape[:2])
    out = image.copy()
    pos = m == 1
    tint = np.asarray(color, np.float32)
    out[pos] = np.round((1.0 - alpha) * image[pos].astype(np.float32) + alpha * tint).astype(
        np.uint8)
    out[m == ignore_index] = ignore_color
    contours, _ = cv2.findContours(pos.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, tuple(int(c) for c in (contour_color or color)), 1)
    return out


def mask_panel(mask,
               shape: Optional[Tuple[int, int]] = None,
               ignore_index: int = 255,
               ignore_color: Color = (128, 128, 128)) -> np.ndarray:
    """A binary label map as a picture: white = 1, black = 0, ``ignore_color`` = ignore_index.

    Args:
        mask (np.ndarray | torch.Tensor): (H, W) or (1, H, W) labels.
        shape (tuple, optional): (H, W) to resize to (nearest). Defaults to the mask's size.

    Returns:
        np.ndarray: (H, W, 3) uint8; other labels are black.
    """
    m = np.asarray(mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else mask)
    m = _as_mask(m, shape or m.shape[-2:])
    out = np.zeros(m.shape + (3, ), np.uint8)
    out[m == 1] = 255
    out[m == ignore_index] = ignore_color
    return out


def prob_heatmap(prob,
                 shape: Tuple[int, int],
                 image: Optional[np.ndarray] = None,
                 alpha: float = 1.0,
                 rgb: bool = True) -> np.ndarray:
    """Jet heat map of a probability map (blue = 0, red = 1), optionally blended over an image.

    Args:
        prob (np.ndarray | torch.Tensor): (H, W) or (1, H, W) in [0, 1] (clipped); resized
            (bilinear) to ``shape``.
        shape (tuple): (H, W) of the result.
        image (np.ndarray, optional): (H, W, 3) uint8 image in the same channel order as the
            result, blended under the map when ``alpha`` < 1.
        alpha (float): Weight of the heat map. Defaults to 1.0 (the map alone).
        rgb (bool): Channel order of the result (and of ``image``). Defaults to RGB.

    Returns:
        np.ndarray: (H, W, 3) uint8.
    """
    base = np.zeros(tuple(shape) + (3, ), np.uint8) if image is None else image
    if rgb:
        base = np.ascontiguousarray(base[..., ::-1])
    out = heat_overlay(base, prob, alpha=alpha if image is not None else 1.0)
    return np.ascontiguousarray(out[..., ::-1]) if rgb else out


def _no_data_panel(image: np.ndarray, text: str) -> np.ndarray:
    """The image dimmed to 30 % with ``text`` written across its middle."""
    out = (image.astype(np.float32) * 0.3).astype(np.uint8)
    h, w = out.shape[:2]
    band = max(8, min(h, default_title_height(w)))
    y0 = max(0, (h - band) // 2)
    _put_text_fit(out, text, 0, w, y0, min(h, y0 + band), center=True)
    return out


def positive_class_name(dataset_meta: Optional[dict]) -> str:
    """Name of label 1: ``dataset_meta['classes'][1]`` for a two-class meta, else 'label 1'."""
    classes = (dataset_meta or {}).get('classes', None)
    if classes is not None and len(classes) == 2:
        return str(classes[1])
    return 'label 1'


# ---------------------------------------------------------------------------------- visualizer
@VISUALIZERS.register_module()
class BinarySegLocalVisualizer(SegLocalVisualizer):
    """mmseg's ``SegLocalVisualizer`` that draws binary probability predictions as four panels.

    For a data sample whose ``seg_logits.data`` has one channel (the probability of label 1,
    in-focus / salient, in [0, 1]), :meth:`add_datasample` draws (each panel the image size,
    each with a title strip on top; RGB like the image it is given)::

        [ image | ground truth | P(label 1) heat map | prediction ]

    * ground truth: the image with the label-1 region of ``gt_sem_seg`` tinted (``tint_color``,
      ``alpha``) and outlined, ignored pixels (255) grey; without ``gt_sem_seg`` the dimmed image
      with 'no ground truth';
    * heat map: ``seg_logits`` through the JET colormap (blue = 0, red = 1; a ``0 .. 1`` colour
      bar in its title strip), blended over the image when ``heat_alpha`` < 1;
    * prediction: the image with ``pred_sem_seg`` == 1 tinted and outlined (``seg_logits >
      threshold`` when the sample has no 1-channel ``pred_sem_seg``).

    The name of label 1 in the titles is ``dataset_meta['classes'][1]`` (the runner sets
    ``dataset_meta`` from the test dataset), e.g. 'ground truth (tinted = in-focus)'.
    ``draw_gt=False`` drops the ground-truth panel, ``draw_pred=False`` the two prediction panels.
    Any other sample (no ``seg_logits``, or C > 1 channels) is drawn by mmseg's
    ``SegLocalVisualizer.add_datasample``.

    Like the parent, the picture goes to ``out_file`` when given (BGR file, folders created),
    else to every vis backend through ``add_image`` (``LocalVisBackend``:
    ``<save_dir>/vis_data/vis_image/<name>_<step>.png``), and to a window when ``show``.

    Args:
        name (str): Instance name. Defaults to 'visualizer'.
        image (np.ndarray, optional): Initial RGB image. Defaults to None.
        vis_backends (list[dict], optional): Vis backend configs. Defaults to None.
        save_dir (str, optional): Save dir of the backends. Defaults to None.
        classes (Sequence[str], optional): Class names; default ``('background', 'foreground')``
            unless ``dataset_name`` is given.
        palette (list, optional): Class colours (used by the multi-class fallback); default
            black / white for two classes.
        dataset_name (str, optional): mmseg dataset name for classes / palette (as the parent).
        alpha (float): Tint weight of the ground-truth / prediction overlays, and mmseg's mask
            alpha in the fallback. Defaults to 0.5.
        heat_alpha (float): Weight of the heat map over the image; 1.0 shows the map alone.
            Defaults to 1.0.
        threshold (float): Threshold on ``seg_logits`` when a sample has no usable
            ``pred_sem_seg``. Defaults to 0.5.
        tint_color (tuple): RGB tint of label 1. Defaults to (255, 40, 40) (red).
        title_height (int, optional): Height of the title strips; default
            :func:`default_title_height` of the image width.
        **kwargs: Passed to mmengine's ``Visualizer``.

    Raises:
        ValueError: ``alpha``, ``heat_alpha`` or ``threshold`` outside [0, 1]; classes and
            palette of different lengths.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[list] = None,
                 save_dir: Optional[str] = None,
                 classes: Optional[Sequence[str]] = None,
                 palette: Optional[list] = None,
                 dataset_name: Optional[str] = None,
                 alpha: float = 0.5,
                 heat_alpha: float = 1.0,
                 threshold: float = 0.5,
                 tint_color: Color = (255, 40, 40),
                 title_height: Optional[int] = None,
                 **kwargs):
        # mmseg 1.2.2's SegLocalVisualizer.__init__ passes palette and classes swapped to
        # set_dataset_meta; initialise mmengine's Visualizer directly and set the meta here.
        super(SegLocalVisualizer, self).__init__(
            name=name, image=image, vis_backends=vis_backends, save_dir=save_dir, **kwargs)
        for arg, value in (('alpha', alpha), ('heat_alpha', heat_alpha), ('threshold', threshold)):
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f'BinarySegLocalVisualizer: {arg} must be in [0, 1], got {value}')
        self.alpha = float(alpha)
        self.heat_alpha = float(heat_alpha)
        self.threshold = float(threshold)
        self.tint_color = tuple(int(c) for c in tint_color)
        self.title_height = title_height
        self.set_dataset_meta(classes, palette, dataset_name)

    def set_dataset_meta(self,
                         classes: Optional[Sequence[str]] = None,
                         palette: Optional[list] = None,
                         dataset_name: Optional[str] = None) -> None:
        """Set classes and palette; binary defaults when neither they nor ``dataset_name`` are
        given (the parent defaults to Cityscapes).

        Raises:
            ValueError: classes and palette of different lengths.
        """
        if dataset_name is not None:
            return super().set_dataset_meta(classes, palette, dataset_name)
        classes = tuple(classes) if classes else BINARY_CLASSES
        if not palette:
            if len(classes) != 2:
                raise ValueError(f'BinarySegLocalVisualizer: give a palette for the '
                                 f'{len(classes)} classes {classes}')
            palette = BINARY_PALETTE
        if len(classes) != len(palette):
            raise ValueError(f'BinarySegLocalVisualizer: {len(classes)} classes {classes} but '
                             f'{len(palette)} palette colours')
        self.dataset_meta = {'classes': classes, 'palette': [list(c) for c in palette]}

    # ------------------------------------------------------------------------------ drawing
    @staticmethod
    def binary_prob(data_sample: Optional[SegDataSample]) -> Optional[np.ndarray]:
        """The (H, W) float32 probability map of a 1-channel ``seg_logits`` (clipped to [0, 1]),
        or None when the sample has no ``seg_logits`` or it has C > 1 channels."""
        if data_sample is None or 'seg_logits' not in data_sample:
            return None
        data = data_sample.seg_logits.data
        if data.ndim == 3 and data.shape[0] != 1:
            return None
        return to_numpy_prob(data)

    def _title(self, panel: np.ndarray, title, with_titles: bool) -> np.ndarray:
        return add_title(panel, title, self._strip_height(panel)) if with_titles else panel

    def _strip_height(self, panel: np.ndarray) -> int:
        return self.title_height or default_title_height(panel.shape[1])

    def draw_binary_panels(self,
                           image: np.ndarray,
                           data_sample: SegDataSample,
                           draw_gt: bool = True,
                           draw_pred: bool = True,
                           with_titles: bool = True) -> np.ndarray:
        """Draw the panels of a 1-channel probability sample (see the class docstring).

        Args:
            image (np.ndarray): (H, W, 3) uint8 RGB image (grey (H, W) accepted).
            data_sample (SegDataSample): With 1-channel ``seg_logits``; optional ``gt_sem_seg``,
                ``pred_sem_seg``. Maps of another size are resized to the image.
            draw_gt, draw_pred (bool): Include the ground-truth / prediction panels.
            with_titles (bool): Add the title strips.

        Returns:
            np.ndarray: (H + title height, n * W, 3) uint8 RGB, n = 1 + draw_gt + 2 * draw_pred.

        Raises:
            ValueError: the sample has no 1-channel ``seg_logits``.
        """
        prob = self.binary_prob(data_sample)
        if prob is None:
            raise ValueError('BinarySegLocalVisualizer: the sample has no 1-channel seg_logits')
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        image = np.clip(image, 0, 255).astype(np.uint8)
        h, w = image.shape[:2]
        pos = positive_class_name(self.dataset_meta)
        panels = [self._title(image, 'image', with_titles)]
        if draw_gt:
            if 'gt_sem_seg' in data_sample:
                gt = tint_mask(image, data_sample.gt_sem_seg.data, self.tint_color, self.alpha)
                panels.append(self._title(gt, f'ground truth (tinted = {pos})', with_titles))
            else:
                panels.append(
                    self._title(
                        _no_data_panel(image, 'no ground truth'), 'ground truth', with_titles))
        if draw_pred:
            heat = prob_heatmap(
                prob, (h, w),
                image=image if self.heat_alpha < 1 else None,
                alpha=self.heat_alpha,
                rgb=True)
            strip = colorbar_strip(f'P({pos})', w, self._strip_height(heat), rgb=True)
            panels.append(self._title(heat, strip, with_titles))
            pred = None
            if 'pred_sem_seg' in data_sample:
                pred_data = data_sample.pred_sem_seg.data
                if pred_data.ndim == 2 or pred_data.shape[0] == 1:
                    pred = pred_data
            if pred is None:
                pred = (prob > self.threshold).astype(np.int64)
            pred_img = tint_mask(image, pred, self.tint_color, self.alpha)
            panels.append(self._title(pred_img, f'prediction (tinted = {pos})', with_titles))
        return hstack_panels(panels)

    @master_only
    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[SegDataSample] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0,
                       with_labels: Optional[bool] = True) -> None:
        """Draw a data sample and save it (signature of mmseg 1.2.2's ``SegLocalVisualizer``).

        Args:
            name (str): Image identifier (window / backend name).
            image (np.ndarray): (H, W, 3) uint8 RGB image.
            data_sample (SegDataSample, optional): Prediction and ground truth.
            draw_gt (bool): Draw the ground truth. Defaults to True.
            draw_pred (bool): Draw the prediction. Defaults to True.
            show (bool): Show in a window. Defaults to False.
            wait_time (float): Seconds to show. Defaults to 0.
            out_file (str, optional): Write the picture here (instead of the vis backends).
            step (int): Global step for the backends. Defaults to 0.
            with_labels (bool): Binary panels: draw the title strips; fallback: mmseg's class
                labels. Defaults to True.
        """
        if self.binary_prob(data_sample) is None:
            return super().add_datasample(
                name,
                image,
                data_sample,
                draw_gt=draw_gt,
                draw_pred=draw_pred,
                show=show,
                wait_time=wait_time,
                out_file=out_file,
                step=step,
                with_labels=with_labels)
        drawn = self.draw_binary_panels(
            image, data_sample, draw_gt=draw_gt, draw_pred=draw_pred, with_titles=bool(with_labels))
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            folder = osp.dirname(osp.abspath(out_file))
            os.makedirs(folder, exist_ok=True)
            imwrite_atomic(out_file, np.ascontiguousarray(drawn[..., ::-1]))
        else:
            self.add_image(name, drawn, step)


__all__ = [
    'BinarySegLocalVisualizer', 'add_title', 'colorbar_strip', 'default_title_height',
    'hstack_panels', 'mask_panel', 'positive_class_name', 'prob_heatmap', 'tint_mask', 'title_strip'
]
