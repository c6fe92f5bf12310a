#!/usr/bin/env bash
# The dbdseg main job, end to end on CPU (about 15 minutes on 2 cores):
#   1. install the pinned stack (tools/install.sh; seconds when already installed),
#   2. render a synthetic-defocus set from PHOTO_DIR, or from the real photos bundled with scikit-image,
#      scikit-learn and matplotlib; validation scenes are held out (never seen in training),
#   3. train the real-time DBD model (Zhang & Yan, GradientUNet + FCNHead) on it,
#   4. test it on the held-out scenes, and compare with a constant "all in-focus" map, a
#      gradient-energy and an LBP sharpness map on the same images (projects/classical_dbd).
# Leaves work_dirs/demo/{config.py, checkpoint.pth, metrics.json, curves.png, preds/}.
#
#   bash tools/demo.sh [PHOTO_DIR]
# Environment knobs: DEMO_ITERS (training iterations), DEMO_PER_SCENE (renders per scene),
# DEMO_WORK_DIR (default work_dirs/demo).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
bash "$DBDSEG_ROOT/tools/install.sh"
cd "$DBDSEG_ROOT"
PY="$DBDSEG_PY"
WORK="${DEMO_WORK_DIR:-work_dirs/demo}"
DATA="$WORK/data"
CONFIG=configs/demo/realtime-dbd_gradunet-demo_1xb8-cpu_synthetic-defocus-192x192.py
ITERS="${DEMO_ITERS:-}"
PER_SCENE="${DEMO_PER_SCENE:-200}"
mkdir -p "$WORK"
start=$(date +%s)

src_args=()
if [ $# -ge 1 ]; then
    [ -d "$1" ] || { echo "[demo] error: PHOTO_DIR '$1' is not a folder" >&2; exit 1; }
    src_args=(--src "$1")
    echo "[demo] 1/4 rendering synthetic defocus from your photos in $1"
else
    echo "[demo] 1/4 rendering synthetic defocus from the bundled photos"
fi
"$PY" tools/dataset_converters/synthesize_defocus.py --out "$DATA" "${src_args[@]}" \
    --per-scene "$PER_SCENE" --size 192 192 --seed 0 --val-scenes 2 --workers "$(nproc)" --overwrite

echo "[demo] 2/4 training the real-time DBD model on CPU (log: $WORK/*/*.log)"
train_opts=(data_root="$DATA")
[ -n "$ITERS" ] && train_opts+=(train_cfg.max_iters="$ITERS")
# Start from scratch each time: a previous demo's checkpoints must not be resumed silently.
rm -f "$WORK"/iter_*.pth "$WORK"/best_*.pth "$WORK/last_checkpoint"
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK" --cfg-options "${train_opts[@]}" \
    train_dataloader.dataset.data_root="$DATA" val_dataloader.dataset.data_root="$DATA" \
    test_dataloader.dataset.data_root="$DATA"
cp "$WORK/$(basename "$CONFIG")" "$WORK/config.py"
last="$(cat "$WORK/last_checkpoint")"
cp "$last" "$WORK/checkpoint.pth"

echo "[demo] 3/4 testing on the held-out scenes"
rm -rf "$WORK/preds" "$WORK/test/curves"
# The test run logs (and dumps its own config) under $WORK/test, so $WORK/config.py stays the training
# config. tools/test.py refuses output folders that hold a dataset folder ($WORK holds data/), so the
# curves are written under $WORK/test/curves and copied next to the checkpoint.
"$PY" tools/test.py "$WORK/config.py" "$WORK/checkpoint.pth" --work-dir "$WORK/test" \
    --curve-dir "$WORK/test/curves" --out "$WORK/preds" --metrics-out "$WORK/metrics.json"
cp "$WORK/test/curves/curves.json" "$WORK/test/curves/curves.png" "$WORK/"

echo "[demo] 4/4 baselines on the same images (the hand-crafted detectors of projects/classical_dbd)"
# Each baseline runs through tools/test.py like any model (CHECKPOINT none; log: $WORK/<name>.log).
rows=("trained model=$WORK/metrics.json")
baseline() {  # NAME [cfg-options...]: projects/classical_dbd/configs/NAME_synthetic-defocus.py
    local name=$1 dir="$WORK/${1//-/_}"
    shift
    "$PY" tools/test.py "projects/classical_dbd/configs/${name}_synthetic-defocus.py" none \
        --work-dir "$dir" --metrics-out "$dir/metrics.json" \
        --cfg-options test_dataloader.dataset.data_root="$DATA" "$@" > "$dir.log" 2>&1 \
        || { echo "[demo] error: the $name baseline failed, see $dir.log" >&2; exit 1; }
    rows+=("$name=$dir/metrics.json")
}
baseline all-in-focus  # a constant map of 1: every pixel predicted in focus
# 8-bit grey, as dbdseg.utils.gradient_energy_map computes it on the loaded uint8 image
baseline gradient-energy model.uint8_grey=True
baseline lbp-sharpness  # Yi & Eramian 2016, Eq. (15)
"$PY" tools/analysis_tools/metrics_table.py "${rows[@]}" --out "$WORK/baselines.json"
echo "[demo] done in $(( $(date +%s) - start )) s; outputs in $WORK/"
ls "$WORK"
