"""Latency, throughput, parameters, FLOPs and peak memory of one dbdseg / mmseg model config.

``dbdseg bench ARGS ...`` runs ``tools/analysis_tools/benchmark.py ARGS ...`` (found in the source
checkout, or in the copy a wheel installs under ``dbdseg/.mim/tools``), which parses its options
and calls the package function :func:`dbdseg.utils.benchmark.run_benchmark` (it documents every
result key). The arguments are passed through unchanged, so the command always has the tool's
options; ``dbdseg bench CONFIG --help`` lists them (that help imports torch, the benchmark's
dependency). Only the standard library is imported at module level, so ``dbdseg bench --help``
is fast.

Usage::

    dbdseg bench CONFIG [CHECKPOINT|none] [--device cpu|cuda] [--shape H W] [--batch N] [--amp]
        [--mode tensor|predict] [--repeat N] [--no-flops] [--out FILE.json] [...]
"""
import argparse
import os.path as osp
import sys

from dbdseg.cli._common import add_checkout_to_path, add_common_prog, fail, run_tool_main, tools_dir

__all__ = ['add_arguments', 'main', 'run', 'script']

PROG = 'dbdseg bench'
SCRIPT = osp.join('analysis_tools', 'benchmark.py')


def script() -> str:
    """Path of ``tools/analysis_tools/benchmark.py`` (checkout or wheel copy).

    Raises:
        FileNotFoundError: the tools are not installed.
    """
    path = osp.join(tools_dir(), SCRIPT)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} does not exist')
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the passed-through arguments of ``dbdseg bench`` to ``parser``."""
    add_common_prog(parser)
    parser.add_argument(
        'args',
        metavar='CONFIG [CHECKPOINT] [options]',
        nargs=argparse.REMAINDER,
        help='the arguments of tools/analysis_tools/benchmark.py; "dbdseg bench CONFIG --help" '
        'lists its options')


def run(args: argparse.Namespace) -> int:
    """Run the benchmark tool with ``args.args``; returns the exit status 0.

    Raises:
        SystemExit: no arguments, the tools are missing, or the tool's own error.
    """
    prog = getattr(args, 'prog', PROG)
    if not args.args:
        fail(prog, 'a CONFIG is required ("dbdseg bench CONFIG --help" lists the options)')
    try:
        path = script()
    except FileNotFoundError as e:
        fail(prog, str(e))
    add_checkout_to_path()
    run_tool_main(path, args.args, prog)
    return 0


def main(argv=None, prog: str = PROG) -> int:
    """Parse ``argv`` (defaults to ``sys.argv[1:]``) and benchmark; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog=prog, description='Latency, FPS, parameters, FLOPs and peak memory of a config')
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
