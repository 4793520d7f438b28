"""The analysed area: a coarse valid-pixel count grid filled tile core by tile core, then vectorised.

Each tile reports, for its core only, how many valid pixels fall in each coarse cell of a
raster-wide grid (cells of CELL x CELL view pixels). Cores partition the raster, so the
counts add up exactly, whatever order (or run, after a resume) the tiles came in.
"""

from __future__ import annotations

import numpy as np
import shapely
from affine import Affine
from rasterio.features import shapes

from debrismap.raster import pixel_to_world

CELL = 16  # view pixels per coarse cell side: 8 m at 0.5 m GSD, fine enough for per-cell valid fractions


def core_cell_counts(valid: np.ndarray, window_off: tuple[int, int], core: tuple[int, int, int, int]):
    """Valid-pixel counts of the coarse cells touched by one tile core.

    valid: the tile's (H, W) mask; window_off: (col_off, row_off) of the tile window;
    core: (x0, y0, x1, y1) in view pixels. Returns (iy0, ix0, counts (ny, nx) int32).
    """
    x0, y0, x1, y1 = core
    wx, wy = window_off
    sub = valid[y0 - wy : y1 - wy, x0 - wx : x1 - wx]
    ix0, iy0 = x0 // CELL, y0 // CELL
    ix1, iy1 = (x1 - 1) // CELL + 1, (y1 - 1) // CELL + 1
    bx = np.maximum(np.arange(ix0, ix1) * CELL, x0) - x0
    by = np.maximum(np.arange(iy0, iy1) * CELL, y0) - y0
    if sub.all():  # the usual tile: each cell's count is its clipped area, no pass over pixels
        widths = np.diff(np.append(bx, x1 - x0))
        heights = np.diff(np.append(by, y1 - y0))
        return iy0, ix0, np.outer(heights, widths).astype(np.int32)
    counts = np.add.reduceat(np.add.reduceat(sub.astype(np.int32), by, axis=0), bx, axis=1)
    return iy0, ix0, counts.astype(np.int32)


class CoverageGrid:
    """Raster-wide coarse counts for one raster (view pixels)."""

    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.counts = np.zeros((-(-height // CELL), -(-width // CELL)), np.int32)

    def add(self, iy0: int, ix0: int, counts: np.ndarray) -> None:
        ny, nx = counts.shape
        self.counts[iy0 : iy0 + ny, ix0 : ix0 + nx] += counts

    def mask(self) -> np.ndarray:
        """Cells more than half valid (edge cells measured against their true, clipped area)."""
        ny, nx = self.counts.shape
        cw = np.minimum(CELL, self.width - np.arange(nx) * CELL)
        ch = np.minimum(CELL, self.height - np.arange(ny) * CELL)
        return self.counts * 2 > ch[:, None] * cw[None, :]

    def polygon(self, transform):
        """The valid area as one shapely (Multi)Polygon in the view transform's coordinates, or None."""

        mask = self.mask()
        if not mask.any():
            return None
        coarse = transform @ Affine.scale(CELL)
        parts = [
            shapely.geometry.shape(geom)
            for geom, value in shapes(mask.astype(np.uint8), mask=mask, transform=coarse, connectivity=4)
            if value
        ]

        xs, ys = pixel_to_world(transform, [0, self.width, self.width, 0], [0, 0, self.height, self.height])
        footprint = shapely.Polygon(np.column_stack([xs, ys]))
        return shapely.intersection(shapely.union_all(parts), footprint)
