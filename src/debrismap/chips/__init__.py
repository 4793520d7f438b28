"""Rasters + labels -> a YOLO chip dataset on disk, split into train/val by area.

Layout (docs/contracts.md): `DIR/images/{train,val}/*.png`, `DIR/labels/{train,val}/*.txt`,
`DIR/dataset.yaml`, plus `DIR/chips.csv` (one row per chip: source, grid position, world
bounds) so every chip can be traced back to the place it shows.

How chips are chosen, and why:
- Train/val split by spatial blocks of `block_size_m`, aligned to multiples of the block
  size in the raster CRS; blocks join val in a seeded hash order until val holds about
  `val_fraction` of the labelled chips (the cut is stored for `--append`). Chips are laid
  out block by block and never cross a block edge, so no pixel is in both splits (a random
  per-chip split would leak overlapping neighbours into val) and no chip is wasted. Same
  CRS, same blocks: rasters of one place from two dates split the same way.
- Inside a block, chips of `size` overlap by about `overlap`, on the raster seen at the
  dataset GSD (`--gsd`), so chips look like the tiles `detect` will feed the model.
- Chips with less than `min_valid` real data are skipped (nodata edges, masks).
- Boxes cut by a chip edge are clipped; one keeping less than `min_visible` of its area is
  dropped from that chip. A chip holding only such dropped fragments is not kept as an
  "empty" chip either: it would teach the model that part of a pile is background.
- Empty chips (no label) are kept up to `empty_fraction` of each raster's chips per split,
  chosen by `seed`.
Everything is written to a staging folder and moved into place at the end; dataset.yaml
is written last, so a folder with a dataset.yaml is a complete dataset.

Modules: options (ChipOptions and its checks), sources (opening raster/label pairs, GSD
checks), grid (the block-aligned chip grid, pure), split (the hash-based block split, pure),
sampling (empty-chip choice), plan (which chips, split and boxes), writer (threaded PNG +
label writing), dataset_yaml (dataset.yaml and chips.csv), staging (staging, commit,
append), build (`build_chips`).
"""

from debrismap.chips.build import build_chips
from debrismap.chips.dataset_yaml import INDEX_FIELDS
from debrismap.chips.grid import DEFAULT_BLOCK_M, GridChip, block_aligned_chips
from debrismap.chips.options import ChipOptions
from debrismap.chips.records import SPLITS, ChipDatasetSummary, ChipRecord
from debrismap.chips.sources import GSD_TOLERANCE

__all__ = [
    "DEFAULT_BLOCK_M",
    "GSD_TOLERANCE",
    "INDEX_FIELDS",
    "SPLITS",
    "ChipDatasetSummary",
    "ChipOptions",
    "ChipRecord",
    "GridChip",
    "block_aligned_chips",
    "build_chips",
]
