"""The ``dbdseg`` command: ``dbdseg train|test|infer|convert|bench ...``.

Each subcommand is a module ``dbdseg.cli.<name>`` that imports only the standard library at module
level and exposes ``add_arguments(parser)``, ``run(args) -> int`` and ``main(argv=None)``. This
dispatcher imports a subcommand module only when it is chosen, and the modules import torch /
mmengine / mmseg inside ``run``, so ``dbdseg --help`` and ``dbdseg COMMAND --help`` answer without
loading the deep-learning stack. ``python -m dbdseg`` is the same command
(``dbdseg/__main__.py``); the scripts ``tools/train.py`` and ``tools/test.py`` call the same
modules.
"""
import argparse
import importlib
import sys
from typing import List, Optional

__all__ = ['COMMANDS', 'main']

# name: (module, one-line description); the order is the order of `dbdseg --help`
COMMANDS = {
    'train': ('dbdseg.cli.train', 'train a model from a config (tools/train.py)'),
    'test': ('dbdseg.cli.test', 'test and evaluate a checkpoint on the config\'s test sets '
             '(tools/test.py)'),
    'infer': ('dbdseg.cli.infer', 'predict maps for images or folders (tools/infer.py)'),
    'convert': ('dbdseg.cli.convert',
                'convert a checkpoint of a reference implementation (tools/model_converters)'),
    'bench': ('dbdseg.cli.bench', 'latency, FPS, parameters, FLOPs and memory of a config '
              '(tools/analysis_tools/benchmark.py)'),
}


def _version() -> str:
    from dbdseg.version import __version__
    return __version__


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser (for ``dbdseg --help``; subcommands parse their own arguments)."""
    parser = argparse.ArgumentParser(
        prog='dbdseg',
        description='Defocus blur detection and salient object detection on mmsegmentation.',
        epilog='Run "dbdseg COMMAND --help" for the options of a command.')
    parser.add_argument('--version', action='version', version=f'dbdseg {_version()}')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND', title='commands')
    for name, (_, description) in COMMANDS.items():
        sub.add_parser(name, help=description, add_help=False)
    return parser


def command_parser(name: str, module) -> argparse.ArgumentParser:
    """The parser of subcommand ``name`` (``prog='dbdseg <name>'``), filled by the module."""
    doc = (module.__doc__ or '').strip().splitlines()
    parser = argparse.ArgumentParser(
        prog=f'dbdseg {name}',
        description=doc[0] if doc else None,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``dbdseg COMMAND [ARGS ...]``; ``argv`` defaults to ``sys.argv[1:]``.

    Returns:
        int: the exit status of the command (0 on success).

    Raises:
        SystemExit: ``--help`` / ``--version``, an unknown command or a command's error.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0].startswith('-'):
        parser.parse_args(argv)  # --help / --version exit here; anything else is an error
        parser.print_help(sys.stderr)
        return 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        parser.error(f'unknown command {name!r} (choose from {", ".join(COMMANDS)})')
    try:
        module = importlib.import_module(COMMANDS[name][0])
    except ModuleNotFoundError as e:
        if e.name != COMMANDS[name][0]:
            raise
        parser.error(f'the {name!r} command is not available in this installation')
    args = command_parser(name, module).parse_args(rest)
    return int(module.run(args) or 0)
