"""Benchmarks and the report of the GPU check (``.dev_scripts/gpu/check.sh``).

Usage::

    python .dev_scripts/gpu/gpu_check.py bench --device cuda|cpu --out-dir DIR
        [--deadline EPOCH_S] [--tiny] [--configs CFG ...]
    python .dev_scripts/gpu/gpu_check.py report --work DIR --out FILE.json
        [--device cuda|cpu] [--total-s S] [--budget-s S]

``bench`` runs ``tools/analysis_tools/benchmark.py`` (its ``main``, in this one process, so torch,
mmseg and CUDA start once) on every paper model of :data:`MODELS`, most important first, as a
sweep: input 3 x 320 x 320 (``--tiny``: 64 x 64), batch sizes 1, 16, 64 (``--tiny``: 1, 2) in
fp32 and AMP (float16 autocast on CUDA, bfloat16 on CPU), tensor mode (the network alone, what the
papers time) and predict mode at batch 1 (``test_step``: preprocessing, forward, post-processing;
the per-image path of ``tools/test.py`` without data loading), cuDNN autotuner on, random weights.
One JSON per model goes to ``--out-dir`` plus ``index.json`` (status of each model: ok, error,
skipped for the deadline). A model that no longer fits before ``--deadline`` is skipped.

``report`` reads what ``check.sh`` left in its work folder (``steps.tsv``: step, status, seconds,
limit; ``skipped.txt``; ``mmcv_kind.txt``; ``env.json``; ``junit.xml`` of ``pytest -m cuda``, else
its ``-v`` log ``pytest.log``; the bench JSONs), writes one JSON and prints the tables: steps and
their wall time, the tests, and per model the FPS at batch 1 and at the best batch in fp32 and AMP,
peak memory, the predict/tensor latency ratio and the papers' claims. It uses the standard library
only, so it runs even when the install failed.

The papers' speed claims (:data:`MODELS`): real-time DBD (Zhang & Yan, ECCV 2020), 58.82 FPS at
320 x 320 on a Titan Xp (Sec. 4.2, Table 1); depth distillation (Cun & Pun, ECCV 2020), 35.7 FPS
(0.028 s per 320 x 320 image) on a GTX 1080 (Sec. 4, Table 1). Issue 21's targets: at least 10x
these at batch 1 with AMP on the GPU, and predict mode within 1.15x of tensor mode.
"""
import argparse
import glob
import json
import os
import os.path as osp
import re
import sys
import time
import xml.etree.ElementTree as ET

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: Paper models, most important first: (name, config, paper FPS, paper device).
MODELS = (
    ('realtime-dbd (GradientUNet)',
     'configs/realtime_dbd/realtime-dbd_gradunet_1xb64-bce-19k_cuhk-320x320.py', 58.82, 'Titan Xp'),
    ('depth-distillation (ResNeXt-101)',
     'configs/depth_distillation/dd_resnext101-32x4d_1xb6-10k_cuhk-320x320.py', 35.7, 'GTX 1080'),
    ('afiu (ResNet-50)', 'configs/afiu/afiu_r50_1xb8-32k_cuhk-320x320.py', None, None),
    ('a2s stage 1 (ResNet-50)', 'configs/a2s/a2s-stage1_r50-mocov2_1xb8-20e_msra-b-320x320.py',
     None, None),
    ('a2s stage 2 (ResNet-50)', 'configs/a2s/a2s-stage2_r50-mocov2_1xb8-25e_msra-b-320x320.py',
     None, None),
    ('depth-distillation (VGG-16)', 'configs/depth_distillation/dd_vgg16_1xb6-10k_cuhk-320x320.py',
     None, None),
    ('realtime-dbd (UNet, no gradients)',
     'configs/realtime_dbd/realtime-dbd_unet-nograd_1xb64-bce-19k_cuhk-320x320.py', None, None),
)
#: issue 21: AMP batch-1 FPS on the GPU >= 10x the paper's; predict within 1.15x of tensor mode
SPEEDUP_TARGET = 10.0
PREDICT_RATIO_TARGET = 1.15


def _slug(config):
    return osp.splitext(osp.basename(config))[0]


# ----------------------------------------------------------------------------------------------
# bench
# ----------------------------------------------------------------------------------------------
def bench(args):
    import runpy

    import torch
    tool = runpy.run_path(osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'benchmark.py'))
    os.makedirs(args.out_dir, exist_ok=True)
    shape = ['64', '64'] if args.tiny else ['320', '320']
    sizes = ['1', '2'] if args.tiny else ['1', '16', '64']
    repeat, warmup = ('1', '0') if args.tiny else ('20', '5')
    min_s = 10 if args.tiny else 20  # no model starts with less than this left
    configs = args.configs or [m[1] for m in MODELS]
    index = []
    for config in configs:
        entry = dict(config=config, json=None)
        left = (args.deadline - time.time()) if args.deadline else None
        if left is not None and left < min_s:
            entry.update(status='skipped', reason=f'deadline: {left:.0f} s left')
            print(f'[bench] SKIPPED {config}: {entry["reason"]}', flush=True)
            index.append(entry)
            continue
        out = osp.join(args.out_dir, _slug(config) + '.json')
        argv = [
            osp.join(REPO_ROOT, config), '--device', args.device, '--shape', *shape,
            '--batch-sizes', *sizes, '--precisions', 'fp32', 'amp', '--modes', 'tensor', 'predict',
            '--repeat', repeat, '--warmup', warmup, '--no-flops', '--no-progress', '--out', out
        ]
        if left is not None:  # no model takes more than 90 s of runs: leave time to the rest
            argv += ['--time-budget', str(max(min(left - min_s, 90), 1))]
        if args.device.startswith('cuda'):
            argv.append('--cudnn-benchmark')
        print(f'[bench] {config}', flush=True)
        t0 = time.time()
        try:
            tool['main'](argv)
            entry.update(status='ok', json=out)
        except (Exception, SystemExit) as err:  # noqa: BLE001 - report it, go on to the next
            entry.update(status='error', reason=f'{type(err).__name__}: {err}'[:500])
            print(f'[bench] ERROR {config}: {entry["reason"]}', flush=True)
        entry['wall_s'] = time.time() - t0
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        index.append(entry)
        with open(osp.join(args.out_dir, 'index.json'), 'w') as f:
            json.dump(index, f, indent=1)
    with open(osp.join(args.out_dir, 'index.json'), 'w') as f:
        json.dump(index, f, indent=1)
    return 0


# ----------------------------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------------------------
def read_steps(path):
    """``steps.tsv`` rows -> list of dict(name, status, seconds, limit)."""
    steps = []
    if osp.isfile(path):
        with open(path) as f:
            for line in f:
                parts = line.rstrip('\n').split('\t')
                if len(parts) == 4:
                    steps.append(
                        dict(name=parts[0], status=parts[1], seconds=int(parts[2]), limit=parts[3]))
    return steps


def read_junit(path):
    """Counts and per-test outcomes of a pytest JUnit XML file (None when absent)."""
    if not osp.isfile(path):
        return None
    root = ET.parse(path).getroot()
    cases = []
    for case in root.iter('testcase'):
        outcome, message = 'passed', ''
        for tag in ('failure', 'error', 'skipped'):
            node = case.find(tag)
            if node is not None:
                outcome = {'failure': 'failed', 'error': 'error', 'skipped': 'skipped'}[tag]
                message = (node.get('message') or '')[:300]
                break
        cases.append(
            dict(
                name=f"{case.get('classname')}::{case.get('name')}",
                outcome=outcome,
                seconds=float(case.get('time') or 0),
                message=message))
    counts = {}
    for c in cases:
        counts[c['outcome']] = counts.get(c['outcome'], 0) + 1
    return dict(counts=counts, cases=cases)


def read_pytest_log(path):
    """Per-test outcomes from ``pytest -v`` output (``path::test PASSED``), for a run cut off
    before it wrote its JUnit file (None when absent)."""
    if not osp.isfile(path):
        return None
    cases = []
    pattern = re.compile(r'^(\S+::\S+) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b')
    with open(path, errors='replace') as f:
        for line in f:
            m = pattern.match(line.strip())
            if m:
                cases.append(
                    dict(name=m.group(1), outcome=m.group(2).lower(), seconds=None, message=''))
    counts = {}
    for c in cases:
        counts[c['outcome']] = counts.get(c['outcome'], 0) + 1
    return dict(counts=counts, cases=cases, source='pytest -v log (no JUnit file: cut off?)')


def model_row(name, config, paper_fps, paper_device, res):
    """One model's table row from its sweep JSON (``res``; None: not measured)."""
    row = dict(model=name, config=config, paper_fps=paper_fps, paper_device=paper_device)
    if not res:
        return row
    info = res.get('device_info', {})
    row.update(
        device=info.get('name'),
        torch=info.get('torch'),
        shape=res.get('shape'),
        params_M=(res['params'] / 1e6) if 'params' in res else None)
    for p in ('fp32', 'amp'):
        one = res.get('batch1', {}).get(p)
        best = res.get('best', {}).get(p)
        row[f'fps_b1_{p}'] = one['images_per_s'] if one else None
        row[f'peak_MB_b1_{p}'] = one['peak_memory_MB'] if one else None
        row[f'best_batch_{p}'] = best['batch'] if best else None
        row[f'fps_best_{p}'] = best['images_per_s'] if best else None
        row[f'peak_MB_best_{p}'] = best['peak_memory_MB'] if best else None
        row[f'predict_over_tensor_{p}'] = res.get('predict_over_tensor', {}).get(p)
    row['skipped_runs'] = res.get('skipped', [])
    row['failed_runs'] = [r for r in res.get('runs', []) if 'error' in r]
    if paper_fps and row.get('fps_b1_amp'):
        row['speedup_b1_amp_vs_paper'] = row['fps_b1_amp'] / paper_fps
        row['speedup_target_met'] = row['speedup_b1_amp_vs_paper'] >= SPEEDUP_TARGET
    ratios = [row[f'predict_over_tensor_{p}'] for p in ('fp32', 'amp')]
    if any(r is not None for r in ratios):
        row['predict_ratio_target_met'] = all(r <= PREDICT_RATIO_TARGET for r in ratios
                                              if r is not None)
    return row


def _fmt(v, spec='.1f'):
    return '-' if v is None else format(v, spec)


def format_report(rep):
    """The printed tables of a report."""
    lines = [
        f"GPU check on {rep.get('device_name') or rep['device']}: torch {rep.get('torch')}, "
        f"mmcv build: {rep['mmcv_build']}, wall {rep.get('total_s')} s of "
        f"{rep.get('budget_s')} s", '', 'steps (wall seconds):'
    ]
    for s in rep['steps']:
        lines.append(f"  {s['name']:<24}{s['status']:<14}{s['seconds']:>6} s  (limit {s['limit']})")
    tests = rep.get('pytest')
    lines.append('')
    if tests:
        lines.append('pytest -m cuda: ' + ', '.join(f'{n} {k}'
                                                    for k, n in sorted(tests['counts'].items())))
        for c in tests['cases']:
            if c['outcome'] != 'passed':
                lines.append(f"  {c['outcome']}: {c['name']}: {c['message'][:150]}")
    else:
        lines.append('pytest -m cuda: not run')
    head = (f"{'model':<36}{'FPS b1':>9}{'FPS b1':>9}{'best fp32':>14}{'best AMP':>14}"
            f"{'peak MB':>9}{'pred/tens':>10}{'paper FPS':>22}")
    sub = (f"{'':<36}{'fp32':>9}{'AMP':>9}{'FPS @batch':>14}{'FPS @batch':>14}"
           f"{'b1 AMP':>9}{'fp32/AMP':>10}{'':>22}")
    lines += ['', head, sub]
    for r in rep['models']:
        if 'fps_b1_fp32' not in r:
            lines.append(f"{r['model']:<36}  not measured ({r.get('status', '?')}: "
                         f"{r.get('reason', '')})"[:160])
            continue
        best = {
            p: (f"{_fmt(r[f'fps_best_{p}'])} @{r[f'best_batch_{p}']}"
                if r[f'fps_best_{p}'] is not None else '-')
            for p in ('fp32', 'amp')
        }
        ratio = (f"{_fmt(r['predict_over_tensor_fp32'], '.2f')}/"
                 f"{_fmt(r['predict_over_tensor_amp'], '.2f')}")
        paper = (f"{r['paper_fps']} ({r['paper_device']})" if r['paper_fps'] else '-')
        lines.append(f"{r['model']:<36}{_fmt(r['fps_b1_fp32']):>9}{_fmt(r['fps_b1_amp']):>9}"
                     f"{best['fp32']:>14}{best['amp']:>14}{_fmt(r['peak_MB_b1_amp'], '.0f'):>9}"
                     f"{ratio:>10}{paper:>22}")
    shape = next((r['shape'] for r in rep['models'] if r.get('shape')), None)
    if shape:
        lines.append(f'input 3x{shape[0]}x{shape[1]}, random weights, tensor mode unless '
                     "'pred/tens' (predict-mode latency / tensor-mode latency at batch 1)")
    for r in rep['models']:
        if 'speedup_b1_amp_vs_paper' in r:
            lines.append(
                f"target {r['model']}: AMP batch-1 FPS {r['fps_b1_amp']:.1f} = "
                f"{r['speedup_b1_amp_vs_paper']:.1f}x the paper's {r['paper_fps']} "
                f"(target {SPEEDUP_TARGET:g}x): {'met' if r['speedup_target_met'] else 'NOT met'}")
        if 'predict_ratio_target_met' in r and not r['predict_ratio_target_met']:
            lines.append(f"target {r['model']}: predict/tensor above {PREDICT_RATIO_TARGET}")
    if rep['device'] == 'cpu':
        lines.append('(CPU dry run: the numbers only prove the flow; the targets are for the GPU)')
    lines.append('')
    if rep['skipped']:
        lines.append('skipped:')
        lines += [f'  - {s}' for s in rep['skipped']]
    else:
        lines.append('skipped: nothing')
    return '\n'.join(lines)


def report(args):
    work = args.work
    rep = dict(device=args.device, total_s=args.total_s, budget_s=args.budget_s)
    kind = osp.join(work, 'mmcv_kind.txt')
    rep['mmcv_build'] = open(kind).read().strip() if osp.isfile(kind) else 'unknown'
    rep['steps'] = read_steps(osp.join(work, 'steps.tsv'))
    env = osp.join(work, 'env.json')
    rep['environment'] = json.load(open(env)) if osp.isfile(env) else None
    if rep['environment']:
        rep['device_name'] = rep['environment'].get('gpu')
        rep['torch'] = rep['environment'].get('torch')
        rep['cuda'] = rep['environment'].get('cuda')
    skipped = osp.join(work, 'skipped.txt')
    rep['skipped'] = ([s.strip() for s in open(skipped)
                       if s.strip()] if osp.isfile(skipped) else [])
    rep['pytest'] = (
        read_junit(osp.join(work, 'junit.xml')) or read_pytest_log(osp.join(work, 'pytest.log')))
    index_path = osp.join(work, 'bench', 'index.json')
    index = json.load(open(index_path)) if osp.isfile(index_path) else []
    by_config = {e['config']: e for e in index}
    rep['models'] = []
    for name, config, fps, dev in MODELS:
        path = osp.join(work, 'bench', _slug(config) + '.json')
        res = json.load(open(path)) if osp.isfile(path) else None
        row = model_row(name, config, fps, dev, res)
        entry = by_config.get(config)
        row['status'] = entry['status'] if entry else ('ok' if res else 'not run')
        if entry and entry.get('reason'):
            row['reason'] = entry['reason']
        if entry and entry.get('status') != 'ok':
            rep['skipped'].append(f"benchmark {config}: {entry['status']} "
                                  f"({entry.get('reason', '')})")
        for run in row.get('skipped_runs', []):
            rep['skipped'].append(f"benchmark {config}: {run['precision']} {run['mode']} batch "
                                  f"{run['batch']} ({run['reason']})")
        if res and 'device_info' in res and not rep.get('device_name'):
            rep['device_name'] = res['device_info'].get('name')
            rep['torch'] = res['device_info'].get('torch')
        rep['models'].append(row)
    rep['raw_benchmarks'] = {
        osp.basename(p): json.load(open(p))
        for p in sorted(glob.glob(osp.join(work, 'bench', '*.json')))
        if osp.basename(p) != 'index.json'
    }
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    tmp = args.out + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(rep, f, indent=1)
    os.replace(tmp, args.out)
    print(format_report(rep))
    print(f'\nreport: {args.out}')
    return 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='cmd', required=True)
    b = sub.add_parser('bench', help='benchmark the paper models')
    b.add_argument('--device', default='cuda')
    b.add_argument('--out-dir', required=True)
    b.add_argument('--deadline', type=float, default=None, help='epoch seconds')
    b.add_argument('--tiny', action='store_true', help='64x64, batches 1 2, one timed call')
    b.add_argument('--configs', nargs='+', default=None, help='default: every paper model')
    r = sub.add_parser('report', help='merge the work folder into one JSON and print tables')
    r.add_argument('--work', required=True)
    r.add_argument('--out', required=True)
    r.add_argument('--device', default='cuda')
    r.add_argument('--total-s', type=int, default=None)
    r.add_argument('--budget-s', type=int, default=None)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    return bench(args) if args.cmd == 'bench' else report(args)


if __name__ == '__main__':
    sys.exit(main())
