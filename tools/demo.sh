#!/usr/bin/env bash
# The dbdseg main job, end to end on CPU (about 15 minutes on 2 cores):
#   1. install the pinned stack (tools/install.sh; seconds when already installed),
#   2. render a synthetic-defocus set from PHOTO_DIR, or from the real photos bundled with scikit-image,
#      scikit-learn and matplotlib; validation scenes are held out (never seen in training),
#   3. train the real-time DBD model (Zhang & Yan, GradientUNet, half width) on it from random weights
#      (DEMO_CONFIG picks another model, e.g. the ImageNet-pretrained EfficientNet-Lite0 one;
#      configs/demo/README.md compares them and says why the default stays),
#   4. test it on the held-out scenes, and compare with a constant "all in-focus" map, a
#      gradient-energy and an LBP sharpness map on the same images (projects/classical_dbd).
# Leaves work_dirs/demo/{config.py, checkpoint.pth, metrics.json, curves.png, preds/, baselines.json}
# (and real_photos.json with DEMO_REAL_DBD).
#
#   bash tools/demo.sh [PHOTO_DIR]
# Environment knobs: DEMO_REAL_DBD (a folder of real defocus photos with masks, DUT layout
# images/*.jpg + masks/*.bmp: also test the model and the baselines there), DEMO_ITERS (training
# iterations), DEMO_PER_SCENE (renders per scene), DEMO_WORK_DIR (default work_dirs/demo),
# DEMO_CONFIG (default: the config below; the pretrained model is
# configs/demo/gradunet-lite_effnet-lite0_1xb8-cpu_synthetic-defocus-192x192.py).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
bash "$DBDSEG_ROOT/tools/install.sh"
cd "$DBDSEG_ROOT"
PY="$DBDSEG_PY"
WORK="${DEMO_WORK_DIR:-work_dirs/demo}"
DATA="$WORK/data"
CONFIG="${DEMO_CONFIG:-configs/demo/realtime-dbd_gradunet-demo_1xb8-cpu_synthetic-defocus-192x192.py}"
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

echo "[demo] 2/4 training $(basename "$CONFIG" .py) on CPU (log: $WORK/*/*.log)"
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
# Each baseline runs through tools/test.py like any model (CHECKPOINT none; log: <dir>.log).
baselines() {  # OUT_DIR TABLE MODEL_METRICS [cfg-options selecting the test set...]
    local out=$1 table=$2 model_metrics=$3 name dir
    shift 3
    local rows=("trained model=$model_metrics")
    for spec in "all-in-focus" "gradient-energy model.uint8_grey=True" "lbp-sharpness"; do
        # all-in-focus: a constant map of 1; gradient-energy: 8-bit grey, as
        # dbdseg.utils.gradient_energy_map computes it; lbp-sharpness: Yi & Eramian 2016, Eq. (15)
        read -r name extra <<< "$spec"
        dir="$out/${name//-/_}"
        "$PY" tools/test.py "projects/classical_dbd/configs/${name}_synthetic-defocus.py" none \
            --work-dir "$dir" --metrics-out "$dir/metrics.json" --cfg-options "$@" $extra \
            > "$dir.log" 2>&1 || { echo "[demo] error: the $name baseline failed, see $dir.log" >&2; exit 1; }
        rows+=("$name=$dir/metrics.json")
    done
    "$PY" tools/analysis_tools/metrics_table.py "${rows[@]}" --out "$table"
}
baselines "$WORK" "$WORK/baselines.json" "$WORK/metrics.json" test_dataloader.dataset.data_root="$DATA"

if [ -n "${DEMO_REAL_DBD:-}" ]; then
    # Real defocus photos with in-focus masks in the DUT layout (images/*.jpg, masks/*.bmp, white =
    # in-focus), e.g. the DUT-DBD test set: the trained model and the baselines on them.
    [ -d "$DEMO_REAL_DBD/images" ] && [ -d "$DEMO_REAL_DBD/masks" ] || {
        echo "[demo] error: DEMO_REAL_DBD='$DEMO_REAL_DBD' needs images/ and masks/ folders" >&2; exit 1; }
    echo "[demo] real photos: the trained model and the baselines on $DEMO_REAL_DBD"
    real=(test_dataloader.dataset.type=DUTDBDDataset test_dataloader.dataset.data_root="$DEMO_REAL_DBD"
          test_dataloader.dataset.data_prefix.img_path=images
          test_dataloader.dataset.data_prefix.seg_map_path=masks test_dataloader.dataset.ann_file=)
    mkdir -p "$WORK/real_photos"
    "$PY" tools/test.py "$WORK/config.py" "$WORK/checkpoint.pth" --work-dir "$WORK/real_photos/model" \
        --metrics-out "$WORK/real_photos/model/metrics.json" --cfg-options "${real[@]}" \
        > "$WORK/real_photos/model.log" 2>&1 \
        || { echo "[demo] error: testing on $DEMO_REAL_DBD failed, see $WORK/real_photos/model.log" >&2; exit 1; }
    baselines "$WORK/real_photos" "$WORK/real_photos.json" "$WORK/real_photos/model/metrics.json" \
        "${real[@]}"
fi
echo "[demo] done in $(( $(date +%s) - start )) s; outputs in $WORK/"
ls "$WORK"
