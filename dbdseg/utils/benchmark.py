"""Model benchmarking: parameters, fp32 size, FLOPs, latency, throughput and peak memory.

The core of ``tools/analysis_tools/benchmark.py`` and ``tools/analysis_tools/model_size.py`` (and
of the maintainer scripts ``.dev_scripts/benchmark_all.py`` and ``.dev_scripts/speed_targets.py``).

**Model size** (:func:`model_size`): parameters in total, trainable, and per top-level part of the
segmentor (backbone / neck / decode_head / auxiliary_head / ...), and the size of the model's fp32
``state_dict`` (parameters and buffers such as BN running statistics) as ``torch.save`` writes it
into memory: the size of a weights-only checkpoint, in MB (10^6 bytes) and MiB. Papers' "model
size" in M is usually one of these.

**Speed** (:func:`run_benchmark`): one *call* per repeat, after ``warmup`` untimed calls, under
``torch.no_grad``:

* ``mode='tensor'`` (the FPS the papers report): ``model(x, mode='tensor')``, the network from the
  normalised ``(batch, 3, H, W)`` input to the head's logits, nothing before or after;
* ``mode='predict'``: ``model.test_step(data)`` on ``batch`` uint8 images of H x W as the test
  pipeline packs them: the data preprocessor (normalisation, BGR->RGB, stacking), the forward, and
  mmseg's post-processing (resize to the original size, sigmoid, threshold).

The input is random (seeded); weights are random unless a checkpoint is given (speed does not
depend on the weights). On CUDA every timed call is bracketed by ``torch.cuda.synchronize()`` so
the wall-clock time covers the kernels; on CPU the calls are synchronous anyway.

Reported (keys of the result dict in brackets):

* latency per call in ms: median, mean, standard deviation, min, max, quartiles and IQR over the
  repeats [``latency_ms``]; images per second = batch / median latency [``images_per_s``];
* parameters (all and trainable) and the fp32 state-dict size [``params``, ``trainable_params``,
  ``fp32_MB``];
* FLOPs of one image (batch 1) at H x W in tensor mode, counted by mmengine's
  ``mmengine.analysis.get_model_complexity_info`` (fvcore convention: one fused multiply-add
  counts as one FLOP; operators it has no rule for, e.g. batch norm in eval mode, pooling,
  activations, padding, are left out and reported in the log) [``flops``, ``flops_G``];
* peak memory of the timed calls (:class:`PeakMemory`): on CUDA ``torch.cuda.max_memory_allocated``
  after ``reset_peak_memory_stats`` [``peak_memory``: kind ``cuda_max_memory_allocated``]; on CPU
  the process' resident-set high-water mark (``VmHWM``; reset through ``/proc/self/clear_refs``
  before the timed calls where the kernel allows, otherwise it is the whole process' high-water
  mark and ``reset`` says so) and its increase over the RSS before the calls [kind
  ``rss_high_water``]; ``tracemalloc`` cannot see torch's allocations, so it is not used;
* with a fast path (``amp``, ``channels_last``, ``compile``): the largest absolute difference of
  the output (logits, or ``seg_logits`` probabilities in predict mode) from the plain fp32 eager
  model on the same input [``max_abs_diff_vs_fp32_eager``], so "changes no result" is checked, and
  the time of the first call (includes compilation) [``first_call_s``].

Fast paths (all optional, off by default):

* ``amp``: ``torch.autocast`` with float16 on CUDA, bfloat16 on CPU (bfloat16 is only fast on CPUs
  with native support; the output changes at the 1e-3 level);
* ``channels_last``: model weights and input in ``torch.channels_last`` memory format;
* ``compile``: ``nn.Module.compile()`` (``torch.compile``, inductor); compilation happens in the
  first warm-up call and can take minutes on a small CPU.

This module imports torch at import time; ``dbdseg.utils`` itself does not import it.
"""
import contextlib
import io
import logging
import os
import os.path as osp
import platform
import sys
import time
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

__all__ = [
    'MODES', 'PRECISIONS', 'PeakMemory', 'as_channels_last', 'build_bare_model', 'build_model',
    'config_model_size', 'count_flops', 'count_params', 'default_shape', 'device_description',
    'format_model_size', 'format_summary', 'format_sweep', 'is_out_of_memory', 'latency_summary',
    'make_call', 'make_inputs', 'model_size', 'output_tensor', 'run_benchmark', 'run_sweep',
    'state_dict_bytes', 'sweep_plan', 'time_calls'
]

#: What :func:`run_benchmark` can time: the network alone, or the whole ``test_step``.
MODES = ('tensor', 'predict')


# ----------------------------------------------------------------------------------------------
# parameters and fp32 size
# ----------------------------------------------------------------------------------------------
def count_params(module: Optional[torch.nn.Module], trainable_only: bool = False) -> int:
    """Number of parameter elements of ``module``.

    Args:
        module (nn.Module, optional): any module (also on the meta device); None counts 0.
        trainable_only (bool): count only parameters with ``requires_grad``. Defaults to False.

    Returns:
        int: the number of scalars (not of tensors).
    """
    if module is None:
        return 0
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def state_dict_bytes(module: torch.nn.Module) -> int:
    """Bytes of ``torch.save(state_dict)`` with every floating tensor cast to float32.

    Parameters and buffers (e.g. BN running statistics) are included, so this is the size of a
    weights-only fp32 checkpoint of the module, whatever dtype the module is in.

    Args:
        module (nn.Module): a module with real (not meta) tensors.

    Returns:
        int: the serialised size in bytes.
    """
    state = OrderedDict((k, v.detach().float() if v.is_floating_point() else v.detach())
                        for k, v in module.state_dict().items())
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.tell()


def model_size(model: torch.nn.Module) -> Dict[str, Any]:
    """Parameter counts and fp32 checkpoint size of a built model.

    Args:
        model (nn.Module): the model (a segmentor: its children are backbone, neck, heads ...).

    Returns:
        dict: ``total_params`` and ``trainable_params`` (int), ``parts`` (OrderedDict: name of
        every direct child with parameters -> its parameter count, in definition order),
        ``fp32_bytes`` (int, :func:`state_dict_bytes`), ``fp32_MB`` (bytes / 10^6) and
        ``fp32_MiB`` (bytes / 2^20).
    """
    parts = OrderedDict()
    for name, child in model.named_children():
        n = count_params(child)
        if n:
            parts[name] = n
    nbytes = state_dict_bytes(model)
    return dict(
        total_params=count_params(model),
        trainable_params=count_params(model, trainable_only=True),
        parts=parts,
        fp32_bytes=nbytes,
        fp32_MB=nbytes / 1e6,
        fp32_MiB=nbytes / 2**20)


def build_bare_model(cfg) -> torch.nn.Module:
    """Build ``cfg.model`` from mmseg's registry on the CPU without loading any weights.

    ``pretrained`` is dropped and ``init_weights`` is not called, so nothing is downloaded and the
    weights are PyTorch's default initialisation. Registers mmseg's and dbdseg's modules first
    (:func:`dbdseg.utils.register_all_modules`) and uses the config's ``default_scope``
    (default ``'mmseg'``).

    Args:
        cfg (mmengine.Config): the config (not modified).

    Returns:
        nn.Module: the model, in training mode.
    """
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from .set_env import register_all_modules
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model_cfg = cfg.model.copy()
    model_cfg.pop('pretrained', None)
    return MODELS.build(model_cfg)


def config_model_size(config: str, cfg_options: Optional[dict] = None) -> Dict[str, Any]:
    """:func:`model_size` of a config's model built by :func:`build_bare_model`.

    Args:
        config (str): config file.
        cfg_options (dict, optional): overrides merged into the config (``key.sub=value``).

    Returns:
        dict: :func:`model_size`'s keys plus ``config`` (the ``config`` argument).

    Raises:
        FileNotFoundError: ``config`` does not exist (raised by mmengine's ``Config.fromfile``).
    """
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    info = model_size(build_bare_model(cfg))
    info['config'] = config
    return info


def format_model_size(info: Dict[str, Any]) -> str:
    """Text table of a :func:`config_model_size` result: one line per part, the total, the
    trainable parameters and the fp32 state-dict size."""
    lines = [f'config: {info["config"]}', f'{"part":<20}{"params":>14}']
    for name, n in info['parts'].items():
        lines.append(f'{name:<20}{n:>14,}')
    lines += [
        f'{"total":<20}{info["total_params"]:>14,}  ({info["total_params"] / 1e6:.3f} M)',
        f'{"trainable":<20}{info["trainable_params"]:>14,}',
        f'fp32 state dict: {info["fp32_bytes"]:,} bytes = {info["fp32_MB"]:.2f} MB '
        f'= {info["fp32_MiB"]:.2f} MiB'
    ]
    return '\n'.join(lines)


# ----------------------------------------------------------------------------------------------
# environment, memory
# ----------------------------------------------------------------------------------------------
def _cpu_name() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_description(device: torch.device) -> Dict[str, Any]:
    """Name of the device the numbers were measured on (for the tables).

    Args:
        device (torch.device): a CPU or CUDA device (CUDA must be available).

    Returns:
        dict: CUDA: ``type``, ``name`` (GPU model), ``index``, ``torch`` and ``cuda`` versions;
        CPU: ``type``, ``name`` (``/proc/cpuinfo``'s model name, else the platform's),
        ``logical_cores``, ``torch_threads`` and ``torch`` version.
    """
    if device.type == 'cuda':
        index = device.index if device.index is not None else torch.cuda.current_device()
        return dict(
            type='cuda',
            name=torch.cuda.get_device_name(index),
            index=index,
            torch=torch.__version__,
            cuda=torch.version.cuda)
    return dict(
        type='cpu',
        name=_cpu_name(),
        logical_cores=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        torch=torch.__version__)


def _proc_status_kb(field: str) -> Optional[int]:
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _reset_rss_peak() -> bool:
    """Reset the kernel's resident-set high-water mark of this process (Linux >= 4.0)."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


class PeakMemory:
    """Peak memory of a code block: CUDA allocator peak, or the CPU process' RSS high-water mark.

    Use as ``with PeakMemory(device) as mem: ...``, then ``mem.result()``. On CUDA the allocator's
    peak statistics are reset on entry; on CPU (Linux) the kernel's ``VmHWM`` is reset through
    ``/proc/self/clear_refs`` where allowed (``reset`` says whether it was). Elsewhere (no
    ``/proc``) the byte counts are None.

    Args:
        device (torch.device): the device whose memory is watched.
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.reset = False
        self.before = None
        self.peak = None

    def __enter__(self):
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.before = torch.cuda.memory_allocated(self.device)
        else:
            self.reset = _reset_rss_peak()
            rss = _proc_status_kb('VmRSS')
            self.before = None if rss is None else rss * 1024
        return self

    def __exit__(self, *exc):
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device)
        else:
            hwm = _proc_status_kb('VmHWM')
            self.peak = None if hwm is None else hwm * 1024
        return False

    def result(self) -> Dict[str, Any]:
        """The measurement: ``kind`` (``'cuda_max_memory_allocated'`` or ``'rss_high_water'``),
        ``bytes`` and ``MB`` (10^6 bytes) of the peak, ``before_bytes``, ``note``; on CPU also
        ``reset``; ``increase_MB`` (peak - before) when both are known."""
        if self.device.type == 'cuda':
            kind = 'cuda_max_memory_allocated'
            note = 'torch.cuda.max_memory_allocated over the timed calls (model weights included)'
        else:
            kind = 'rss_high_water'
            note = ('process resident-set high-water mark (VmHWM) during the timed calls'
                    if self.reset else 'VmHWM of the whole process (the kernel did not allow a '
                    'reset), so it may include earlier peaks')
        out = dict(
            kind=kind,
            bytes=self.peak,
            MB=None if self.peak is None else self.peak / 1e6,
            before_bytes=self.before,
            note=note)
        if self.device.type == 'cpu':
            out['reset'] = self.reset
        if self.peak is not None and self.before is not None:
            out['increase_MB'] = (self.peak - self.before) / 1e6
        return out


# ----------------------------------------------------------------------------------------------
# model and inputs
# ----------------------------------------------------------------------------------------------
def default_shape(cfg) -> List[int]:
    """``cfg.crop_size`` as [H, W] when the config has a two-element one, else [320, 320]."""
    crop = cfg.get('crop_size', None)
    if isinstance(crop, (list, tuple)) and len(crop) == 2:
        return [int(crop[0]), int(crop[1])]
    return [320, 320]


def build_model(cfg, checkpoint: Optional[str], device: torch.device) -> torch.nn.Module:
    """The config's segmentor in eval mode on ``device``: :func:`dbdseg.apis.init_model` (no
    download of pretrained weights; random weights without a checkpoint).

    Raises:
        FileNotFoundError: the checkpoint does not exist.
        RuntimeError: CUDA asked for but not available.
    """
    from dbdseg.apis import init_model
    return init_model(cfg, checkpoint, device=str(device))


def make_inputs(mode: str,
                batch: int,
                shape: Sequence[int],
                device: torch.device,
                seed: int = 0) -> Any:
    """Random inputs of one call.

    Args:
        mode (str): ``'tensor'`` or ``'predict'``.
        batch (int): images per call.
        shape (Sequence[int]): (H, W) in pixels.
        device (torch.device): where the tensor-mode input is put (predict mode: the CPU; the
            model's data preprocessor moves it).
        seed (int): seed of ``torch.Generator``. Defaults to 0.

    Returns:
        ``mode='tensor'``: float32 tensor (batch, 3, H, W), standard normal (a normalised image);
        ``mode='predict'``: ``dict(inputs=[uint8 (3, H, W)] * batch, data_samples=[...])`` as the
        test pipeline's ``PackSegInputs`` leaves it (original size = H x W), values 0..255.
    """
    h, w = int(shape[0]), int(shape[1])
    gen = torch.Generator().manual_seed(seed)
    if mode == 'tensor':
        return torch.randn(batch, 3, h, w, generator=gen).to(device)
    from mmseg.structures import SegDataSample
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(torch.randint(0, 256, (3, h, w), generator=gen, dtype=torch.uint8))
        samples.append(
            SegDataSample(
                metainfo=dict(
                    img_shape=(h, w),
                    ori_shape=(h, w),
                    pad_shape=(h, w),
                    scale_factor=(1.0, 1.0),
                    flip=False,
                    flip_direction=None)))
    return dict(inputs=inputs, data_samples=samples)


def as_channels_last(inputs: Any) -> Any:
    """A 4-D tensor in ``torch.channels_last`` memory format; anything else unchanged."""
    if isinstance(inputs, torch.Tensor) and inputs.dim() == 4:
        return inputs.contiguous(memory_format=torch.channels_last)
    return inputs


def output_tensor(out: Any) -> torch.Tensor:
    """The comparable tensor of a call's output, as float32 on the CPU.

    Args:
        out: a tensor (tensor mode), a list/tuple of tensors (the first is taken), or a list of
            ``SegDataSample`` (predict mode: their ``seg_logits`` are stacked to (N, C, H, W)).

    Returns:
        torch.Tensor: float32 CPU tensor.
    """
    if isinstance(out, (list, tuple)) and out and hasattr(out[0], 'seg_logits'):
        return torch.stack([s.seg_logits.data for s in out]).float().cpu()
    if isinstance(out, (list, tuple)):
        out = out[0]
    return out.float().cpu()


def make_call(model: torch.nn.Module, mode: str, inputs: Any, amp: bool,
              device: torch.device) -> Callable[[], Any]:
    """A zero-argument function running one call under ``no_grad`` (and, with ``amp``,
    ``torch.autocast``: float16 on CUDA, bfloat16 on CPU).

    Args:
        model (nn.Module): the segmentor.
        mode (str): ``'tensor'`` (``model(inputs, mode='tensor')``) or ``'predict'``
            (``model.test_step(inputs)``).
        inputs: :func:`make_inputs`'s output for ``mode``.
        amp (bool): autocast.
        device (torch.device): device of the model (chooses the autocast dtype).

    Returns:
        callable: returns the call's output.
    """
    amp_dtype = torch.float16 if device.type == 'cuda' else torch.bfloat16

    def autocast():
        if not amp:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=amp_dtype)

    if mode == 'tensor':

        def call():
            with torch.no_grad(), autocast():
                return model(inputs, mode='tensor')
    else:

        def call():
            with torch.no_grad(), autocast():
                return model.test_step(inputs)

    return call


def count_flops(model: torch.nn.Module, shape: Sequence[int],
                device: torch.device) -> Dict[str, Any]:
    """FLOPs of one (1, 3, H, W) image in tensor mode, by mmengine's
    ``get_model_complexity_info`` (fvcore convention: one fused multiply-add = one FLOP;
    operators without a rule, e.g. batch norm, pooling, activations, are not counted).

    Args:
        model (nn.Module): the model; called as ``model(x)`` (a segmentor's default mode is
            ``'tensor'``).
        shape (Sequence[int]): (H, W) in pixels.
        device (torch.device): device of the model.

    Returns:
        dict: ``flops`` (int), ``flops_G`` (flops / 10^9), ``activations`` (int).

    Raises:
        Exception: whatever ``torch.jit.trace`` raises for a model it cannot trace.
    """
    from mmengine.analysis import get_model_complexity_info
    from mmengine.logging import MMLogger
    x = torch.zeros(1, 3, int(shape[0]), int(shape[1]), device=device)
    # the counter warns about every operator without a rule (batch norm, pooling, ...): quiet it
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with torch.no_grad():
            info = get_model_complexity_info(model, inputs=(x, ), show_table=False, show_arch=False)
    finally:
        logger.setLevel(level)
    return dict(
        flops=int(info['flops']), flops_G=info['flops'] / 1e9, activations=int(info['activations']))


def latency_summary(times_s: Sequence[float]) -> Dict[str, Any]:
    """Median and spread of call times.

    Args:
        times_s (Sequence[float]): call times in seconds (at least one).

    Returns:
        dict: in milliseconds: ``median``, ``mean``, ``std`` (ddof=1; 0.0 for one time), ``min``,
        ``max``, ``q25``, ``q75`` (numpy's linear percentiles), ``iqr``, ``all`` (every time);
        and ``n`` (count).
    """
    ms = np.asarray(times_s, dtype=np.float64) * 1000
    q25, q50, q75 = np.percentile(ms, [25, 50, 75])
    return dict(
        median=float(q50),
        mean=float(ms.mean()),
        std=float(ms.std(ddof=1)) if len(ms) > 1 else 0.0,
        min=float(ms.min()),
        max=float(ms.max()),
        q25=float(q25),
        q75=float(q75),
        iqr=float(q75 - q25),
        n=int(len(ms)),
        all=[float(v) for v in ms])


def time_calls(call: Callable[[], Any],
               repeat: int,
               warmup: int,
               device: torch.device,
               progress: bool = True) -> Dict[str, Any]:
    """Run ``warmup`` untimed calls, then ``repeat`` timed ones (CUDA-synchronised).

    At least one call runs before timing (it gives ``first_call_s`` and ``first_output``), also
    with ``warmup=0``.

    Args:
        call (callable): :func:`make_call`'s function.
        repeat (int): timed calls.
        warmup (int): untimed calls first.
        device (torch.device): synchronised around every call when CUDA.
        progress (bool): mmengine progress bar on stderr. Defaults to True.

    Returns:
        dict: ``first_call_s`` (seconds of the first warm-up call, includes any compilation),
        ``first_output`` (output of the first call), ``times_s`` (list of ``repeat`` floats,
        seconds), ``peak_memory`` (:meth:`PeakMemory.result` over the timed calls).
    """

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    sync()
    t0 = time.perf_counter()
    first = call()
    sync()
    first_s = time.perf_counter() - t0
    for _ in range(max(warmup - 1, 0)):
        call()
    sync()
    bar = None
    if progress:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(repeat, file=sys.stderr)
    times = []
    with PeakMemory(device) as mem:
        for _ in range(repeat):
            sync()
            t0 = time.perf_counter()
            call()
            sync()
            times.append(time.perf_counter() - t0)
            if bar is not None:
                bar.update()
    if bar is not None:
        sys.stderr.write('\n')
    return dict(first_call_s=first_s, first_output=first, times_s=times, peak_memory=mem.result())


def run_benchmark(config: Any,
                  checkpoint: Optional[str] = None,
                  device: str = 'cpu',
                  shape: Optional[Sequence[int]] = None,
                  batch: int = 1,
                  mode: str = 'tensor',
                  amp: bool = False,
                  channels_last: bool = False,
                  compile: bool = False,
                  repeat: int = 20,
                  warmup: int = 5,
                  num_threads: Optional[int] = None,
                  seed: int = 0,
                  flops: bool = True,
                  progress: bool = True,
                  cfg_options: Optional[dict] = None,
                  model: Optional[torch.nn.Module] = None) -> Dict[str, Any]:
    """Benchmark one config (see the module docstring for what is timed and reported).

    Args:
        config (str | Config): config file or object (an object gets ``cfg_options`` merged in).
        checkpoint (str, optional): checkpoint file; None / ``'none'``: random weights.
            Defaults to None.
        device (str): ``'cpu'``, ``'cuda'`` or ``'cuda:N'``. Defaults to ``'cpu'``.
        shape (Sequence[int], optional): (H, W) in pixels; None: :func:`default_shape`.
            Defaults to None.
        batch (int): images per call, >= 1. Defaults to 1.
        mode (str): ``'tensor'`` or ``'predict'``. Defaults to ``'tensor'``.
        amp (bool): autocast (float16 on CUDA, bfloat16 on CPU). Defaults to False.
        channels_last (bool): channels-last weights and input. Defaults to False.
        compile (bool): ``model.compile()``. Defaults to False.
        repeat (int): timed calls, >= 1. Defaults to 20.
        warmup (int): untimed calls first, >= 0 (at least one call always runs before timing:
            it gives ``first_call_s`` and the output compared). Defaults to 5.
        num_threads (int, optional): ``torch.set_num_threads`` for the run (restored after).
            Defaults to None (torch's own choice).
        seed (int): seed of the random input. Defaults to 0.
        flops (bool): count FLOPs (a traced run of the model; a model that cannot be traced gets
            ``flops_error`` instead, and a message on stderr). Defaults to True.
        progress (bool): progress bar on stderr. Defaults to True.
        cfg_options (dict, optional): config overrides. Defaults to None.
        model (nn.Module, optional): the model already built from ``config`` (eval mode, on
            ``device``); None builds it (:func:`build_model`). With a fast path it is modified
            (memory format, compilation). Defaults to None.

    Returns:
        dict: JSON-able results: the arguments (``config``, ``checkpoint``, ``device``,
        ``shape``, ``batch``, ``mode``, ``amp``, ``amp_dtype``, ``channels_last``, ``compile``,
        ``repeat``, ``warmup``, ``seed``), ``device_info`` (:func:`device_description`),
        ``params``, ``trainable_params``, ``fp32_MB``, ``flops``/``flops_G``/``activations``/
        ``flops_counter`` (or ``flops_error``), ``latency_ms`` (:func:`latency_summary`),
        ``images_per_s``, ``first_call_s``, ``peak_memory``, ``torch_threads`` and, with a fast
        path, ``max_abs_diff_vs_fp32_eager``.

    Raises:
        ValueError: bad ``mode``, ``batch``, ``repeat``, ``warmup`` or ``shape``.
        RuntimeError: CUDA asked for but not available.
        FileNotFoundError: config or checkpoint missing (named).
    """
    from mmengine.config import Config
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    if batch < 1 or repeat < 1 or warmup < 0:
        raise ValueError(f'need batch >= 1, repeat >= 1, warmup >= 0; got batch={batch}, '
                         f'repeat={repeat}, warmup={warmup}')
    dev = torch.device(device)
    if dev.type == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError(f'device {device!r} requested but CUDA is not available '
                           f'(torch {torch.__version__}); use --device cpu')
    if isinstance(config, Config):
        cfg, config_name = config, config.filename
    else:
        if not osp.isfile(str(config)):
            raise FileNotFoundError(f'config file not found: {config}')
        cfg, config_name = Config.fromfile(str(config)), str(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    shape = list(shape) if shape is not None else default_shape(cfg)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f'shape must be two positive ints (H, W), got {shape}')
    if isinstance(checkpoint, str) and checkpoint.lower() == 'none':
        checkpoint = None
    old_threads = torch.get_num_threads()
    if num_threads:
        torch.set_num_threads(int(num_threads))
    try:
        if model is None:
            model = build_model(cfg, checkpoint, dev)
        size = model_size(model)
        result: Dict[str, Any] = dict(
            config=config_name,
            checkpoint=checkpoint,
            device=device,
            device_info=device_description(dev),
            shape=[int(shape[0]), int(shape[1])],
            batch=int(batch),
            mode=mode,
            amp=bool(amp),
            amp_dtype=(('float16' if dev.type == 'cuda' else 'bfloat16') if amp else None),
            channels_last=bool(channels_last),
            compile=bool(compile),
            repeat=int(repeat),
            warmup=int(warmup),
            seed=int(seed),
            params=int(size['total_params']),
            trainable_params=int(size['trainable_params']),
            fp32_MB=float(size['fp32_MB']))
        if flops:
            try:
                result.update(count_flops(model, shape, dev))
                result['flops_counter'] = (
                    'mmengine.analysis.get_model_complexity_info, batch 1, tensor mode; one '
                    'fused multiply-add = 1 FLOP; batch norm, pooling, activations, padding not '
                    'counted')
            except Exception as err:  # noqa: BLE001 - e.g. code that cannot be jit-traced
                # the counter traces the model with torch.jit.trace; report, keep timing
                result['flops_error'] = f'{type(err).__name__}: {err}'
                print(f'benchmark.py: FLOPs not counted ({result["flops_error"]})', file=sys.stderr)
        inputs = make_inputs(mode, batch, shape, dev, seed)
        fast = amp or channels_last or compile
        reference = None
        if fast:
            reference = output_tensor(make_call(model, mode, inputs, False, dev)())
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
            inputs = as_channels_last(inputs)
        if compile:
            model.compile()
        call = make_call(model, mode, inputs, amp, dev)
        timing = time_calls(call, repeat, warmup, dev, progress=progress)
        lat = latency_summary(timing['times_s'])
        result.update(
            latency_ms=lat,
            images_per_s=batch * 1000.0 / lat['median'],
            first_call_s=timing['first_call_s'],
            peak_memory=timing['peak_memory'])
        if reference is not None:
            diff = (output_tensor(timing['first_output']) - reference).abs().max().item()
            result['max_abs_diff_vs_fp32_eager'] = float(diff)
        result['torch_threads'] = torch.get_num_threads()
        return result
    finally:
        if num_threads:
            torch.set_num_threads(old_threads)


def format_summary(res: Dict[str, Any]) -> str:
    """Human-readable lines of a :func:`run_benchmark` result (config, device, latency and FPS,
    parameters, FLOPs, peak memory, fast-path difference)."""
    lat = res['latency_ms']
    fast = [name for name in ('amp', 'channels_last', 'compile') if res.get(name)]
    lines = [
        f"config: {res['config']}",
        f"device: {res['device']} ({res['device_info'].get('name')}), torch threads "
        f"{res.get('torch_threads')}, mode {res['mode']}, input {res['batch']}x3x"
        f"{res['shape'][0]}x{res['shape'][1]}" +
        (f", fast paths: {', '.join(fast)}" if fast else ''),
        f"latency: median {lat['median']:.2f} ms (IQR {lat['q25']:.2f}-{lat['q75']:.2f}, "
        f"min {lat['min']:.2f}, max {lat['max']:.2f}, n={lat['n']}) -> "
        f"{res['images_per_s']:.2f} images/s",
        f"params: {res['params']:,} ({res['params'] / 1e6:.3f} M), fp32 {res['fp32_MB']:.2f} MB",
    ]
    if 'flops' in res:
        lines.append(f"FLOPs (one image): {res['flops_G']:.3f} G")
    elif 'flops_error' in res:
        lines.append(f"FLOPs: not counted ({res['flops_error']})")
    mem = res['peak_memory']
    if mem.get('MB') is not None:
        extra = (f", +{mem['increase_MB']:.1f} MB over the start" if 'increase_MB' in mem else '')
        lines.append(f"peak memory ({mem['kind']}): {mem['MB']:.1f} MB{extra}")
    if 'max_abs_diff_vs_fp32_eager' in res:
        lines.append(f"max |output - fp32 eager output|: {res['max_abs_diff_vs_fp32_eager']:.3g}"
                     f"; first call {res['first_call_s']:.2f} s")
    return '\n'.join(lines)


# ----------------------------------------------------------------------------------------------
# sweeps: batch sizes x precisions on one built model
# ----------------------------------------------------------------------------------------------
#: Precisions of :func:`run_sweep`: plain float32, and autocast (float16 on CUDA, bfloat16 on CPU).
PRECISIONS = ('fp32', 'amp')


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is an allocator failure (CUDA ``OutOfMemoryError`` or a CPU
    ``RuntimeError`` / ``MemoryError`` saying so), i.e. a batch too large for the device."""
    if isinstance(err, MemoryError):
        return True
    oom_type = getattr(torch.cuda, 'OutOfMemoryError', None)
    if oom_type is not None and isinstance(err, oom_type):
        return True
    return isinstance(err, RuntimeError) and 'out of memory' in str(err).lower()


def _run_row(res: Dict[str, Any], precision: str) -> Dict[str, Any]:
    """The per-run row of a sweep: what a table needs (no per-call samples)."""
    lat = {k: v for k, v in res['latency_ms'].items() if k != 'all'}
    row = dict(
        precision=precision,
        mode=res['mode'],
        batch=res['batch'],
        amp_dtype=res['amp_dtype'],
        images_per_s=res['images_per_s'],
        latency_ms=lat,
        first_call_s=res['first_call_s'],
        peak_memory_MB=res['peak_memory'].get('MB'),
        peak_memory_kind=res['peak_memory'].get('kind'))
    if 'max_abs_diff_vs_fp32_eager' in res:
        row['max_abs_diff_vs_fp32_eager'] = res['max_abs_diff_vs_fp32_eager']
    return row


def sweep_plan(batch_sizes: Sequence[int], precisions: Sequence[str],
               modes: Sequence[str]) -> List[Dict[str, Any]]:
    """The runs of :func:`run_sweep`, most important first (a time budget drops the tail).

    Order: batch 1 in tensor mode for every precision, then batch 1 in predict mode for every
    precision (only when ``'predict'`` is in ``modes``; predict mode is timed at batch 1 alone,
    the per-image path of ``tools/test.py``), then the larger batches in tensor mode, ascending,
    every precision at each size.

    Args:
        batch_sizes (Sequence[int]): tensor-mode batch sizes, each >= 1 (duplicates dropped).
        precisions (Sequence[str]): subset of :data:`PRECISIONS`.
        modes (Sequence[str]): subset of :data:`MODES`.

    Returns:
        list[dict]: ``dict(precision, mode, batch)`` per run.

    Raises:
        ValueError: empty or unknown precisions / modes, or a batch size < 1.
    """
    sizes = sorted(set(int(b) for b in batch_sizes))
    if not sizes or sizes[0] < 1:
        raise ValueError(f'batch sizes must be >= 1, got {list(batch_sizes)}')
    if not precisions or any(p not in PRECISIONS for p in precisions):
        raise ValueError(f'precisions must be among {PRECISIONS}, got {list(precisions)}')
    if not modes or any(m not in MODES for m in modes):
        raise ValueError(f'modes must be among {MODES}, got {list(modes)}')
    plan = []
    if 'tensor' in modes and 1 in sizes:
        plan += [dict(precision=p, mode='tensor', batch=1) for p in precisions]
    if 'predict' in modes:
        plan += [dict(precision=p, mode='predict', batch=1) for p in precisions]
    if 'tensor' in modes:
        plan += [
            dict(precision=p, mode='tensor', batch=b) for b in sizes if b > 1 for p in precisions
        ]
    return plan


def run_sweep(config: Any,
              checkpoint: Optional[str] = None,
              device: str = 'cpu',
              shape: Optional[Sequence[int]] = None,
              batch_sizes: Sequence[int] = (1, ),
              precisions: Sequence[str] = ('fp32', ),
              modes: Sequence[str] = ('tensor', ),
              repeat: int = 20,
              warmup: int = 5,
              num_threads: Optional[int] = None,
              seed: int = 0,
              flops: bool = True,
              progress: bool = False,
              cfg_options: Optional[dict] = None,
              cudnn_benchmark: Optional[bool] = None,
              time_budget_s: Optional[float] = None) -> Dict[str, Any]:
    """Benchmark one config at several batch sizes and precisions, building the model once.

    Each run is one :func:`run_benchmark` call on the same model (order: :func:`sweep_plan`).
    A run that runs out of memory is recorded with ``error`` and the larger batches of that
    precision and mode are skipped; runs that would start after ``time_budget_s`` are skipped.
    The "best batch" of a precision is the tensor-mode run with the most images per second.
    Used by ``tools/analysis_tools/benchmark.py --batch-sizes/--precisions`` and the GPU check
    (``.dev_scripts/gpu/check.sh``). The papers report FPS at batch 1 (real-time DBD: 58.82 FPS
    at 320 x 320, Sec. 4; depth distillation: 35.7 FPS at 320 x 320), which is the ``batch1``
    entry in tensor mode.

    Args:
        config (str | Config): config file or object.
        checkpoint (str, optional): checkpoint; None: random weights. Defaults to None.
        device (str): ``'cpu'``, ``'cuda'`` or ``'cuda:N'``. Defaults to ``'cpu'``.
        shape (Sequence[int], optional): (H, W) in pixels; None: :func:`default_shape`.
            Defaults to None.
        batch_sizes (Sequence[int]): tensor-mode batch sizes (>= 1). Defaults to (1, ).
        precisions (Sequence[str]): subset of :data:`PRECISIONS`. Defaults to ('fp32', ).
        modes (Sequence[str]): subset of :data:`MODES`; predict mode runs at batch 1 only.
            Defaults to ('tensor', ).
        repeat (int): timed calls per run. Defaults to 20.
        warmup (int): untimed calls per run. Defaults to 5.
        num_threads (int, optional): torch intra-op threads. Defaults to None.
        seed (int): seed of the random inputs. Defaults to 0.
        flops (bool): count FLOPs once (first run). Defaults to True.
        progress (bool): progress bars. Defaults to False.
        cfg_options (dict, optional): config overrides. Defaults to None.
        cudnn_benchmark (bool, optional): set ``torch.backends.cudnn.benchmark`` for the sweep
            (restored after); None leaves it. Defaults to None.
        time_budget_s (float, optional): no run starts after this many seconds from the call
            (the model build included). Defaults to None (no limit).

    Returns:
        dict: JSON-able: ``config``, ``checkpoint``, ``device``, ``device_info``, ``shape``,
        ``params``, ``fp32_MB``, ``flops_G`` (or ``flops_error``; absent without ``flops``),
        ``cudnn_benchmark``, ``repeat``, ``warmup``, ``runs`` (list: ``precision``, ``mode``,
        ``batch``, ``amp_dtype``, ``images_per_s``, ``latency_ms`` (statistics in ms, no samples),
        ``first_call_s``, ``peak_memory_MB``, ``peak_memory_kind``, with AMP
        ``max_abs_diff_vs_fp32_eager``; or ``error``), ``skipped`` (list of
        ``dict(precision, mode, batch, reason)``), ``batch1`` and ``best`` (precision -> the
        tensor-mode row at batch 1 / with the most images/s), ``predict_over_tensor``
        (precision -> median predict-mode latency / median tensor-mode latency at batch 1)
        and ``wall_s``.

    Raises:
        ValueError: bad batch sizes, precisions, modes, ``repeat`` or ``warmup``.
        RuntimeError: CUDA asked for but not available.
        FileNotFoundError: config or checkpoint missing.
    """
    from mmengine.config import Config
    t_start = time.monotonic()
    plan = sweep_plan(batch_sizes, precisions, modes)
    if repeat < 1 or warmup < 0:
        raise ValueError(f'need repeat >= 1, warmup >= 0; got repeat={repeat}, warmup={warmup}')
    dev = torch.device(device)
    if dev.type == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError(f'device {device!r} requested but CUDA is not available '
                           f'(torch {torch.__version__}); use --device cpu')
    if isinstance(config, Config):
        cfg = config
    else:
        if not osp.isfile(str(config)):
            raise FileNotFoundError(f'config file not found: {config}')
        cfg = Config.fromfile(str(config))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if isinstance(checkpoint, str) and checkpoint.lower() == 'none':
        checkpoint = None
    old_cudnn = torch.backends.cudnn.benchmark
    if cudnn_benchmark is not None:
        torch.backends.cudnn.benchmark = bool(cudnn_benchmark)
    try:
        model = build_model(cfg, checkpoint, dev)
        out: Dict[str, Any] = dict(
            config=cfg.filename if not isinstance(config, str) else config,
            checkpoint=checkpoint,
            device=device,
            cudnn_benchmark=bool(torch.backends.cudnn.benchmark),
            repeat=int(repeat),
            warmup=int(warmup),
            runs=[],
            skipped=[])
        failed = set()  # (precision, mode) that ran out of memory
        for step in plan:
            key = (step['precision'], step['mode'])
            if key in failed:
                out['skipped'].append(dict(step, reason='a smaller batch ran out of memory'))
                continue
            if time_budget_s is not None and time.monotonic() - t_start > time_budget_s:
                out['skipped'].append(dict(step, reason=f'time budget {time_budget_s:g} s spent'))
                continue
            try:
                res = run_benchmark(
                    cfg,
                    checkpoint,
                    device=device,
                    shape=shape,
                    batch=step['batch'],
                    mode=step['mode'],
                    amp=step['precision'] == 'amp',
                    repeat=repeat,
                    warmup=warmup,
                    num_threads=num_threads,
                    seed=seed,
                    flops=flops and 'shape' not in out,
                    progress=progress,
                    model=model)
            except Exception as err:  # noqa: BLE001 - an OOM ends this precision's larger batches
                if not is_out_of_memory(err):
                    raise
                failed.add(key)
                out['runs'].append(dict(step, error=f'out of memory: {str(err)[:200]}'))
                if dev.type == 'cuda':
                    torch.cuda.empty_cache()
                continue
            if 'shape' not in out:
                out.update(
                    device_info=res['device_info'],
                    shape=res['shape'],
                    params=res['params'],
                    fp32_MB=res['fp32_MB'])
                for k in ('flops', 'flops_G', 'flops_error'):
                    if k in res:
                        out[k] = res[k]
            out['runs'].append(_run_row(res, step['precision']))
        ok = [r for r in out['runs'] if 'error' not in r]
        out['batch1'], out['best'], out['predict_over_tensor'] = {}, {}, {}
        for p in precisions:
            tensor_rows = [r for r in ok if r['precision'] == p and r['mode'] == 'tensor']
            if tensor_rows:
                out['best'][p] = max(tensor_rows, key=lambda r: r['images_per_s'])
            one = [r for r in tensor_rows if r['batch'] == 1]
            if one:
                out['batch1'][p] = one[0]
            pred = [r for r in ok if r['precision'] == p and r['mode'] == 'predict']
            if one and pred:
                out['predict_over_tensor'][p] = (
                    pred[0]['latency_ms']['median'] / one[0]['latency_ms']['median'])
        out['wall_s'] = time.monotonic() - t_start
        return out
    finally:
        torch.backends.cudnn.benchmark = old_cudnn


def format_sweep(res: Dict[str, Any]) -> str:
    """Text table of a :func:`run_sweep` result: one line per run (precision, mode, batch,
    median latency in ms, images/s, peak memory in MB), the skipped runs, the best batches."""
    info = res.get('device_info', {})
    lines = [
        f"config: {res['config']}",
        f"device: {res['device']} ({info.get('name')}, torch {info.get('torch')}), input "
        f"3x{res.get('shape', ['?', '?'])[0]}x{res.get('shape', ['?', '?'])[1]}, "
        f"cudnn.benchmark {res['cudnn_benchmark']}",
        f"{'precision':<10}{'mode':<9}{'batch':>6}{'median ms':>11}{'images/s':>11}"
        f"{'peak MB':>10}"
    ]
    for r in res['runs']:
        head = f"{r['precision']:<10}{r['mode']:<9}{r['batch']:>6}"
        if 'error' in r:
            lines.append(f"{head}  {r['error'][:60]}")
            continue
        mem = r['peak_memory_MB']
        lines.append(f"{head}{r['latency_ms']['median']:>11.3f}{r['images_per_s']:>11.1f}"
                     f"{(f'{mem:.1f}' if mem is not None else '-'):>10}")
    for s in res['skipped']:
        lines.append(f"skipped: {s['precision']} {s['mode']} batch {s['batch']} ({s['reason']})")
    for p, r in res['best'].items():
        lines.append(f"best {p}: batch {r['batch']}, {r['images_per_s']:.1f} images/s")
    for p, ratio in res['predict_over_tensor'].items():
        lines.append(f'predict / tensor latency at batch 1, {p}: {ratio:.3f}')
    return '\n'.join(lines)
