"""Test (and evaluate) a dbdseg / mmseg segmentor.

Same behaviour as mmsegmentation 1.2.2 ``tools/test.py`` (Apache-2.0), plus (ARCHITECTURE.md
Section 5):

* ``import dbdseg`` first;
* CHECKPOINT may be ``none``: no weights are loaded (models without learned weights); a checkpoint
  file that does not exist is an error naming it;
* ``--out DIR`` sets ``output_dir`` of every test metric that takes one (``SODMetric`` writes each
  prediction as ``DIR/<stem>.png``: 8-bit, probability x 255, original image size;
  ``DIR/<set>/<stem>.png`` when the test dataset is a ``MultiSetDataset`` of several sets);
* several test sets (``MultiSetDataset``): the metrics come back per set (``CUHK/maxF``) and
  are printed as a table with one row per set;
* ``--tta`` wraps the model in the config's ``tta_model`` (dbdseg: ``BinarySegTTAModel``, which
  averages probabilities) and gives every test dataset (also each member of a
  ``MultiSetDataset``) the config's ``tta_pipeline``;
* ``--show-dir`` paints image | ground truth | probability heat map | prediction panels with
  ``BinarySegLocalVisualizer``;
* ``curve_dir`` of metrics that take one (``SODMetric``: ``curves.json`` / ``curves.png``) is set to
  ``--curve-dir``, else the config's value, else the work dir;
* ``--metrics-out FILE.json`` writes the final metrics as one flat JSON object of floats
  (nested dicts are joined with ``/``; non-scalar values are left out);
* ``test_evaluator`` may be a dict, a list of metrics, or ``dict(type='Evaluator', metrics=[...])``;
* without CUDA the distributed backend is gloo and ``--launcher pytorch`` runs on CPU;
* ``--unsafe-load-trusted-checkpoint``: CHECKPOINT may hold arbitrary Python objects and is loaded
  with ``weights_only=False``; only for a file whose source you trust
  (:mod:`dbdseg.utils.checkpoint`). Without it such a checkpoint is refused, saying why.

Usage::

    python tools/test.py CONFIG CHECKPOINT|none [--work-dir DIR] [--out DIR]
        [--metrics-out FILE.json] [--curve-dir DIR] [--show] [--show-dir DIR] [--tta]
        [--cfg-options k=v ...]
        [--launcher none|pytorch|slurm|mpi] [--unsafe-load-trusted-checkpoint]
"""
import argparse
import copy
import importlib.util
import inspect
import json
import logging
import numbers
import os
import os.path as osp
import sys
import tempfile

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.evaluator import Evaluator
from mmengine.logging import print_log

if importlib.util.find_spec('dbdseg') is None:  # not installed: use this checkout
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import dbdseg  # noqa: E402,F401  (registers dbdseg modules into mmseg's registries)
from dbdseg.utils.checkpoint import UnsafeCheckpointError, trust_checkpoint  # noqa: E402
from dbdseg.utils.runtime import UnsupportedLauncherError, shutdown_distributed  # noqa: E402
from dbdseg.utils.runtime import setup_cpu_runtime as _setup_cpu_runtime  # noqa: E402

PROG = 'tools/test.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description='Test (and eval) a segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file, or "none" to load no weights')
    parser.add_argument(
        '--work-dir',
        help='the dir for logs, the evaluation results (json) and, by default, the curves')
    parser.add_argument(
        '--out', type=str,
        help='save each prediction as OUT/<stem>.png (8-bit probability x 255, original size); '
        'OUT/<set>/<stem>.png when the config tests several sets (MultiSetDataset)')
    parser.add_argument(
        '--metrics-out', type=str,
        help='write the final metrics to this file as one flat JSON object of floats')
    parser.add_argument(
        '--curve-dir', type=str,
        help='where the metric writes curves.json / curves.png (default: the work dir)')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved (through SegVisualizationHook)')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--tta', action='store_true', help='Test time augmentation')
    parser.add_argument(
        '--unsafe-load-trusted-checkpoint', action='store_true',
        help='load CHECKPOINT with weights_only=False (arbitrary unpickling); only for a file '
        'whose source you trust')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def _fail(msg: str):
    """Stop with ``PROG: error: msg`` on stderr and exit status 1."""
    raise SystemExit(f'{PROG}: error: {msg}')


def setup_cpu_runtime(cfg: Config, launcher: str) -> None:
    """:func:`dbdseg.utils.runtime.setup_cpu_runtime`: gloo / CPU DDP without CUDA (no-op with it).

    Raises:
        SystemExit: a launcher other than 'none' / 'pytorch' without CUDA.
    """
    try:
        _setup_cpu_runtime(cfg, launcher, dist_script='tools/dist_test.sh')
    except UnsupportedLauncherError as e:
        _fail(str(e))


# --- evaluator handling --------------------------------------------------------------------------
def evaluator_metric_cfgs(cfg: Config) -> list:
    """The metric config dicts of ``cfg.test_evaluator`` (references, editable in place).

    Accepts a metric dict, a list of metric dicts, or ``dict(type='Evaluator', metrics=...)``.
    """
    ev = cfg.get('test_evaluator', None)
    if ev is None:
        _fail('the config has no test_evaluator')
    if isinstance(ev, dict) and 'metrics' in ev and ev.get('type', 'Evaluator') in ('Evaluator',
                                                                                    Evaluator):
        ev = ev['metrics']
    if isinstance(ev, dict):
        return [ev]
    if isinstance(ev, (list, tuple)):
        return [m for m in ev if isinstance(m, dict)]
    _fail(f'unsupported test_evaluator: {ev!r}')


def metric_init_params(metric_cfg: dict, scope: str) -> set:
    """Names of the explicit ``__init__`` parameters of a metric config's class (empty when the
    class is unknown)."""
    from mmengine.registry import DefaultScope
    from mmseg.registry import METRICS
    mtype = metric_cfg.get('type')
    if inspect.isclass(mtype):
        cls = mtype
    else:
        with DefaultScope.overwrite_default_scope(scope):
            cls = METRICS.get(mtype)
    if cls is None:
        return set()
    params = inspect.signature(cls.__init__).parameters.values()
    return {p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def _metric_subdir(metric: dict, index: int) -> str:
    """Sub-folder name for one of several metrics: its ``prefix``, else ``<type>_<index>``."""
    if metric.get('prefix'):
        return str(metric['prefix']).replace('/', '_')
    mtype = metric.get('type')
    name = mtype if isinstance(mtype, str) else getattr(mtype, '__name__', 'metric')
    return f'{name.split(".")[-1]}_{index}'


def protect_config_file(work_dir: str, config: str) -> str:
    """The work dir a test run may use without overwriting ``config`` itself.

    The runner dumps the (test-modified) config to ``<work_dir>/<config file name>``. For a config
    that lives in its own work dir (``work_dirs/demo/config.py``, whose ``work_dir`` is
    ``work_dirs/demo``) that would replace the training config with the test one, so the test run
    moves to ``<work_dir>/test`` instead.

    Returns:
        str: ``work_dir``, or ``<work_dir>/test`` when the dump would overwrite ``config``.
    """
    dump = osp.join(work_dir, osp.basename(config))
    if osp.abspath(dump) == osp.abspath(config):
        new = osp.join(work_dir, 'test')
        print_log(f'{config} lives in its work dir: this test run uses {new} so the config is not '
                  'overwritten', logger='current')
        return new
    return work_dir


def configure_evaluator(cfg: Config, out_dir=None, curve_dir=None, work_dir_from_cli=False) -> None:
    """Set ``output_dir`` (from ``--out``) and ``curve_dir`` on the metrics that take them.

    ``curve_dir``: ``--curve-dir``, else the work dir when ``--work-dir`` was given
    (``work_dir_from_cli``), else the metric config's own value, else the work dir. (A config dumped
    by an earlier test run carries that run's ``curve_dir``; an explicit ``--work-dir`` must not
    write into the earlier run's folder.) When
    several metrics take ``output_dir`` (or ``curve_dir``), each gets a sub-folder named by its
    ``prefix`` (else ``<type>_<index>``) so that their files do not overwrite each other.
    """
    scope = cfg.get('default_scope', 'mmseg')
    metrics = evaluator_metric_cfgs(cfg)
    params = [metric_init_params(m, scope) for m in metrics]
    n_out = sum('output_dir' in p for p in params)
    n_curve = sum('curve_dir' in p for p in params)
    for i, (metric, names) in enumerate(zip(metrics, params)):
        if out_dir is not None and 'output_dir' in names:
            metric['output_dir'] = (out_dir if n_out == 1 else
                                    osp.join(out_dir, _metric_subdir(metric, i)))
            if 'keep_results' in names:
                metric['keep_results'] = True
        if 'curve_dir' in names:
            if curve_dir is not None:
                base = curve_dir
            elif work_dir_from_cli:
                base = cfg.work_dir
            elif metric.get('curve_dir', None) is not None:
                continue
            else:
                base = cfg.work_dir
            metric['curve_dir'] = base if n_curve == 1 else osp.join(base,
                                                                    _metric_subdir(metric, i))
    if out_dir is not None and n_out == 0:
        _fail('--out needs a test metric that saves predictions (an output_dir argument, e.g. '
              'SODMetric); the config\'s test_evaluator has none')


def set_test_pipeline(dataset_cfg: dict, pipeline: list) -> int:
    """Put ``pipeline`` into a test dataset config and every dataset it wraps.

    Dataset wrappers (``MultiSetDataset``, mmengine's ``ConcatDataset`` with ``datasets=[...]``,
    ``RepeatDataset`` / ``ClassBalancedDataset`` with ``dataset=...``) carry no pipeline of their
    own: their member datasets get it.

    Returns:
        int: the number of datasets whose pipeline was set.

    Raises:
        SystemExit: no dataset config was found.
    """
    def visit(ds) -> int:
        if not isinstance(ds, dict):
            return 0
        if isinstance(ds.get('datasets'), (list, tuple)):
            return sum(visit(d) for d in ds['datasets'])
        if isinstance(ds.get('dataset'), dict):
            return visit(ds['dataset'])
        ds['pipeline'] = copy.deepcopy(pipeline)
        return 1

    n = visit(dataset_cfg)
    if n == 0:
        _fail(f'cannot set the TTA pipeline: test_dataloader.dataset is not a dataset config '
              f'({dataset_cfg!r})')
    return n


def trigger_visualization_hook(cfg: Config, args) -> Config:
    """Turn on mmseg's SegVisualizationHook for every test image (the hook is added to
    ``default_hooks`` when missing); ``--show-dir`` sets the visualizer's ``save_dir`` (images land
    in ``<show-dir>/vis_data/vis_image/``). The visualizer is dbdseg's
    ``BinarySegLocalVisualizer`` (added when missing, and in place of mmseg's
    ``SegLocalVisualizer``, to which it falls back for multi-class predictions)."""
    if cfg.get('default_hooks', None) is None:
        cfg.default_hooks = dict()
    if cfg.default_hooks.get('visualization', None) is None:
        cfg.default_hooks.visualization = dict(type='SegVisualizationHook')
    hook = cfg.default_hooks.visualization
    hook['draw'] = True
    hook['interval'] = 1  # paint every test image (the hook's default is every 50th)
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if cfg.get('visualizer', None) is None:
        cfg.visualizer = dict(type='BinarySegLocalVisualizer',
                              vis_backends=[dict(type='LocalVisBackend')], name='visualizer')
    elif cfg.visualizer.get('type') in ('SegLocalVisualizer', 'mmseg.SegLocalVisualizer'):
        # mmseg's visualizer paints a 1-channel probability map as a class map; dbdseg's draws
        # image | ground truth | heat map | prediction and hands multi-class maps to mmseg's
        print_log('--show/--show-dir: using BinarySegLocalVisualizer (probability heat maps) in '
                  'place of the config\'s SegLocalVisualizer', logger='current')
        cfg.visualizer.type = 'BinarySegLocalVisualizer'
    if args.show_dir:
        cfg.visualizer.save_dir = args.show_dir
    return cfg


# --- metrics output ------------------------------------------------------------------------------
def flatten_metrics(metrics: dict, prefix: str = ''):
    """Flatten a metrics dict into ``{key: float}``.

    Nested dicts are joined with ``/``; numbers, numpy scalars and one-element arrays/tensors become
    floats; everything else (curves, strings) is left out.

    Returns:
        tuple[dict, list]: the flat dict and the keys left out.
    """
    flat, skipped = {}, []
    for key, value in metrics.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            sub, sub_skipped = flatten_metrics(value, prefix=f'{name}/')
            flat.update(sub)
            skipped.extend(sub_skipped)
        elif isinstance(value, numbers.Number):
            flat[name] = float(value)
        elif isinstance(value, torch.Tensor) and value.numel() == 1:
            flat[name] = float(value.item())
        elif isinstance(value, (np.ndarray, np.generic)) and np.size(value) == 1:
            flat[name] = float(np.asarray(value).reshape(-1)[0])
        else:
            skipped.append(name)
    return flat, skipped


def metric_blocks(flat: dict) -> dict:
    """Group flat metrics by test set: ``{'CUHK/maxF': x}`` -> ``{'CUHK': {'maxF': x}}``.

    Keys without ``/`` (a single test set) go to the block named ``''``. Order is kept.
    """
    blocks = {}
    for key, value in flat.items():
        set_name, _, name = key.rpartition('/')
        blocks.setdefault(set_name, {})[name] = value
    return blocks


def format_metric_blocks(flat: dict) -> list:
    """Lines that report the metrics: one line for a single test set, else a table with one row
    per set (sets with different keys each get their own header)."""
    blocks = metric_blocks(flat)
    if not blocks:
        return ['test metrics: (none)']
    if list(blocks) == ['']:
        return ['test metrics: ' + ', '.join(f'{k}={v:.4f}' for k, v in blocks[''].items())]
    width = max(len(name) for name in blocks) + 2
    lines = [f'test metrics, {len(blocks)} test sets:']
    header = None
    for set_name, values in blocks.items():
        keys = list(values)
        if keys != header:
            header = keys
            lines.append(' ' * width + ''.join(f'{k:>9}' for k in keys))
        row = ''.join(f'{v:>9.4f}' for v in values.values())
        lines.append(f'{set_name or "-":<{width}}{row}')
    return lines


def write_json_atomic(path: str, obj) -> None:
    """Write ``obj`` as JSON to ``path`` through a temporary file and ``os.replace``."""
    folder = osp.dirname(osp.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix='.tmp_', suffix='.json', dir=folder)
        with os.fdopen(fd, 'w') as f:
            json.dump(obj, f, indent=2)
            f.write('\n')
        os.replace(tmp, path)
    except OSError as e:
        _fail(f'cannot write metrics file {path}: {e}')


def check_checkpoint(checkpoint: str):
    """Return the checkpoint to load (None for ``none``); a missing local file is an error."""
    if checkpoint.lower() == 'none':
        print_log('CHECKPOINT is "none": no weights are loaded; the model is tested with the '
                  'weights it is built with', logger='current', level=logging.WARNING)
        return None
    if '://' not in checkpoint and not osp.isfile(checkpoint):
        _fail(f'checkpoint file not found: {checkpoint}')
    return checkpoint


def main(argv=None):
    """Run testing; ``argv`` defaults to ``sys.argv[1:]``. Returns the flat metrics dict."""
    args = parse_args(argv)
    if not osp.isfile(args.config):
        _fail(f'config file not found: {args.config}')
    checkpoint = check_checkpoint(args.checkpoint)
    if args.unsafe_load_trusted_checkpoint:
        if checkpoint is None or '://' in checkpoint:
            _fail('--unsafe-load-trusted-checkpoint needs a local CHECKPOINT file')
        trust_checkpoint(checkpoint)

    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    # work_dir is determined in this priority: CLI > segment in file > filename
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.work_dir = protect_config_file(cfg.work_dir, args.config)

    cfg.load_from = checkpoint
    cfg.resume = False

    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)

    if args.tta:
        if 'tta_pipeline' not in cfg or 'tta_model' not in cfg:
            _fail('--tta needs tta_pipeline and tta_model in the config')
        set_test_pipeline(cfg.test_dataloader.dataset, cfg.tta_pipeline)
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model

    configure_evaluator(cfg, out_dir=args.out, curve_dir=args.curve_dir,
                        work_dir_from_cli=args.work_dir is not None)
    setup_cpu_runtime(cfg, args.launcher)

    from mmengine.runner import Runner
    from mmseg.registry import RUNNERS
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)

    try:
        metrics = runner.test()
    except UnsafeCheckpointError as e:
        _fail(str(e))

    flat, skipped = flatten_metrics(metrics or {})
    from mmengine.dist import is_main_process
    if is_main_process():
        if skipped:
            print_log(f'non-scalar metrics left out of the summary: {skipped}', logger='current',
                      level=logging.WARNING)
        if args.metrics_out:
            write_json_atomic(args.metrics_out, flat)
        lines = format_metric_blocks(flat)
        if args.out:
            sets = [name for name in metric_blocks(flat) if name]
            where = f'{args.out}/<set>/ for {", ".join(sets)}' if sets else args.out
            lines.append(f'  predictions: {where}')
        if args.metrics_out:
            lines.append(f'  metrics json: {args.metrics_out}')
        print('\n'.join(lines), flush=True)
    if args.launcher != 'none':
        shutdown_distributed()
    return flat


if __name__ == '__main__':
    main(sys.argv[1:])
