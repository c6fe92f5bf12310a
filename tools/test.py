"""Test (and evaluate) a dbdseg / mmseg segmentor: ``dbdseg test`` as a script.

A thin shim over :mod:`dbdseg.cli.test` (the options, behaviour and documentation live there);
errors read ``tools/test.py: error: ...``. Usage::

    python tools/test.py CONFIG CHECKPOINT|none [--work-dir DIR] [--out DIR] [--save-depth DIR]
        [--metrics-out FILE.json] [--curve-dir DIR] [--show] [--show-dir DIR] [--tta]
        [--overwrite] [--verbose] [--cfg-options k=v ...]
        [--launcher none|pytorch|slurm|mpi] [--unsafe-load-trusted-checkpoint]
"""
import os.path as osp
import sys

# The repository root, for the `projects.*` packages that configs import through custom_imports
# (mmseg's tools get it from PYTHONPATH, which tools/dist_test.sh sets).
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from dbdseg.cli.test import parse_args, test  # noqa: E402

PROG = 'tools/test.py'


def main(argv=None):
    """Run testing; ``argv`` defaults to ``sys.argv[1:]``. Returns the flat metrics dict."""
    return test(parse_args(argv, prog=PROG))


if __name__ == '__main__':
    main(sys.argv[1:])
