#!/usr/bin/env bash
# The GPU check (issue 21): install offline, build mmcv, run the CUDA tests, benchmark every paper
# model; one command, inside a time budget. See docs/en/gpu_check.md.
#
#   bash .dev_scripts/gpu/check.sh                      # on the GPU machine (after prepare.sh here)
#   bash .dev_scripts/gpu/check.sh --device cpu --tiny  # dry run on a CPU machine with .venv
#
# Options:
#   --device cuda|cpu      cuda (default): offline install from .dev_scripts/gpu/wheels, mmcv
#                          build, CUDA tests and benchmarks. cpu: a dry run of the same flow with
#                          the repository's .venv (no install, no build; the CUDA tests skip).
#   --out DIR              where gpu_check.json and the logs go (default: $OUT if set, else
#                          work_dirs/gpu_check)
#   --budget S             total seconds; every step is cut to what is left, and what does not
#                          fit is skipped and listed (default 470)
#   --cuda-build-budget S  seconds for the mmcv build with CUDA ops (default 180)
#   --cpu-build-budget S   seconds for the fallback build with CPU ops only (default 150)
#   --test-budget S        at most this for `pytest -m cuda` (default 150)
#   --tiny                 tiny benchmark settings (64x64, batches 1 2, one timed call)
#   --skip-build | --skip-tests | --skip-bench
#   (a budget of 0 skips that build; DBDSEG_GPU_PY overrides the python of --device cuda)
#
# The mmcv build: MMCV_WITH_OPS=1 FORCE_CUDA=1 MAX_JOBS=$(nproc) for the GPU's compute capability
# only; if that fails or exceeds its budget, MMCV_WITH_OPS=1 FORCE_CUDA=0 with the GPU hidden
# (CPU kernels only; dbdseg's models use none of mmcv's kernels), when at least 90 s of it fit
# beside the 250 s kept for tests and benchmarks; else (or if that fails too) MMCV_WITH_OPS=0
# plus a stub `mmcv._ext` whose functions raise (mmseg imports mmcv.ops at import time). Which
# one was used is printed and recorded. A built wheel is kept in /tmp, so a second run on the
# same machine skips the build.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
T0=$(date +%s)

DEVICE=cuda
OUTDIR="${OUT:-$ROOT/work_dirs/gpu_check}"
BUDGET=470
CUDA_BUILD_BUDGET=180
CPU_BUILD_BUDGET=150
TEST_BUDGET=150
TINY=0
SKIP_BUILD=0
SKIP_TESTS=0
SKIP_BENCH=0
while [ $# -gt 0 ]; do
    case "$1" in
        --device) DEVICE="$2"; shift 2 ;;
        --out) OUTDIR="$2"; shift 2 ;;
        --budget) BUDGET="$2"; shift 2 ;;
        --cuda-build-budget) CUDA_BUILD_BUDGET="$2"; shift 2 ;;
        --cpu-build-budget) CPU_BUILD_BUDGET="$2"; shift 2 ;;
        --test-budget) TEST_BUDGET="$2"; shift 2 ;;
        --tiny) TINY=1; shift ;;
        --skip-build) SKIP_BUILD=1; shift ;;
        --skip-tests) SKIP_TESTS=1; shift ;;
        --skip-bench) SKIP_BENCH=1; shift ;;
        -h|--help) sed -n '2,29p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "check.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
case "$DEVICE" in cuda|cpu) ;; *) echo "check.sh: --device cuda or cpu" >&2; exit 2 ;; esac

DEADLINE=$((T0 + BUDGET))
STACK_OK=1
WORK="${DBDSEG_GPU_WORK:-/tmp/dbdseg_gpu_check}"  # scratch; only the summary goes to OUTDIR
SITE="$WORK/site"            # the installed wheels (first on PYTHONPATH)
WHEELHOUSE="$WORK/wheelhouse"  # built wheels, kept for a rerun on the same machine
WHEELS="$ROOT/.dev_scripts/gpu/wheels"
mkdir -p "$OUTDIR" "$WORK"
rm -rf "$WORK/bench" "$WORK/steps.tsv" "$WORK/skipped.txt" "$WORK/junit.xml" "$WORK/env.json" \
    "$WORK/pytest.log"
mkdir -p "$WORK/bench"
: > "$WORK/steps.tsv"
: > "$WORK/skipped.txt"
LOG="$OUTDIR/check.log"
exec > >(tee "$LOG") 2>&1
export PYTHONUNBUFFERED=1

say() { printf '[check %4ds] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
left() { echo $(( DEADLINE - $(date +%s) )); }
skip() { say "SKIPPED: $*"; echo "$*" >> "$WORK/skipped.txt"; }
# run NAME LIMIT CMD...: run CMD under `timeout LIMIT`, record name, status and seconds
run_step() {
    local name="$1" limit="$2"; shift 2
    local t rc status
    t=$(date +%s)
    say "step $name (limit ${limit} s): $*"
    if declare -F "$1" >/dev/null; then  # a function of this script: run it in a child bash
        timeout --kill-after=10 "$limit" bash -c '"$@"' _ "$@"
    else
        timeout --kill-after=10 "$limit" "$@"
    fi
    rc=$?
    case $rc in
        0) status=ok ;;
        124|137) status=timeout ;;
        *) status="failed($rc)" ;;
    esac
    printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$(( $(date +%s) - t ))" "$limit" \
        >> "$WORK/steps.tsv"
    say "step $name: $status in $(( $(date +%s) - t )) s"
    return $rc
}

say "dbdseg GPU check: device $DEVICE, budget ${BUDGET} s, out $OUTDIR, $(nproc) cores"
if [ "$DEVICE" = cpu ]; then
    PY="${DBDSEG_PY:-$ROOT/.venv/bin/python}"
    [ -x "$PY" ] || PY="$(command -v python3)"
    say "dry run on CPU with $PY: no install, no mmcv build (the environment has them)"
    skip "install: --device cpu uses the existing environment"
    skip "mmcv build: --device cpu uses the installed mmcv"
    SKIP_BUILD=1
    MMCV_KIND=installed
else
    PY="${DBDSEG_GPU_PY:-$(command -v python3)}"  # the GPU machine's python3 holds torch
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version \
        --format=csv,noheader
    export PYTHONPATH="$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
    # ---------------------------------------------------------------- offline install
    install_wheels() {
        [ -d "$WHEELS" ] || { echo "no $WHEELS: run .dev_scripts/gpu/prepare.sh and carry it"; \
            return 1; }
        # setuptools < 70 too: mmcv's setup.py and mmengine's package_utils import pkg_resources
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target "$SITE" "$WHEELS"/*.whl
    }
    export -f install_wheels
    export PY SITE WHEELS
    run_step install 120 install_wheels || { skip "everything after the failed install"; \
        SKIP_BUILD=1; SKIP_TESTS=1; SKIP_BENCH=1; STACK_OK=0; }
    # pydensecrf2 (only dbdseg.utils.crf needs it): built in the background while mmcv builds,
    # under `timeout` (its own process group: stopping it stops the compilers too)
    build_crf() {
        local t st
        t=$(date +%s)
        # (a wheel built by an earlier run on this machine is reused)
        if { ls "$WHEELHOUSE"/pydensecrf2-*.whl >/dev/null 2>&1 ||
                "$PY" -m pip wheel -q --no-index --no-deps --no-build-isolation \
                    -w "$WHEELHOUSE" "$WHEELS"/pydensecrf2-*.tar.gz \
                    > "$WORK/pydensecrf.log" 2>&1; } &&
            "$PY" -m pip install -q --no-index --no-deps --target "$SITE" \
                "$WHEELHOUSE"/pydensecrf2-*.whl >> "$WORK/pydensecrf.log" 2>&1; then
            st=ok
        else
            st=failed
        fi
        printf 'pydensecrf2_build\t%s\t%s\t-\n' "$st" "$(( $(date +%s) - t ))" \
            >> "$WORK/steps.tsv"
    }
    if [ "$SKIP_BUILD" = 0 ]; then
        export -f build_crf
        export WHEELHOUSE WORK
        timeout --kill-after=5 "$(left)" bash -c build_crf &
        CRF_PID=$!
    fi
fi

# -------------------------------------------------------------------- mmcv 2.1.0
build_mmcv() {  # build_mmcv KIND: pip wheel from the sdist with KIND's environment
    local kind="$1"
    rm -rf "$WORK/mmcv_build" && mkdir -p "$WORK/mmcv_build"
    local env=(MMCV_WITH_OPS=1 MAX_JOBS="$(nproc)")
    case "$kind" in
        cuda) env+=(FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$ARCH") ;;
        # mmcv builds CUDA ops whenever torch sees a GPU: hide it
        cpu) env+=(FORCE_CUDA=0 CUDA_VISIBLE_DEVICES=) ;;
        lite) env=(MMCV_WITH_OPS=0) ;;
    esac
    say "mmcv build ($kind): ${env[*]}"
    env "${env[@]}" "$PY" -m pip wheel --no-index --no-deps \
        --no-build-isolation -w "$WORK/mmcv_build" "$WHEELS"/mmcv-2.1.0.tar.gz \
        > "$WORK/mmcv_$kind.log" 2>&1
    local rc=$?
    [ $rc = 0 ] || { tail -25 "$WORK/mmcv_$kind.log"; return $rc; }
    mkdir -p "$WHEELHOUSE" && cp "$WORK"/mmcv_build/mmcv*.whl "$WHEELHOUSE/" && \
        case "$kind" in  # the label the report shows
            cuda) echo cuda-ops ;; cpu) echo cpu-ops ;; *) echo lite-stub ;;
        esac > "$WHEELHOUSE/mmcv_kind.txt"
}
install_mmcv() {
    "$PY" -m pip install -q --no-index --no-deps --no-compile --upgrade --target "$SITE" \
        "$WHEELHOUSE"/mmcv*.whl
}
stub_ext() {  # mmcv-lite: a stand-in mmcv._ext so that `import mmcv.ops` (and mmseg) import
    cat > "$SITE/mmcv/_ext.py" <<'PY'
"""Stand-in for mmcv's compiled ops (written by .dev_scripts/gpu/check.sh after the mmcv builds
with ops failed): every attribute exists so that `import mmcv.ops` works; calling one raises."""


def __getattr__(name):
    def missing(*args, **kwargs):
        raise RuntimeError(f'mmcv op {name} is not built (MMCV_WITH_OPS=0 fallback)')
    return missing
PY
}
# run_step runs functions in a child bash: export them and what they read
export -f say build_mmcv install_mmcv
export PY WORK SITE WHEELS WHEELHOUSE T0
MMCV_KIND="${MMCV_KIND:-none}"
if [ "$SKIP_BUILD" = 0 ]; then
    if ls "$WHEELHOUSE"/mmcv*.whl >/dev/null 2>&1; then
        MMCV_KIND="$(cat "$WHEELHOUSE/mmcv_kind.txt" 2>/dev/null || echo unknown) (reused wheel)"
        run_step mmcv_install_reused 60 install_mmcv
        case "$MMCV_KIND" in lite*) stub_ext ;; esac
    else
        ARCH="$("$PY" -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability())' \
            2>/dev/null || echo 9.0)"
        export ARCH
        # each build must leave about 250 s for the tests and the benchmarks
        lim=$(( $(left) - 250 < CUDA_BUILD_BUDGET ? $(left) - 250 : CUDA_BUILD_BUDGET ))
        if [ "$lim" -ge 60 ] && run_step mmcv_build_cuda_ops "$lim" build_mmcv cuda; then
            MMCV_KIND=cuda-ops
        else
            [ "$lim" -ge 60 ] ||
                skip "mmcv CUDA-ops build: limit $lim s (budget $CUDA_BUILD_BUDGET, $(left) s left)"
            lim=$(( $(left) - 250 < CPU_BUILD_BUDGET ? $(left) - 250 : CPU_BUILD_BUDGET ))
            if [ "$lim" -ge 90 ] && run_step mmcv_build_cpu_ops "$lim" build_mmcv cpu; then
                MMCV_KIND=cpu-ops
            else
                [ "$lim" -ge 90 ] ||
                    skip "mmcv CPU-ops build: limit $lim s (budget $CPU_BUILD_BUDGET," \
                        "$(left) s left)"
                run_step mmcv_build_lite 120 build_mmcv lite && MMCV_KIND=lite-stub
            fi
        fi
        if [ "$MMCV_KIND" != none ]; then
            run_step mmcv_install 60 install_mmcv
            [ "$MMCV_KIND" = lite-stub ] && stub_ext
        else
            skip "tests and benchmarks: no mmcv could be built"
            SKIP_TESTS=1; SKIP_BENCH=1
        fi
    fi
    say "mmcv: $MMCV_KIND"
    if [ -n "${CRF_PID:-}" ]; then
        # the background pydensecrf2 build: wait at most 20 s more, else stop it
        for _ in $(seq 20); do kill -0 "$CRF_PID" 2>/dev/null || break; sleep 1; done
        if kill -0 "$CRF_PID" 2>/dev/null; then
            kill -TERM "$CRF_PID" 2>/dev/null  # timeout passes it on to the whole build
            wait "$CRF_PID" 2>/dev/null
            skip "pydensecrf2 build (still running after the mmcv build; CRF unused here)"
        fi
    fi
fi
echo "$MMCV_KIND" > "$WORK/mmcv_kind.txt"

# ------------------------------------------------------------------------- imports
if [ "$STACK_OK" = 1 ]; then
if ! run_step imports 120 "$PY" - "$WORK/env.json" <<'PY'
import importlib
import json
import sys
import torch
import mmcv, mmengine, mmseg
for m in ('mmcv.ops', 'mmseg.models', 'py_sod_metrics', 'dbdseg', 'dbdseg.models'):
    importlib.import_module(m)
print(f'torch {torch.__version__} (CUDA {torch.version.cuda}, '
      f'available {torch.cuda.is_available()}), mmcv {mmcv.__version__}, '
      f'mmengine {mmengine.__version__}, mmseg {mmseg.__version__}')
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
print('GPU:', gpu)
with open(sys.argv[1], 'w') as f:
    json.dump(dict(torch=torch.__version__, cuda=torch.version.cuda, gpu=gpu,
                   mmcv=mmcv.__version__, mmengine=mmengine.__version__,
                   mmseg=mmseg.__version__, python=sys.version.split()[0]), f)
PY
then
    skip "tests and benchmarks: the stack does not import"
    SKIP_TESTS=1
    SKIP_BENCH=1
fi
else
    skip "imports: the install failed"
fi

# --------------------------------------------------------------------------- tests
BENCH_RESERVE=$([ "$TINY" = 1 ] && echo 60 || echo 90)
if [ "$SKIP_TESTS" = 1 ]; then
    skip "pytest -m cuda"
else
    lim=$(( $(left) - BENCH_RESERVE < TEST_BUDGET ? $(left) - BENCH_RESERVE : TEST_BUDGET ))
    if [ "$lim" -lt 20 ]; then
        skip "pytest -m cuda: only $(left) s left"
    else
        # -v lines also go to pytest.log: the report reads them if a cut-off run wrote no JUnit
        run_pytest() {
            set -o pipefail
            "$PY" -m pytest -m cuda tests/cuda -v -rs -p no:cacheprovider \
                --junitxml="$WORK/junit.xml" 2>&1 | tee "$WORK/pytest.log"
        }
        export -f run_pytest
        run_step pytest_cuda "$lim" run_pytest
    fi
fi

# ---------------------------------------------------------------------- benchmarks
BENCH_ARGS=(--device "$DEVICE" --out-dir "$WORK/bench")
[ "$TINY" = 1 ] && BENCH_ARGS+=(--tiny)
if [ "$SKIP_BENCH" = 1 ]; then
    skip "benchmarks"
else
    lim=$(( $(left) - 15 ))
    if [ "$lim" -lt 20 ]; then
        skip "benchmarks: only $(left) s left"
    else
        run_step benchmarks "$lim" "$PY" .dev_scripts/gpu/gpu_check.py bench "${BENCH_ARGS[@]}" \
            --deadline $((DEADLINE - 15))
    fi
fi

# -------------------------------------------------------------------------- report
say "total wall time $(( $(date +%s) - T0 )) s of the ${BUDGET} s budget"
"$PY" .dev_scripts/gpu/gpu_check.py report --work "$WORK" --device "$DEVICE" \
    --out "$OUTDIR/gpu_check.json" --total-s $(( $(date +%s) - T0 )) --budget-s "$BUDGET"
for f in mmcv_cuda.log mmcv_cpu.log; do  # the build logs come back too (tail)
    [ -f "$WORK/$f" ] && tail -c 200000 "$WORK/$f" > "$OUTDIR/$f"
done
[ -f "$WORK/junit.xml" ] && cp "$WORK/junit.xml" "$OUTDIR/pytest_cuda.xml"
exit 0
