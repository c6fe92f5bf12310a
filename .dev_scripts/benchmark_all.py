"""Benchmark every model listed in the metafiles and write the model-zoo tables into the READMEs.

Usage::

    python .dev_scripts/benchmark_all.py [--root DIR] [--filter REGEX]
        [--device cpu|cuda] [--shape H W] [--repeat N] [--warmup N] [--num-threads N]
        [--checkpoint-dir DIR] [--metrics-dir DIR] [--no-test] [--test-cfg-options k=v ...]
        [--work-dir DIR] [--results FILE.json] [--reuse] [--no-benchmark]
        [--write-readmes] [--write-index] [--readme README.md ...]

What it does:

1. **Finds the metafiles**: every ``configs/*/metafile.yaml`` under ``--root`` (default: this
   checkout) plus those the root ``model-index.yml`` imports, so a new paper folder with a
   metafile is picked up without editing anything. ``--write-index`` rewrites ``model-index.yml``
   (``Import:`` list of all metafiles, as OpenMMLab projects do for ``mim``).
2. **Benchmarks** each model's config with ``dbdseg.utils.benchmark.run_benchmark`` (tensor mode,
   batch 1, at the metafile's ``Crop Size``, else ``--shape``, else the config's ``crop_size``,
   else 320x320): parameters, FLOPs, median latency and FPS, on ``--device``. Models whose model
   config, input size and device are the same share one measurement (e.g. the CUHK and DUT
   configs of one network).
3. **Test metrics**, per model, from the first source that has them:
   ``--metrics-dir/<model name>.json`` (or ``<model name>/metrics.json``; a flat metrics JSON as
   ``tools/test.py --metrics-out`` writes it); else, when a checkpoint is found
   (``--checkpoint-dir/<model name>.pth``, ``--checkpoint-dir/<model name>/best_*.pth`` /
   ``latest``/newest ``*.pth``, or a local file named by the metafile's ``Weights``) and the
   config's test data exist, a run of ``tools/test.py CONFIG CKPT --metrics-out ...`` (unless
   ``--no-test``); else the measured keys of the metafile's ``Results`` (``maxF``, ``MAE``,
   ``S-measure``/``Sm``, without ``(paper)``).
4. **Writes the tables** (``--write-readmes``) between the marker comments
   ``<!-- benchmark_all:start -->`` and ``<!-- benchmark_all:end -->``: the per-model table into
   each collection's README (the metafile's ``Collections[].README``, else the ``README.md``
   beside the metafile), and a per-collection summary into the top ``README.md``. Text outside
   the markers is never touched; a README without markers is skipped with a message; a rerun
   replaces the previous tables. ``--readme`` limits writing to the named READMEs.

Metafile conventions read here (``configs/realtime_dbd/metafile.yaml`` is the example):

* ``Models[].Results[].Metrics``: keys ending in ``(paper)`` are the paper's numbers (printed in
  their own ``(paper)`` columns); ``F-measure``/``maxF``/``meanF``/``ave-F``/``adpF``/``F`` go to
  ``F (paper)``, ``MAE`` to ``MAE (paper)``, ``S-measure``/``Sm`` to ``S-measure (paper)``. Plain
  keys ``maxF``, ``MAE``, ``S-measure``/``Sm`` are dbdseg's own measured numbers.
* ``Models[].Results[].Protocol`` (optional, free text): how the paper computed its numbers;
  shown in the ``protocol`` column (default: the names of the paper metrics).
* ``Models[].Metadata``: ``Crop Size`` (``(H, W)``, the benchmark input), ``FPS (paper)`` and
  ``Inference device (paper)`` (the paper's speed, shown as ``FPS (paper)``).

dbdseg's measured columns always use ``SODMetric``'s protocol: maxF = max over the 256 thresholds
of the mean F-measure curve (beta^2 = 0.3) of the min-max stretched 8-bit maps, MAE, S-measure
(alpha = 0.5). A run's numbers are kept in ``--results`` (default
``<work-dir>/results.json``); ``--reuse`` takes a model's benchmark from it when the model config,
input size and device are unchanged.
"""
import argparse
import glob
import hashlib
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence

import torch

from dbdseg.utils import register_all_modules
from dbdseg.utils.benchmark import build_model, default_shape, run_benchmark
from dbdseg.utils.fileio import atomic_write_json, atomic_write_text

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

MARK_START = '<!-- benchmark_all:start -->'
MARK_END = '<!-- benchmark_all:end -->'
MEASURED_KEYS = OrderedDict([('maxF', ('maxF', )), ('MAE', ('MAE', )),
                             ('S-measure', ('S-measure', 'Sm', 'S-Measure'))])
PAPER_COLUMNS = ('F (paper)', 'MAE (paper)', 'S-measure (paper)')
TABLE_COLUMNS = ('config', 'dataset', 'protocol', 'maxF', 'MAE', 'S-measure', 'F (paper)',
                 'MAE (paper)', 'S-measure (paper)', 'params (M)', 'FLOPs (G)', 'FPS', 'device',
                 'input', 'FPS (paper)')
SUMMARY_COLUMNS = ('collection', 'paper', 'models', 'params (M)', 'FLOPs (G)', 'FPS', 'device',
                   'input', 'measured rows', 'paper rows')


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Benchmark all metafile models and write the model-zoo tables')
    parser.add_argument(
        '--root',
        default=REPO_ROOT,
        help='project root holding configs/, model-index.yml and README.md')
    parser.add_argument('--filter', default=None, help='only models whose name matches (regex)')
    parser.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N (default cpu)')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        default=None,
        help='benchmark input size for models whose metafile has no Crop Size')
    parser.add_argument('--repeat', type=int, default=10, help='timed calls per model')
    parser.add_argument('--warmup', type=int, default=2, help='untimed calls per model')
    parser.add_argument('--num-threads', type=int, default=None, help='torch threads')
    parser.add_argument(
        '--checkpoint-dir', default=None, help='folder with <model name>.pth or <model name>/*.pth')
    parser.add_argument(
        '--metrics-dir',
        default=None,
        help='folder with <model name>.json or <model name>/metrics.json')
    parser.add_argument(
        '--no-test',
        action='store_true',
        help='never run tools/test.py (use metrics files / metafile only)')
    parser.add_argument(
        '--test-cfg-options', nargs='+', default=None, help='passed to tools/test.py --cfg-options')
    parser.add_argument(
        '--work-dir', default=None, help='work dir (default <root>/work_dirs/benchmark_all)')
    parser.add_argument(
        '--results', default=None, help='results JSON (default <work-dir>/results.json)')
    parser.add_argument(
        '--reuse', action='store_true', help='reuse benchmarks from --results when nothing changed')
    parser.add_argument(
        '--no-benchmark',
        action='store_true',
        help='no speed / FLOP measurement (tables from metrics only)')
    parser.add_argument(
        '--write-readmes',
        action='store_true',
        help='write the tables between the markers of the READMEs')
    parser.add_argument(
        '--readme',
        nargs='+',
        default=None,
        help='only write these READMEs (paths relative to --root)')
    parser.add_argument(
        '--write-index',
        action='store_true',
        help='rewrite model-index.yml from the metafiles found')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='config overrides for the benchmark builds (all models)')
    return parser.parse_args(argv)


# ----------------------------------------------------------------------------------------------
# metafiles
# ----------------------------------------------------------------------------------------------
def _read_yaml(path: str) -> Any:
    import yaml
    with open(path, encoding='utf-8') as f:
        return yaml.safe_load(f)


def find_metafiles(root: str) -> List[str]:
    """Metafiles (paths relative to ``root``, '/'-separated): ``configs/*/metafile.yaml`` and
    the ``Import`` entries of ``model-index.yml`` that exist, sorted, without duplicates."""
    found = {
        osp.relpath(p, root).replace(os.sep, '/')
        for p in glob.glob(osp.join(root, 'configs', '*', 'metafile.y*ml'))
    }
    index = osp.join(root, 'model-index.yml')
    if osp.isfile(index):
        data = _read_yaml(index) or {}
        for entry in data.get('Import', []) or []:
            if osp.isfile(osp.join(root, entry)):
                found.add(str(entry).replace(os.sep, '/'))
            else:
                print(
                    f'benchmark_all: model-index.yml imports {entry}, which does not exist '
                    '(skipped)',
                    file=sys.stderr)
    return sorted(found)


def write_model_index(root: str, metafiles: Sequence[str]) -> str:
    """Write ``<root>/model-index.yml`` importing ``metafiles``; returns its path."""
    path = osp.join(root, 'model-index.yml')
    text = 'Import:\n' + ''.join(f'  - {m}\n' for m in metafiles)
    atomic_write_text(path, text)
    return path


def _crop_size(metadata: dict) -> Optional[List[int]]:
    value = (metadata or {}).get('Crop Size')
    if value is None:
        return None
    nums = [int(n) for n in re.findall(r'\d+', str(value))]
    return nums[:2] if len(nums) >= 2 else None


def load_models(root: str, metafiles: Sequence[str]) -> Dict[str, Any]:
    """Collections and models of all metafiles.

    Returns:
        dict: ``collections``: OrderedDict name -> dict(name, readme, paper, metafile);
        ``models``: list of dicts (name, collection, config, metadata, results, weights,
        metafile), in metafile order.

    Raises:
        ValueError: a model without ``Name`` or ``Config`` (names the metafile).
    """
    collections: Dict[str, dict] = OrderedDict()
    models: List[dict] = []
    for meta in metafiles:
        data = _read_yaml(osp.join(root, meta)) or {}
        folder = osp.dirname(meta)
        for coll in data.get('Collections', []) or []:
            paper = coll.get('Paper') or {}
            title = paper.get('Title') if isinstance(paper, dict) else str(paper)
            url = paper.get('URL') if isinstance(paper, dict) else None
            collections[coll['Name']] = dict(
                name=coll['Name'],
                readme=coll.get('README') or f'{folder}/README.md',
                paper=title,
                url=url,
                metafile=meta)
        for model in data.get('Models', []) or []:
            if not model.get('Name') or not model.get('Config'):
                raise ValueError(f'{meta}: every model needs Name and Config, got {model}')
            coll = model.get('In Collection') or folder
            if coll not in collections:
                collections[coll] = dict(
                    name=coll, readme=f'{folder}/README.md', paper=None, url=None, metafile=meta)
            models.append(
                dict(
                    name=model['Name'],
                    collection=coll,
                    config=model['Config'],
                    metadata=model.get('Metadata') or {},
                    results=model.get('Results') or [],
                    weights=model.get('Weights'),
                    metafile=meta))
    return dict(collections=collections, models=models)


# ----------------------------------------------------------------------------------------------
# metrics
# ----------------------------------------------------------------------------------------------
def _norm(name: str) -> str:
    return re.sub(r'[^a-z0-9]', '', str(name).lower())


def split_metric_keys(flat: Dict[str, Any]) -> Dict[Optional[str], Dict[str, float]]:
    """``{'CUHK/maxF': .9, 'MAE': .1}`` -> ``{'CUHK': {'maxF': .9}, None: {'MAE': .1}}``."""
    out: Dict[Optional[str], Dict[str, float]] = OrderedDict()
    for key, value in flat.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        if '/' in key:
            set_name, metric = key.rsplit('/', 1)
        else:
            set_name, metric = None, key
        out.setdefault(set_name, {})[metric] = float(value)
    return out


def match_set(dataset: Optional[str], set_names: Sequence[Optional[str]]) -> Optional[str]:
    """The set name of a metrics JSON that belongs to a metafile ``Dataset``: equal after
    lower-casing and dropping non-alphanumerics, else the longest set name that is a prefix of
    the dataset name (``CUHK`` -> ``CUHK-DBD``) or vice versa; None when nothing matches."""
    if dataset is None:
        return None
    target = _norm(dataset)
    named = [s for s in set_names if s]
    for s in named:
        if _norm(s) == target:
            return s
    best = None
    for s in named:
        n = _norm(s)
        if n and (target.startswith(n) or n.startswith(target)):
            if best is None or len(n) > len(_norm(best)):
                best = s
    return best


def measured_for(dataset: Optional[str], flat: Dict[str, Any], n_results: int) -> Dict[str, float]:
    """dbdseg's measured maxF / MAE / S-measure of one dataset row from a flat metrics dict
    (plain keys belong to the row when the model has a single result row or the dict has no
    per-set keys)."""
    groups = split_metric_keys(flat)
    chosen = None
    set_name = match_set(dataset, list(groups))
    if set_name is not None:
        chosen = groups[set_name]
    elif None in groups and (n_results <= 1 or len(groups) == 1):
        chosen = groups[None]
    out = {}
    for column, aliases in MEASURED_KEYS.items():
        for alias in aliases:
            if chosen and alias in chosen:
                out[column] = chosen[alias]
                break
    return out


_PAPER_SUFFIX = re.compile(r'\s*\(paper\)\s*$', re.IGNORECASE)


def paper_column(base: str) -> Optional[str]:
    """Column of a paper metric name (without ``(paper)``), or None if it has no column."""
    n = _norm(base)
    if n == 'mae':
        return 'MAE (paper)'
    if n in ('smeasure', 'sm', 'salpha'):
        return 'S-measure (paper)'
    if n in ('fmeasure', 'f', 'maxf', 'meanf', 'avef', 'adpf', 'adaptivef', 'fbeta', 'maxfmeasure',
             'meanfmeasure', 'avgf'):
        return 'F (paper)'
    return None


def result_metrics(result: dict) -> Dict[str, Dict[str, Any]]:
    """Split one metafile result's ``Metrics`` into paper columns and measured columns.

    Returns:
        dict: ``paper`` {column: value}, ``paper_names`` [metric names as printed],
        ``measured`` {column: value}.
    """
    paper, names, measured = {}, [], {}
    for key, value in (result.get('Metrics') or {}).items():
        key = str(key)
        if _PAPER_SUFFIX.search(key):
            base = _PAPER_SUFFIX.sub('', key)
            column = paper_column(base)
            names.append(base)
            if column and column not in paper:
                paper[column] = value
        else:
            for column, aliases in MEASURED_KEYS.items():
                if key in aliases:
                    measured[column] = value
    return dict(paper=paper, paper_names=names, measured=measured)


def find_checkpoint(model: dict, root: str, checkpoint_dir: Optional[str]) -> Optional[str]:
    """A local checkpoint of ``model`` (see the module docstring), or None."""
    if checkpoint_dir:
        direct = osp.join(checkpoint_dir, f"{model['name']}.pth")
        if osp.isfile(direct):
            return direct
        folder = osp.join(checkpoint_dir, model['name'])
        if osp.isdir(folder):
            best = sorted(glob.glob(osp.join(folder, 'best_*.pth')))
            if best:
                return best[-1]
            last = osp.join(folder, 'last_checkpoint')
            if osp.isfile(last):
                with open(last) as f:
                    path = f.read().strip()
                if osp.isfile(path):
                    return path
            files = sorted(glob.glob(osp.join(folder, '*.pth')), key=osp.getmtime)
            if files:
                return files[-1]
    weights = model.get('weights')
    if isinstance(weights, str) and '://' not in weights:
        path = weights if osp.isabs(weights) else osp.join(root, weights)
        if osp.isfile(path):
            return path
    return None


def _dataset_roots(ds: Any) -> List[str]:
    if not isinstance(ds, dict):
        return []
    if ds.get('datasets'):
        return [r for d in ds['datasets'] for r in _dataset_roots(d)]
    if ds.get('dataset'):
        return _dataset_roots(ds['dataset'])
    root = ds.get('data_root', '')
    img = (ds.get('data_prefix') or {}).get('img_path', '')
    return [osp.join(root, img)]


def test_data_present(cfg, root: str) -> bool:
    """Whether every image folder of the config's test dataset exists (relative to ``root``)."""
    loader = cfg.get('test_dataloader') or {}
    folders = _dataset_roots(loader.get('dataset'))
    return bool(folders) and all(
        osp.isdir(f if osp.isabs(f) else osp.join(root, f)) for f in folders)


def read_metrics_file(metrics_dir: Optional[str], name: str) -> Optional[Dict[str, Any]]:
    if not metrics_dir:
        return None
    for path in (osp.join(metrics_dir, f'{name}.json'), osp.join(metrics_dir, name,
                                                                 'metrics.json')):
        if osp.isfile(path):
            with open(path, encoding='utf-8') as f:
                return json.load(f)
    return None


def run_test(model: dict,
             checkpoint: str,
             root: str,
             work_dir: str,
             cfg_options: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """``tools/test.py CONFIG CHECKPOINT --metrics-out`` in a subprocess; the flat metrics."""
    wd = osp.join(work_dir, 'test', model['name'])
    out = osp.join(wd, 'metrics.json')
    cmd = [
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'test.py'),
        osp.join(root, model['config']), checkpoint, '--work-dir', wd, '--metrics-out', out
    ]
    if cfg_options:
        cmd += ['--cfg-options'] + list(cfg_options)
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if proc.returncode != 0 or not osp.isfile(out):
        raise RuntimeError(f'tools/test.py failed for {model["name"]} (exit {proc.returncode}):'
                           f'\n{proc.stderr[-2000:]}')
    with open(out, encoding='utf-8') as f:
        return json.load(f)


# ----------------------------------------------------------------------------------------------
# benchmark
# ----------------------------------------------------------------------------------------------
BENCH_KEYS = ('params', 'fp32_MB', 'flops', 'flops_G', 'flops_error', 'images_per_s', 'shape',
              'device', 'device_info', 'torch_threads', 'batch', 'mode', 'repeat', 'warmup')


def model_key(model, shape: Sequence[int], device: str) -> str:
    """Hash of the built model's structure (``repr``: every module with its shapes and options),
    the input size and the device: equal keys share a benchmark. Settings that only act in
    training (loss weights, data) do not change the key, so e.g. the CUHK and DUT configs of one
    network, or a lambda sweep, are timed once and get the same numbers."""
    text = repr(model) + json.dumps([list(shape), device])
    return hashlib.sha1(text.encode('utf-8')).hexdigest()[:16]


def device_label(bench: Dict[str, Any]) -> str:
    info = bench.get('device_info') or {}
    if info.get('type') == 'cuda':
        return f"{info.get('name', 'CUDA')}"
    threads = bench.get('torch_threads') or info.get('torch_threads')
    text = f"CPU {info.get('name', '')}".strip()
    if threads:
        text += f", {threads} thread{'s' if threads != 1 else ''}"
    return text


# ----------------------------------------------------------------------------------------------
# tables
# ----------------------------------------------------------------------------------------------
def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or value == '':
        return '-'
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f'{value:.{digits}f}'
    return str(value)


def _paper_value(value: Any) -> str:
    """A paper's number as printed (``0.9365``, ``0.066``), not rounded to a common width."""
    if isinstance(value, float):
        return f'{value:g}'
    return _fmt(value)


def build_rows(models: Sequence[dict], entries: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Table rows: one per model and metafile result (one row for a model without results)."""
    rows = []
    for model in models:
        entry = entries.get(model['name'], {})
        bench = entry.get('benchmark') or {}
        flat = entry.get('metrics') or {}
        results = model['results'] or [dict(Dataset=None, Metrics={})]
        md = model['metadata']
        fps_paper = md.get('FPS (paper)')
        if fps_paper is not None and md.get('Inference device (paper)'):
            fps_paper = f"{_paper_value(fps_paper)} ({md['Inference device (paper)']})"
        for result in results:
            split = result_metrics(result)
            measured = measured_for(result.get('Dataset'), flat, len(model['results']))
            for column, value in split['measured'].items():
                measured.setdefault(column, value)
            protocol = result.get('Protocol') or (
                ('paper: ' + ', '.join(split['paper_names'])) if split['paper_names'] else None)
            shape = bench.get('shape')
            rows.append(
                dict(
                    name=model['name'],
                    collection=model['collection'],
                    config=model['config'],
                    dataset=result.get('Dataset'),
                    protocol=protocol,
                    measured=measured,
                    paper=split['paper'],
                    params=bench.get('params'),
                    flops_G=bench.get('flops_G'),
                    fps=bench.get('images_per_s'),
                    device=device_label(bench) if bench else None,
                    input=f'{shape[0]}x{shape[1]}' if shape else None,
                    fps_paper=fps_paper,
                    metrics_source=entry.get('metrics_source')))
    return rows


def render_model_table(rows: Sequence[Dict[str, Any]], readme_dir: str, root: str) -> str:
    """The per-model Markdown table of one README (links relative to ``readme_dir``)."""
    lines = [
        '| ' + ' | '.join(TABLE_COLUMNS) + ' |',
        '| ' + ' | '.join(['---'] * 3 + ['---:'] * 9 + ['---'] * 2 + ['---:']) + ' |'
    ]
    for row in rows:
        link = osp.relpath(osp.join(root, row['config']), osp.join(root, readme_dir))
        cells = [
            f"[{row['name']}]({link.replace(os.sep, '/')})",
            _fmt(row['dataset']),
            _fmt(row['protocol']),
            _fmt(row['measured'].get('maxF'), 4),
            _fmt(row['measured'].get('MAE'), 4),
            _fmt(row['measured'].get('S-measure'), 4),
            *[_paper_value(row['paper'].get(c)) for c in PAPER_COLUMNS],
            _fmt(None if row['params'] is None else row['params'] / 1e6, 2),
            _fmt(row['flops_G'], 2),
            _fmt(row['fps'], 1),
            _fmt(row['device']),
            _fmt(row['input']),
            _fmt(row['fps_paper'])
        ]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def _span(values: Sequence[float], digits: int) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return '-'
    lo, hi = min(values), max(values)
    if f'{lo:.{digits}f}' == f'{hi:.{digits}f}':
        return f'{lo:.{digits}f}'
    return f'{lo:.{digits}f}-{hi:.{digits}f}'


def render_summary_table(collections: Dict[str, dict], rows: Sequence[Dict[str, Any]]) -> str:
    """One row per collection (top README): ranges over its models."""
    lines = [
        '| ' + ' | '.join(SUMMARY_COLUMNS) + ' |', '| ' +
        ' | '.join(['---', '---', '---:', '---:', '---:', '---:', '---', '---', '---:', '---:']) +
        ' |'
    ]
    for name, coll in collections.items():
        mine = [r for r in rows if r['collection'] == name]
        if not mine:
            continue
        models = list(OrderedDict.fromkeys(r['name'] for r in mine))
        params = [r['params'] / 1e6 for r in mine if r['params'] is not None]
        devices = sorted({r['device'] for r in mine if r['device']})
        inputs = sorted({r['input'] for r in mine if r['input']})
        measured = sum(1 for r in mine if r['measured'])
        paper = sum(1 for r in mine if r['paper'])
        readme = coll['readme']
        paper_cell = coll['paper'] or '-'
        cells = [
            f'[{name}]({readme})', paper_cell,
            str(len(models)),
            _span(params, 2),
            _span([r['flops_G'] for r in mine], 2),
            _span([r['fps'] for r in mine], 1), ', '.join(devices) or '-', ', '.join(inputs) or '-',
            f'{measured} / {len(mine)}', f'{paper} / {len(mine)}'
        ]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def table_notes(generated: str) -> str:
    import textwrap
    return textwrap.fill(
        _table_notes(generated), width=100, break_on_hyphens=False, break_long_words=False)


def _table_notes(generated: str) -> str:
    return ('maxF / MAE / S-measure: dbdseg checkpoints measured with `SODMetric` (maxF = max '
            'over 256 thresholds of the mean F-measure curve, beta^2 = 0.3, of the min-max '
            'stretched 8-bit maps; S-measure alpha = 0.5); `-` = no dbdseg checkpoint measured '
            'yet. Columns marked (paper) are the numbers printed in the paper, computed with the '
            "paper's own protocol (protocol column). params: all parameters; FLOPs: one image "
            'at the input size, mmengine `get_model_complexity_info` (one multiply-add = 1 '
            'FLOP); FPS: batch 1, `model(x, mode=\'tensor\')`, median of the timed calls on the '
            'device shown (CPU numbers on a shared machine are rough). Generated by '
            f'`.dev_scripts/benchmark_all.py` ({generated}); do not edit by hand.')


def replace_between_markers(text: str, body: str) -> Optional[str]:
    """``text`` with the part between the markers replaced by ``body``; None without markers.

    Raises:
        ValueError: an end marker before the start marker, or only one of them.
    """
    start, end = text.find(MARK_START), text.find(MARK_END)
    if start < 0 and end < 0:
        return None
    if start < 0 or end < 0 or end < start:
        raise ValueError(f'markers {MARK_START} / {MARK_END} are incomplete or out of order')
    head = text[:start + len(MARK_START)]
    return head + '\n' + body.rstrip('\n') + '\n' + text[end:]


def write_readme(path: str, body: str) -> str:
    """Replace the marked part of ``path``; returns 'written', 'unchanged', 'no markers' or
    'missing'."""
    if not osp.isfile(path):
        return 'missing'
    with open(path, encoding='utf-8') as f:
        text = f.read()
    new = replace_between_markers(text, body)
    if new is None:
        return 'no markers'
    if new == text:
        return 'unchanged'
    atomic_write_text(path, new)
    return 'written'


# ----------------------------------------------------------------------------------------------
def collect(args) -> Dict[str, Any]:
    """Benchmarks and metrics of every (filtered) model; the ``--results`` content."""
    from mmengine.config import Config
    root = osp.abspath(args.root)
    work_dir = args.work_dir or osp.join(root, 'work_dirs', 'benchmark_all')
    results_path = args.results or osp.join(work_dir, 'results.json')
    metafiles = find_metafiles(root)
    found = load_models(root, metafiles)
    models = [m for m in found['models'] if not args.filter or re.search(args.filter, m['name'])]
    previous = {}
    if osp.isfile(results_path):
        with open(results_path, encoding='utf-8') as f:
            previous = (json.load(f) or {}).get('models', {})
    if not args.reuse:  # only models left out by --filter keep their previous numbers
        selected = {m['name'] for m in models}
        previous = {k: v for k, v in previous.items() if k not in selected}
    shared: Dict[str, Dict[str, Any]] = {}
    entries: Dict[str, Any] = OrderedDict()
    for i, model in enumerate(models):
        config_path = osp.join(root, model['config'])
        entry: Dict[str, Any] = dict(config=model['config'], collection=model['collection'])
        print(f"[{i + 1}/{len(models)}] {model['name']}", file=sys.stderr, flush=True)
        try:
            cfg = Config.fromfile(config_path)
        except Exception as err:  # noqa: BLE001 - reported in the results, the run goes on
            entry['error'] = f'config does not load: {err}'
            entries[model['name']] = entry
            continue
        if not args.no_benchmark:
            if args.cfg_options:
                cfg.merge_from_dict(args.cfg_options)
            shape = _crop_size(model['metadata']) or args.shape or default_shape(cfg)
            try:
                built = build_model(cfg, None, torch.device(args.device))
            except Exception as err:  # noqa: BLE001 - reported, the run goes on
                entry['error'] = f'model does not build: {type(err).__name__}: {err}'
                entries[model['name']] = entry
                continue
            key = model_key(built, shape, args.device)
            old = previous.get(model['name'], {}).get('benchmark')
            if key in shared:
                entry['benchmark'] = shared[key]
            elif old and old.get('key') == key:
                entry['benchmark'] = shared[key] = old
            else:
                try:
                    res = run_benchmark(
                        cfg,
                        None,
                        device=args.device,
                        shape=shape,
                        repeat=args.repeat,
                        warmup=args.warmup,
                        num_threads=args.num_threads,
                        progress=False,
                        model=built)
                    bench = {k: res[k] for k in BENCH_KEYS if k in res}
                    bench['latency_ms'] = {k: v for k, v in res['latency_ms'].items() if k != 'all'}
                    bench['key'] = key
                    bench['measured_at'] = time.strftime('%Y-%m-%d %H:%M')
                    entry['benchmark'] = shared[key] = bench
                except Exception as err:  # noqa: BLE001 - one broken model must not stop all
                    entry['error'] = f'benchmark failed: {type(err).__name__}: {err}'
        metrics = read_metrics_file(args.metrics_dir, model['name'])
        if metrics is not None:
            entry.update(metrics=metrics, metrics_source='metrics file')
        else:
            ckpt = find_checkpoint(model, root, args.checkpoint_dir)
            if ckpt and not args.no_test and test_data_present(cfg, root):
                try:
                    entry.update(
                        metrics=run_test(model, ckpt, root, work_dir, args.test_cfg_options),
                        metrics_source=f'tools/test.py {ckpt}')
                except RuntimeError as err:
                    entry['error'] = str(err)
            elif previous.get(model['name'], {}).get('metrics'):
                entry['metrics'] = previous[model['name']]['metrics']
                entry['metrics_source'] = previous[model['name']].get('metrics_source')
        entries[model['name']] = entry
    for model in found['models']:  # models left out by --filter: their previous numbers
        if model['name'] not in entries and model['name'] in previous:
            entries[model['name']] = previous[model['name']]
    return dict(
        root=root,
        metafiles=metafiles,
        collections=found['collections'],
        models=found['models'],
        selected=[m['name'] for m in models],
        entries=entries,
        results_path=results_path)


def main(argv=None) -> Dict[str, Any]:
    args = parse_args(argv)
    register_all_modules()
    state = collect(args)
    root = state['root']
    rows = build_rows(state['models'], state['entries'])
    generated = time.strftime('%Y-%m-%d')
    notes = table_notes(generated)

    out = dict(
        generated=generated,
        device=args.device,
        metafiles=state['metafiles'],
        models=state['entries'])
    atomic_write_json(state['results_path'], out)
    print(f'results: {state["results_path"]}')

    if args.write_index:
        print(f'model index: {write_model_index(root, state["metafiles"])}')

    tables: Dict[str, str] = OrderedDict()
    for name, coll in state['collections'].items():
        mine = [r for r in rows if r['collection'] == name]
        if not mine:
            continue
        readme_dir = osp.dirname(coll['readme'])
        body = render_model_table(mine, readme_dir, root) + '\n\n' + notes
        tables[coll['readme']] = (
            tables[coll['readme']] + '\n\n' + body if coll['readme'] in tables else body)
    summary = render_summary_table(state['collections'], rows) + '\n\n' + notes
    tables['README.md'] = summary
    for readme, body in tables.items():
        print(f'\n## {readme}\n{body}')
    if args.write_readmes:
        wanted = None if not args.readme else {osp.normpath(p) for p in args.readme}
        for readme, body in tables.items():
            if wanted is not None and osp.normpath(readme) not in wanted:
                continue
            status = write_readme(osp.join(root, readme), body)
            hint = (f' (add {MARK_START} and {MARK_END} where the table should go)'
                    if status == 'no markers' else '')
            print(f'{readme}: {status}{hint}')
    out['tables'] = tables
    return out


if __name__ == '__main__':
    main()
