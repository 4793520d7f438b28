#!/usr/bin/env bash
# Recipe for the default model's training set: synthetic cities of several seeds, plus piles
# composited onto real *pre-event* / undamaged imagery, all cut into one 256 px chip dataset at
# 0.5 m GSD (the default model's resolution).
#
#   training/make_default_dataset.sh [OUT_DIR] [REALDATA_DIR]
#
# OUT_DIR defaults to datasets/default, REALDATA_DIR to ../shared/realdata (or $DEBRISMAP_REALDATA).
# Post-event scenes are deliberately NOT used as backgrounds: their real, unlabelled rubble
# would teach the model that debris is background.
set -euo pipefail

OUT=${1:-datasets/default}
REAL=${2:-${DEBRISMAP_REALDATA:-../shared/realdata}}
WORK=${WORK:-$(dirname "$OUT")/.default-build}
SEEDS=${SEEDS:-"1 2 3 4 5 6 7 8"}   # one synthetic city per seed
CITY_SIZE=${CITY_SIZE:-2048}        # pixels per side (1 km at 0.5 m)
GSD=0.5
CHIP=256
DM=${DM:-debrismap}

mkdir -p "$WORK"
first=1
add_chips() {  # add_chips RASTER LABELS: first call creates the dataset, later ones append
  if [ $first = 1 ]; then mode=--overwrite; first=0; else mode=--append; fi
  $DM chips "$1" "$2" --out "$OUT" --size $CHIP --gsd $GSD --seed 0 $mode --quiet
}

# 1. synthetic cities: varied seeds, densities, 8-bit and 12-bit, RGB and RGB+NIR
i=0
for seed in $SEEDS; do
  density=$(( (i % 4) + 1 ))          # 1..4: lightly to heavily ransacked
  bits=$([ $((i % 3)) = 2 ] && echo 12 || echo 8)
  bands=$([ $((i % 2)) = 1 ] && echo 4 || echo 3)
  city="$WORK/city_s${seed}.tif"
  $DM synth --size "$CITY_SIZE" --gsd $GSD --seed "$seed" --pile-density $density \
      --bit-depth $bits --bands $bands --out "$city" --quiet
  add_chips "$city" "${city%.tif}.labels.geojson"
  i=$((i + 1))
done

# 2. piles composited onto real, undamaged imagery (if the realdata folder is present)
composite() {  # composite SRC NAME LABEL_EXT [extra synth flags]
  # LABEL_EXT: labels.geojson for georeferenced backgrounds, labels.txt (pixel boxes) otherwise
  local src=$1 name=$2 ext=$3; shift 3
  [ -f "$src" ] || { echo "skip (not found): $src" >&2; return 0; }
  local out="$WORK/bg_${name}.tif"
  $DM synth --background "$src" --seed 11 --out "$out" --quiet "$@"
  add_chips "$out" "${out%.tif}.$ext"
}
if [ -d "$REAL" ]; then
  for f in "$REAL"/xview2deploy_joplin/pre_tile_*.tif; do         # Joplin before the tornado, ~0.6 m
    composite "$f" "joplin_$(basename "${f%.tif}")" labels.geojson
  done
  for f in "$REAL"/planet_turkey_eq2023/*_pre.jpg; do             # Türkiye before the earthquake, 0.5 m, no georef
    composite "$f" "turkey_$(basename "${f%.jpg}" | cut -c1-40)" labels.txt --background-gsd 0.5
  done
  composite "$REAL/deepforest/test_tiled.tif" "dutch_urban" labels.geojson  # Dutch orthophoto, 0.25 m -> 0.5 m
else
  echo "no realdata folder at $REAL: synthetic cities only" >&2
fi

echo "dataset: $OUT"
cat "$OUT/dataset.yaml"
