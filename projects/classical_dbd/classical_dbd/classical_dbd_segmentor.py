"""Base class of the hand-crafted (non-learned) defocus blur detectors of this project.

A :class:`ClassicalDBDSegmentor` is an mmseg segmentor without learned parameters: it computes a
sharpness map per image from the raw pixel values, maps it to an in-focus probability in [0, 1]
and returns the same :class:`~mmseg.structures.SegDataSample` fields as dbdseg's networks
(``seg_logits`` = in-focus probability in [0, 1] at the original image size, ``pred_sem_seg`` =
that probability thresholded at 0.5). So ``tools/test.py CONFIG none`` and
``tools/infer.py CONFIG none IMAGES --out-dir D`` run these detectors like any trained model and
the benchmark tables get the "hand-crafted" rows of the DBD literature on the same protocol.
"""
from abc import abstractmethod
from typing import List, Optional, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.structures import SegDataSample
from torch import Tensor

__all__ = ['ClassicalDBDSegmentor', 'GREY_WEIGHTS_BGR']

#: ITU-R BT.601 luma weights in B, G, R order (those of OpenCV's ``COLOR_BGR2GRAY`` and of
#: MATLAB's ``rgb2gray``, which the LBP authors' code uses).
GREY_WEIGHTS_BGR = (0.114, 0.587, 0.299)

_NORMALIZE_MODES = ('minmax', 'none')
_CHANNEL_ORDERS = ('bgr', 'rgb')


class ClassicalDBDSegmentor(BaseSegmentor):
    """Non-learned defocus blur detector: a per-pixel sharpness map turned into an in-focus map.

    Subclasses implement :meth:`sharpness_map` (one grey image in, one raw sharpness map out,
    higher = sharper) and, for ``normalize='none'``, :meth:`fixed_mapping`. This class does the
    rest: grey conversion of the input batch, the mapping to [0, 1], undoing the test pipeline's
    padding / flip, resizing to ``ori_shape`` and packing the results.

    **Inputs.** ``inputs`` is the data preprocessor's output: a float tensor ``(B, 3, H, W)``
    (or ``(B, 1, H, W)`` grey) of raw pixel values in [0, 255]. The default preprocessor is
    ``SegDataPreProcessor`` with no mean/std (no normalisation) and no channel swap, so with
    mmcv's ``LoadImageFromFile`` the channels are **B, G, R**. ``channel_order=None`` follows the
    preprocessor (``bgr_to_rgb=True`` or ``rgb_to_bgr=True`` swaps the loader's BGR, giving RGB);
    ``'bgr'`` / ``'rgb'`` states it explicitly. Colour images become grey with the BT.601 weights
    (:data:`GREY_WEIGHTS_BGR`) and are divided by 255, so every detector sees grey values in
    [0, 1] (the unit of the LBP threshold of Yi & Eramian). A preprocessor that normalises
    (``mean``/``std`` other than 0/1) is refused: the detectors' thresholds are in pixel units.
    Images of one batch must share a size (the preprocessor stacks them); the configs use batch
    size 1 so images of any size can be tested at their original resolution.

    **Probability.** ``normalize='minmax'`` stretches each image's sharpness map to [0, 1]
    (``(s - min) / (max - min)``; a constant map, which carries no contrast, gives all zeros, as
    :func:`dbdseg.utils.gradient_energy_map`). This is what the DBD papers do with hand-crafted
    maps before evaluation (e.g. ``normPatch`` in Yi & Eramian's released code) and what the SOD
    toolboxes do anyway (``SODMetric(normalize_pred=True)``); it makes the fixed-threshold
    prediction image-adaptive. ``normalize='none'`` uses the detector's documented fixed mapping
    (:meth:`fixed_mapping`), so maps of different images are comparable. Neither choice comes from
    a paper's evaluation protocol; both are config arguments.

    **Outputs** (:meth:`predict`): the input ``data_samples`` (metainfo and ``gt_sem_seg`` kept,
    so ``SODMetric`` works) with ``seg_logits = PixelData(data=(1, H0, W0) float32 in [0, 1])``
    and ``pred_sem_seg = PixelData(data=(1, H0, W0) int64 in {0, 1})`` = ``prob > threshold``,
    where ``(H0, W0)`` is the sample's ``ori_shape``. The map is computed at the input
    resolution (after the test pipeline's ``Resize``, if any: the detectors' windows are in
    pixels of that image, so the configs of this project do not resize), padding given by the
    metainfo (``img_padding_size`` / ``padding_size``) is cropped, a flip (``flip``,
    ``flip_direction``; test-time augmentation) is undone, and the map is resized bilinearly
    (``align_corners=False``) to ``ori_shape``.

    The model has no parameters and no buffers of its own; :meth:`loss` raises.

    Args:
        normalize (str): ``'minmax'`` (per-image stretch) or ``'none'`` (the detector's fixed
            mapping). Defaults to ``'minmax'``.
        threshold (float): probability threshold of ``pred_sem_seg``, in [0, 1] (0.5, as every
            dbdseg model). Defaults to 0.5.
        channel_order (str, optional): ``'bgr'``, ``'rgb'`` or None (follow the preprocessor, see
            above). Defaults to None.
        uint8_grey (bool): convert colour to grey as OpenCV does for a uint8 image
            (``cv2.cvtColor(..., COLOR_BGR2GRAY)``, BT.601 in fixed point, rounded to 8-bit
            levels), then divide by 255, instead of the unrounded float conversion. This is what
            :func:`dbdseg.utils.gradient_energy_map` does with a uint8 image, so a detector run
            with it reproduces that function on the loaded image bit for bit. Defaults to False.
        data_preprocessor (dict, optional): Defaults to ``dict(type='SegDataPreProcessor')``
            (no normalisation, no channel swap).
        train_cfg (dict, optional): Accepted and ignored (mmseg / ``init_model`` pass it).
        test_cfg (dict, optional): Kept as ``self.test_cfg``; unused.
        init_cfg (dict, optional): mmengine init config; there are no weights to initialise.

    Raises:
        ValueError: an unknown ``normalize`` or ``channel_order``, ``normalize`` not supported by
            the detector (:attr:`SUPPORTED_NORMALIZE`), ``threshold`` outside [0, 1], or a
            normalising data preprocessor.
    """

    #: ``normalize`` modes a detector supports (subclasses may restrict it).
    SUPPORTED_NORMALIZE: Sequence[str] = _NORMALIZE_MODES

    def __init__(self,
                 normalize: str = 'minmax',
                 threshold: float = 0.5,
                 channel_order: Optional[str] = None,
                 uint8_grey: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='SegDataPreProcessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        name = type(self).__name__
        if normalize not in _NORMALIZE_MODES:
            raise ValueError(f'{name}: normalize must be one of {_NORMALIZE_MODES}, '
                             f'got {normalize!r}')
        if normalize not in self.SUPPORTED_NORMALIZE:
            raise ValueError(f'{name}: normalize={normalize!r} is not supported by this detector '
                             f'(supported: {tuple(self.SUPPORTED_NORMALIZE)})')
        if not 0.0 <= float(threshold) <= 1.0:
            raise ValueError(f'{name}: threshold must be in [0, 1], got {threshold}')
        if channel_order is not None and channel_order not in _CHANNEL_ORDERS:
            raise ValueError(f'{name}: channel_order must be one of {_CHANNEL_ORDERS} or None, '
                             f'got {channel_order!r}')
        self._check_preprocessor(name)
        if channel_order is None:
            swapped = bool(getattr(self.data_preprocessor, 'channel_conversion', False))
            channel_order = 'rgb' if swapped else 'bgr'
        self.normalize = normalize
        self.threshold = float(threshold)
        self.channel_order = channel_order
        self.uint8_grey = bool(uint8_grey)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self.align_corners = False

    def _check_preprocessor(self, name: str) -> None:
        """Refuse a preprocessor that normalises: the detectors need pixel values in [0, 255]."""
        pre = self.data_preprocessor
        if not getattr(pre, '_enable_normalize', False):
            return
        mean = getattr(pre, 'mean', None)
        std = getattr(pre, 'std', None)
        identity = mean is not None and std is not None
        if identity and bool((mean == 0).all()) and bool((std == 1).all()):
            return
        raise ValueError(
            f'{name}: the data preprocessor normalises the images (mean={mean.flatten().tolist()}'
            f', std={std.flatten().tolist()}); hand-crafted detectors need raw pixel values in '
            '[0, 255]: use data_preprocessor=dict(type="SegDataPreProcessor") without mean/std')

    # --- what a detector implements ---------------------------------------------------------
    @abstractmethod
    def sharpness_map(self, grey: np.ndarray) -> np.ndarray:
        """Raw sharpness of one grey image.

        Args:
            grey (np.ndarray): ``(H, W)`` float32, grey values in [0, 1].

        Returns:
            np.ndarray: ``(H, W)`` float32 sharpness, >= 0, higher = sharper (in-focus); its unit
            is the detector's.
        """

    def fixed_mapping(self, raw: np.ndarray) -> np.ndarray:
        """Map a raw sharpness map to [0, 1] with a fixed, image-independent rule
        (``normalize='none'``).

        Args:
            raw (np.ndarray): ``(H, W)`` output of :meth:`sharpness_map`.

        Returns:
            np.ndarray: ``(H, W)`` float32 in [0, 1].

        Raises:
            NotImplementedError: the detector has no fixed mapping.
        """
        raise NotImplementedError(f'{type(self).__name__} has no fixed mapping; use '
                                  "normalize='minmax'")

    # --- shared machinery -------------------------------------------------------------------
    def to_probability(self, raw: np.ndarray) -> np.ndarray:
        """In-focus probability of one raw sharpness map (``normalize`` rule, class docstring).

        Args:
            raw (np.ndarray): ``(H, W)`` raw sharpness.

        Returns:
            np.ndarray: ``(H, W)`` float32 in [0, 1].
        """
        raw = np.asarray(raw, dtype=np.float32)
        if self.normalize == 'minmax':
            low, high = float(raw.min()), float(raw.max())
            if not high - low > 1e-12:
                return np.zeros_like(raw)
            prob = (raw - low) / (high - low)
        else:
            prob = self.fixed_mapping(raw)
        return np.clip(prob, 0.0, 1.0).astype(np.float32)

    def grey_images(self, inputs: Tensor) -> Tensor:
        """Grey version of the input batch, in [0, 1].

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` (channel order ``self.channel_order``) or
                ``(B, 1, H, W)`` float pixel values in [0, 255].

        Returns:
            Tensor: ``(B, H, W)`` float32 grey values in [0, 1] (values outside [0, 255] are
            clipped; multiples of 1/255 with ``uint8_grey``), on the inputs' device.

        Raises:
            ValueError: ``inputs`` is not 4-D with 1 or 3 channels.
        """
        if not isinstance(inputs, Tensor) or inputs.dim() != 4 or inputs.shape[1] not in (1, 3):
            shape = tuple(inputs.shape) if isinstance(inputs, Tensor) else type(inputs)
            raise ValueError(f'{type(self).__name__}: expected inputs of shape (B, 3, H, W) or '
                             f'(B, 1, H, W), got {shape}')
        x = inputs.float()
        if self.uint8_grey:
            pixels = x.round().clamp(0, 255).to(torch.uint8).cpu().numpy()
            if pixels.shape[1] == 3:
                code = cv2.COLOR_BGR2GRAY if self.channel_order == 'bgr' else cv2.COLOR_RGB2GRAY
                grey = np.stack([
                    cv2.cvtColor(np.ascontiguousarray(p.transpose(1, 2, 0)), code) for p in pixels
                ])
            else:
                grey = pixels[:, 0]
            return torch.from_numpy(grey.astype(np.float32) / 255.0).to(inputs.device)
        if x.shape[1] == 3:
            weights = GREY_WEIGHTS_BGR if self.channel_order == 'bgr' else GREY_WEIGHTS_BGR[::-1]
            w = torch.tensor(weights, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
            x = (x * w).sum(dim=1, keepdim=True)
        return (x[:, 0] / 255.0).clamp(0.0, 1.0)

    def extract_feat(self, inputs: Tensor) -> Tensor:
        """Raw sharpness maps of a batch (the detector's "features").

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` or ``(B, 1, H, W)`` pixel values in [0, 255].

        Returns:
            Tensor: ``(B, 1, H, W)`` float32 raw sharpness (:meth:`sharpness_map`), inputs' device.
        """
        grey = self.grey_images(inputs).detach().cpu().numpy().astype(np.float32)
        maps = [np.asarray(self.sharpness_map(g), dtype=np.float32) for g in grey]
        for m, g in zip(maps, grey):
            if m.shape != g.shape:
                raise RuntimeError(f'{type(self).__name__}.sharpness_map returned shape {m.shape} '
                                   f'for an image of shape {g.shape}')
        return torch.from_numpy(np.stack(maps)[:, None]).to(inputs.device)

    def encode_decode(self, inputs: Tensor, batch_img_metas: Optional[List[dict]] = None) -> Tensor:
        """In-focus probability maps at the input resolution.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` or ``(B, 1, H, W)`` pixel values in [0, 255].
            batch_img_metas (list[dict], optional): unused (kept for mmseg's signature).

        Returns:
            Tensor: ``(B, 1, H, W)`` float32 probabilities in [0, 1], inputs' device.
        """
        raw = self.extract_feat(inputs).cpu().numpy()
        probs = np.stack([self.to_probability(r[0]) for r in raw])[:, None]
        return torch.from_numpy(probs).to(inputs.device)

    def _forward(self, inputs: Tensor, data_samples=None) -> Tensor:
        """``mode='tensor'``: the probability maps of :meth:`encode_decode`, ``(B, 1, H, W)``."""
        return self.encode_decode(inputs)

    def predict(self, inputs: Tensor, data_samples=None) -> List[SegDataSample]:
        """Predict in-focus maps at each image's original size (class docstring, "Outputs").

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` or ``(B, 1, H, W)`` pixel values in [0, 255].
            data_samples (list[SegDataSample], optional): one per image, with metainfo
                (``ori_shape``; optionally padding and flip keys). None: the maps stay at the
                input size.

        Returns:
            list[SegDataSample]: the input samples (or new ones) with ``seg_logits`` and
            ``pred_sem_seg`` set.
        """
        return self.postprocess_result(self.encode_decode(inputs), data_samples)

    def postprocess_result(self, seg_logits: Tensor, data_samples=None) -> List[SegDataSample]:
        """Crop padding, undo flips, resize to ``ori_shape`` and pack probabilities.

        Unlike mmseg's version this applies no sigmoid: ``seg_logits`` are already
        probabilities.

        Args:
            seg_logits (Tensor): ``(B, 1, H, W)`` probabilities in [0, 1].
            data_samples (list[SegDataSample], optional): see :meth:`predict`.

        Returns:
            list[SegDataSample]: see :meth:`predict`.

        Raises:
            ValueError: the number of samples differs from the batch size.
        """
        batch_size, _, height, width = seg_logits.shape
        if data_samples is None:
            data_samples = [
                SegDataSample(metainfo=dict(ori_shape=(height, width), img_shape=(height, width)))
                for _ in range(batch_size)
            ]
        if len(data_samples) != batch_size:
            raise ValueError(f'{type(self).__name__}: {len(data_samples)} data samples for a '
                             f'batch of {batch_size} images')
        for i, sample in enumerate(data_samples):
            meta = sample.metainfo
            pad = meta.get('img_padding_size', meta.get('padding_size', None)) or [0, 0, 0, 0]
            left, right, top, bottom = (int(v) for v in pad)
            prob = seg_logits[i:i + 1, :, top:height - bottom, left:width - right]
            if meta.get('flip', False):
                direction = meta.get('flip_direction', 'horizontal')
                if direction not in ('horizontal', 'vertical'):
                    raise ValueError(f'{type(self).__name__}: cannot undo a {direction!r} flip')
                prob = prob.flip(dims=(3, ) if direction == 'horizontal' else (2, ))
            ori_shape = tuple(int(v) for v in meta.get('ori_shape', prob.shape[2:])[:2])
            if tuple(prob.shape[2:]) != ori_shape:
                prob = F.interpolate(
                    prob, size=ori_shape, mode='bilinear', align_corners=self.align_corners)
            prob = prob[0].float().clamp(0.0, 1.0)
            sample.set_data(
                dict(
                    seg_logits=PixelData(data=prob),
                    pred_sem_seg=PixelData(data=(prob > self.threshold).long())))
        return data_samples

    def loss(self, inputs: Tensor, data_samples) -> dict:
        """Not available: the detector has nothing to learn.

        Raises:
            RuntimeError: always.
        """
        raise RuntimeError(f'{type(self).__name__} is a non-learned model: nothing to train; '
                           'use tools/test.py CONFIG none (or tools/infer.py CONFIG none ...)')
