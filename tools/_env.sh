# shellcheck shell=bash
# Sourced by tools/install.sh, tools/demo.sh and tools/run_tests.sh: picks the Python environment.
# The active virtualenv wins; otherwise dbdseg uses (and install.sh creates) `.venv` in the repo root.
DBDSEG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -n "${VIRTUAL_ENV:-}" ]; then
    DBDSEG_VENV="$VIRTUAL_ENV"
else
    DBDSEG_VENV="$DBDSEG_ROOT/.venv"
fi
DBDSEG_PY="$DBDSEG_VENV/bin/python"
export DBDSEG_ROOT DBDSEG_VENV DBDSEG_PY
