"""Inference on single images with a dbdseg segmentor (the user's own photos).

``init_model`` builds a segmentor from a config and loads a checkpoint; ``inference_model`` runs the
config's test pipeline (without annotation loading) and the model on one image or a list of images
(files, OpenCV arrays, PIL images or torch tensors), in batches of equal input size, optionally at a
resolution chosen from the image (``max_side``) and with the depth side output of depth
distillation models (``with_depth``).

:class:`Teacher` runs a model in ``mode='tensor'`` and returns one raw output channel at the image's
size: the per-image maps of a teacher network (e.g. the depth targets of depth distillation,
:func:`dbdseg.apis.map_targets.generate_depth_targets`).

Adapted from mmsegmentation 1.2.2 ``mmseg/apis/inference.py`` and ``mmseg/apis/utils.py``
(Apache-2.0), with these differences (our choice: every dbdseg model is a binary one, so its
predictions leave the model as probabilities of the positive class):

* ``seg_logits`` is always a 1-channel probability map in [0, 1] at the original (EXIF-corrected)
  image size, and ``pred_sem_seg`` is that map thresholded (default 0.5) as int64 {0, 1}. A
  2-channel model's output is turned into the softmax probability of class 1.
* The test pipeline is built once per model and cached on it (mmseg rebuilds it on every call and
  edits ``model.cfg`` in place); all annotation-loading transforms (``LoadAnnotations``,
  ``LoadBinaryAnnotations``, any ``Load*Annotation*``) are dropped.
* Errors name the offending file; ``device='cuda'`` without CUDA is a clear error.
* ``max_side`` (our choice for large photos, see :func:`max_side_size`) replaces the config's fixed
  test ``Resize`` by an aspect-preserving one.
"""
import copy
import os
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import mmcv
import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope, init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import DATASETS, MODELS
from mmseg.structures import SegDataSample

from dbdseg.utils.checkpoint import load_checkpoint_strict
from dbdseg.utils.fileio import IMG_EXTENSIONS, list_images  # noqa: F401 (re-exported)
from dbdseg.utils.set_env import register_all_modules

#: One image for :func:`inference_model`: a file, an OpenCV BGR array, a PIL image or a tensor.
ImageInput = Union[str, Path, np.ndarray, Any, torch.Tensor]

#: Metainfo used when neither the checkpoint nor the config's dataset class gives one.
DEFAULT_DATASET_META = dict(
    classes=('background', 'foreground'), palette=[[0, 0, 0], [255, 255, 255]])

_ANNOTATION_LOADER = re.compile(r'^Load\w*Annotation')
_PIPELINE_CACHE_ATTR = '_dbdseg_inference_pipelines'


def _is_remote(path: str) -> bool:
    """True for checkpoint names mmengine resolves itself (URLs, ``torchvision://``, ...)."""
    return '://' in str(path)


#: Default pixel limit of :func:`read_image` (width x height): 64 megapixels.
DEFAULT_MAX_PIXELS = 64_000_000


class ImageTooLargeError(ValueError):
    """An image has more pixels than the limit of :func:`read_image` (``max_pixels``).

    A :class:`ValueError`, so ``tools/infer.py --skip-bad`` skips such a file like any other
    image it cannot read.
    """


def _header_size(path: str) -> Optional[tuple]:
    """``(width, height)`` from the image header (Pillow reads no pixels), else None.

    Pillow refuses to open an image of more than twice ``PIL.Image.MAX_IMAGE_PIXELS`` (a
    "decompression bomb"); its message states the pixel count, returned as ``(count, 1)``.
    """
    import warnings

    from PIL import Image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(path) as pil:
                return tuple(pil.size)
    except Image.DecompressionBombError as e:
        found = re.search(r'\((\d+) pixels\)', str(e))
        limit = 2 * (Image.MAX_IMAGE_PIXELS or 0) + 1
        return (int(found.group(1)) if found else limit, 1)
    except Exception:  # noqa: BLE001 - not a format Pillow knows: checked after decoding
        return None


def _check_pixels(path: str, size: Optional[tuple], max_pixels: Optional[int]) -> None:
    """Raise :class:`ImageTooLargeError` when ``size`` = (w, h) has more than ``max_pixels``."""
    if not max_pixels or size is None or size[0] * size[1] <= max_pixels:
        return
    w, h = size
    dims = f'{w} x {h} = ' if h != 1 else ''
    raise ImageTooLargeError(
        f'image {path} is too large: {dims}{w * h / 1e6:.3g} megapixels, more than the limit of '
        f'{max_pixels / 1e6:.3g} megapixels (max_pixels={max_pixels}); it is not decoded')


def read_image(path: Union[str, Path],
               max_pixels: Optional[int] = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file as mmcv does, with its EXIF orientation applied.

    OpenCV's ``imdecode`` with ``IMREAD_COLOR`` (mmcv's default ``cv2`` backend, ``flag='color'``)
    rotates/flips the pixels by the EXIF Orientation tag (checked with OpenCV 4.14 in
    ``tests/test_apis/test_inference.py``). Files OpenCV cannot decode are retried with Pillow and
    ``ImageOps.exif_transpose``.

    The pixel limit is checked on the size in the file header (read by Pillow, no pixels decoded),
    so a small file that decodes to a huge image (a "decompression bomb": a 31 KB PNG of 16000 x
    16000 pixels takes gigabytes) is refused at once; a file whose header Pillow cannot read is
    checked after decoding.

    Args:
        path (str | Path): Image file.
        max_pixels (int, optional): Most pixels (width x height) an image may have. None or 0:
            no limit (OpenCV's own limit of 2**30 pixels still holds). Defaults to
            :data:`DEFAULT_MAX_PIXELS` (64 megapixels).

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR image in display orientation (16-bit files are scaled to
        8 bit, grey and RGBA files converted to 3 channels).

    Raises:
        FileNotFoundError: ``path`` does not exist or is not a file.
        ImageTooLargeError: the image has more than ``max_pixels`` pixels (a ``ValueError``; the
            message names the file, its size and the limit).
        ValueError: the file is not a decodable image; the message names it.
    """
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'image file not found: {path}')
    if max_pixels:
        _check_pixels(path, _header_size(path), max_pixels)
    with open(path, 'rb') as f:
        content = f.read()
    img = None
    if content:
        try:
            img = mmcv.imfrombytes(content, flag='color', backend='cv2')
        except Exception:  # noqa: BLE001 - fall back to Pillow below
            img = None
    if img is None and content:
        try:
            from PIL import Image, ImageOps
            with Image.open(path) as pil:
                pil = ImageOps.exif_transpose(pil).convert('RGB')
                img = np.ascontiguousarray(np.asarray(pil)[:, :, ::-1])
        except Exception:  # noqa: BLE001 - reported below with the file name
            img = None
    if img is None or img.size == 0:
        raise ValueError(f'cannot read image {path}: the file is empty, truncated or not an image '
                         f'format OpenCV or Pillow can decode')
    _check_pixels(path, (img.shape[1], img.shape[0]), max_pixels)
    return img


def _drop_pretrained_init(node) -> None:
    """Remove ``init_cfg=dict(type='Pretrained', ...)`` everywhere in a model config (in place).

    The weights come from the checkpoint; this keeps model building from touching the network.
    """
    if isinstance(node, dict):
        init_cfg = node.get('init_cfg', None)
        cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
        if any(isinstance(c, dict) and c.get('type') == 'Pretrained' for c in cfgs):
            node['init_cfg'] = None
        for value in node.values():
            _drop_pretrained_init(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _drop_pretrained_init(value)


def _config_dataset_meta(cfg: Config) -> Optional[dict]:
    """``METAINFO`` of the config's test (else val, train) dataset class, without building the
    dataset."""
    for key in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        ds = (cfg.get(key) or {}).get('dataset')
        while isinstance(ds, dict) and 'type' in ds:
            metainfo = ds.get('metainfo')
            if isinstance(metainfo, dict) and 'classes' in metainfo:
                return dict(metainfo)
            try:
                cls = DATASETS.get(ds['type'])
            except Exception:  # noqa: BLE001 - unknown type: try the next source
                cls = None
            meta = getattr(cls, 'METAINFO', None) if isinstance(cls, type) else None
            if meta and 'classes' in meta:
                return dict(meta)
            inner = ds.get('dataset') or (ds.get('datasets') or [None])[0]
            ds = inner
    return None


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> nn.Module:
    """Build a segmentor from a config and load its weights for inference.

    Args:
        config (str | Path | Config): Config file or object (an object is copied, not modified).
        checkpoint (str, optional): Checkpoint file (or a URL / ``torchvision://`` name mmengine
            resolves). ``None`` (or the string ``'none'``) loads no weights: the model keeps the
            weights it is constructed with (``init_weights`` is not called, as in mmseg). The
            load is strict (:func:`dbdseg.utils.checkpoint.load_checkpoint_strict`), unlike
            mmseg's: every model key must be in the checkpoint with its shape (a leading
            ``module.`` and absent BN ``num_batches_tracked`` are accepted).
        device (str): ``'cpu'``, ``'cuda'``, ``'cuda:1'``, ...
        cfg_options (dict, optional): Overrides merged into the config (``key.sub=value``).

    Returns:
        nn.Module: The segmentor in eval mode on ``device``, with ``model.cfg`` (the config used)
        and ``model.dataset_meta`` (from the checkpoint's ``meta.dataset_meta``; else the config's
        dataset class ``METAINFO``; else background/foreground).

    Raises:
        TypeError: ``config`` is neither a path nor a Config.
        FileNotFoundError: the config or checkpoint file does not exist (the message names it).
        RuntimeError: ``device`` asks for CUDA that is not available.
        dbdseg.utils.checkpoint.CheckpointMismatchError: the checkpoint does not fit the model
            (keys missing, unexpected or of another shape; listed, with the converter to use
            when the keys look like an official model's). A ``RuntimeError``.
        dbdseg.utils.checkpoint.NotACheckpointError: the file is empty, truncated or neither a
            zip archive nor a pickle. A ``RuntimeError``.
        dbdseg.utils.checkpoint.UnsafeCheckpointError: the file needs arbitrary unpickling and
            is not trusted.
    """
    if isinstance(config, (str, Path)):
        if not os.path.isfile(str(config)):
            raise FileNotFoundError(f'config file not found: {config}')
        config = Config.fromfile(str(config))
    elif isinstance(config, Config):
        config = copy.deepcopy(config)
    else:
        raise TypeError(f'config must be a file path or a mmengine Config, got {type(config)}')
    if cfg_options:
        config.merge_from_dict(cfg_options)
    if isinstance(checkpoint, str) and checkpoint.lower() == 'none':
        checkpoint = None
    if (checkpoint is not None and not _is_remote(checkpoint)
            and not os.path.isfile(str(checkpoint))):
        raise FileNotFoundError(f'checkpoint file not found: {checkpoint}')
    if str(device).startswith('cuda') and not torch.cuda.is_available():
        raise RuntimeError(
            f'device {device!r} requested but CUDA is not available; use device="cpu"')

    _drop_pretrained_init(config.model)
    if 'pretrained' in config.model:
        config.model.pretrained = None
    config.model.train_cfg = None
    register_all_modules(init_default_scope=False)
    init_default_scope(config.get('default_scope', 'mmseg'))

    model = MODELS.build(config.model)
    dataset_meta = None
    if checkpoint is not None:
        ckpt = load_checkpoint_strict(model, str(checkpoint), map_location='cpu')
        meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
        dataset_meta = meta.get('dataset_meta', None)
    if dataset_meta is None:
        dataset_meta = _config_dataset_meta(config) or copy.deepcopy(DEFAULT_DATASET_META)
    model.dataset_meta = dataset_meta
    model.cfg = config
    model.to(device)
    model.eval()
    return model


def _base_type(transform: dict) -> str:
    """Transform type without a registry scope prefix (``'mmseg.Resize'`` -> ``'Resize'``)."""
    t = transform.get('type', '')
    return t.split('.')[-1] if isinstance(t, str) else getattr(t, '__name__', '')


def _test_pipeline_cfg(cfg: Config) -> List[dict]:
    """The config's test pipeline: ``test_dataloader.dataset.pipeline`` (through dataset wrappers),
    else ``test_pipeline``."""
    ds = (cfg.get('test_dataloader') or {}).get('dataset')
    while isinstance(ds, dict):
        if ds.get('pipeline'):
            return copy.deepcopy(list(ds['pipeline']))
        ds = ds.get('dataset') or (ds.get('datasets') or [None])[0]
    if cfg.get('test_pipeline'):
        return copy.deepcopy(list(cfg.test_pipeline))
    raise ValueError('the config has neither test_dataloader.dataset.pipeline nor test_pipeline; '
                     'inference needs one')


def build_inference_pipelines(cfg: Config) -> Dict[str, Compose]:
    """Build the test pipeline for inference, split into loaders and the remaining transforms.

    Annotation loaders (type matching ``Load*Annotation*``) are removed; for arrays the image loader
    (``LoadImageFromFile``) is replaced by ``LoadImageFromNDArray`` (keeping ``to_float32``).

    Args:
        cfg (Config): Model config.

    Returns:
        dict: ``{'load_file': Compose, 'load_array': Compose, 'rest': Compose, 'rest_no_resize':
        Compose, 'resize_cfg': dict}``: ``rest_no_resize`` is ``rest`` without its resizing steps
        (type containing ``Resize``) and ``resize_cfg`` the first of them (``{}`` when none), for
        ``max_side`` in :func:`inference_model`.

    Raises:
        ValueError: the config has no test pipeline, or it does not start with an image loader.
    """
    steps = [t for t in _test_pipeline_cfg(cfg) if not _ANNOTATION_LOADER.match(_base_type(t))]
    if not steps or not _base_type(steps[0]).startswith('LoadImage'):
        raise ValueError(f'the test pipeline must start with an image loader, got {steps[:1]}')
    array_loader = dict(type='LoadImageFromNDArray', to_float32=steps[0].get('to_float32', False))
    resizes = [t for t in steps[1:] if 'Resize' in _base_type(t)]
    scope = cfg.get('default_scope', 'mmseg')
    with DefaultScope.overwrite_default_scope(scope):
        return dict(
            load_file=Compose(steps[:1]),
            load_array=Compose([array_loader]),
            rest=Compose(steps[1:]),
            rest_no_resize=Compose([t for t in steps[1:] if 'Resize' not in _base_type(t)]),
            resize_cfg=copy.deepcopy(resizes[0]) if resizes else {})


def _pipelines(model: nn.Module) -> Dict[str, Compose]:
    pipes = getattr(model, _PIPELINE_CACHE_ATTR, None)
    if pipes is None:
        if getattr(model, 'cfg', None) is None:
            raise ValueError('model.cfg is missing; build the model with dbdseg.apis.init_model')
        pipes = build_inference_pipelines(model.cfg)
        setattr(model, _PIPELINE_CACHE_ATTR, pipes)
    return pipes


def max_side_size(height: int, width: int, max_side: int, size_divisor: int = 32) -> tuple:
    """The network input size of an image under ``max_side`` (:func:`inference_model`).

    Our choice for large photos, where the papers are silent (they test at the training size): a
    config's test pipeline resizes every image to the training crop (e.g. 320 x 320), so the map
    of a 1600 x 1200 photo is computed at 320 x 320 and upsampled. With ``max_side`` the image
    keeps its aspect ratio and is scaled down (never up) so that its longer side is at most
    ``max_side``, each side rounded to the nearest multiple of ``size_divisor`` (the network's
    total stride, so that encoder and decoder feature sizes match). We chose this over
    sliding-window inference at full resolution because (1) defocus blur is measured in pixels:
    the networks learnt blur at the scale of images resized to their crop size, and full-size
    tiles of a large photo show blur several times wider than any training image; (2) blur
    detection and saliency need the whole scene (a uniform sky or wall is in or out of focus
    only by its context), which a tile lacks; (3) one forward pass costs less than overlapping
    tiles and leaves no seams. A ``max_side`` of about 1-2x the crop size keeps the blur scale
    near training while giving a map of finer boundaries.

    Args:
        height (int): image height in pixels, > 0.
        width (int): image width in pixels, > 0.
        max_side (int): longest side of the network input, >= ``size_divisor``.
        size_divisor (int): each side is a multiple of this, >= 1. Defaults to 32.

    Returns:
        tuple[int, int]: ``(new_height, new_width)``, each a positive multiple of
        ``size_divisor``, the longer one at most ``max_side`` rounded to ``size_divisor``.

    Raises:
        ValueError: a size, ``max_side`` or ``size_divisor`` out of range.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f'image size must be positive, got {height} x {width}')
    if size_divisor < 1:
        raise ValueError(f'size_divisor must be >= 1, got {size_divisor}')
    if max_side < size_divisor:
        raise ValueError(f'max_side must be >= size_divisor ({size_divisor}), got {max_side}')
    scale = min(1.0, max_side / max(height, width))

    def fit(side):
        return max(size_divisor, int(round(side * scale / size_divisor)) * size_divisor)

    return fit(height), fit(width)


def _resize_to(pipes: Dict[str, Compose], loaded: dict, size: tuple, scope: str) -> dict:
    """Resize ``loaded['img']`` to ``size`` = (h, w) with the config's resize interpolation."""
    from mmcv.transforms import Resize
    cfg = pipes['resize_cfg']
    resize = Resize(
        scale=(size[1], size[0]),
        keep_ratio=False,
        backend=cfg.get('backend', 'cv2'),
        interpolation=cfg.get('interpolation', 'bilinear'))
    return resize(loaded)


def _as_bgr(img: np.ndarray) -> np.ndarray:
    """Bring an array image to (H, W, 3): grey is replicated, an alpha channel dropped."""
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim == 3 and img.shape[2] == 1:
        return np.repeat(img, 3, axis=2)
    if img.ndim == 3 and img.shape[2] == 4:
        return np.ascontiguousarray(img[:, :, :3])
    if img.ndim == 3 and img.shape[2] == 3:
        return img
    raise ValueError(f'image arrays must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), '
                     f'got shape {img.shape}')


def _pil_to_bgr(img) -> np.ndarray:
    """A PIL image (EXIF orientation applied, any mode) as a (H, W, 3) uint8 BGR array."""
    from PIL import ImageOps
    img = ImageOps.exif_transpose(img)
    if img.mode in ('I;16', 'I;16B', 'I;16L', 'I'):
        arr = np.asarray(img, dtype=np.float64)
        arr = np.clip(arr / (65535.0 if arr.max() > 255 else 1.0) * 255, 0, 255)
        return _as_bgr(np.rint(arr).astype(np.uint8))
    return np.ascontiguousarray(np.asarray(img.convert('RGB'))[:, :, ::-1])


def _tensor_to_bgr(img: torch.Tensor) -> np.ndarray:
    """A (3, H, W) / (1, H, W) / (H, W) RGB tensor (uint8 0-255 or float 0-1) as BGR uint8."""
    if img.dim() == 2:
        img = img[None]
    if img.dim() != 3 or img.shape[0] not in (1, 3):
        raise ValueError(f'image tensors must be (3, H, W), (1, H, W) or (H, W) (channels first, '
                         f'RGB, as torchvision), got shape {tuple(img.shape)}')
    arr = img.detach().cpu()
    if arr.dtype == torch.uint8:
        arr = arr.numpy()
    elif arr.is_floating_point():
        arr = np.rint(arr.float().clamp(0, 1).numpy() * 255).astype(np.uint8)
    else:
        raise ValueError(f'image tensors must be uint8 (0-255) or float (0-1), got {arr.dtype}')
    return _as_bgr(np.ascontiguousarray(arr.transpose(1, 2, 0)[:, :, ::-1]))


def _is_pil(img) -> bool:
    pil = sys.modules.get('PIL.Image')
    return pil is not None and isinstance(img, pil.Image)


def _expand_inputs(img_or_path) -> tuple:
    """``(inputs, is_batch)``: a list/tuple or an (N, C, H, W) tensor is a batch."""
    if isinstance(img_or_path, (list, tuple)):
        return list(img_or_path), True
    if torch.is_tensor(img_or_path) and img_or_path.dim() == 4:
        return list(img_or_path.unbind(0)), True
    return [img_or_path], False


def _to_probability(sample: SegDataSample, threshold: float) -> SegDataSample:
    """Make ``seg_logits`` a (1, H, W) probability and ``pred_sem_seg`` its threshold (int64)."""
    data = sample.seg_logits.data
    if data.shape[0] == 2:
        # A 2-channel model's ``seg_logits`` are raw logits: softmax probability of class 1.
        prob = data.float().softmax(dim=0)[1:2]
    elif data.shape[0] == 1:
        prob = data.float()  # mmseg's postprocess_result already applied the sigmoid
    else:
        raise ValueError(f'dbdseg inference expects a 1- or 2-channel (binary) model output, '
                         f'got {data.shape[0]} channels')
    prob = prob.clamp_(0.0, 1.0)
    sample.seg_logits = PixelData(data=prob)
    sample.pred_sem_seg = PixelData(data=(prob > threshold).long())
    return sample


def _load_file(pipes: Dict[str, Compose], path: str) -> dict:
    """Run the config's image loader on ``path``; fall back to :func:`read_image` (Pillow) when the
    loader cannot decode the file. Errors name the file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'image file not found: {path}')
    try:
        loaded = pipes['load_file'](dict(img_path=path))
    except Exception:  # noqa: BLE001 - retried below, which names the file on failure
        loaded = None
    if loaded is None or loaded.get('img') is None:
        loaded = pipes['load_array'](dict(img=read_image(path)))
        loaded['img_path'] = path
    return loaded


def _run_group(model: nn.Module, data: dict, with_depth: bool) -> List[SegDataSample]:
    """``model.test_step`` on one batch of equal input sizes; with ``with_depth`` the fused depth
    is captured (:func:`dbdseg.apis.depth_output.capture_depth`) and set as ``pred_depth``."""
    if not with_depth:
        with torch.no_grad():
            return model.test_step(data)
    from dbdseg.apis.depth_output import capture_depth, depth_module, depth_to_original
    if depth_module(model) is None:
        raise ValueError(
            f'{type(model).__name__} with decode head '
            f'{type(getattr(model, "decode_head", None)).__name__} has no depth output '
            '(only depth distillation heads, SABHead with use_depth=True, have one)')
    with capture_depth(model) as caught, torch.no_grad():
        results = model.test_step(data)
    if len(caught) != 1:
        raise ValueError(f'the depth output was computed {len(caught)} times for one batch; the '
                         "depth side output needs model.test_cfg.mode='whole'")
    align = bool(getattr(model.decode_head, 'align_corners', False))
    for depth, sample in zip(caught[0], results):
        sample.pred_depth = PixelData(
            data=torch.from_numpy(depth_to_original(depth, sample.metainfo, align))[None])
    return results


def inference_model(model: nn.Module,
                    img_or_path: Union[ImageInput, Sequence[ImageInput]],
                    threshold: float = 0.5,
                    max_side: Optional[int] = None,
                    size_divisor: int = 32,
                    with_depth: bool = False) -> Union[SegDataSample, List[SegDataSample]]:
    """Predict the in-focus (DBD) / salient (SOD) probability of one image or a list of images.

    The config's test pipeline (minus annotation loading) prepares each image; the model's
    ``test_step`` runs under ``torch.no_grad``, once per group of images of equal input size (a
    list is one batch when every image has the same network input size, e.g. the config's fixed
    ``Resize``; the results do not depend on how images are batched); mmseg's
    ``postprocess_result`` resizes to the original size. The pipeline is built once and cached
    on the model.

    Args:
        model (nn.Module): A segmentor from :func:`init_model` (needs ``model.cfg``).
        img_or_path (str | Path | np.ndarray | PIL.Image.Image | torch.Tensor | list): One image
            or a list of images. Files: decoded by the config's ``LoadImageFromFile`` (OpenCV
            backend, EXIF orientation applied). Arrays as mmcv loads them: (H, W, 3) uint8 BGR
            (grey (H, W) and BGRA (H, W, 4) are accepted). PIL images: any mode, EXIF
            orientation applied (``ImageOps.exif_transpose``), RGB. Tensors as torchvision holds
            images: (3, H, W) RGB, (1, H, W) or (H, W) grey, uint8 in [0, 255] or float in
            [0, 1] (clipped); an (N, C, H, W) tensor is a batch (a list is returned).
        threshold (float): Threshold on the probability for ``pred_sem_seg``. Defaults to 0.5.
        max_side (int, optional): Replace the config's test ``Resize`` by an aspect-preserving
            resize to :func:`max_side_size` (longer side at most ``max_side``, never enlarged,
            sides multiples of ``size_divisor``). Defaults to None: the config's pipeline.
        size_divisor (int): See ``max_side``. Defaults to 32 (the total stride of the U-Net and
            ResNet models dbdseg ships).
        with_depth (bool): Also return the depth side output as ``pred_depth``
            (:func:`dbdseg.apis.depth_output.depth_module`: depth distillation models, Cun & Pun,
            ECCV 2020, Sec. 3.1). Defaults to False.

    Returns:
        SegDataSample | list[SegDataSample]: (a list for list/tuple or 4-D tensor input) with
        ``seg_logits.data``: float tensor (1, H, W) in [0, 1] at the original image size (255 =
        in-focus/salient when saved as ``prob * 255``) and ``pred_sem_seg.data``: int64 (1, H, W)
        in {0, 1}; with ``with_depth``, ``pred_depth.data``: float32 (1, H, W) on the CPU, the
        linear depth regression (relative depth, targets in [0, 1], larger = farther; values are
        not clipped); metainfo ``img_path`` (None
        for in-memory images), ``ori_shape``, ``img_shape``.

    Raises:
        FileNotFoundError: a path does not exist (named).
        ValueError: a file cannot be decoded (named), an array or tensor has an unsupported
            shape or dtype, ``max_side`` is too small, or ``with_depth`` is asked of a model
            without a depth output.
        TypeError: an input is neither a path, an array, a PIL image nor a tensor.
    """
    imgs, is_batch = _expand_inputs(img_or_path)
    if not imgs:
        return []
    pipes = _pipelines(model)
    scope = model.cfg.get('default_scope', 'mmseg')
    packed_all = []
    for img in imgs:
        if isinstance(img, np.ndarray):
            loaded = pipes['load_array'](dict(img=_as_bgr(img)))
        elif isinstance(img, (str, Path)):
            loaded = _load_file(pipes, str(img))
        elif _is_pil(img):
            loaded = pipes['load_array'](dict(img=_pil_to_bgr(img)))
        elif torch.is_tensor(img):
            loaded = pipes['load_array'](dict(img=_tensor_to_bgr(img)))
        else:
            raise TypeError(f'expected an image path, a numpy array, a PIL image or a torch '
                            f'tensor, got {type(img)}')
        if max_side:
            size = max_side_size(*loaded['img'].shape[:2], max_side, size_divisor)
            loaded = _resize_to(pipes, loaded, size, scope)
            packed_all.append(pipes['rest_no_resize'](loaded))
        else:
            packed_all.append(pipes['rest'](loaded))
    groups: Dict[tuple, List[int]] = {}
    for i, packed in enumerate(packed_all):
        groups.setdefault(tuple(packed['inputs'].shape), []).append(i)
    results: List[Optional[SegDataSample]] = [None] * len(imgs)
    for indices in groups.values():
        data = dict(
            inputs=[packed_all[i]['inputs'] for i in indices],
            data_samples=[packed_all[i]['data_samples'] for i in indices])
        for i, sample in zip(indices, _run_group(model, data, with_depth)):
            results[i] = _to_probability(sample, threshold)
    return results if is_batch else results[0]


class TeacherError(RuntimeError):
    """A :class:`Teacher` that cannot be built, or whose tensor output is not a usable map."""


class Teacher:
    """A dbdseg/mmseg model run in ``mode='tensor'`` on single images, for per-image map targets.

    Depth distillation (Cun & Pun, ECCV 2020, Sec. 3.1) trains the student's depth side outputs
    towards the map a pre-trained teacher predicts for each training image. The paper's teacher
    (Chen et al. 2016, "Depth in the Wild") is Torch7 code, so dbdseg's teacher is any model in
    mmseg's registry with a checkpoint the user supplies, and its maps are precomputed files.

    Per image (:meth:`predict`): the config's test pipeline without annotation loaders (e.g. its
    ``Resize``) prepares the image, the model's data preprocessor normalises it, and the raw
    network output is taken in mmengine's ``mode='tensor'`` (for an ``EncoderDecoder``: the decode
    head's forward in eval mode, no sigmoid, no threshold). Channel ``channel`` of that
    (N, C, h, w) output is resized (bilinear, ``align_corners=False``) to the network input,
    cropped to the un-padded image area (``img_shape``), resized (bilinear) to the image's own
    size (``ori_shape``) and, with ``activation='sigmoid'``, passed through a sigmoid.

    Args:
        config (str): teacher config file.
        checkpoint (str): checkpoint file (must exist: the teacher is a trained model).
        device (str): torch device. Defaults to ``'cpu'``.
        cfg_options (dict, optional): config overrides (``key.sub=value``). Defaults to None.
        channel (int): output channel holding the map, >= 0. Defaults to 0.
        activation (str): ``'none'`` or ``'sigmoid'`` (for a teacher whose output is a logit).
            Defaults to ``'none'``.

    Attributes:
        model (nn.Module): the segmentor from :func:`init_model`.
        model_types (dict): ``segmentor`` type and the ``backbone`` / ``neck`` / ``decode_head``
            types the config names.

    Raises:
        FileNotFoundError: the config or the checkpoint file does not exist (named).
        TeacherError: :func:`init_model` cannot build the model (missing file it refers to, CUDA
            not available).
    """

    def __init__(self,
                 config: str,
                 checkpoint: str,
                 device: str = 'cpu',
                 cfg_options: Optional[dict] = None,
                 channel: int = 0,
                 activation: str = 'none') -> None:
        if not os.path.isfile(config):
            raise FileNotFoundError(f'teacher config {config!r} does not exist')
        if not os.path.isfile(checkpoint):
            raise FileNotFoundError(f'teacher checkpoint {checkpoint!r} does not exist (the '
                                    'teacher must be a trained model; give its checkpoint file)')
        if activation not in ('none', 'sigmoid'):
            raise ValueError(f"activation must be 'none' or 'sigmoid', got {activation!r}")
        try:
            self.model = init_model(config, checkpoint, device=device, cfg_options=cfg_options)
        except (FileNotFoundError, RuntimeError) as exc:
            raise TeacherError(f'cannot build the teacher: {exc}') from exc
        self.channel = channel
        self.activation = activation
        model_cfg = self.model.cfg.model
        self.model_types = dict(segmentor=model_cfg.get('type'))
        for part in ('backbone', 'neck', 'decode_head'):
            if isinstance(model_cfg.get(part), dict):
                self.model_types[part] = model_cfg[part].get('type')

    def predict(self, path: str) -> np.ndarray:
        """Raw teacher map of one image at the image's own size.

        Args:
            path (str): image file (decoded as :func:`inference_model` does; EXIF orientation
                applied).

        Returns:
            np.ndarray: (H, W) float64 map, H x W the image's size; in [0, 1] with
            ``activation='sigmoid'``, else unbounded.

        Raises:
            FileNotFoundError: ``path`` does not exist.
            ValueError: ``path`` cannot be decoded (named, from :func:`read_image`).
            TeacherError: the tensor output is not an (N, C, h, w) tensor.
            IndexError: ``channel`` is out of range for the output (the message gives the number
                of channels).
        """
        import torch.nn.functional as F
        pipes = _pipelines(self.model)
        packed = pipes['rest'](_load_file(pipes, path))
        data = dict(inputs=[packed['inputs']], data_samples=[packed['data_samples']])
        with torch.no_grad():
            data = self.model.data_preprocessor(data, False)
            out = self.model(data['inputs'], data['data_samples'], mode='tensor')
        if isinstance(out, (list, tuple)):
            out = out[0]
        if isinstance(out, dict):
            out = out.get('fused', None)
        if not torch.is_tensor(out) or out.dim() != 4:
            raise TeacherError(f'the teacher\'s tensor output must be (N, C, h, w), got '
                               f'{type(out).__name__} {getattr(out, "shape", "")}')
        if not 0 <= self.channel < out.shape[1]:
            raise IndexError(f'channel {self.channel} is out of range: the teacher outputs '
                             f'{out.shape[1]} channel(s)')
        meta = data['data_samples'][0].metainfo
        x = out[:, self.channel:self.channel + 1].float()
        x = F.interpolate(
            x, size=tuple(data['inputs'].shape[-2:]), mode='bilinear', align_corners=False)
        h, w = meta.get('img_shape', data['inputs'].shape[-2:])[:2]
        x = x[..., :h, :w]
        ori_h, ori_w = meta['ori_shape'][:2]
        x = F.interpolate(x, size=(ori_h, ori_w), mode='bilinear', align_corners=False)
        if self.activation == 'sigmoid':
            x = x.sigmoid()
        return x[0, 0].cpu().double().numpy()
