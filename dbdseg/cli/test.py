"""Test (and evaluate) a dbdseg / mmseg segmentor.

Same behaviour as mmsegmentation 1.2.2 ``tools/test.py`` (Apache-2.0), plus:

* registers mmseg's and dbdseg's modules (:func:`dbdseg.utils.register_all_modules`) and
  installs the checkpoint guard (:func:`dbdseg.utils.checkpoint.install_checkpoint_guard`);
  the config preparation is :mod:`dbdseg.apis.test_setup`, the printed summary
  :mod:`dbdseg.evaluation.metric_tables`;
* a test run never needs training data: the training and validation parts of the config are
  dropped before the runner is built (:func:`dbdseg.apis.test_setup.drop_training_parts`);
* the console shows warnings, the test progress and then the summary (metrics table, output
  folders, the log file); the full log (environment, config, hooks, per-metric tables) is in
  ``<work_dir>/<timestamp>/<timestamp>.log``. ``--verbose`` prints it on the console too;
* CHECKPOINT may be ``none``: no weights are loaded (models without learned weights); a checkpoint
  file that does not exist, or whose weights do not fit the model exactly
  (:mod:`dbdseg.engine.hooks.checkpoint_check_hook`), is an error naming it;
* ``--out DIR`` sets ``output_dir`` of every test metric that takes one (``SODMetric``: 8-bit
  ``DIR/<stem>.png``, probability x 255, original size; ``DIR/<set>/<stem>.png`` with several
  sets); ``--out``, ``--show-dir``, ``--curve-dir`` and ``--save-depth`` never go into a dataset
  folder of the config nor replace earlier files unless ``--overwrite``
  (:mod:`dbdseg.apis.output_guard`);
* ``--save-depth DIR``: the depth side output of a depth-distillation model as 16-bit
  ``DIR/<stem>.png`` (:mod:`dbdseg.apis.depth_output`; ``DIR/<set>/<stem>.png`` with several
  sets); an error for a model without one;
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

Usage (``dbdseg test``, ``python -m dbdseg test`` and ``python tools/test.py`` are the same)::

    dbdseg test CONFIG CHECKPOINT|none [--work-dir DIR] [--out DIR] [--save-depth DIR]
        [--metrics-out FILE.json] [--curve-dir DIR] [--show] [--show-dir DIR] [--tta]
        [--overwrite] [--verbose] [--cfg-options k=v ...]
        [--launcher none|pytorch|slurm|mpi] [--unsafe-load-trusted-checkpoint]

Only the standard library is imported at module level (``--help`` is fast); errors are
``<prog>: error: <message>`` with exit status 1.
"""
import argparse
import contextlib
import logging
import os
import os.path as osp
import sys
from typing import Optional

from dbdseg.cli._common import DictAction, add_checkout_to_path, add_common_prog, fail

__all__ = [
    'add_arguments', 'check_checkpoint', 'main', 'parse_args', 'quiet_console', 'run',
    'setup_cpu_runtime', 'test', 'write_metrics_json'
]

PROG = 'dbdseg test'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``dbdseg test`` / ``tools/test.py`` to ``parser``."""
    add_common_prog(parser)
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
        '--save-depth',
        metavar='DIR',
        help='save the depth side output of a depth-distillation model as DIR/<stem>.png '
        '(16-bit, relative depth in [0, 1] x 65535, larger = farther, original size)')
    parser.add_argument(
        '--metrics-out',
        type=str,
        help='write the final metrics to this file as one flat JSON object of floats')
    parser.add_argument(
        '--curve-dir', help='where the metric writes curves.json / curves.png (default: work dir)')
    parser.add_argument(
        '--per-image-csv',
        metavar='FILE',
        help='write per-image metrics (stem, maxF, MAE, S, E and the DBD protocol values) to this '
        'CSV, to find failure cases (SODMetric)')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument('--show-dir', help='folder for the painted images (SegVisualizationHook)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='--out/--show-dir/--curve-dir/--save-depth/--per-image-csv may replace files')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--verbose',
        action='store_true',
        help='print the full log (environment, config, hooks) on the console too; by default it '
        'goes to the log file in the work dir only')
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


def parse_args(argv=None, prog: str = PROG) -> argparse.Namespace:
    """Parse ``argv`` (defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(prog=prog, description='Test (and eval) a segmentor')
    add_arguments(parser)
    return parser.parse_args(argv)


def setup_cpu_runtime(cfg, launcher: str, prog: str = PROG) -> None:
    """:func:`dbdseg.utils.runtime.setup_cpu_runtime`: gloo / CPU DDP without CUDA (no-op with it).

    Raises:
        SystemExit: a launcher other than 'none' / 'pytorch' without CUDA.
    """
    from dbdseg.utils.runtime import UnsupportedLauncherError
    from dbdseg.utils.runtime import setup_cpu_runtime as _setup_cpu_runtime
    try:
        _setup_cpu_runtime(cfg, launcher, dist_script='tools/dist_test.sh')
    except UnsupportedLauncherError as e:
        fail(prog, str(e))


def write_metrics_json(path: str, flat: dict, prog: str = PROG) -> None:
    """Write the flat metrics atomically (:func:`dbdseg.utils.fileio.atomic_write_json`).

    Raises:
        SystemExit: the file cannot be written (the message names it).
    """
    from dbdseg.utils.fileio import atomic_write_json
    try:
        atomic_write_json(path, flat)
    except OSError as e:
        fail(prog, f'cannot write metrics file {path}: {e}')


def check_checkpoint(checkpoint: str, prog: str = PROG):
    """Return the checkpoint to load (None for ``none``, any case).

    Raises:
        SystemExit: a local checkpoint file does not exist.
    """
    from mmengine.logging import print_log
    if checkpoint.lower() == 'none':
        print_log(
            'CHECKPOINT is "none": no weights are loaded; the model is tested with the '
            'weights it is built with',
            logger='current',
            level=logging.WARNING)
        return None
    if '://' not in checkpoint and not osp.isfile(checkpoint):
        fail(prog, f'checkpoint file not found: {checkpoint}')
    return checkpoint


class _ConsoleFilter(logging.Filter):
    """Console records of a quiet test run: warnings, errors and the ``Iter(test)`` progress
    lines (with an ``eta``; the final metrics line is the summary's). Other records are held in
    ``held`` (when given) to be written to the log file later."""

    def __init__(self, held: Optional[list] = None):
        super().__init__()
        self.held = held

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        try:
            msg = str(record.getMessage())
        except Exception:  # a record whose message cannot be formatted: let logging report it
            return True
        if msg.startswith('Iter(test)') and 'eta:' in msg:
            return True
        if self.held is not None:
            self.held.append(record)
        return False


def _console_handlers(logger) -> list:
    return [
        h for h in getattr(logger, 'handlers', [])
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
    ]


@contextlib.contextmanager
def quiet_console():
    """Inside the block, mmengine loggers print only warnings, errors and test progress.

    mmengine's current logger (the one ``print_log(..., logger='current')`` uses before a runner
    exists) gets a console filter for the duration of the block; the records it holds back are
    yielded as a list, to be written to the run's log file (:func:`_replay_to_file`). Runners
    built inside the block get the same filter on their console handler
    (``Runner.build_logger`` is wrapped), which they keep; their log file keeps every record
    (environment, config, hooks, metric tables).

    Yields:
        list[logging.LogRecord]: the records held back from the console before the runner.
    """
    from mmengine.logging import MMLogger
    from mmengine.runner import Runner
    held: list = []
    current = MMLogger.get_current_instance()
    added = []
    for handler in _console_handlers(current):
        filt = _ConsoleFilter(held)
        handler.addFilter(filt)
        added.append((handler, filt))
    original = Runner.build_logger

    def build_logger(self, *args, **kwargs):
        logger = original(self, *args, **kwargs)
        for handler in _console_handlers(logger):
            if not any(isinstance(f, _ConsoleFilter) for f in handler.filters):
                handler.addFilter(_ConsoleFilter())
        return logger

    Runner.build_logger = build_logger
    try:
        yield held
    finally:
        Runner.build_logger = original
        for handler, filt in added:
            handler.removeFilter(filt)


def _replay_to_file(records: list, logger) -> None:
    """Write held-back console records to the file handlers of ``logger`` (the run's log)."""
    for handler in getattr(logger, 'handlers', []):
        if isinstance(handler, logging.FileHandler):
            for record in records:
                if record.levelno >= handler.level:
                    handler.handle(record)


def _log_file(runner):
    for handler in getattr(runner.logger, 'handlers', []):
        if isinstance(handler, logging.FileHandler):
            return handler.baseFilename
    return None


def _check_depth_output_dir(cfg, path: str, overwrite: bool) -> None:
    """``--save-depth``: outside every dataset folder; no earlier PNGs unless ``overwrite``."""
    from dbdseg.apis.output_guard import check_output_folder, dataset_folders, existing_outputs
    from dbdseg.utils.fileio import OutputExistsError
    check_output_folder('--save-depth', path, dataset_folders(cfg))
    found = existing_outputs(path, 'predictions')
    if found and not overwrite:
        raise OutputExistsError(
            f'--save-depth {path} already holds {len(found)} PNG file(s) this run could replace: '
            f'{", ".join(found[:3])}; pass --overwrite to replace them, or choose another folder')


def test(args: argparse.Namespace) -> dict:
    """Run testing for parsed arguments (:func:`add_arguments`).

    Returns:
        dict: the flat metrics (``{'maxF': 0.9, ...}`` or ``{'CUHK/maxF': ...}``), floats.

    Raises:
        SystemExit: ``<prog>: error: <message>`` for a missing config or checkpoint, a checkpoint
            that does not fit or is unsafe, an output folder that is refused, or an unsupported
            option combination.
    """
    prog = getattr(args, 'prog', PROG)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if not osp.isfile(args.config):
        fail(prog, f'config file not found: {args.config}')
    add_checkout_to_path()
    if getattr(args, 'verbose', False):
        return _test(args, prog, [])
    with quiet_console() as held:
        return _test(args, prog, held)


def _test(args: argparse.Namespace, prog: str, held: list) -> dict:
    """:func:`test` after the config check; ``held``: console records for the log file."""
    from mmengine.config import Config
    from mmengine.logging import print_log

    from dbdseg.apis.output_guard import guard_test_outputs
    from dbdseg.apis.test_setup import (configure_evaluator, drop_training_parts,
                                        protect_config_file, set_test_pipeline,
                                        trigger_visualization_hook)
    from dbdseg.engine.hooks.checkpoint_check_hook import add_checkpoint_check
    from dbdseg.evaluation.metric_tables import flatten_metrics, format_metric_blocks, metric_blocks
    from dbdseg.utils import register_all_modules
    from dbdseg.utils.checkpoint import (CheckpointError, UnsafeCheckpointError,
                                         install_checkpoint_guard, trust_checkpoint)
    from dbdseg.utils.runtime import shutdown_distributed
    register_all_modules()
    install_checkpoint_guard()  # before the runner loads CHECKPOINT (or init_cfg weights)
    checkpoint = check_checkpoint(args.checkpoint, prog)
    if args.unsafe_load_trusted_checkpoint:
        if checkpoint is None or '://' in checkpoint:
            fail(prog, '--unsafe-load-trusted-checkpoint needs a local CHECKPOINT file')
        trust_checkpoint(checkpoint)
    save_depth = getattr(args, 'save_depth', None)
    if save_depth and args.tta:
        fail(
            prog, '--save-depth cannot be combined with --tta (the depth of one forward pass '
            'per image is written)')

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
        if args.per_image_csv and osp.exists(args.per_image_csv) and not args.overwrite:
            fail(prog, f'--per-image-csv {args.per_image_csv} exists; pass --overwrite to '
                 'replace it')
        if save_depth:
            _check_depth_output_dir(cfg, save_depth, args.overwrite)
        if args.tta:
            if 'tta_pipeline' not in cfg or 'tta_model' not in cfg:
                fail(prog, '--tta needs tta_pipeline and tta_model in the config')
            set_test_pipeline(cfg.test_dataloader.dataset, cfg.tta_pipeline)
            cfg.tta_model.module = cfg.model
            cfg.model = cfg.tta_model
        configure_evaluator(
            cfg,
            out_dir=args.out,
            curve_dir=args.curve_dir,
            work_dir_from_cli=args.work_dir is not None,
            per_image_csv=args.per_image_csv)
    except ValueError as e:  # DatasetFolderError, OutputExistsError and config errors
        fail(prog, str(e))
    # after the output checks, which look at every dataset folder of the config
    drop_training_parts(cfg)
    setup_cpu_runtime(cfg, args.launcher, prog)

    from mmengine.runner import Runner
    from mmseg.registry import RUNNERS
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    _replay_to_file(held, runner.logger)
    add_checkpoint_check(runner, strict=True, filename=checkpoint)  # CHECKPOINT must fit
    if save_depth:
        from dbdseg.apis.depth_output import DepthOutputHook
        runner.register_hook(DepthOutputHook(save_depth))

    try:
        metrics = runner.test()
    except (UnsafeCheckpointError, CheckpointError) as e:
        fail(prog, str(e))
    except RuntimeError as e:
        if str(e).startswith('--save-depth'):
            fail(prog, str(e))
        raise

    flat, skipped = flatten_metrics(metrics or {})
    from mmengine.dist import is_main_process
    if is_main_process():
        if skipped:
            print_log(
                f'non-scalar metrics left out of the summary: {skipped}',
                logger='current',
                level=logging.WARNING)
        if args.metrics_out:
            write_metrics_json(args.metrics_out, flat, prog)
        lines = format_metric_blocks(flat)
        sets = [name for name in metric_blocks(flat) if name]
        if args.out:
            where = f'{args.out}/<set>/ for {", ".join(sets)}' if sets else args.out
            lines.append(f'  predictions: {where}')
        if save_depth:
            lines.append(f'  depth maps: {save_depth}')
        if args.show_dir:
            lines.append(f'  painted images: {args.show_dir}')
        if args.metrics_out:
            lines.append(f'  metrics json: {args.metrics_out}')
        log_file = _log_file(runner)
        if log_file:
            lines.append(f'  full log: {log_file}')
        print('\n'.join(lines), flush=True)
    if args.launcher != 'none':
        shutdown_distributed()
    return flat


def run(args: argparse.Namespace) -> int:
    """``dbdseg test``: :func:`test`; returns the exit status 0."""
    test(args)
    return 0


def main(argv=None, prog: str = PROG) -> int:
    """Parse ``argv`` (defaults to ``sys.argv[1:]``) and test; returns the exit status."""
    return run(parse_args(argv, prog))


if __name__ == '__main__':
    sys.exit(main())
