"""Latency, throughput, parameters, FLOPs and peak memory of one dbdseg / mmseg model config.

Usage::

    python tools/analysis_tools/benchmark.py CONFIG [CHECKPOINT|none] [--device cpu|cuda]
        [--shape H W] [--batch N] [--amp] [--channels-last] [--compile]
        [--mode tensor|predict] [--repeat N] [--warmup N] [--num-threads N] [--no-flops]
        [--cfg-options k=v ...] [--out FILE.json]

What is timed (one *call* per repeat, after ``--warmup`` untimed calls, under ``torch.no_grad``):

* ``--mode tensor`` (default; the papers' FPS): ``model(x, mode='tensor')``, the network from the
  normalised ``(batch, 3, H, W)`` input to the head's logits, nothing before or after;
* ``--mode predict``: ``model.test_step(data)`` on ``batch`` uint8 images of H x W as the test
  pipeline packs them: the data preprocessor (normalisation, BGR->RGB, stacking), the forward, and
  mmseg's post-processing (resize to the original size, sigmoid, threshold).

The input is random (seeded, ``--seed``); weights are random unless CHECKPOINT is given (speed does
not depend on the weights). On CUDA every timed call is bracketed by ``torch.cuda.synchronize()``
so the wall-clock time covers the kernels; on CPU the calls are synchronous anyway.

Reported (printed and, with ``--out``, written as JSON; keys in brackets):

* latency per call in ms: median, mean, standard deviation, min, max, quartiles and IQR over the
  repeats [``latency_ms``]; images per second = batch / median latency [``images_per_s``];
* parameters (all and trainable) and the fp32 state-dict size, from ``model_size.py`` [``params``,
  ``trainable_params``, ``fp32_MB``];
* FLOPs of one image (batch 1) at H x W in tensor mode, counted by mmengine's
  ``mmengine.analysis.get_model_complexity_info`` (fvcore convention: one fused multiply-add
  counts as one FLOP; operators it has no rule for, e.g. batch norm in eval mode, pooling,
  activations, padding, are left out and reported in the log) [``flops``, ``flops_G``];
* peak memory of the timed calls: on CUDA ``torch.cuda.max_memory_allocated`` after
  ``reset_peak_memory_stats`` [``peak_memory``: kind ``cuda_max_memory_allocated``]; on CPU the
  process' resident-set high-water mark (``VmHWM``; reset through ``/proc/self/clear_refs`` before
  the timed calls where the kernel allows, otherwise it is the whole process' high-water mark and
  ``reset`` says so) and its increase over the RSS before the calls [kind ``rss_high_water``];
  ``tracemalloc`` cannot see torch's allocations, so it is not used;
* with a fast path (``--amp``, ``--channels-last``, ``--compile``): the largest absolute difference
  of the output (logits, or ``seg_logits`` probabilities in predict mode) from the plain fp32 eager
  model on the same input [``max_abs_diff_vs_fp32_eager``], so "changes no result" is checked, and
  the time of the first call (includes compilation) [``first_call_s``].

Fast paths (all optional, off by default):

* ``--amp``: ``torch.autocast`` with float16 on CUDA, bfloat16 on CPU (bfloat16 is only fast on CPUs
  with native support; the output changes at the 1e-3 level);
* ``--channels-last``: model weights and input in ``torch.channels_last`` memory format;
* ``--compile``: ``nn.Module.compile()`` (``torch.compile``, inductor); compilation happens in the
  first warm-up call and can take minutes on a small CPU.

``--device cuda`` needs a CUDA build of torch and a GPU (clear error otherwise).
"""
import argparse
import contextlib
import importlib.util
import json
import logging
import os
import os.path as osp
import platform
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if importlib.util.find_spec('dbdseg') is None:  # not installed: use this checkout
    sys.path.insert(0, REPO_ROOT)
import dbdseg  # noqa: E402,F401  (registers dbdseg modules into mmseg's registries)

MODES = ('tensor', 'predict')


def _load_model_size_tool():
    """``tools/analysis_tools/model_size.py`` as a module (parameter counts, fp32 size)."""
    name = 'dbdseg_tool_analysis_tools_model_size'
    if name in sys.modules:
        return sys.modules[name]
    path = osp.join(osp.dirname(osp.abspath(__file__)), 'model_size.py')
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Latency, FPS, parameters, FLOPs and peak memory of a model config')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint file (optional; "none" or absent: random weights)')
    parser.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N (default cpu)')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'), default=None,
                        help="input height and width (default: the config's crop_size, else "
                        '320 320)')
    parser.add_argument('--batch', type=int, default=1, help='images per call (default 1)')
    parser.add_argument('--mode', choices=MODES, default='tensor',
                        help="'tensor': the network alone (default); 'predict': preprocessing, "
                        'forward and post-processing of test_step')
    parser.add_argument('--amp', action='store_true',
                        help='autocast: float16 on CUDA, bfloat16 on CPU')
    parser.add_argument('--channels-last', action='store_true',
                        help='channels_last memory format for weights and input')
    parser.add_argument('--compile', action='store_true', help='torch.compile the model')
    parser.add_argument('--repeat', type=int, default=20, help='timed calls (default 20)')
    parser.add_argument('--warmup', type=int, default=5,
                        help='untimed calls before timing (default 5)')
    parser.add_argument('--num-threads', type=int, default=None,
                        help='torch intra-op threads (default: torch\'s own choice)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the random input')
    parser.add_argument('--no-flops', action='store_true', help='skip the FLOP count')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, as in tools/train.py')
    parser.add_argument('--out', help='write the results to this JSON file')
    return parser.parse_args(argv)


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
    """Name of the device the numbers were measured on (for the tables)."""
    if device.type == 'cuda':
        index = device.index if device.index is not None else torch.cuda.current_device()
        return dict(type='cuda', name=torch.cuda.get_device_name(index), index=index,
                    torch=torch.__version__, cuda=torch.version.cuda)
    return dict(type='cpu', name=_cpu_name(), logical_cores=os.cpu_count(),
                torch_threads=torch.get_num_threads(), torch=torch.__version__)


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

    Use as ``with PeakMemory(device) as mem: ...``, then ``mem.result()``.
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
        if self.device.type == 'cuda':
            kind = 'cuda_max_memory_allocated'
            note = 'torch.cuda.max_memory_allocated over the timed calls (model weights included)'
        else:
            kind = 'rss_high_water'
            note = ('process resident-set high-water mark (VmHWM) during the timed calls' if
                    self.reset else 'VmHWM of the whole process (the kernel did not allow a '
                    'reset), so it may include earlier peaks')
        out = dict(kind=kind, bytes=self.peak, MB=None if self.peak is None else self.peak / 1e6,
                   before_bytes=self.before, note=note)
        if self.device.type == 'cpu':
            out['reset'] = self.reset
        if self.peak is not None and self.before is not None:
            out['increase_MB'] = (self.peak - self.before) / 1e6
        return out


# ----------------------------------------------------------------------------------------------
# model and inputs
# ----------------------------------------------------------------------------------------------
def default_shape(cfg) -> List[int]:
    """``cfg.crop_size`` as [H, W] when the config has one, else [320, 320]."""
    crop = cfg.get('crop_size', None)
    if isinstance(crop, (list, tuple)) and len(crop) == 2:
        return [int(crop[0]), int(crop[1])]
    return [320, 320]


def build_model(cfg, checkpoint: Optional[str], device: torch.device) -> torch.nn.Module:
    """The config's segmentor in eval mode on ``device`` (``dbdseg.apis.init_model``: no download
    of pretrained weights; random weights without a checkpoint)."""
    from dbdseg.apis import init_model
    return init_model(cfg, checkpoint, device=str(device))


def make_inputs(mode: str, batch: int, shape: Sequence[int], device: torch.device,
                seed: int = 0) -> Any:
    """Random inputs of one call.

    Returns:
        ``mode='tensor'``: float tensor (batch, 3, H, W), standard normal (a normalised image);
        ``mode='predict'``: ``dict(inputs=[uint8 (3, H, W)] * batch, data_samples=[...])`` as the
        test pipeline's ``PackSegInputs`` leaves it (original size = H x W).
    """
    h, w = int(shape[0]), int(shape[1])
    gen = torch.Generator().manual_seed(seed)
    if mode == 'tensor':
        return torch.randn(batch, 3, h, w, generator=gen).to(device)
    from mmseg.structures import SegDataSample
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(torch.randint(0, 256, (3, h, w), generator=gen, dtype=torch.uint8))
        samples.append(SegDataSample(metainfo=dict(
            img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w), scale_factor=(1.0, 1.0),
            flip=False, flip_direction=None)))
    return dict(inputs=inputs, data_samples=samples)


def _as_channels_last(inputs: Any) -> Any:
    if isinstance(inputs, torch.Tensor) and inputs.dim() == 4:
        return inputs.contiguous(memory_format=torch.channels_last)
    return inputs


def _output_tensor(out: Any) -> torch.Tensor:
    """The comparable tensor of a call's output: the logits (tensor mode) or the stacked
    ``seg_logits`` of the data samples (predict mode), as float32 on the CPU."""
    if isinstance(out, (list, tuple)) and out and hasattr(out[0], 'seg_logits'):
        return torch.stack([s.seg_logits.data for s in out]).float().cpu()
    if isinstance(out, (list, tuple)):
        out = out[0]
    return out.float().cpu()


def make_call(model: torch.nn.Module, mode: str, inputs: Any, amp: bool,
              device: torch.device):
    """A function running one call (under ``no_grad`` and, with ``amp``, autocast)."""
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
    """FLOPs (fvcore convention) and parameters of one image at H x W, tensor mode."""
    from mmengine.analysis import get_model_complexity_info
    from mmengine.logging import MMLogger
    x = torch.zeros(1, 3, int(shape[0]), int(shape[1]), device=device)
    # the counter warns about every operator without a rule (batch norm, pooling, ...): quiet it
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with torch.no_grad():
            info = get_model_complexity_info(model, inputs=(x, ), show_table=False,
                                             show_arch=False)
    finally:
        logger.setLevel(level)
    return dict(flops=int(info['flops']), flops_G=info['flops'] / 1e9,
                activations=int(info['activations']))


def latency_summary(times_s: Sequence[float]) -> Dict[str, Any]:
    """Median and spread of call times (seconds in, milliseconds out)."""
    ms = np.asarray(times_s, dtype=np.float64) * 1000
    q25, q50, q75 = np.percentile(ms, [25, 50, 75])
    return dict(median=float(q50), mean=float(ms.mean()),
                std=float(ms.std(ddof=1)) if len(ms) > 1 else 0.0, min=float(ms.min()),
                max=float(ms.max()), q25=float(q25), q75=float(q75), iqr=float(q75 - q25),
                n=int(len(ms)), all=[float(v) for v in ms])


def time_calls(call, repeat: int, warmup: int, device: torch.device,
               progress: bool = True) -> Dict[str, Any]:
    """Run ``warmup`` untimed calls, then ``repeat`` timed ones (CUDA-synchronised).

    Returns:
        dict: ``first_call_s`` (the first warm-up call, includes any compilation),
        ``first_output`` (output of the first call), ``times_s`` (list of ``repeat`` floats),
        ``peak_memory`` (see :class:`PeakMemory`).
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
    return dict(first_call_s=first_s, first_output=first, times_s=times,
                peak_memory=mem.result())


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
    """Benchmark one config; the function behind the CLI (also used by ``benchmark_all.py`` and
    ``speed_targets.py``).

    Args:
        config (str | Config): config file or object.
        checkpoint (str, optional): checkpoint file; None / 'none': random weights.
        device (str): 'cpu', 'cuda' or 'cuda:N'.
        shape (Sequence[int], optional): (H, W); None: ``default_shape(cfg)``.
        batch (int): images per call, >= 1.
        mode (str): 'tensor' or 'predict' (see the module docstring).
        amp, channels_last, compile (bool): fast paths (see the module docstring).
        repeat (int): timed calls, >= 1. warmup (int): untimed calls first, >= 0 (at least one
            call always runs before timing: it gives ``first_call_s`` and the output compared).
        num_threads (int, optional): ``torch.set_num_threads`` for the run.
        seed (int): seed of the random input.
        flops (bool): count FLOPs (a traced run of the model).
        progress (bool): progress bar on stderr.
        cfg_options (dict, optional): config overrides.
        model (nn.Module, optional): the model already built from ``config`` (eval mode, on
            ``device``); None builds it (``build_model``). With a fast path it is modified
            (memory format, compilation).

    Returns:
        dict: JSON-able results (see the module docstring for the keys).

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
        size = _load_model_size_tool().model_size(model)
        result: Dict[str, Any] = dict(
            config=config_name, checkpoint=checkpoint, device=device,
            device_info=device_description(dev), shape=[int(shape[0]), int(shape[1])],
            batch=int(batch), mode=mode, amp=bool(amp),
            amp_dtype=(('float16' if dev.type == 'cuda' else 'bfloat16') if amp else None),
            channels_last=bool(channels_last), compile=bool(compile), repeat=int(repeat),
            warmup=int(warmup), seed=int(seed), params=int(size['total_params']),
            trainable_params=int(size['trainable_params']), fp32_MB=float(size['fp32_MB']))
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
                print(f'benchmark.py: FLOPs not counted ({result["flops_error"]})',
                      file=sys.stderr)
        inputs = make_inputs(mode, batch, shape, dev, seed)
        fast = amp or channels_last or compile
        reference = None
        if fast:
            reference = _output_tensor(make_call(model, mode, inputs, False, dev)())
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
            inputs = _as_channels_last(inputs)
        if compile:
            model.compile()
        call = make_call(model, mode, inputs, amp, dev)
        timing = time_calls(call, repeat, warmup, dev, progress=progress)
        lat = latency_summary(timing['times_s'])
        result.update(
            latency_ms=lat, images_per_s=batch * 1000.0 / lat['median'],
            first_call_s=timing['first_call_s'], peak_memory=timing['peak_memory'])
        if reference is not None:
            diff = (_output_tensor(timing['first_output']) - reference).abs().max().item()
            result['max_abs_diff_vs_fp32_eager'] = float(diff)
        result['torch_threads'] = torch.get_num_threads()
        return result
    finally:
        if num_threads:
            torch.set_num_threads(old_threads)


def format_summary(res: Dict[str, Any]) -> str:
    """Human-readable lines of a :func:`run_benchmark` result."""
    lat = res['latency_ms']
    fast = [name for name in ('amp', 'channels_last', 'compile') if res.get(name)]
    lines = [
        f"config: {res['config']}",
        f"device: {res['device']} ({res['device_info'].get('name')}), torch threads "
        f"{res.get('torch_threads')}, mode {res['mode']}, input {res['batch']}x3x"
        f"{res['shape'][0]}x{res['shape'][1]}" + (f", fast paths: {', '.join(fast)}" if fast
                                                  else ''),
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


def write_json(path: str, data: Any) -> None:
    """Write JSON atomically (temporary file, then rename); parent folders are created."""
    from dbdseg.evaluation.functional import atomic_write_bytes
    atomic_write_bytes(path, (json.dumps(data, indent=2) + '\n').encode('utf-8'))


def main(argv=None) -> Dict[str, Any]:
    args = parse_args(argv)
    try:
        res = run_benchmark(
            args.config, args.checkpoint, device=args.device, shape=args.shape,
            batch=args.batch, mode=args.mode, amp=args.amp, channels_last=args.channels_last,
            compile=args.compile, repeat=args.repeat, warmup=args.warmup,
            num_threads=args.num_threads, seed=args.seed, flops=not args.no_flops,
            progress=not args.no_progress, cfg_options=args.cfg_options)
    except (ValueError, RuntimeError, FileNotFoundError) as err:
        raise SystemExit(f'benchmark.py: {err}')
    print(format_summary(res), flush=True)
    if args.out:
        write_json(args.out, res)
        print(f'results: {args.out}')
    return res


if __name__ == '__main__':
    main()
