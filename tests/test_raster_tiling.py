"""TileGrid: cores partition the raster exactly; windows, shifts, padding and core_owner."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from debrismap.raster import Tile, TileGrid


def coverage_count(grid: TileGrid) -> np.ndarray:
    """How many cores hold each pixel."""
    count = np.zeros((grid.height, grid.width), dtype=np.int32)
    for tile in grid:
        x0, y0, x1, y1 = tile.core_bounds
        count[y0:y1, x0:x1] += 1
    return count


def check_grid(grid: TileGrid) -> None:
    tiles = list(grid)
    assert len(tiles) == len(grid) == grid.n_rows * grid.n_cols
    # every pixel in exactly one core
    count = coverage_count(grid)
    assert count.min() == 1 and count.max() == 1
    for tile in tiles:
        w, c = tile.window, tile.core
        assert (w.width, w.height) == (grid.tile, grid.tile)
        # the core lies inside the window and inside the raster
        assert w.col_off <= c.col_off and c.col_off + c.width <= w.col_off + w.width
        assert w.row_off <= c.row_off and c.row_off + c.height <= w.row_off + w.height
        assert c.col_off >= 0 and c.col_off + c.width <= grid.width
        assert c.row_off >= 0 and c.row_off + c.height <= grid.height
        assert c.width >= 1 and c.height >= 1
        # windows start inside the raster; they end past it only when the raster is
        # smaller than a tile along that axis (padding)
        assert w.col_off >= 0 and w.row_off >= 0
        if grid.width >= grid.tile:
            assert w.col_off + w.width <= grid.width
        if grid.height >= grid.tile:
            assert w.row_off + w.height <= grid.height
        assert grid.tile_at(tile.row, tile.col) == tile


@pytest.mark.parametrize(
    "width, height, tile, overlap",
    [
        (1024, 1024, 256, 32),  # divisible
        (1000, 700, 256, 32),  # not divisible by the stride
        (100, 50, 256, 32),  # smaller than a tile
        (256, 256, 256, 32),  # exactly one tile
        (257, 255, 256, 32),  # one pixel over / under
        (512, 512, 256, 0),  # no overlap
        (700, 300, 256, 33),  # odd overlap
        (150, 121, 100, 99),  # overlap = tile - 1 (stride 1)
        (1, 1, 256, 32),
        (5000, 3, 64, 7),
    ],
)
def test_cores_partition_raster(width, height, tile, overlap):
    check_grid(TileGrid(width, height, tile, overlap))


@st.composite
def grids(draw, max_tiles_per_axis: int = 20) -> TileGrid:
    """Any tile size and overlap; raster sizes up to ~20 tiles per axis (cheap to check)."""
    tile = draw(st.integers(1, 300))
    overlap = draw(st.integers(0, tile - 1))
    largest = tile + (max_tiles_per_axis - 1) * (tile - overlap)
    width = draw(st.integers(1, min(700, largest)))
    height = draw(st.integers(1, min(700, largest)))
    return TileGrid(width, height, tile, overlap)


@settings(max_examples=120, deadline=None)
@given(grid=grids())
def test_cores_partition_raster_property(grid):
    check_grid(grid)


def test_regular_tiles_trim_half_overlap():
    grid = TileGrid(1000, 1000, 256, 32)
    stride = 256 - 32
    middle = grid.tile_at(1, 1)
    assert (middle.window.col_off, middle.window.row_off) == (stride, stride)
    # a tile with neighbours on both sides loses O/2 on each side
    assert middle.core.col_off == middle.window.col_off + 16
    assert middle.core.width == 256 - 32
    first = grid.tile_at(0, 0)
    assert first.core.col_off == 0 and first.core.width == 256 - 16  # outer edge kept


def test_odd_overlap_integer_split():
    grid = TileGrid(2000, 300, 256, 33)
    t = grid.tile_at(0, 1)
    # leading trim 33 // 2 = 16, trailing trim 17
    assert t.core.col_off - t.window.col_off == 16
    assert t.window.col_off + t.window.width - (t.core.col_off + t.core.width) == 17


def test_last_tile_shifted_back_inside():
    grid = TileGrid(1000, 300, 256, 32)
    last = grid.tile_at(0, grid.n_cols - 1)
    previous = grid.tile_at(0, grid.n_cols - 2)
    assert last.window.col_off + last.window.width == 1000
    # its core starts where the previous core ended, and runs to the raster edge
    assert last.core.col_off == previous.core.col_off + previous.core.width
    assert last.core.col_off + last.core.width == 1000


def test_small_raster_single_padded_tile():
    grid = TileGrid(100, 40, 256, 32)
    assert len(grid) == 1
    (t,) = list(grid)
    assert (t.window.width, t.window.height) == (256, 256)
    assert t.core_bounds == (0, 0, 100, 40)


def test_tile_count_formula():
    # ceil((N - T) / S) + 1 tiles per axis when N > T
    for n, t, o in [(1000, 256, 32), (1024, 256, 32), (5000, 512, 64), (300, 256, 0)]:
        s = t - o
        expected = -(-(n - t) // s) + 1
        assert TileGrid(n, 10, t, o).n_cols == expected


@settings(max_examples=60, deadline=None)
@given(grid=grids())
def test_core_owner_matches_cores(grid):
    rng = np.random.default_rng(grid.width * 1000 + grid.height)
    x = rng.uniform(0, grid.width, 300)
    y = rng.uniform(0, grid.height, 300)
    rows, cols = grid.core_owner(x, y)
    for xi, yi, r, c in zip(x, y, rows, cols):
        x0, y0, x1, y1 = grid.tile_at(int(r), int(c)).core_bounds
        assert x0 <= xi < x1 and y0 <= yi < y1


def test_core_owner_boundaries_and_outside():
    grid = TileGrid(1000, 1000, 256, 32)
    t = grid.tile_at(0, 1)
    rows, cols = grid.core_owner([t.core.col_off, t.core.col_off - 1e-9], [5, 5])
    assert cols.tolist() == [1, 0]  # half-open: the boundary belongs to the later core
    rows, cols = grid.core_owner([-5, 2000], [-1, 5000])
    assert cols.tolist() == [0, grid.n_cols - 1] and rows.tolist() == [0, grid.n_rows - 1]
    r, c = grid.core_owner(10.0, 10.0)  # scalars work too
    assert int(r) == 0 and int(c) == 0


@pytest.mark.parametrize(
    "args",
    [
        (100, 100, 256, 256),
        (100, 100, 256, 300),
        (100, 100, 256, -1),
        (0, 10, 256, 0),
        (10, 10, 0, 0),
    ],
)
def test_invalid_grids_refused(args):
    with pytest.raises(ValueError):
        TileGrid(*args)


def test_tile_is_value_type():
    a = TileGrid(500, 500, 256, 32).tile_at(1, 0)
    assert isinstance(a, Tile)
    assert a == TileGrid(500, 500, 256, 32).tile_at(1, 0)
    with pytest.raises(IndexError):
        TileGrid(500, 500, 256, 32).tile_at(5, 0)
