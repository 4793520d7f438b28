"""The tile grid: overlapping read windows whose cores partition the raster exactly.

A tile of size T with overlap O (stride S = T - O) has a core: the tile minus O//2 on
its leading side and O - O//2 on its trailing side wherever it touches another tile;
the raster's outer edges belong to the edge tiles' cores. The last tile along an axis is
shifted back so its window ends at the raster edge, and its core starts where the previous
core ended. A raster smaller than one tile gets one tile whose window reaches beyond the
raster (reads pad it) and whose core is the whole raster. So every pixel lies in exactly
one core, and a detection kept only by the tile whose core holds its centre is never
duplicated at a seam.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from rasterio.windows import Window


@dataclass(frozen=True)
class Tile:
    """One tile: its grid position, its read window and its core (both in pixels)."""

    row: int
    col: int
    window: Window
    core: Window

    @property
    def core_bounds(self) -> tuple[int, int, int, int]:
        """Core as (x0, y0, x1, y1), half-open, in raster pixel coordinates."""
        c = self.core
        return (int(c.col_off), int(c.row_off), int(c.col_off + c.width), int(c.row_off + c.height))


@dataclass(frozen=True)
class _Axis:
    """Tile starts and core boundaries along one axis."""

    starts: NDArray[np.int64]  # window start of each tile
    core_starts: NDArray[np.int64]  # core [core_starts[i], core_ends[i]) of each tile
    core_ends: NDArray[np.int64]


def _axis(size: int, tile: int, overlap: int) -> _Axis:
    if size <= tile:
        return _Axis(np.array([0]), np.array([0]), np.array([size]))
    stride = tile - overlap
    n = -(-(size - tile) // stride) + 1  # ceil((size - tile) / stride) + 1
    starts = np.arange(n, dtype=np.int64) * stride
    starts[-1] = size - tile  # shift the last tile back inside the raster
    # Leading trim overlap // 2, trailing trim overlap - overlap // 2 (odd overlaps split
    # by integers). The boundary between tile i and i+1 is tile i's window end minus its
    # trailing trim; for regular neighbours that equals tile i+1's start plus its leading
    # trim, and for the shifted last tile it is simply where its core starts.
    trail = overlap - overlap // 2
    boundaries = starts[:-1] + tile - trail
    core_starts = np.concatenate([[0], boundaries])
    core_ends = np.concatenate([boundaries, [size]])
    return _Axis(starts, core_starts, core_ends)


class TileGrid:
    """Tiles of `tile` x `tile` pixels overlapping by `overlap` over a width x height raster."""

    def __init__(self, width: int, height: int, tile: int, overlap: int = 0):
        width, height, tile, overlap = int(width), int(height), int(tile), int(overlap)
        if width < 1 or height < 1:
            raise ValueError(f"raster size must be positive, got {width} x {height}")
        if tile < 1:
            raise ValueError(f"tile size must be positive, got {tile}")
        if not 0 <= overlap < tile:
            raise ValueError(f"overlap must be >= 0 and < tile size {tile}, got {overlap}")
        self.width, self.height, self.tile, self.overlap = width, height, tile, overlap
        self._x = _axis(width, tile, overlap)
        self._y = _axis(height, tile, overlap)

    @property
    def n_cols(self) -> int:
        return len(self._x.starts)

    @property
    def n_rows(self) -> int:
        return len(self._y.starts)

    def __len__(self) -> int:
        return self.n_rows * self.n_cols

    def __iter__(self) -> Iterator[Tile]:
        for row in range(self.n_rows):
            for col in range(self.n_cols):
                yield self.tile_at(row, col)

    def __repr__(self) -> str:
        return (
            f"TileGrid(width={self.width}, height={self.height}, tile={self.tile}, "
            f"overlap={self.overlap}) [{self.n_rows} x {self.n_cols} tiles]"
        )

    def tile_at(self, row: int, col: int) -> Tile:
        if not (0 <= row < self.n_rows and 0 <= col < self.n_cols):
            raise IndexError(f"tile ({row}, {col}) outside a {self.n_rows} x {self.n_cols} grid")
        x, y = self._x, self._y
        window = Window(int(x.starts[col]), int(y.starts[row]), self.tile, self.tile)
        core = Window(
            int(x.core_starts[col]),
            int(y.core_starts[row]),
            int(x.core_ends[col] - x.core_starts[col]),
            int(y.core_ends[row] - y.core_starts[row]),
        )
        return Tile(row, col, window, core)

    def core_owner(self, x: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """(row, col) of the tile whose core holds each pixel-space point (vectorised).

        Cores are half-open, so a point on a core boundary belongs to the later tile.
        Points outside the raster are given to the nearest edge tile.
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        col = np.searchsorted(self._x.core_starts, x, side="right") - 1
        row = np.searchsorted(self._y.core_starts, y, side="right") - 1
        return np.clip(row, 0, self.n_rows - 1), np.clip(col, 0, self.n_cols - 1)
