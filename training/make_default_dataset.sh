#!/usr/bin/env bash
# Build the training set of the bundled default model (see models/MODEL_CARD.md):
# 36 synthetic cities + piles composited onto real *pre-event* scenes, chipped at 0.5 m.
#   training/make_default_dataset.sh [OUT_DIR]        (default datasets/default)
# The recipe itself, with the list of real backgrounds used and held out for evaluation, is
# training/build_default_dataset.py; this wrapper only fixes the arguments the model used.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-datasets/default}
exec uv run python training/build_default_dataset.py --out "$OUT" --cities 36 --city-size 1280 \
    --composites-per-scene 3 --workers "${WORKERS:-2}"
