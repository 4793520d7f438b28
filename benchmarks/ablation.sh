#!/usr/bin/env bash
# Fixed-compute data ablation (BENCHMARKS.md, "Training data that transfers"): the old recipe
# against the transfer recipe, the same network (training/default_cpu.yaml: yolov8n-p2, ReLU),
# the same warm start (the bundled fp32 model), the same steps, batch, crop and learning rate;
# every SAVE_EVERY-step checkpoint of both arms scored by bench_loro on a renderer neither
# recipe trained on (accuracy against training steps, too).
#   benchmarks/ablation.sh        (STEPS=4000 SAVE_EVERY=1000 HOLDOUT=scatter OUT=runs/abl4k SEED=0)
# The new arm's data are the default recipe's (with hard-negative mining since round 3;
# MINE_WITH=none training/make_default_dataset.sh rebuilds round 2's). SEED=1 repeats the
# runs with another training seed: how much of a difference between arms is noise.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-4000}
SAVE_EVERY=${SAVE_EVERY:-1000}
HOLDOUT=${HOLDOUT:-scatter}
OUT=${OUT:-runs/abl4k}
mkdir -p "$OUT"
[[ -f "$OUT/data_old/dataset.yaml" ]] || training/make_default_dataset.sh --old "$OUT/data_old"
[[ -f "$OUT/data_new/dataset.yaml" ]] || training/make_default_dataset.sh "$OUT/data_new" --holdout "$HOLDOUT"
# Both arms at once, one thread each, so that they share the machine alike; CPU time per arm
# is in ARM.log (/usr/bin/time -v).
for arm in old new; do
    OMP_NUM_THREADS=1 nice -n 19 /usr/bin/time -v uv run python benchmarks/ablation_train.py \
        --data "$OUT/data_$arm" --out "$OUT/arm_$arm" --steps "$STEPS" --save-every "$SAVE_EVERY" \
        --seed "${SEED:-0}" --init models/debrismap-default.onnx > "$OUT/arm_$arm.log" 2>&1 &
done
wait
HOLDOUT=$HOLDOUT benchmarks/ablation_eval.sh ablation "$OUT/arm_old" "$OUT/arm_new"
