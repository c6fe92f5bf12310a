"""Train a dbdseg / mmseg segmentor from a config.

Same behaviour as mmsegmentation 1.2.2 ``tools/train.py`` (Apache-2.0), plus:

* registers mmseg's and dbdseg's modules (:func:`dbdseg.utils.register_all_modules`), so dbdseg
  configs work without ``custom_imports``, and installs the checkpoint guard
  (:func:`dbdseg.utils.checkpoint.install_checkpoint_guard`) before anything is loaded;
* ``--resume`` takes an optional checkpoint: no value = the latest checkpoint of the work dir (a
  fresh start, with the config's ``load_from``, when there is none); a path = resume from that file;
* without CUDA, ``env_cfg.dist_cfg.backend`` becomes ``'gloo'`` and ``--launcher pytorch`` runs CPU
  DDP (``torchrun``; see ``tools/dist_train.sh``); ``--amp`` without a GPU is a clear error;
* checkpoints must fit the model: exactly with ``--resume`` (which also needs ``meta``), at least
  in part for ``load_from``, with a warning (:mod:`dbdseg.engine.hooks.checkpoint_check_hook`);
* ``--unsafe-load-trusted-checkpoint``: the checkpoint resumed from (``--resume``) or loaded
  (``load_from``) may hold arbitrary Python objects and is loaded with ``weights_only=False``;
  only for a file whose source you trust (:mod:`dbdseg.utils.checkpoint`). Without it such a
  checkpoint is refused with a message that says why.

Usage (``dbdseg train``, ``python -m dbdseg train`` and ``python tools/train.py`` are the same)::

    dbdseg train CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
        [--unsafe-load-trusted-checkpoint]

The work dir is ``--work-dir`` > the config's ``work_dir`` > ``./work_dirs/<config stem>``.
Only the standard library is imported at module level (``--help`` is fast); errors are
``<prog>: error: <message>`` with exit status 1.
"""
import argparse
import glob
import logging
import os
import os.path as osp
import sys

from dbdseg.cli._common import DictAction, add_checkout_to_path, add_common_prog, fail

__all__ = [
    'add_arguments', 'apply_amp', 'apply_resume', 'check_amp_device', 'main', 'parse_args',
    'resolve_work_dir', 'run', 'setup_cpu_runtime', 'train'
]

PROG = 'dbdseg train'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``dbdseg train`` / ``tools/train.py`` to ``parser``."""
    add_common_prog(parser)
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        default=None,
        help='resume training: without a value, from the latest checkpoint in the work dir '
        '(fresh start when there is none); with a path, from that checkpoint')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic-mixed-precision training (needs a GPU)')
    parser.add_argument(
        '--unsafe-load-trusted-checkpoint',
        action='store_true',
        help='load the resumed / load_from checkpoint with weights_only=False (arbitrary '
        'unpickling); only for a file whose source you trust')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings: key=value pairs merged into the config; a list as '
        'key="[a,b]" or key=a,b, nested lists / tuples as key="[(a,b),(c,d)]" (the quotation '
        'marks are necessary, no white space is allowed)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank / --local_rank; torchrun sets LOCAL_RANK instead
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_args(argv=None, prog: str = PROG) -> argparse.Namespace:
    """Parse ``argv`` (defaults to ``sys.argv[1:]``); sets ``LOCAL_RANK`` when it is unset."""
    parser = argparse.ArgumentParser(prog=prog, description='Train a segmentor')
    add_arguments(parser)
    return parser.parse_args(argv)


def _accelerator_available() -> bool:
    """True when mmengine's AmpOptimWrapper can run (CUDA, NPU, MLU or MUSA device)."""
    from mmengine.device import (is_cuda_available, is_mlu_available, is_musa_available,
                                 is_npu_available)
    return (is_cuda_available() or is_npu_available() or is_mlu_available() or is_musa_available())


def setup_cpu_runtime(cfg, launcher: str, prog: str = PROG) -> None:
    """:func:`dbdseg.utils.runtime.setup_cpu_runtime`: gloo / CPU DDP without CUDA (no-op with it).

    Raises:
        SystemExit: a launcher other than 'none' / 'pytorch' without CUDA.
    """
    from dbdseg.utils.runtime import UnsupportedLauncherError
    from dbdseg.utils.runtime import setup_cpu_runtime as _setup_cpu_runtime
    try:
        _setup_cpu_runtime(cfg, launcher, dist_script='tools/dist_train.sh')
    except UnsupportedLauncherError as e:
        fail(prog, str(e))


def resolve_work_dir(cfg, cli_work_dir, config_path: str) -> str:
    """Work dir precedence: CLI > config ``work_dir`` > ``./work_dirs/<config stem>``.

    Sets ``cfg.work_dir`` (an mmengine ``Config``) and returns it.
    """
    if cli_work_dir is not None:
        cfg.work_dir = cli_work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])
    return cfg.work_dir


def _latest_checkpoint(work_dir: str):
    """The checkpoint named in ``work_dir/last_checkpoint`` (looked up in ``work_dir`` too when the
    recorded path is gone), or None."""
    record = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(record):
        return None
    with open(record) as f:
        path = f.read().strip()
    if path and osp.isfile(path):
        return path
    candidate = osp.join(work_dir, osp.basename(path)) if path else ''
    return candidate if candidate and osp.isfile(candidate) else None


def apply_resume(cfg, resume, prog: str = PROG) -> None:
    """Set ``cfg.resume`` / ``cfg.load_from`` from ``--resume`` (None, 'auto' or a path).

    Raises:
        SystemExit: ``resume`` is a local path that does not exist.
    """
    from mmengine.logging import print_log
    if resume is None:
        cfg.resume = False
        return
    if resume == 'auto':
        latest = _latest_checkpoint(cfg.work_dir)
        if latest is None:
            print_log(
                f'--resume: no checkpoint recorded in {cfg.work_dir}/last_checkpoint; '
                'starting a fresh run',
                logger='current',
                level=logging.WARNING)
            cfg.resume = False
            return
        resume = latest
    elif not osp.isfile(resume) and '://' not in resume:
        fail(prog, f'checkpoint to resume from not found: {resume}')
    print_log(f'resuming from {resume}', logger='current')
    cfg.resume = True
    cfg.load_from = resume


def apply_amp(cfg, prog: str = PROG) -> None:
    """Switch ``OptimWrapper`` to ``AmpOptimWrapper`` with a dynamic loss scale (as mmseg).

    Raises:
        SystemExit: the config's optimizer wrapper is of another type.
    """
    from mmengine.logging import print_log
    optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if optim_wrapper == 'AmpOptimWrapper':
        print_log(
            'AMP training is already enabled in your config.',
            logger='current',
            level=logging.WARNING)
    elif optim_wrapper != 'OptimWrapper':
        fail(
            prog, f'--amp is only supported when the optimizer wrapper type is OptimWrapper, '
            f'got {optim_wrapper}')
    else:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'


def check_amp_device(cfg, prog: str = PROG) -> None:
    """mmengine 0.10.7's AmpOptimWrapper asserts a CUDA/NPU/MLU/MUSA device: fail clearly.

    Raises:
        SystemExit: the config asks for ``AmpOptimWrapper`` and no such device is available.
    """
    wrapper = cfg.get('optim_wrapper', None) or {}
    if wrapper.get('type') == 'AmpOptimWrapper' and not _accelerator_available():
        fail(
            prog, 'mixed precision (--amp or optim_wrapper.type=AmpOptimWrapper) needs a GPU: '
            "mmengine's AmpOptimWrapper supports CUDA/NPU/MLU/MUSA devices only and CUDA is not "
            'available here. Train without --amp (float32) on CPU.')


def _print_summary(runner) -> None:
    from mmengine.dist import is_main_process
    if not is_main_process():
        return
    work_dir = runner.work_dir
    last = _latest_checkpoint(work_dir)
    best = sorted(glob.glob(osp.join(work_dir, 'best_*.pth')))
    lines = [f'training finished: work dir {work_dir}']
    if last:
        lines.append(f'  last checkpoint: {last}')
    for b in best:
        lines.append(f'  best checkpoint: {b}')
    print('\n'.join(lines), flush=True)


def train(args: argparse.Namespace):
    """Run training for parsed arguments (:func:`add_arguments`); returns the mmengine runner.

    Raises:
        SystemExit: ``<prog>: error: <message>`` for a missing config or checkpoint, a checkpoint
            that does not fit or is unsafe, a locked work dir, or an unsupported launcher / AMP.
    """
    prog = getattr(args, 'prog', PROG)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if not osp.isfile(args.config):
        fail(prog, f'config file not found: {args.config}')
    add_checkout_to_path()
    from mmengine.config import Config

    from dbdseg.engine.hooks.checkpoint_check_hook import add_checkpoint_check
    from dbdseg.utils import register_all_modules
    from dbdseg.utils.checkpoint import (CheckpointError, UnsafeCheckpointError,
                                         install_checkpoint_guard, trust_checkpoint)
    from dbdseg.utils.runtime import shutdown_distributed
    from dbdseg.utils.work_dir_lock import WorkDirLockedError
    register_all_modules()
    install_checkpoint_guard()  # before --resume / load_from / init_cfg weights are loaded

    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    resolve_work_dir(cfg, args.work_dir, args.config)
    if args.amp:
        apply_amp(cfg, prog)
    check_amp_device(cfg, prog)
    apply_resume(cfg, args.resume, prog)
    if args.unsafe_load_trusted_checkpoint:
        if not cfg.get('load_from') or '://' in str(cfg.load_from):
            fail(
                prog, '--unsafe-load-trusted-checkpoint needs a local checkpoint to resume from '
                '(--resume) or to load (load_from)')
        trust_checkpoint(cfg.load_from)
    setup_cpu_runtime(cfg, args.launcher, prog)

    from mmengine.runner import Runner
    from mmseg.registry import RUNNERS
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    add_checkpoint_check(runner, strict=False, filename=cfg.get('load_from'))

    try:
        runner.train()
    except (UnsafeCheckpointError, CheckpointError, WorkDirLockedError) as e:
        fail(prog, str(e))
    _print_summary(runner)
    if args.launcher != 'none':
        shutdown_distributed()
    return runner


def run(args: argparse.Namespace) -> int:
    """``dbdseg train``: :func:`train`; returns the exit status 0."""
    train(args)
    return 0


def main(argv=None, prog: str = PROG) -> int:
    """Parse ``argv`` (defaults to ``sys.argv[1:]``) and train; returns the exit status."""
    return run(parse_args(argv, prog))


if __name__ == '__main__':
    sys.exit(main())
