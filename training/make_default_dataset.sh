#!/usr/bin/env bash
# Build the default training set (datasets/card: datasets/synthetic.md, "Transfer recipe"):
# piles from every renderer of debrismap.synth.renderers composited onto the real *pre-event*
# scenes of ../shared/realdata (matched to each scene's GSD, sun, blur and noise, next to its
# buildings and roads), synthetic cities without piles as further backgrounds, and a measured
# share of real chips with nothing added. About 1500 chips of 160 px at 0.5 m.
#   training/make_default_dataset.sh [OUT_DIR] [extra build_transfer_dataset.py flags]
#       e.g. training/make_default_dataset.sh runs/loro_scatter --holdout scatter
#   training/make_default_dataset.sh --old [OUT_DIR]
#       the previous recipe (one renderer: 36 synthetic cities + composites; the bundled model's
#       training set, models/MODEL_CARD.md), kept for the ablation in BENCHMARKS.md.
#   MINE_WITH=MODEL.onnx | none   (default: the bundled fp32 model)
#       the model whose false alarms on the pile-free backgrounds centre half of the empty chips
#       (hard-negative mining, synth/hard_negatives.py); "none" builds without mining.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--old" ]]; then
    OUT=${2:-datasets/default}
    exec uv run python training/build_default_dataset.py --out "$OUT" --cities 36 --city-size 1280 \
        --composites-per-scene 3 --workers "${WORKERS:-2}"
fi
OUT=${1:-datasets/default}
shift || true
MINE=${MINE_WITH-models/debrismap-default.onnx}
mine=()
if [[ "$MINE" != none && -n "$MINE" ]]; then
    [[ -f "$MINE" ]] || { echo "make_default_dataset.sh: $MINE: no such model (MINE_WITH=none builds without mining)" >&2; exit 2; }
    mine=(--mine-with "$MINE")
fi
exec uv run python training/build_transfer_dataset.py --out "$OUT" --workers "${WORKERS:-2}" "${mine[@]}" "$@"
