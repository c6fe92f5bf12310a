#!/usr/bin/env bash
# Run the dbdseg test suite: installs the pinned stack first (tools/install.sh; seconds when already
# installed), then pytest over tests/. Extra arguments go to pytest, e.g.
#   bash tools/run_tests.sh tests/test_evaluation -x
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
bash "$DBDSEG_ROOT/tools/install.sh"
cd "$DBDSEG_ROOT"
echo "[run_tests] $("$DBDSEG_PY" -m pytest --version 2>&1) on $(nproc) cores"
exec "$DBDSEG_PY" -m pytest "$@"
