"""Convert a checkpoint of a reference implementation into dbdseg keys (the model converters).

``dbdseg convert NAME ARGS ...`` runs ``tools/model_converters/<NAME>.py`` with ``ARGS`` (its
options: ``dbdseg convert NAME --help``). ``NAME`` is a converter's file stem (``dd2dbdseg``) or
its short name (``dd``: the stem without ``2dbdseg`` / ``_to_dbdseg``). The converters are found
in the source checkout, or in the copy a wheel installs under ``dbdseg/.mim/tools``. Only the
standard library is imported at module level, so ``dbdseg convert --help`` (which lists the
converters) is fast.

Usage::

    dbdseg convert {a2s,dd,minet,mocov2,u2net} SRC DST [converter options]
"""
import argparse
import ast
import os
import os.path as osp
import sys
from typing import Dict

from dbdseg.cli._common import add_common_prog, fail, run_tool_main, tools_dir

__all__ = ['add_arguments', 'converters', 'main', 'run']

PROG = 'dbdseg convert'


def _short_name(stem: str) -> str:
    for suffix in ('_to_dbdseg', '2dbdseg'):
        if stem.endswith(suffix):
            return stem[:-len(suffix)]
    return stem


def converters() -> Dict[str, str]:
    """The model converters: ``{short name: script path}``, sorted by name.

    Returns:
        dict[str, str]: e.g. ``{'dd': '.../tools/model_converters/dd2dbdseg.py', ...}``; empty
        when the tools are not installed.
    """
    try:
        folder = osp.join(tools_dir(), 'model_converters')
    except FileNotFoundError:
        return {}
    if not osp.isdir(folder):
        return {}
    found = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith('.py') and not name.startswith(('_', '.')):
            found[_short_name(name[:-3])] = osp.join(folder, name)
    return found


def _summary(path: str) -> str:
    """First line of a script's docstring (read without importing it)."""
    try:
        with open(path, encoding='utf-8') as f:
            doc = ast.get_docstring(ast.parse(f.read())) or ''
    except (OSError, SyntaxError, ValueError):
        return ''
    return doc.strip().splitlines()[0] if doc.strip() else ''


def _resolve(name: str, found: Dict[str, str]):
    if name in found:
        return found[name]
    for short, path in found.items():
        if osp.splitext(osp.basename(path))[0] == name:
            return path
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``NAME`` and the converter's arguments (passed through) to ``parser``."""
    add_common_prog(parser)
    found = converters()
    lines = [f'  {name:<8} {_summary(path)}' for name, path in found.items()]
    parser.epilog = ('converters (NAME, or the script stem):\n' + '\n'.join(lines)
                     if lines else 'no converters found (tools/model_converters is missing)')
    if parser.formatter_class is argparse.HelpFormatter:
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument('name', metavar='NAME', help='converter (see the list below)')
    parser.add_argument(
        'args',
        nargs=argparse.REMAINDER,
        help='the converter\'s arguments (dbdseg convert NAME --help lists them)')


def run(args: argparse.Namespace) -> int:
    """Run the converter ``args.name`` with ``args.args``; returns the exit status 0.

    Raises:
        SystemExit: an unknown converter (the message lists the known ones), or the converter's
            own error.
    """
    prog = getattr(args, 'prog', PROG)
    found = converters()
    path = _resolve(args.name, found)
    if path is None:
        fail(prog, f'unknown converter {args.name!r}; choose from {", ".join(found) or "(none)"}')
    stem = osp.splitext(osp.basename(path))[0]
    run_tool_main(path, args.args, f'{prog} {_short_name(stem)}')
    return 0


def main(argv=None, prog: str = PROG) -> int:
    """Parse ``argv`` (defaults to ``sys.argv[1:]``) and convert; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description='Convert a reference checkpoint into dbdseg keys',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
