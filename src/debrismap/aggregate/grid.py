"""Per-cell pile counts on a square grid in metres, aligned so grids of different runs line up.

Cell corners sit at integer multiples of the cell size in the metric CRS, so the cell
"E1234N5678" is the same ground in every run gridded in that CRS. Each cell carries the
fraction of it covered by analysed imagery: partly covered cells are normalised by their
valid area (and flagged), cells with no valid imagery are left out — unknown is not zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import CRS

# A cell is "partial" below this valid fraction; the slack absorbs polygon round-off.
FULL_COVER = 1.0 - 1e-6
# Below this valid fraction (0.01 m² of a 100 m cell) an overlap is reprojection round-off,
# not imagery: such cells are dropped unless a pile sits in them.
MIN_VALID_FRACTION = 1e-6


@dataclass
class CountGrid:
    """The cells that hold any valid imagery, with their counts (columns are parallel arrays)."""

    crs: CRS
    cell: float  # metres
    ix: np.ndarray  # int64: cell's left edge = ix * cell
    iy: np.ndarray  # int64: cell's bottom edge = iy * cell
    count: np.ndarray  # int64
    valid_fraction: np.ndarray  # float64 in (0, 1]

    def __len__(self) -> int:
        return len(self.ix)

    @property
    def cell_id(self) -> np.ndarray:
        return np.array([f"E{x}N{y}" for x, y in zip(self.ix, self.iy)], dtype=object)

    @property
    def centre_x(self) -> np.ndarray:
        return (self.ix + 0.5) * self.cell

    @property
    def centre_y(self) -> np.ndarray:
        return (self.iy + 0.5) * self.cell

    @property
    def partial(self) -> np.ndarray:
        return self.valid_fraction < FULL_COVER

    @property
    def valid_area_km2(self) -> np.ndarray:
        return self.valid_fraction * self.cell**2 / 1e6

    @property
    def piles_per_km2(self) -> np.ndarray:
        return self.count / self.valid_area_km2

    def count_points(self, xy: np.ndarray) -> np.ndarray:
        """How many of `xy` fall in each of this grid's cells (points outside it are ignored)."""
        counts = np.zeros(len(self.ix), dtype=np.int64)
        pix, piy = cell_index(xy, self.cell)
        if len(pix) == 0 or len(self.ix) == 0:
            return counts
        key_cells = _keys(self.ix, self.iy)
        order = np.argsort(key_cells)
        keys = _keys(pix, piy)
        pos = np.clip(np.searchsorted(key_cells, keys, sorter=order), 0, len(order) - 1)
        hit = key_cells[order[pos]] == keys
        np.add.at(counts, order[pos[hit]], 1)
        return counts

    def polygons(self) -> np.ndarray:
        x0, y0 = self.ix * self.cell, self.iy * self.cell
        return shapely.box(x0, y0, x0 + self.cell, y0 + self.cell)

    def columns(self) -> dict[str, np.ndarray]:
        """The attribute table shared by counts.gpkg and counts.csv."""
        return {
            "cell_id": self.cell_id,
            "centre_x": self.centre_x,
            "centre_y": self.centre_y,
            "count": self.count.astype(np.int64),
            "valid_fraction": np.round(self.valid_fraction, 6),
            "valid_area_km2": self.valid_area_km2,
            "piles_per_km2": self.piles_per_km2,
            "partial": self.partial.astype(np.int32),
        }


def cell_index(xy: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray]:
    """Integer (ix, iy) of the aligned cell holding each point."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    return np.floor(xy[:, 0] / cell).astype(np.int64), np.floor(xy[:, 1] / cell).astype(np.int64)


def covered_cells(
    coverage: shapely.Geometry, cell: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ix, iy, valid_fraction) of every aligned cell that overlaps `coverage` with positive area."""
    if cell <= 0:
        raise ValueError("cell size must be positive")
    minx, miny, maxx, maxy = coverage.bounds
    ix0, iy0 = int(np.floor(minx / cell)), int(np.floor(miny / cell))
    ix1, iy1 = int(np.ceil(maxx / cell)), int(np.ceil(maxy / cell))
    gx, gy = np.meshgrid(np.arange(ix0, max(ix1, ix0 + 1)), np.arange(iy0, max(iy1, iy0 + 1)))
    ix, iy = gx.ravel(), gy.ravel()
    boxes = shapely.box(ix * cell, iy * cell, (ix + 1) * cell, (iy + 1) * cell)
    shapely.prepare(coverage)
    fraction = np.zeros(len(boxes))
    inside = shapely.contains_properly(coverage, boxes)
    fraction[inside] = 1.0
    edge = ~inside & shapely.intersects(coverage, boxes)
    # Intersect row by row with the coverage clipped to that row: a city-wide coverage traced
    # from a pixel mask has many thousands of vertices, and each cell needs only a few.
    for row in np.unique(iy[edge]):
        in_row = np.flatnonzero(edge & (iy == row))
        strip = shapely.clip_by_rect(coverage, minx - cell, row * cell, maxx + cell, (row + 1) * cell)
        overlap = shapely.area(shapely.intersection(boxes[in_row], strip))
        fraction[in_row] = np.minimum(overlap / cell**2, 1.0)
    keep = fraction >= MIN_VALID_FRACTION
    return ix[keep], iy[keep], fraction[keep]


def count_grid(
    centres: np.ndarray, coverage: shapely.Geometry, cell: float, crs: CRS
) -> CountGrid:
    """Count piles (by centre, already restricted to `coverage`) per aligned cell.

    `centres` and `coverage` are in the metric `crs`. Every centre falls in a kept cell,
    so the counts add up to len(centres).
    """
    ix, iy, fraction = covered_cells(coverage, cell)
    pix, piy = cell_index(centres, cell)
    # A centre on the coverage boundary can sit in a cell whose overlap has zero area:
    # keep such cells (with a token fraction) so no pile inside coverage is dropped.
    missing = ~np.isin(_keys(pix, piy), _keys(ix, iy))
    if missing.any():
        extra = np.unique(np.column_stack([pix[missing], piy[missing]]), axis=0)
        ix = np.concatenate([ix, extra[:, 0]])
        iy = np.concatenate([iy, extra[:, 1]])
        fraction = np.concatenate([fraction, np.full(len(extra), MIN_VALID_FRACTION)])
    grid = CountGrid(crs, cell, ix, iy, np.zeros(len(ix), dtype=np.int64), fraction)
    grid.count = grid.count_points(centres)
    return grid


def _keys(ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    # One int64 per cell; 2**31 cells per axis is far beyond any city at >= 1 m cells.
    return (ix.astype(np.int64) << 32) + (iy.astype(np.int64) & 0xFFFFFFFF)
