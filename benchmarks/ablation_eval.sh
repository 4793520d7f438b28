#!/usr/bin/env bash
# Export every checkpoint of some training runs (their steps/*.ckpt and last.ckpt) and score
# them all on the same leave-one-renderer-out scenes: accuracy against training steps, data
# size or network, in one bench_loro result.
#   benchmarks/ablation_eval.sh TAG RUN_DIR [RUN_DIR ...]     (HOLDOUT=scatter)
# e.g. benchmarks/ablation_eval.sh steps runs/abl4k/arm_old runs/abl4k/arm_new
# Labels are RUNNAME-STEP (e.g. arm_new-2000); the result is results/bench_loro_HOLDOUT_TAG.json.
set -euo pipefail
cd "$(dirname "$0")/.."
HOLDOUT=${HOLDOUT:-scatter}
TAG=$1
shift
args=()
for run in "$@"; do
    name=$(basename "$run")
    for ckpt in "$run"/steps/step*.ckpt "$run"/last.ckpt; do
        [[ -f "$ckpt" ]] || continue
        if [[ "$ckpt" == */last.ckpt ]]; then step=last; else step=$(basename "$ckpt" .ckpt); step=$((10#${step#step})); fi
        onnx="$run/model_$step.onnx"
        [[ -f "$onnx" ]] || uv run debrismap export "$ckpt" --out "$onnx" --imgsz 256 --score-threshold 0.1 > /dev/null
        args+=(--model "$onnx" --label "$name-$step")
    done
done
uv run python benchmarks/bench_loro.py --holdout "$HOLDOUT" --tag "$TAG" "${args[@]}"
