"""Check dbdseg's speed targets and print the measured ratios (issue 8, "speed targets").

Usage::

    python .dev_scripts/speed_targets.py [--checks inference metric train fast_paths]
        [--config CFG] [--checkpoint CKPT] [--shape H W] [--repeat N]
        [--num-pairs N] [--pair-shape H W] [--block N]
        [--train-config CFG] [--train-iters N] [--train-skip N] [--train-images N]
        [--train-img-size H W]
        [--fast-configs CFG ...] [--fast-paths channels_last compile amp] [--fast-repeat N]
        [--out FILE.json]

The checks (each returns its measurements, ``ratio``, ``target`` and ``passed``):

``inference``
    ``dbdseg.apis.inference_model(model, img)`` on a uint8 H x W x 3 image (test pipeline,
    preprocessing, forward, post-processing to probabilities and the thresholded map) against
    ``model(x, mode='tensor')`` under ``torch.no_grad()`` on the already normalised
    (1, 3, H, W) tensor of the same image, CPU, batch 1. ``ratio`` = median latency of the first
    / median latency of the second; target <= 1.15. ``--config`` defaults to the real-time model
    (``realtime-dbd_gradunet_1xb64-bce-19k_cuhk-320x320.py``, random weights: speed does not depend
    on them), ``--shape`` to 320 320. Also checks that both sides compute the same map
    (``max_abs_diff``: inference probability vs sigmoid of the tensor output).

``metric``
    Evaluating ``--num-pairs`` (default 1,000) prediction / mask pairs of ``--pair-shape`` (default
    320 x 320) with ``SODMetric`` (all nine measures; through mmengine's ``Evaluator``: ``process``
    on ``SegDataSample`` objects, then ``evaluate``) against calling pysodmetrics directly
    (``FmeasureV2`` with the F-measure handler, ``MAE``, ``Smeasure``, ``Emeasure``,
    ``WeightedFmeasure``: ``step`` per pair, ``get_results`` at the end) on the same arrays in
    pysodmetrics' input form (uint8 prediction, 0/255 mask; SODMetric gets the same prediction as
    a float32 probability ``u / 255`` and the mask as int64 {0, 1}, what a model and mmseg's
    loader hand it). ``ratio`` = total SODMetric time / total pysodmetrics time; target <= 1.2.
    Also checks that both give the same numbers (``max_abs_diff``).

``train``
    Trains ``--train-config`` (default: the real-time model of the demo,
    ``configs/demo/realtime-dbd_gradunet-demo_1xb8-cpu_synthetic-defocus-192x192.py``) for
    ``--train-iters`` iterations with ``tools/train.py`` in a subprocess on CPU, with the config's
    own dataloader settings (batch size, workers, pipeline, sampler); only the data root (a set of
    ``--train-images`` random textured images of ``--train-img-size`` with masks, and any extra maps
    the config's dataset names, written to a temporary folder in the config's layout), the length
    and logging (every iteration, ``log_processor.window_size=1``, so every logged value is that
    iteration's) are changed and validation is off. Reads mmengine's logged ``data_time`` and
    ``time`` per iteration from ``vis_data/scalars.json``. ``ratio`` = sum of ``data_time`` / sum
    of ``time`` over the iterations after the first ``--train-skip`` (default 1: the first
    iteration waits for the dataloader workers to start); target < 0.10. ``ratio_all_iters`` keeps
    them all.

``fast_paths`` (optional, not a target)
    For each of ``--fast-configs`` (default: the real-time model with and without gradients) the
    plain fp32 eager ``model(x, mode='tensor')`` against each of ``--fast-paths`` (default
    ``channels_last`` and ``compile``; ``amp`` = bfloat16 autocast on CPU, float16 on CUDA): median
    latency, speed-up (plain / fast) and the largest output difference from the plain model.

Measuring on a shared machine: every comparison is interleaved (A, B, B, A, A, B, ... in
alternating order, round-robin over the fast paths), so a load that comes and goes affects both
sides alike, and medians (or totals over interleaved blocks) are compared, not single runs. The
JSON keeps every sample (``*_ms``) so the spread can be inspected.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch

from dbdseg.utils import register_all_modules
from dbdseg.utils.benchmark import (as_channels_last, build_model, device_description,
                                    latency_summary, make_call, make_inputs, output_tensor)
from dbdseg.utils.fileio import atomic_write_json

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

CHECKS = ('inference', 'metric', 'train', 'fast_paths')
DEFAULT_CHECKS = ('inference', 'metric', 'train')
FAST_PATHS = ('channels_last', 'compile', 'amp')
TARGETS = dict(inference=1.15, metric=1.2, train=0.10)
DEFAULT_CONFIG = 'configs/realtime_dbd/realtime-dbd_gradunet_1xb64-bce-19k_cuhk-320x320.py'
DEFAULT_NOGRAD_CONFIG = (
    'configs/realtime_dbd/realtime-dbd_unet-nograd_1xb64-bce-19k_cuhk-320x320.py')
DEFAULT_TRAIN_CONFIG = (
    'configs/demo/realtime-dbd_gradunet-demo_1xb8-cpu_synthetic-defocus-192x192.py')
NOTE = ('Measured with interleaved repeats (A, B, B, A, ...; round-robin for the fast paths) and '
        'medians / totals over interleaved blocks, so load from other processes on the shared '
        'CPU affects both sides alike.')


def _repo_path(path: str) -> str:
    """A relative path is taken from the repository root when it does not exist from the cwd."""
    if osp.isabs(path) or osp.exists(path):
        return path
    candidate = osp.join(REPO_ROOT, path)
    return candidate if osp.exists(candidate) else path


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Check dbdseg's speed targets")
    parser.add_argument(
        '--checks',
        nargs='+',
        choices=CHECKS,
        default=list(DEFAULT_CHECKS),
        help=f'checks to run (default: {" ".join(DEFAULT_CHECKS)})')
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='model of the inference check')
    parser.add_argument('--checkpoint', default=None, help='its checkpoint (default: none)')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        default=[320, 320],
        metavar=('H', 'W'),
        help='image size of the inference check (default 320 320)')
    parser.add_argument(
        '--repeat',
        type=int,
        default=30,
        help='timed calls per side in the inference check (default 30)')
    parser.add_argument('--warmup', type=int, default=3, help='untimed calls per side first')
    parser.add_argument(
        '--num-pairs',
        type=int,
        default=1000,
        help='prediction / mask pairs of the metric check (default 1000)')
    parser.add_argument(
        '--pair-shape',
        type=int,
        nargs=2,
        default=[320, 320],
        metavar=('H', 'W'),
        help='size of each pair (default 320 320)')
    parser.add_argument(
        '--block',
        type=int,
        default=50,
        help='pairs per interleaved block of the metric check (default 50)')
    parser.add_argument(
        '--train-config',
        default=DEFAULT_TRAIN_CONFIG,
        help='config of the training check (default: the demo config)')
    parser.add_argument(
        '--train-iters', type=int, default=30, help='training iterations (default 30)')
    parser.add_argument(
        '--train-skip',
        type=int,
        default=1,
        help='first iterations left out of the ratio (default 1)')
    parser.add_argument(
        '--train-images',
        type=int,
        default=48,
        help='images written for the training check (default 48)')
    parser.add_argument(
        '--train-img-size',
        type=int,
        nargs=2,
        default=[320, 320],
        metavar=('H', 'W'),
        help='their size (default 320 320)')
    parser.add_argument(
        '--train-work-dir',
        default=None,
        help='work dir of the training run (default: a temporary folder)')
    parser.add_argument(
        '--fast-configs',
        nargs='+',
        default=None,
        help='configs of the fast-path comparison (default: the real-time model '
        'with and without gradients)')
    parser.add_argument(
        '--fast-paths',
        nargs='+',
        choices=FAST_PATHS,
        default=['channels_last', 'compile'],
        help='fast paths to compare (default: channels_last compile)')
    parser.add_argument(
        '--fast-repeat',
        type=int,
        default=20,
        help='timed calls per variant in the fast-path comparison (default 20)')
    parser.add_argument(
        '--fast-shape',
        type=int,
        nargs=2,
        default=None,
        metavar=('H', 'W'),
        help='input size of the fast-path comparison (default: --shape)')
    parser.add_argument('--device', default='cpu', help='device of the fast-path comparison')
    parser.add_argument(
        '--num-threads',
        type=int,
        default=None,
        help="torch intra-op threads of the inference, metric and fast-path "
        "checks (default: torch's own choice, one per core)")
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='write the results to this JSON file')
    return parser.parse_args(argv)


def _median_ms(times_s: Sequence[float]) -> float:
    return float(np.median(np.asarray(times_s)) * 1000)


def _summary(times_s: Sequence[float]) -> Dict[str, Any]:
    return latency_summary(times_s)


def interleave(calls: Dict[str, Any],
               repeat: int,
               warmup: int = 1,
               cpu_times: Optional[Dict[str, List[float]]] = None) -> Dict[str, List[float]]:
    """Time several zero-argument callables interleaved.

    Each round calls every callable once, timed with ``time.perf_counter``; the order is reversed
    on every other round (A, B, B, A, ...; for more than two, the round-robin order is rotated),
    so a slowly varying load from other processes affects all alike. ``warmup`` untimed rounds
    come first.

    Args:
        calls (dict[str, callable]): name -> function (its return value is ignored).
        repeat (int): timed rounds, >= 1.
        warmup (int): untimed rounds first.
        cpu_times (dict, optional): filled with the process CPU time (``time.process_time``, all
            threads) of every timed call, per name: less sensitive than wall time to waiting for
            a core the other processes hold, so a cross-check on a busy machine.

    Returns:
        dict[str, list[float]]: the ``repeat`` wall-clock call times in seconds per name.
    """
    names = list(calls)
    for _ in range(warmup):
        for name in names:
            calls[name]()
    times = {name: [] for name in names}
    if cpu_times is not None:
        cpu_times.update({name: [] for name in names})
    for r in range(repeat):
        if len(names) == 2:
            order = names if r % 2 == 0 else names[::-1]
        else:
            k = r % len(names)
            order = names[k:] + names[:k]
        for name in order:
            c0 = time.process_time()
            t0 = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - t0)
            if cpu_times is not None:
                cpu_times[name].append(time.process_time() - c0)
    return times


# ----------------------------------------------------------------------------------------------
# inference_model vs model(x, mode='tensor')
# ----------------------------------------------------------------------------------------------
def check_inference(config: str,
                    checkpoint: Optional[str] = None,
                    shape: Sequence[int] = (320, 320),
                    repeat: int = 30,
                    warmup: int = 3,
                    seed: int = 0) -> Dict[str, Any]:
    """See the module docstring, ``inference``."""
    from dbdseg.apis import inference_model, init_model
    from dbdseg.apis.inference import _pipelines

    config = _repo_path(config)
    model = init_model(config, checkpoint, device='cpu')
    h, w = int(shape[0]), int(shape[1])
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    # the normalised tensor of the same image, as the test pipeline and preprocessor make it
    pipes = _pipelines(model)
    packed = pipes['rest'](pipes['load_array'](dict(img=img)))
    with torch.no_grad():
        data = model.data_preprocessor(
            dict(inputs=[packed['inputs']], data_samples=[packed['data_samples']]), False)
    x = data['inputs']

    def run_inference():
        return inference_model(model, img)

    def run_tensor():
        with torch.no_grad():
            return model(x, mode='tensor')

    prob = run_inference().seg_logits.data.float()
    logits = run_tensor()
    diff = None
    if logits.shape[1] == 1 and tuple(logits.shape[-2:]) == tuple(prob.shape[-2:]):
        diff = float((torch.sigmoid(logits[0]) - prob).abs().max())

    cpu: Dict[str, List[float]] = {}
    times = interleave(dict(inference=run_inference, tensor=run_tensor), repeat, warmup, cpu)
    med_a, med_b = _median_ms(times['inference']), _median_ms(times['tensor'])
    pair_ratios = np.asarray(times['inference']) / np.asarray(times['tensor'])
    ratio = med_a / med_b
    return dict(
        what="inference_model(model, uint8 HxWx3 image) vs model(x, mode='tensor') under "
        'torch.no_grad on the normalised 1x3xHxW tensor, CPU, batch 1',
        config=config,
        checkpoint=checkpoint,
        shape=[h, w],
        repeat=repeat,
        warmup=warmup,
        torch_threads=torch.get_num_threads(),
        inference_ms=_summary(times['inference']),
        tensor_ms=_summary(times['tensor']),
        ratio=ratio,
        ratio_median_of_pairs=float(np.median(pair_ratios)),
        cpu_inference_ms=_summary(cpu['inference']),
        cpu_tensor_ms=_summary(cpu['tensor']),
        ratio_cpu_time=_median_ms(cpu['inference']) / max(_median_ms(cpu['tensor']), 1e-9),
        overhead_ms=med_a - med_b,
        max_abs_diff=diff,
        target=TARGETS['inference'],
        passed=bool(ratio <= TARGETS['inference']))


# ----------------------------------------------------------------------------------------------
# SODMetric vs pysodmetrics
# ----------------------------------------------------------------------------------------------
def make_pairs(n: int, shape: Sequence[int], rng: np.random.Generator):
    """``n`` (uint8 prediction, uint8 {0, 1} mask) pairs: an elliptic object, a prediction that
    is a noisy, blurred version of it (values spread over 0..255)."""
    import cv2
    h, w = int(shape[0]), int(shape[1])
    yy, xx = np.mgrid[:h, :w]
    pairs = []
    for _ in range(n):
        cy, cx = rng.uniform(0.25, 0.75) * h, rng.uniform(0.25, 0.75) * w
        ry, rx = rng.uniform(0.1, 0.35) * h, rng.uniform(0.1, 0.35) * w
        gt = (((yy - cy) / ry)**2 + ((xx - cx) / rx)**2 <= 1).astype(np.uint8)
        noisy = 0.7 * gt + 0.5 * rng.random((h, w))
        soft = cv2.GaussianBlur(noisy.astype(np.float32), (0, 0), sigmaX=max(h, w) / 80)
        pred = np.clip(np.rint(soft / max(float(soft.max()), 1e-6) * 255), 0, 255)
        pairs.append((pred.astype(np.uint8), gt))
    return pairs


def _direct_evaluators():
    import py_sod_metrics as psm

    from dbdseg.evaluation.functional import EM_MAX

    class ClippedEmeasure(psm.Emeasure):
        """pysodmetrics' E-measure with every image's value clipped at ``EM_MAX``, as dbdseg's
        (docs/en/evaluation.md); below 1 the values are pysodmetrics' own."""

        def step(self, pred, gt, normalize=True):
            super().step(pred, gt, normalize)
            self.changeable_ems[-1] = np.minimum(self.changeable_ems[-1], EM_MAX)
            self.adaptive_ems[-1] = min(self.adaptive_ems[-1], EM_MAX)

    return dict(
        fm=psm.FmeasureV2(
            metric_handlers=dict(
                fm=psm.FmeasureHandler(with_dynamic=True, with_adaptive=True, beta=0.3))),
        mae=psm.MAE(),
        sm=psm.Smeasure(alpha=0.5),
        em=ClippedEmeasure(),
        wfm=psm.WeightedFmeasure(beta=1))


def _direct_results(evaluators) -> Dict[str, float]:
    fm = evaluators['fm'].get_results()['fm']
    em = evaluators['em'].get_results()['em']
    return dict(
        maxF=float(fm['dynamic'].max()),
        meanF=float(fm['dynamic'].mean()),
        adpF=float(fm['adaptive']),
        MAE=float(evaluators['mae'].get_results()['mae']),
        Sm=float(evaluators['sm'].get_results()['sm']),
        maxE=float(em['curve'].max()),
        meanE=float(em['curve'].mean()),
        adpE=float(em['adp']),
        wF=float(evaluators['wfm'].get_results()['wfm']))


def check_metric(num_pairs: int = 1000,
                 shape: Sequence[int] = (320, 320),
                 block: int = 50,
                 seed: int = 0) -> Dict[str, Any]:
    """See the module docstring, ``metric``. Pairs are made block by block (not timed), so
    memory stays at one block."""
    from mmengine.evaluator import Evaluator
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    from dbdseg.evaluation import SODMetric

    if num_pairs < 1 or block < 1:
        raise ValueError(f'need num_pairs >= 1 and block >= 1, got {num_pairs}, {block}')
    rng = np.random.default_rng(seed)
    evaluator = Evaluator(SODMetric())
    direct = _direct_evaluators()
    t_metric, t_direct, block_ratios = [], [], []
    cpu = dict(metric=0.0, direct=0.0)
    done = 0
    k = 0
    while done < num_pairs:
        n = min(block, num_pairs - done)
        pairs = make_pairs(n, shape, rng)
        samples = []
        for i, (pred, gt) in enumerate(pairs):
            sample = SegDataSample(metainfo=dict(img_path=f'pair_{done + i:05d}.png'))
            prob = torch.from_numpy(pred.astype(np.float32) / 255)
            sample.seg_logits = PixelData(data=prob[None])
            sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt.astype(np.int64))[None])
            samples.append(sample)
        direct_in = [(pred, gt * np.uint8(255)) for pred, gt in pairs]

        def run_metric():
            evaluator.process(data_samples=samples, data_batch=None)

        def run_direct():
            for pred, gt in direct_in:
                for ev in direct.values():
                    ev.step(pred, gt, normalize=True)

        order = [('metric', run_metric), ('direct', run_direct)]
        if k % 2:
            order.reverse()
        spent = {}
        for name, fn in order:
            c0 = time.process_time()
            t0 = time.perf_counter()
            fn()
            spent[name] = time.perf_counter() - t0
            cpu[name] += time.process_time() - c0
        t_metric.append(spent['metric'])
        t_direct.append(spent['direct'])
        block_ratios.append(spent['metric'] / spent['direct'])
        done += n
        k += 1
    c0, t0 = time.process_time(), time.perf_counter()
    metric_res = evaluator.evaluate(num_pairs)
    t_metric_final = time.perf_counter() - t0
    cpu['metric'] += time.process_time() - c0
    c0, t0 = time.process_time(), time.perf_counter()
    direct_res = _direct_results(direct)
    t_direct_final = time.perf_counter() - t0
    cpu['direct'] += time.process_time() - c0
    total_metric = sum(t_metric) + t_metric_final
    total_direct = sum(t_direct) + t_direct_final
    diff = max(abs(metric_res[key] - direct_res[key]) for key in direct_res)
    ratio = total_metric / total_direct
    return dict(
        what='SODMetric (all nine measures, via mmengine Evaluator) vs pysodmetrics evaluators '
        'called directly, same pairs',
        num_pairs=num_pairs,
        shape=[int(shape[0]), int(shape[1])],
        block=block,
        num_blocks=len(t_metric),
        sodmetric_s=total_metric,
        pysodmetrics_s=total_direct,
        sodmetric_ms_per_pair=total_metric / num_pairs * 1000,
        pysodmetrics_ms_per_pair=total_direct / num_pairs * 1000,
        sodmetric_block_s=t_metric,
        pysodmetrics_block_s=t_direct,
        ratio=ratio,
        ratio_median_of_blocks=float(np.median(block_ratios)),
        sodmetric_cpu_s=cpu['metric'],
        pysodmetrics_cpu_s=cpu['direct'],
        ratio_cpu_time=cpu['metric'] / max(cpu['direct'], 1e-9),
        results_sodmetric=metric_res,
        results_pysodmetrics=direct_res,
        max_abs_diff=float(diff),
        target=TARGETS['metric'],
        passed=bool(ratio <= TARGETS['metric']))


# ----------------------------------------------------------------------------------------------
# training data time
# ----------------------------------------------------------------------------------------------
def _train_dataset_cfg(cfg):
    ds = cfg.train_dataloader.dataset
    while isinstance(ds, dict) and 'pipeline' not in ds and ('dataset' in ds or 'datasets' in ds):
        ds = ds.get('dataset') or ds['datasets'][0]
    return ds


def write_train_data(root: str,
                     dataset_cfg: dict,
                     num_images: int,
                     img_size: Sequence[int],
                     seed: int = 0) -> Dict[str, Any]:
    """Write a random training set in the layout a ``BinarySegDataset`` config reads.

    Images: smooth random colour fields with a sharp textured region (so JPEG sizes are like
    photos'); masks: that region = 255; every other ``data_prefix`` map (depth, saliency, pseudo
    labels): a smooth 8-bit PNG. Suffixes come from the dataset config (``img_suffix`` default
    '.jpg', ``seg_map_suffix`` default '.png'); ``ann_file`` (if the config names one) lists all
    stems.

    Returns:
        dict: the ``--cfg-options`` entries to point the config's train dataset at ``root``.
    """
    import cv2
    rng = np.random.default_rng(seed)
    h, w = int(img_size[0]), int(img_size[1])
    prefix = dict(dataset_cfg.get('data_prefix') or {})
    img_suffix = dataset_cfg.get('img_suffix', '.jpg')
    seg_suffix = dataset_cfg.get('seg_map_suffix', '.png')
    folders = {key: value for key, value in prefix.items() if value}
    for folder in folders.values():
        os.makedirs(osp.join(root, folder), exist_ok=True)
    stems = [f'train_{i:04d}' for i in range(num_images)]
    for stem in stems:
        base = cv2.resize(
            rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
        mask = np.zeros((h, w), np.uint8)
        y0, x0 = rng.integers(0, h // 2), rng.integers(0, w // 2)
        mask[y0:y0 + h // 2, x0:x0 + w // 2] = 255
        texture = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        img = np.where(mask[..., None] > 0, texture // 2 + base // 2, base)
        for key, folder in folders.items():
            if key == 'img_path':
                path, data = osp.join(root, folder, stem + img_suffix), img
            elif key == 'seg_map_path':
                path, data = osp.join(root, folder, stem + seg_suffix), mask
            else:
                path, data = osp.join(root, folder,
                                      stem + '.png'), cv2.cvtColor(base, cv2.COLOR_BGR2GRAY)
            if not cv2.imwrite(path, data):
                raise RuntimeError(f'could not write {path}')
    options = {'train_dataloader.dataset.data_root': root}
    if dataset_cfg.get('ann_file'):
        with open(osp.join(root, 'train_list.txt'), 'w') as f:
            f.write('\n'.join(stems) + '\n')
        options['train_dataloader.dataset.ann_file'] = 'train_list.txt'
    return options


def read_train_scalars(work_dir: str) -> List[Dict[str, Any]]:
    """Training records (with ``data_time``, ``time`` and ``iter``) of the newest
    ``<work_dir>/<timestamp>/vis_data/scalars.json``."""
    runs = sorted(
        d for d in os.listdir(work_dir)
        if osp.isfile(osp.join(work_dir, d, 'vis_data', 'scalars.json')))
    if not runs:
        raise RuntimeError(f'no vis_data/scalars.json under {work_dir}; did training run?')
    records = []
    with open(osp.join(work_dir, runs[-1], 'vis_data', 'scalars.json')) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            rec = json.loads(line)
            if 'data_time' in rec and 'time' in rec and 'iter' in rec and 'lr' in rec:
                records.append(rec)
    return records


def data_time_ratio(records: Sequence[Dict[str, Any]], skip: int = 1) -> Dict[str, Any]:
    """``sum(data_time) / sum(time)`` over the iterations after the first ``skip``.

    Raises:
        ValueError: no iteration left after ``skip``.
    """
    records = sorted(records, key=lambda r: r['iter'])
    kept = [r for r in records if r['iter'] > skip]
    if not kept:
        raise ValueError(f'no logged training iteration after the first {skip}')
    data = np.array([r['data_time'] for r in kept], dtype=np.float64)
    total = np.array([r['time'] for r in kept], dtype=np.float64)
    all_data = np.array([r['data_time'] for r in records], dtype=np.float64)
    all_total = np.array([r['time'] for r in records], dtype=np.float64)
    return dict(
        kept_iters=[int(r['iter']) for r in kept],
        data_time_s=data.tolist(),
        time_s=total.tolist(),
        mean_data_time_s=float(data.mean()),
        mean_time_s=float(total.mean()),
        ratio=float(data.sum() / total.sum()),
        ratio_median_of_iters=float(np.median(data / total)),
        ratio_all_iters=float(all_data.sum() / all_total.sum()),
        first_iters_data_time_s=[float(r['data_time']) for r in records if r['iter'] <= skip])


def check_train(config: str = DEFAULT_TRAIN_CONFIG,
                iters: int = 30,
                skip: int = 1,
                num_images: int = 48,
                img_size: Sequence[int] = (320, 320),
                work_dir: Optional[str] = None,
                seed: int = 0) -> Dict[str, Any]:
    """See the module docstring, ``train``."""
    from mmengine.config import Config
    if iters <= skip:
        raise ValueError(f'train iters ({iters}) must exceed skip ({skip})')
    config = _repo_path(config)
    cfg = Config.fromfile(config)
    dataset_cfg = _train_dataset_cfg(cfg)
    loader = cfg.train_dataloader
    settings = dict(
        batch_size=loader.get('batch_size'),
        num_workers=loader.get('num_workers', 0),
        persistent_workers=loader.get('persistent_workers', False),
        pin_memory=loader.get('pin_memory', False))
    with tempfile.TemporaryDirectory(prefix='dbdseg_speed_') as tmp:
        data_root = osp.join(tmp, 'data')
        options = write_train_data(data_root, dataset_cfg, num_images, img_size, seed)
        wd = work_dir or osp.join(tmp, 'work_dir')
        options.update({
            'train_cfg.max_iters': iters,
            'train_cfg.val_interval': iters + 1,
            'val_cfg': None,
            'val_dataloader': None,
            'val_evaluator': None,
            'test_cfg': None,
            'test_dataloader': None,
            'test_evaluator': None,
            'default_hooks.logger.interval': 1,
            'default_hooks.checkpoint.interval': iters + 1,
            'default_hooks.checkpoint.save_last': False,
            'default_hooks.checkpoint.save_best': None,
            'log_processor.window_size': 1,
            'randomness.seed': seed,
        })
        cmd = [
            sys.executable,
            osp.join(REPO_ROOT, 'tools', 'train.py'), config, '--work-dir', wd, '--cfg-options'
        ] + [f'{k}={v}' for k, v in options.items()]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f'training failed (exit {proc.returncode}): {" ".join(cmd)}\n'
                               f'{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
        records = read_train_scalars(wd)
    if len(records) < iters:
        raise RuntimeError(f'expected {iters} logged iterations, found {len(records)}')
    res = data_time_ratio(records, skip)
    res.update(
        what="mmengine's logged data_time / time per training iteration (CPU), the config's "
        'own dataloader settings',
        config=config,
        dataloader=settings,
        iters=iters,
        skip=skip,
        num_images=num_images,
        img_size=[int(img_size[0]), int(img_size[1])],
        wall_s=wall,
        target=TARGETS['train'])
    res['passed'] = bool(res['ratio'] < TARGETS['train'])
    return res


# ----------------------------------------------------------------------------------------------
# optional fast paths
# ----------------------------------------------------------------------------------------------
def check_fast_paths(configs: Sequence[str],
                     paths: Sequence[str],
                     shape: Sequence[int] = (320, 320),
                     repeat: int = 20,
                     device: str = 'cpu',
                     seed: int = 0) -> Dict[str, Any]:
    """See the module docstring, ``fast_paths``. Variants of one config are timed round-robin."""
    import copy
    dev = torch.device(device)
    out: Dict[str, Any] = dict(
        shape=[int(shape[0]), int(shape[1])],
        repeat=repeat,
        device=device,
        torch_threads=torch.get_num_threads(),
        models={})
    for config in configs:
        config = _repo_path(config)
        from mmengine.config import Config
        base = build_model(Config.fromfile(config), None, dev)
        x = make_inputs('tensor', 1, shape, dev, seed)
        variants = {'fp32 eager': (base, x, False)}
        first_s = {}
        for path in paths:
            model = copy.deepcopy(base)
            xi = x
            if path == 'channels_last':
                model = model.to(memory_format=torch.channels_last)
                xi = as_channels_last(x)
            if path == 'compile':
                model.compile()
            variants[path] = (model, xi, path == 'amp')
        calls = {
            name: make_call(m, 'tensor', xi, amp, dev)
            for name, (m, xi, amp) in variants.items()
        }
        reference = output_tensor(calls['fp32 eager']())
        diffs = {}
        for name, call in calls.items():
            t0 = time.perf_counter()
            output = output_tensor(call())  # the first call compiles
            first_s[name] = time.perf_counter() - t0
            diffs[name] = float((output - reference).abs().max())
        times = interleave(calls, repeat, warmup=2)
        base_med = _median_ms(times['fp32 eager'])
        rows = {}
        for name in calls:
            med = _median_ms(times[name])
            rows[name] = dict(
                latency_ms=_summary(times[name]),
                speedup=base_med / med,
                max_abs_diff=diffs[name],
                first_call_s=first_s[name])
        out['models'][config] = rows
    return out


def run_checks(args) -> Dict[str, Any]:
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    results: Dict[str, Any] = dict(
        note=NOTE,
        torch=torch.__version__,
        torch_threads=torch.get_num_threads(),
        cpu=device_description(torch.device('cpu'))['name'],
        logical_cores=os.cpu_count())
    if 'inference' in args.checks:
        results['inference'] = check_inference(args.config, args.checkpoint, args.shape,
                                               args.repeat, args.warmup, args.seed)
    if 'metric' in args.checks:
        results['metric'] = check_metric(args.num_pairs, args.pair_shape, args.block, args.seed)
    if 'train' in args.checks:
        results['train'] = check_train(args.train_config, args.train_iters, args.train_skip,
                                       args.train_images, args.train_img_size, args.train_work_dir,
                                       args.seed)
    if 'fast_paths' in args.checks:
        configs = args.fast_configs or [DEFAULT_CONFIG, DEFAULT_NOGRAD_CONFIG]
        results['fast_paths'] = check_fast_paths(configs, args.fast_paths, args.fast_shape
                                                 or args.shape, args.fast_repeat, args.device,
                                                 args.seed)
    return results


def format_report(results: Dict[str, Any]) -> str:
    """One line per check: ratio, target, verdict; plus the fast-path table."""
    lines = [results['note']]
    labels = dict(
        inference='inference_model / model(x, mode=tensor)',
        metric='SODMetric / pysodmetrics',
        train='data_time / iteration time')
    for key in ('inference', 'metric', 'train'):
        if key not in results:
            continue
        res = results[key]
        op = '<' if key == 'train' else '<='
        lines.append(f"{key}: {labels[key]} = {res['ratio']:.3f} (target {op} {res['target']}): "
                     f"{'PASS' if res['passed'] else 'FAIL'}")
        if key == 'inference':
            lines.append(f"  medians {res['inference_ms']['median']:.1f} ms vs "
                         f"{res['tensor_ms']['median']:.1f} ms (n={res['repeat']} each), "
                         f"median of pair ratios {res['ratio_median_of_pairs']:.3f}, "
                         f"process CPU time ratio {res['ratio_cpu_time']:.3f}, "
                         f"max |prob - sigmoid(logits)| {res['max_abs_diff']}")
        elif key == 'metric':
            lines.append(f"  {res['sodmetric_ms_per_pair']:.2f} vs "
                         f"{res['pysodmetrics_ms_per_pair']:.2f} ms per pair over "
                         f"{res['num_pairs']} pairs, median of block ratios "
                         f"{res['ratio_median_of_blocks']:.3f}, process CPU time ratio "
                         f"{res['ratio_cpu_time']:.3f}, max |difference| of the results "
                         f"{res['max_abs_diff']:.3g}")
        else:
            lines.append(f"  mean data_time {res['mean_data_time_s'] * 1000:.1f} ms of "
                         f"{res['mean_time_s'] * 1000:.0f} ms per iteration (iterations "
                         f"{res['skip'] + 1}-{res['iters']}); "
                         f"all iterations: {res['ratio_all_iters']:.3f}")
    if 'fast_paths' in results:
        fp = results['fast_paths']
        lines.append(f"fast paths ({fp['device']}, 1x3x{fp['shape'][0]}x{fp['shape'][1]}, "
                     f"median of {fp['repeat']}):")
        for config, rows in fp['models'].items():
            lines.append(f'  {osp.basename(config)}')
            for name, row in rows.items():
                lines.append(f"    {name:<14} {row['latency_ms']['median']:8.1f} ms  x"
                             f"{row['speedup']:.2f}  max |diff| {row['max_abs_diff']:.3g}  "
                             f"first call {row['first_call_s']:.1f} s")
    return '\n'.join(lines)


def main(argv=None) -> Dict[str, Any]:
    args = parse_args(argv)
    register_all_modules()
    results = run_checks(args)
    print(format_report(results), flush=True)
    if args.out:
        atomic_write_json(args.out, results)
        print(f'results: {args.out}')
    return results


if __name__ == '__main__':
    main()
