"""Test (and evaluate) a dbdseg / mmseg segmentor.

Same behaviour as mmsegmentation 1.2.2 ``tools/test.py`` (Apache-2.0), plus:

* registers mmseg's and dbdseg's modules (:func:`dbdseg.utils.register_all_modules`) and
  installs the checkpoint guard (:func:`dbdseg.utils.checkpoint.install_checkpoint_guard`);
  the config preparation is :mod:`dbdseg.apis.test_setup`, the printed summary
  :mod:`dbdseg.evaluation.metric_tables`;
* CHECKPOINT may be ``none``: no weights are loaded (models without learned weights); a checkpoint
  file that does not exist, or whose weights do not fit the model exactly
  (:mod:`dbdseg.engine.hooks.checkpoint_check_hook`), is an error naming it;
* ``--out DIR`` sets ``output_dir`` of every test metric that takes one (``SODMetric``: 8-bit
  ``DIR/<stem>.png``, probability x 255, original size; ``DIR/<set>/<stem>.png`` with several
  sets); ``--out``, ``--show-dir`` and ``--curve-dir`` never go into a dataset folder of the config
  nor replace earlier files unless ``--overwrite`` (:mod:`dbdseg.apis.output_guard`);
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
        [--overwrite] [--cfg-options k=v ...]
        [--launcher none|pytorch|slurm|mpi] [--unsafe-load-trusted-checkpoint]
"""
import argparse
import logging
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.logging import print_log

from dbdseg.apis.output_guard import guard_test_outputs
from dbdseg.apis.test_setup import (configure_evaluator, protect_config_file, set_test_pipeline,
                                    trigger_visualization_hook)
from dbdseg.engine.hooks.checkpoint_check_hook import add_checkpoint_check
from dbdseg.evaluation.metric_tables import flatten_metrics, format_metric_blocks, metric_blocks
from dbdseg.utils import register_all_modules
from dbdseg.utils.checkpoint import (CheckpointError, UnsafeCheckpointError,
                                     install_checkpoint_guard, trust_checkpoint)
from dbdseg.utils.fileio import atomic_write_json
from dbdseg.utils.runtime import UnsupportedLauncherError
from dbdseg.utils.runtime import setup_cpu_runtime as _setup_cpu_runtime
from dbdseg.utils.runtime import shutdown_distributed

# The repository root, for the `projects.*` packages that configs import through custom_imports
# (mmseg's tools get it from PYTHONPATH, which tools/dist_test.sh sets).
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

PROG = 'tools/test.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description='Test (and eval) a segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file, or "none" to load no weights')
    parser.add_argument(
        '--work-dir',
        help='the dir for logs, the evaluation results (json) and, by default, the curves')
    parser.add_argument(
        '--out',
        help='save each prediction as OUT/<stem>.png (8-bit probability x 255, original size); '
        'OUT/<set>/<stem>.png when the config tests several sets (MultiSetDataset)')
    parser.add_argument(
        '--metrics-out',
        type=str,
        help='write the final metrics to this file as one flat JSON object of floats')
    parser.add_argument(
        '--curve-dir', help='where the metric writes curves.json / curves.png (default: work dir)')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument('--show-dir', help='folder for the painted images (SegVisualizationHook)')
    parser.add_argument(
        '--overwrite', action='store_true', help='--out/--show-dir/--curve-dir may replace files')
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
        '--unsafe-load-trusted-checkpoint',
        action='store_true',
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


def write_metrics_json(path: str, flat: dict) -> None:
    """Write the flat metrics atomically (:func:`dbdseg.utils.fileio.atomic_write_json`).

    Raises:
        SystemExit: the file cannot be written (the message names it).
    """
    try:
        atomic_write_json(path, flat)
    except OSError as e:
        _fail(f'cannot write metrics file {path}: {e}')


def check_checkpoint(checkpoint: str):
    """Return the checkpoint to load (None for ``none``); a missing local file is an error."""
    if checkpoint.lower() == 'none':
        print_log(
            'CHECKPOINT is "none": no weights are loaded; the model is tested with the '
            'weights it is built with',
            logger='current',
            level=logging.WARNING)
        return None
    if '://' not in checkpoint and not osp.isfile(checkpoint):
        _fail(f'checkpoint file not found: {checkpoint}')
    return checkpoint


def main(argv=None):
    """Run testing; ``argv`` defaults to ``sys.argv[1:]``. Returns the flat metrics dict."""
    args = parse_args(argv)
    if not osp.isfile(args.config):
        _fail(f'config file not found: {args.config}')
    register_all_modules()
    install_checkpoint_guard()  # before the runner loads CHECKPOINT (or init_cfg weights)
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
        cfg = trigger_visualization_hook(
            cfg, show=args.show, show_dir=args.show_dir, wait_time=args.wait_time)
    try:
        guard_test_outputs(cfg, args.out, args.show_dir, args.curve_dir, args.overwrite)
        if args.tta:
            if 'tta_pipeline' not in cfg or 'tta_model' not in cfg:
                _fail('--tta needs tta_pipeline and tta_model in the config')
            set_test_pipeline(cfg.test_dataloader.dataset, cfg.tta_pipeline)
            cfg.tta_model.module = cfg.model
            cfg.model = cfg.tta_model
        configure_evaluator(
            cfg,
            out_dir=args.out,
            curve_dir=args.curve_dir,
            work_dir_from_cli=args.work_dir is not None)
    except ValueError as e:
        _fail(str(e))
    setup_cpu_runtime(cfg, args.launcher)

    from mmengine.runner import Runner
    from mmseg.registry import RUNNERS
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    add_checkpoint_check(runner, strict=True, filename=checkpoint)  # CHECKPOINT must fit

    try:
        metrics = runner.test()
    except (UnsafeCheckpointError, CheckpointError) as e:
        _fail(str(e))

    flat, skipped = flatten_metrics(metrics or {})
    from mmengine.dist import is_main_process
    if is_main_process():
        if skipped:
            print_log(
                f'non-scalar metrics left out of the summary: {skipped}',
                logger='current',
                level=logging.WARNING)
        if args.metrics_out:
            write_metrics_json(args.metrics_out, flat)
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
