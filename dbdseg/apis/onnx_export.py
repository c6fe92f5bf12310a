"""Export a dbdseg segmentor to ONNX as an image-to-probability graph, and check it.

The exported graph holds everything from the resized image to the probability map, so that an
ONNX runtime user needs no mmseg code:

* input ``image``: (N, 3, H, W) float32, **BGR** channel order (as OpenCV and mmcv load images),
  values 0-255, already resized to the network input size (the config's test ``Resize``, e.g.
  320 x 320; with ``dynamic=True`` any H and W that are multiples of the model's total stride);
* the data preprocessor's steps: BGR -> RGB when the config says ``bgr_to_rgb``, then
  ``(x - mean) / std``;
* the network: ``extract_feat`` (backbone, neck) and the decode head's inference forward;
* the logits resized (bilinear, the head's ``align_corners``) to H x W, as mmseg's
  ``decode_head.predict`` does, then the sigmoid (1-channel heads) or the softmax probability of
  class 1 (2-channel heads), as :func:`dbdseg.apis.inference_model` returns them;
* output ``prob``: (N, 1, H, W) float32 in [0, 1], the in-focus (DBD) / salient (SOD)
  probability. Resizing it to the photo's own size (bilinear) gives
  :func:`dbdseg.apis.inference_model`'s map.

The mean, std, channel order and input size are also written as ONNX metadata
(``metadata_props``). Test-time augmentation and sliding-window inference are not exported.
onnx, onnxruntime and (for PyTorch's ``dynamo`` exporter) onnxscript are optional dependencies,
imported only here.
"""
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['ProbabilityGraph', 'check_onnx', 'export_onnx', 'run_onnx']

#: Names of the graph's input and output.
INPUT_NAME, OUTPUT_NAME = 'image', 'prob'


class ProbabilityGraph(nn.Module):
    """A segmentor as one image -> probability module (see the module docstring).

    Args:
        segmentor (nn.Module): an mmseg ``EncoderDecoder``-like model in eval mode
            (``extract_feat``, ``decode_head``, ``data_preprocessor`` with ``mean``/``std``),
            e.g. from :func:`dbdseg.apis.init_model`.

    Raises:
        ValueError: the model lacks ``extract_feat`` / ``decode_head``, or its head has neither
            1 nor 2 output channels.
    """

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        if not (hasattr(segmentor, 'extract_feat') and hasattr(segmentor, 'decode_head')):
            raise ValueError(f'{type(segmentor).__name__} is not an encoder-decoder segmentor '
                             '(extract_feat and decode_head are needed for ONNX export)')
        self.segmentor = segmentor
        pre = segmentor.data_preprocessor
        mean = getattr(pre, 'mean', None)
        std = getattr(pre, 'std', None)
        self.normalize = bool(getattr(pre, '_enable_normalize', mean is not None))
        self.register_buffer(
            'mean',
            (mean if mean is not None else torch.zeros(3, 1, 1)).detach().float().view(1, -1, 1, 1),
            persistent=False)
        self.register_buffer(
            'std',
            (std if std is not None else torch.ones(3, 1, 1)).detach().float().view(1, -1, 1, 1),
            persistent=False)
        self.bgr_to_rgb = bool(getattr(pre, 'channel_conversion', False))
        head = segmentor.decode_head
        self.out_channels = int(getattr(head, 'out_channels', 0))
        if self.out_channels not in (1, 2):
            raise ValueError(f'dbdseg exports binary models: the decode head has '
                             f'{self.out_channels} output channels, 1 or 2 are needed')
        self.align_corners = bool(getattr(head, 'align_corners', False))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) BGR 0-255 -> (N, 1, H, W) probability in [0, 1]."""
        x = image.float()
        if self.bgr_to_rgb:
            x = x.flip(1)
        if self.normalize:
            x = (x - self.mean) / self.std
        feats = self.segmentor.extract_feat(x)
        logits = self.segmentor.decode_head.forward(feats)
        if isinstance(logits, dict):  # a head that returns its side outputs too
            logits = logits['fused']
        if isinstance(logits, (list, tuple)):
            logits = logits[0]
        logits = F.interpolate(
            logits, size=image.shape[-2:], mode='bilinear', align_corners=self.align_corners)
        if self.out_channels == 1:
            return logits.sigmoid()
        return logits.softmax(dim=1)[:, 1:2]

    def metadata(self, shape: Sequence[int]) -> Dict[str, str]:
        """The ONNX ``metadata_props`` written by :func:`export_onnx`."""
        return dict(
            input=f'{INPUT_NAME}: float32 (N, 3, H, W), BGR, 0-255, resized to the network input',
            output=f'{OUTPUT_NAME}: float32 (N, 1, H, W), probability of in-focus / salient',
            export_shape=f'{int(shape[0])}x{int(shape[1])}',
            mean=','.join(f'{v:g}' for v in self.mean.flatten().tolist()),
            std=','.join(f'{v:g}' for v in self.std.flatten().tolist()),
            bgr_to_rgb=str(self.bgr_to_rgb))


def _import(name: str, extra: str):
    try:
        return __import__(name)
    except ImportError as e:
        raise ImportError(f'{extra} needs the optional package {name} '
                          f'(pip install onnx onnxruntime onnxscript): {e}') from e


def export_onnx(model: nn.Module,
                path: str,
                shape: Tuple[int, int],
                dynamic: bool = False,
                opset: Optional[int] = None,
                batch: int = 1,
                size_divisor: int = 32) -> str:
    """Export ``model`` as :class:`ProbabilityGraph` to an ONNX file.

    PyTorch's ``dynamo`` exporter is used where it works (it needs onnxscript), else (fixed size
    only) the TorchScript exporter. The file is written to ``<path>.<pid>.tmp`` first and moved
    into place (an interrupted export leaves no partial ``path``); the graph is checked with
    ``onnx.checker.check_model``.

    Args:
        model (nn.Module): a segmentor in eval mode (:func:`dbdseg.apis.init_model`).
        path (str): the ``.onnx`` file to write (replaced if it exists; the tool asks for
            ``--overwrite`` first).
        shape (tuple[int, int]): ``(H, W)`` of the traced input, > 0; with a fixed-size graph
            the only input size it accepts.
        dynamic (bool): batch, H and W as dynamic axes; H and W are then multiples of
            ``size_divisor`` (the exporter fixes any axis the network constrains otherwise, e.g.
            a U-Net's divisibility check). Defaults to False.
        opset (int, optional): ONNX opset. Defaults to None: the exporter's default.
        batch (int): batch size of the traced input. Defaults to 1.
        size_divisor (int): see ``dynamic``; ``shape`` must be a multiple of it then. Defaults
            to 32 (the total stride of the U-Net and ResNet models dbdseg ships).

    Returns:
        str: ``path``.

    Raises:
        ImportError: onnx (or the exporter's dependencies) is not installed.
        ValueError: a non-positive ``shape``, or a model :class:`ProbabilityGraph` refuses.
        RuntimeError: the export or the check fails (PyTorch's or onnx's message).
    """
    onnx = _import('onnx', 'ONNX export')
    h, w = (int(s) for s in shape)
    if h <= 0 or w <= 0:
        raise ValueError(f'shape must be positive (H, W), got {shape}')
    if dynamic and (h % size_divisor or w % size_divisor):
        raise ValueError(f'a dynamic export traces a shape that is a multiple of size_divisor '
                         f'({size_divisor}), got {shape}')
    graph = ProbabilityGraph(model).eval()
    device = next(model.parameters()).device
    dummy = torch.rand(batch, 3, h, w, device=device) * 255
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f'{path}.{os.getpid()}.tmp'
    kwargs = dict(input_names=[INPUT_NAME], output_names=[OUTPUT_NAME])
    if opset is not None:
        kwargs['opset_version'] = int(opset)
    errors = []
    try:
        # the TorchScript exporter turns the sizes mmseg computes with int() into constants, so a
        # graph it exports with dynamic axes fails at other sizes: dynamic exports use dynamo only
        for dynamo in ((True, ) if dynamic else (True, False)):
            extra = {}
            if dynamic and dynamo:
                dim = torch.export.Dim
                extra['dynamic_shapes'] = ({
                    0:
                    dim('batch', min=1, max=1024),
                    2:
                    size_divisor * dim('h', min=1, max=4096 // size_divisor),
                    3:
                    size_divisor * dim('w', min=1, max=4096 // size_divisor)
                }, )
            elif dynamic:
                axes = {0: 'batch', 2: 'height', 3: 'width'}
                extra['dynamic_axes'] = {INPUT_NAME: axes, OUTPUT_NAME: axes}
            try:
                with torch.no_grad():
                    torch.onnx.export(graph, (dummy, ), tmp, dynamo=dynamo, **kwargs, **extra)
                break
            except Exception as e:  # noqa: BLE001 - the other exporter is tried next
                errors.append(f'{"dynamo" if dynamo else "torchscript"} exporter: '
                              f'{type(e).__name__}: {str(e)[:2000]}')
                if osp.exists(tmp):
                    os.unlink(tmp)
        else:
            raise RuntimeError('ONNX export failed:\n' + '\n'.join(errors))
        proto = onnx.load(tmp)
        onnx.checker.check_model(proto)
        if dynamic:
            dims = proto.graph.input[0].type.tensor_type.shape.dim
            fixed = [i for i in (0, 2, 3) if dims[i].HasField('dim_value')]
            if fixed:
                raise RuntimeError(f'the exporter fixed axes {fixed} of the input to '
                                   f'{[dims[i].dim_value for i in fixed]}: the network does not '
                                   f'accept other sizes there (try another size_divisor)')
        for key, value in graph.metadata((h, w)).items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(proto, tmp)
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp + '.data'):
            if osp.exists(leftover):
                os.unlink(leftover)
    return path


def run_onnx(path: str, image: np.ndarray, providers: Optional[Sequence[str]] = None) -> np.ndarray:
    """Run an exported graph with onnxruntime.

    Args:
        path (str): the ``.onnx`` file.
        image (np.ndarray): (H, W, 3) uint8 / float BGR image at the graph's input size, or an
            (N, 3, H, W) batch.
        providers (Sequence[str], optional): onnxruntime execution providers. Defaults to None:
            ``['CPUExecutionProvider']``.

    Returns:
        np.ndarray: (N, 1, H, W) float32 probabilities.

    Raises:
        ImportError: onnxruntime is not installed.
    """
    ort = _import('onnxruntime', 'Running an ONNX graph')
    x = np.asarray(image, dtype=np.float32)
    if x.ndim == 3:
        x = x.transpose(2, 0, 1)[None]
    session = ort.InferenceSession(path, providers=list(providers or ['CPUExecutionProvider']))
    return session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(x)})[0]


def check_onnx(path: str, model: nn.Module, image: np.ndarray) -> float:
    """The largest absolute difference between onnxruntime and PyTorch on one image.

    Args:
        path (str): the exported ``.onnx`` file.
        model (nn.Module): the segmentor it was exported from.
        image (np.ndarray): (H, W, 3) BGR image at a size the graph accepts.

    Returns:
        float: ``max |prob_onnx - prob_torch|`` over the map (probabilities in [0, 1]).

    Raises:
        ImportError: onnxruntime is not installed.
    """
    got = run_onnx(path, image)
    x = torch.from_numpy(np.ascontiguousarray(np.asarray(image, np.float32).transpose(2, 0, 1)))
    device = next(model.parameters()).device
    with torch.no_grad():
        want = ProbabilityGraph(model).eval()(x[None].to(device)).cpu().numpy()
    return float(np.abs(got - want).max())
