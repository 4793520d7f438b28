#!/usr/bin/env bash
# Train on every GPU of one machine with Lightning DDP (Lightning launches the processes
# itself: no torchrun). --batch is per GPU, so the global batch is NGPUS x batch; scale --lr
# with it if you change the GPU count a lot (linear rule), e.g. --lr 0.004 for 2x the batch.
#   NGPUS=4 training/train_multi_gpu.sh [DATASET_DIR] [RUN_DIR] [extra flags...]
set -euo pipefail
DATA=${1:-datasets/default}
OUT=${2:-runs/default-n256-ddp}
shift $(( $# > 2 ? 2 : $# ))
NGPUS=${NGPUS:-$(nvidia-smi -L | wc -l)}
debrismap train --config training/default.yaml --data "$DATA" --out "$OUT" \
    --devices "$NGPUS" --strategy ddp --sync-bn "$@"
debrismap export "$OUT/best.ckpt" --out "$OUT/debrismap-n256.onnx"
