#!/usr/bin/env bash
# Train the default model on one GPU (bf16 mixed precision is picked automatically).
#   training/train_single_gpu.sh [DATASET_DIR] [RUN_DIR] [extra `debrismap train` flags...]
# Resume an interrupted run:  training/train_single_gpu.sh DATA RUN --resume RUN/last.ckpt
set -euo pipefail
DATA=${1:-datasets/default}
OUT=${2:-runs/default-n256}
shift $(( $# > 2 ? 2 : $# ))
export CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0}
debrismap train --config training/default.yaml --data "$DATA" --out "$OUT" --devices 1 "$@"
debrismap export "$OUT/best.ckpt" --out "$OUT/debrismap-n256.onnx"
