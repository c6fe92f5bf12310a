"""Train a dbdseg / mmseg segmentor from a config: ``dbdseg train`` as a script.

A thin shim over :mod:`dbdseg.cli.train` (the options, behaviour and documentation live there);
errors read ``tools/train.py: error: ...``. Usage::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
        [--unsafe-load-trusted-checkpoint]
"""
import os.path as osp
import sys

# The repository root, for the `projects.*` packages that configs import through custom_imports
# (mmseg's tools get it from PYTHONPATH, which tools/dist_train.sh sets).
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from dbdseg.cli.train import parse_args, train  # noqa: E402

PROG = 'tools/train.py'


def main(argv=None):
    """Run training; ``argv`` defaults to ``sys.argv[1:]``. Returns the mmengine runner."""
    return train(parse_args(argv, prog=PROG))


if __name__ == '__main__':
    main(sys.argv[1:])
