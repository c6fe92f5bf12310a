"""Predict defocus-blur (in-focus) / saliency maps for your own photos and videos.

The same command as ``dbdseg infer`` (options and behaviour: :mod:`dbdseg.cli.infer`)::

    python tools/infer.py CONFIG CHECKPOINT|none INPUT [INPUT ...] --out-dir DIR [options]
"""
import os.path as osp
import sys

# The repository root, for the `projects.*` packages that configs import through custom_imports.
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from dbdseg.cli import infer as _cli  # noqa: E402

PROG = 'tools/infer.py'


def parse_args(argv=None):
    """Parse ``argv`` (defaults to ``sys.argv[1:]``): :func:`dbdseg.cli.infer.parse_args`."""
    return _cli.parse_args(argv, prog=PROG)


def execute(argv=None):
    """Parse ``argv`` and run; returns :class:`dbdseg.cli.infer.InferReport`."""
    return _cli.execute(parse_args(argv))


def main(argv=None) -> int:
    """Parse ``argv`` (defaults to ``sys.argv[1:]``) and run; returns the exit status."""
    return _cli.run(parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
