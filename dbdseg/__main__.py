"""``python -m dbdseg COMMAND ...``: the ``dbdseg`` command (:mod:`dbdseg.cli`)."""
import sys

from dbdseg.cli import main

if __name__ == '__main__':
    sys.exit(main())
