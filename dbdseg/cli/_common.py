"""Helpers of the ``dbdseg`` subcommands that import only the standard library.

Every subcommand module imports this one at module level, so ``dbdseg COMMAND --help`` answers
without importing torch, mmengine or mmseg (those are imported inside ``run``).
"""
import argparse
import importlib.util
import os
import os.path as osp
import sys
from typing import Optional

__all__ = [
    'DictAction', 'add_common_prog', 'checkout_root', 'fail', 'load_module', 'run_tool_main',
    'tools_dir'
]

PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))


class DictAction(argparse.Action):
    """mmengine's ``DictAction`` (``--cfg-options k=v ...``), imported only when the option is used.

    Parses each ``key=value`` exactly as :class:`mmengine.config.DictAction` does (values become
    int / float / bool / None / lists / tuples) and merges them into one dict, so
    ``--help`` does not import mmengine.
    """

    def __call__(self, parser, namespace, values, option_string=None):
        from mmengine.config import DictAction as _MMEngineDictAction
        _MMEngineDictAction(
            self.option_strings, self.dest, nargs=self.nargs)(parser, namespace, values,
                                                              option_string)


def add_common_prog(parser: argparse.ArgumentParser) -> None:
    """Record the parser's ``prog`` in the parsed arguments (``args.prog``) for error messages."""
    parser.set_defaults(prog=parser.prog)


def fail(prog: str, msg: str):
    """Stop with ``<prog>: error: <msg>`` on stderr and exit status 1.

    Raises:
        SystemExit: always.
    """
    raise SystemExit(f'{prog}: error: {msg}')


def checkout_root() -> Optional[str]:
    """The source checkout that holds the imported ``dbdseg`` package, or None when installed.

    A checkout is the folder above the package that also holds ``setup.py`` and ``tools/`` (a
    plain or editable install of a clone); a wheel install has neither next to the package.
    """
    root = osp.dirname(PACKAGE_DIR)
    if osp.isfile(osp.join(root, 'setup.py')) and osp.isdir(osp.join(root, 'tools')):
        return root
    return None


def add_checkout_to_path() -> None:
    """Put the checkout root (if any) on ``sys.path``, for configs that import ``projects.*``."""
    root = checkout_root()
    if root is not None and root not in sys.path:
        sys.path.insert(0, root)


def tools_dir() -> str:
    """The folder of the command-line tools: ``<checkout>/tools`` in a source checkout, else the
    copy a wheel ships in ``dbdseg/.mim/tools``.

    Raises:
        FileNotFoundError: neither exists (a wheel built without the mim extension).
    """
    root = checkout_root()
    candidates = ([osp.join(root, 'tools')]
                  if root else []) + [osp.join(PACKAGE_DIR, '.mim', 'tools')]
    for path in candidates:
        if osp.isdir(path):
            return path
    raise FileNotFoundError('the dbdseg tools are not installed: neither a source checkout nor '
                            f'{candidates[-1]} holds them (reinstall dbdseg from its repository)')


def load_module(path: str, name: str):
    """Import the Python file ``path`` as module ``name`` (cached in ``sys.modules``)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def run_tool_main(path: str, argv: list, prog: str):
    """Import the tool script ``path`` and call its ``main(argv)``; returns what it returns.

    The tool's own argparse parser names itself after ``sys.argv[0]``, which is ``prog`` during
    the call (restored afterwards), so its usage and errors read ``usage: <prog> ...``.

    Raises:
        SystemExit: the tool's own errors (and ``--help``).
    """
    stem = osp.splitext(osp.relpath(path, osp.dirname(osp.dirname(path))))[0]
    module = load_module(path, 'dbdseg_tool_' + stem.replace(os.sep, '_'))
    argv0 = sys.argv[0] if sys.argv else ''
    sys.argv[:1] = [prog]
    try:
        return module.main(list(argv))
    finally:
        sys.argv[:1] = [argv0]
