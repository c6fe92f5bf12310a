"""Latency, throughput, parameters, FLOPs and peak memory of one dbdseg / mmseg model config.

Usage::

    python tools/analysis_tools/benchmark.py CONFIG [CHECKPOINT|none] [--device cpu|cuda]
        [--shape H W] [--batch N] [--amp] [--channels-last] [--compile]
        [--mode tensor|predict] [--repeat N] [--warmup N] [--num-threads N] [--no-flops]
        [--cfg-options k=v ...] [--out FILE.json]
        [--batch-sizes N [N ...]] [--precisions fp32 amp] [--modes tensor predict]
        [--cudnn-benchmark] [--time-budget S]

``--mode tensor`` (default; the papers' FPS) times ``model(x, mode='tensor')`` on the normalised
input; ``--mode predict`` times ``model.test_step(data)`` (preprocessing, forward and
post-processing). The input is random (``--seed``); weights are random unless CHECKPOINT is given.
Fast paths: ``--amp`` (float16 on CUDA, bfloat16 on CPU), ``--channels-last``, ``--compile``; with
one, the largest output difference from the plain fp32 eager model is reported too.

The results (latency statistics, images/s, parameters, fp32 size, FLOPs, peak memory) are printed
and, with ``--out``, written as JSON; :mod:`dbdseg.utils.benchmark` (``run_benchmark``) documents
every key. ``--device cuda`` needs a CUDA build of torch and a GPU (clear error otherwise).

Sweep: with ``--batch-sizes``, ``--precisions`` or ``--modes`` the model is built once and timed
at every batch size and precision (``fp32``, ``amp``; predict mode at batch 1 only), the larger
batches of a precision are skipped after an out-of-memory error, and the best batch per precision
is reported (``run_sweep`` in :mod:`dbdseg.utils.benchmark`); ``--batch``, ``--amp`` and the
fast paths do not apply then. ``--cudnn-benchmark`` turns on cuDNN's autotuner for the run.
"""
import argparse
from typing import Any, Dict

from dbdseg.utils import register_all_modules
from dbdseg.utils.benchmark import (MODES, PRECISIONS, format_summary, format_sweep, run_benchmark,
                                    run_sweep)
from dbdseg.utils.fileio import atomic_write_json


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Latency, FPS, parameters, FLOPs and peak memory of a model config')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        default=None,
        help='checkpoint file (optional; "none" or absent: random weights)')
    parser.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N (default cpu)')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        default=None,
        help="input height and width (default: the config's crop_size, else "
        '320 320)')
    parser.add_argument('--batch', type=int, default=1, help='images per call (default 1)')
    parser.add_argument(
        '--mode',
        choices=MODES,
        default='tensor',
        help="'tensor': the network alone (default); 'predict': preprocessing, "
        'forward and post-processing of test_step')
    parser.add_argument(
        '--amp', action='store_true', help='autocast: float16 on CUDA, bfloat16 on CPU')
    parser.add_argument(
        '--channels-last',
        action='store_true',
        help='channels_last memory format for weights and input')
    parser.add_argument('--compile', action='store_true', help='torch.compile the model')
    parser.add_argument('--repeat', type=int, default=20, help='timed calls (default 20)')
    parser.add_argument(
        '--warmup', type=int, default=5, help='untimed calls before timing (default 5)')
    parser.add_argument(
        '--num-threads',
        type=int,
        default=None,
        help='torch intra-op threads (default: torch\'s own choice)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the random input')
    parser.add_argument('--no-flops', action='store_true', help='skip the FLOP count')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, as in tools/train.py')
    parser.add_argument('--out', help='write the results to this JSON file')
    sweep = parser.add_argument_group('sweep (one model build, several runs)')
    sweep.add_argument(
        '--batch-sizes', type=int, nargs='+', default=None, help='tensor-mode batch sizes')
    sweep.add_argument(
        '--precisions',
        nargs='+',
        choices=PRECISIONS,
        default=None,
        help='fp32 and/or amp (autocast) (default: amp with --amp, else fp32)')
    sweep.add_argument(
        '--modes',
        nargs='+',
        choices=MODES,
        default=None,
        help='tensor and/or predict (predict at batch 1 only) (default: --mode)')
    sweep.add_argument(
        '--time-budget',
        type=float,
        default=None,
        help='seconds after which no further sweep run starts')
    parser.add_argument(
        '--cudnn-benchmark',
        action='store_true',
        help='torch.backends.cudnn.benchmark = True for the run')
    return parser.parse_args(argv)


def is_sweep(args) -> bool:
    """Whether the arguments ask for a sweep (:func:`dbdseg.utils.benchmark.run_sweep`)."""
    return any(v is not None for v in (args.batch_sizes, args.precisions, args.modes))


def main(argv=None) -> Dict[str, Any]:
    import torch
    args = parse_args(argv)
    register_all_modules()
    common = dict(
        device=args.device,
        shape=args.shape,
        repeat=args.repeat,
        warmup=args.warmup,
        num_threads=args.num_threads,
        seed=args.seed,
        flops=not args.no_flops,
        progress=not args.no_progress,
        cfg_options=args.cfg_options)
    old_cudnn = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = old_cudnn or args.cudnn_benchmark
    try:
        if is_sweep(args):
            res = run_sweep(
                args.config,
                args.checkpoint,
                batch_sizes=args.batch_sizes or [args.batch],
                precisions=args.precisions or (['amp'] if args.amp else ['fp32']),
                modes=args.modes or [args.mode],
                time_budget_s=args.time_budget,
                **common)
        else:
            res = run_benchmark(
                args.config,
                args.checkpoint,
                batch=args.batch,
                mode=args.mode,
                amp=args.amp,
                channels_last=args.channels_last,
                compile=args.compile,
                **common)
    except (ValueError, RuntimeError, FileNotFoundError) as err:
        raise SystemExit(f'benchmark.py: {err}')
    finally:
        torch.backends.cudnn.benchmark = old_cudnn
    print((format_sweep if is_sweep(args) else format_summary)(res), flush=True)
    if args.out:
        atomic_write_json(args.out, res)
        print(f'results: {args.out}')
    return res


if __name__ == '__main__':
    main()
