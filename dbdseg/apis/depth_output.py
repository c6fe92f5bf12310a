"""The depth side output of a depth-distillation model: capture it at test time, write 16-bit PNGs.

Depth distillation (Cun & Pun, ECCV 2020, Sec. 3.1-3.2) trains the defocus network to also regress
a teacher's relative depth map; dbdseg's ``SABHead`` (``use_depth=True``) fuses the depth side
outputs with a 1x1 convolution (``depth_fusion``, the depth counterpart of Fig. 2b's prediction
fusion). The segmentor's prediction keeps only the defocus map; this module reads the fused depth
as well:

* :func:`depth_module` finds the module whose output is the fused depth (None: no depth output);
* :func:`capture_depth` records that output during a forward pass (a PyTorch forward hook);
* :func:`depth_to_original` maps it to the original image grid the way mmseg post-processes the
  defocus logits (padding removed, flip undone, bilinear resize to ``ori_shape``);
* :func:`write_depth_png` writes a 16-bit PNG, the format of the depth targets the model is trained
  on (:func:`dbdseg.datasets.transforms.loading.map_to_float` reads it back as value / 65535);
* :class:`DepthOutputHook` does all of it for a test run (``tools/test.py --save-depth``).

Units: the targets are relative depth normalised per image to [0, 1] (larger = farther, see
:func:`dbdseg.apis.map_targets.normalize_depth`); the network's depth is a linear output trained
onto them, so it is on the same relative scale but may leave [0, 1] slightly; written files clip
it to [0, 1].
"""
import contextlib
import os.path as osp
from typing import Iterator, List, Optional, Sequence

import numpy as np
from mmengine.hooks import Hook

__all__ = [
    'DEPTH_PNG_MAX', 'DepthOutputHook', 'capture_depth', 'depth_module', 'depth_to_original',
    'write_depth_png'
]

#: value of depth 1.0 in a written PNG (16-bit full scale)
DEPTH_PNG_MAX = 65535


def write_depth_png(path: str, depth) -> str:
    """Write a depth map as a 16-bit grey PNG, atomically.

    The stored value is ``uint16(rint(clip(depth, 0, 1) * 65535))``; read it back as
    ``value / 65535`` (what the depth-target loader does). NaN is refused.

    Args:
        path (str): output file (``.png``; a missing folder is created).
        depth (np.ndarray | torch.Tensor): (H, W), (1, H, W) or (H, W, 1) float depth, relative
            scale in [0, 1] (larger = farther); values outside are clipped.

    Returns:
        str: ``path``.

    Raises:
        ValueError: ``depth`` is not one 2-D map, holds NaN, or ``path`` is not a PNG file.
        OSError: the file cannot be written.
    """
    from dbdseg.utils.fileio import imwrite_atomic
    if hasattr(depth, 'detach'):
        depth = depth.detach().float().cpu().numpy()
    depth = np.asarray(depth, dtype=np.float64)
    if depth.ndim == 3 and 1 in (depth.shape[0], depth.shape[-1]):
        depth = depth.reshape(depth.shape[1:] if depth.shape[0] == 1 else depth.shape[:2])
    if depth.ndim != 2:
        raise ValueError(f'write_depth_png: expected one (H, W) depth map for {path}, '
                         f'got shape {depth.shape}')
    if np.isnan(depth).any():
        raise ValueError(f'write_depth_png: the depth map for {path} holds NaN')
    if osp.splitext(path)[1].lower() != '.png':
        raise ValueError(f'write_depth_png: {path} is not a .png file (16-bit depth needs PNG)')
    img = np.rint(np.clip(depth, 0.0, 1.0) * DEPTH_PNG_MAX).astype(np.uint16)
    imwrite_atomic(path, img)
    return path


def depth_module(model):
    """The module whose output is the model's fused depth map, or None.

    A model has a depth output when its decode head is a depth-distillation head with the depth
    branch on (``SABHead(use_depth=True)``: a ``depth_fusion`` module). Model wrappers (DDP)
    are unwrapped.

    Args:
        model (torch.nn.Module): a segmentor.

    Returns:
        torch.nn.Module | None: the fused-depth convolution; its output is (N, 1, h, w) at the
        decoder's resolution.
    """
    import torch.nn as nn
    model = getattr(model, 'module', model)  # MMDistributedDataParallel / DDP
    head = getattr(model, 'decode_head', None)
    fusion = getattr(head, 'depth_fusion', None)
    return fusion if isinstance(fusion, nn.Module) else None


@contextlib.contextmanager
def capture_depth(model) -> Iterator[List]:
    """Record the fused depth of every forward pass inside the ``with`` block.

    Usage::

        with capture_depth(model) as depths:
            results = model.test_step(data)
        depth = depths[-1]  # (N, 1, h, w) tensor of the last forward

    Args:
        model (torch.nn.Module): a segmentor with a depth output (:func:`depth_module`).

    Yields:
        list[torch.Tensor]: one detached (N, 1, h, w) tensor per forward pass of the depth branch.

    Raises:
        ValueError: the model has no depth output.
    """
    module = depth_module(model)
    if module is None:
        raise ValueError('the model has no depth output (a depth-distillation head, SABHead with '
                         'use_depth=True, is needed)')
    depths: List = []
    handle = module.register_forward_hook(lambda mod, inp, out: depths.append(out.detach()))
    try:
        yield depths
    finally:
        handle.remove()


def depth_to_original(depth, img_meta: dict, align_corners: bool = False) -> np.ndarray:
    """Map one fused depth output to the original image grid, as mmseg post-processes logits.

    The steps of ``BaseSegmentor.postprocess_result`` (mmseg 1.2.2) after the decode head's
    resize: resize to the padded input (``pad_shape``, else ``img_shape``), remove
    ``img_padding_size`` / ``padding_size`` (left, right, top, bottom), undo a ``flip``, and
    resize bilinearly to ``ori_shape``. No sigmoid: the depth is a linear output.

    Args:
        depth (torch.Tensor): (1, h, w) or (h, w) depth of one image.
        img_meta (dict): the sample's metainfo (``ori_shape`` required).
        align_corners (bool): the decode head's ``align_corners``. Defaults to False.

    Returns:
        np.ndarray: (H, W) float32 depth, ``(H, W) = ori_shape``.

    Raises:
        KeyError: ``img_meta`` has no ``ori_shape``.
    """
    import torch.nn.functional as F
    x = depth.detach().float()
    x = x.reshape(1, 1, *x.shape[-2:])
    size = img_meta.get('pad_shape') or img_meta.get('img_shape')
    if size is not None and tuple(x.shape[-2:]) != tuple(size[:2]):
        x = F.interpolate(x, size=tuple(size[:2]), mode='bilinear', align_corners=align_corners)
    pad = img_meta.get('img_padding_size', img_meta.get('padding_size', [0, 0, 0, 0]))
    left, right, top, bottom = pad
    h, w = x.shape[-2:]
    x = x[..., top:h - bottom, left:w - right]
    if img_meta.get('flip'):
        x = x.flip(dims=(3, ) if img_meta.get('flip_direction') == 'horizontal' else (2, ))
    ori = tuple(img_meta['ori_shape'][:2])
    if tuple(x.shape[-2:]) != ori:
        x = F.interpolate(x, size=ori, mode='bilinear', align_corners=align_corners)
    return x[0, 0].cpu().numpy().astype(np.float32)


def _depth_stem(img_path: str) -> str:
    return osp.splitext(osp.basename(img_path))[0]


class DepthOutputHook(Hook):
    """Write each test image's fused depth as ``<out_dir>/<stem>.png`` (16-bit, original size).

    An mmengine hook (register it with ``runner.register_hook(DepthOutputHook(out_dir))``; it is
    not in a registry). It captures the depth branch during ``test_step`` (:func:`capture_depth`)
    and writes one PNG per output sample (:func:`write_depth_png`). Samples with a ``set_name``
    (several test sets, ``MultiSetDataset``) go to ``<out_dir>/<set_name>/<stem>.png`` when the
    run has more than one set. Two images that would write the same file are an error (the same
    rule as ``SODMetric``'s ``output_dir``).

    Args:
        out_dir (str): the output folder.
        multi_set (bool, optional): name files ``<set_name>/<stem>.png``. Defaults to None:
            when the test dataset's metainfo lists more than one ``set_names``.

    Raises:
        RuntimeError (at run time): the model has no depth output, the test needs more than one
            forward pass per batch (sliding-window inference or test-time augmentation), or two
            images map to one file.
    """

    priority = 'NORMAL'

    def __init__(self, out_dir: str, multi_set: Optional[bool] = None):
        self.out_dir = out_dir
        self.multi_set = multi_set
        self._written = set()
        self._ctx = None
        self._depths: Optional[list] = None

    def before_test(self, runner) -> None:
        model = runner.model
        if depth_module(model) is None:
            raise RuntimeError('--save-depth: the model has no depth output (a depth-distillation '
                               'head, SABHead with use_depth=True, is needed)')
        if self.multi_set is None:
            meta = getattr(runner.test_dataloader.dataset, 'metainfo', None) or {}
            self.multi_set = len(meta.get('set_names') or ()) > 1

    def before_test_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._ctx = capture_depth(runner.model)
        self._depths = self._ctx.__enter__()

    def after_test_iter(self,
                        runner,
                        batch_idx: int,
                        data_batch=None,
                        outputs: Optional[Sequence] = None) -> None:
        depths = self._depths
        self._ctx.__exit__(None, None, None)
        self._ctx, self._depths = None, None
        outputs = list(outputs or [])
        if len(depths) != 1 or depths[0].shape[0] != len(outputs):
            raise RuntimeError(
                f'--save-depth: {len(depths)} depth forward pass(es) for {len(outputs)} image(s) '
                "in one test step; it needs one whole-image forward (test_cfg.mode='whole', no "
                '--tta)')
        model = getattr(runner.model, 'module', runner.model)
        align = bool(getattr(getattr(model, 'decode_head', None), 'align_corners', False))
        for depth, sample in zip(depths[0], outputs):
            meta = sample.metainfo
            name = _depth_stem(meta['img_path']) + '.png'
            if self.multi_set and meta.get('set_name'):
                name = osp.join(str(meta['set_name']), name)
            path = osp.join(self.out_dir, name)
            if path in self._written:
                raise RuntimeError(f'--save-depth: two test images write {path}; give the images '
                                   'distinct stems')
            self._written.add(path)
            write_depth_png(path, depth_to_original(depth, meta, align))

    def after_test(self, runner) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(None, None, None)
            self._ctx, self._depths = None, None
