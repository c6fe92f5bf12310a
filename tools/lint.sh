#!/usr/bin/env bash
# Style checks that .ci/run runs before the tests: flake8, isort and yapf with the settings of
# setup.cfg (line length 100). Installed by tools/install.sh. Fix what they report with
#   .venv/bin/python -m isort dbdseg tools tests projects .dev_scripts configs
#   .venv/bin/python -m yapf -i -r dbdseg tools tests projects .dev_scripts configs
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
cd "$DBDSEG_ROOT"
PATHS=(dbdseg tools tests projects .dev_scripts configs demo)
echo "[lint] flake8"
"$DBDSEG_PY" -m flake8 "${PATHS[@]}"
echo "[lint] isort --check-only"
"$DBDSEG_PY" -m isort --check-only --quiet "${PATHS[@]}"
echo "[lint] yapf --diff"
rc=0
out="$("$DBDSEG_PY" -m yapf --diff -r "${PATHS[@]}")" || rc=$?
if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
    printf '%s\n' "$out" | head -n 60
    echo "[lint] error: yapf failed or would reformat the files above (run yapf -i -r ...)" >&2
    exit 1
fi
echo "[lint] clean"
