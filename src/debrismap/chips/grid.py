"""The block-aligned chip grid: where chips go so that none crosses a split block (no I/O).

Blocks are squares of `block_size_m` aligned to multiples of the block size in the raster
CRS, so two rasters of one place in one CRS share blocks (and so splits). Inside a block,
chips of `size` overlap by about `overlap`; the first is flush with the block's start, the
last with its end. Every function here works on numbers (a transform, a width, a GSD) only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rasterio.windows import Window

from debrismap.chips.options import ChipOptions
from debrismap.errors import ConfigError
from debrismap.labels.geometry import half_sizes

DEFAULT_BLOCK_M = 256.0


@dataclass(frozen=True)
class GridChip:
    """A chip position: window offset in the view, grid row/col, and the split block it is in."""

    x_off: int
    y_off: int
    row: int
    col: int
    block: tuple[int, int]


def default_block_size_m(size: int, overlap: int, gsd_m: float) -> float:
    """Default block: the smallest whole number of chip strides of at least 256 m.

    size + k * stride pixels holds k + 1 chips at exactly the requested overlap, so the
    block-aligned grid wastes nothing (e.g. 256 px chips, 32 overlap, 0.5 m: 704 px, 352 m).
    """
    stride = size - overlap
    k = max(1, math.ceil((DEFAULT_BLOCK_M / gsd_m - size) / stride))
    return round((size + k * stride) * gsd_m, 6)


def block_aligned_chips(view, crs, opts: ChipOptions, raster_path: Path) -> list[GridChip]:
    """Chips laid out block by block, so that none crosses a block boundary.

    view: anything with width, height, gsd_m and an affine transform; crs: a pyproj CRS or
    None. A block cut by the raster edge to less than a chip gets one chip reaching beyond
    the raster (padded, and then usually skipped as nodata). Pixels straddling a block edge
    belong to no chip. Rotated rasters use blocks on their pixel grid instead.
    """
    t = view.transform
    if t.b == 0 and t.d == 0:
        block_w, block_h = block_size_in_crs_units(crs, view, opts.block_size_m, opts.gsd_m)
        x_segments = block_segments(view.width, t.c, t.a, block_w)
        y_segments = block_segments(view.height, t.f, t.e, block_h)
        chip_w, chip_h = abs(t.a) * opts.size, abs(t.e) * opts.size
        fits = chip_w <= block_w * (1 + 1e-6) and chip_h <= block_h * (1 + 1e-6)
    else:
        block_px = opts.block_size_m / (view.gsd_m or opts.gsd_m or 1.0)
        x_segments = block_segments(view.width, 0.0, 1.0, block_px)
        y_segments = block_segments(view.height, 0.0, 1.0, block_px)
        chip_w, block_w, fits = opts.size, block_px, opts.size <= block_px * (1 + 1e-6)
    if not fits:
        metres = opts.block_size_m * chip_w / block_w
        raise ConfigError(
            f"--block-size {opts.block_size_m:g} m is smaller than one chip of {raster_path.name} "
            f"(about {metres:.0f} m); use a block of at least twice that"
        )
    xs = [
        (k, x)
        for k, p0, p1 in x_segments
        for x in chip_starts(p0, p1, view.width, opts.size, opts.overlap)
    ]
    ys = [
        (k, y)
        for k, p0, p1 in y_segments
        for y in chip_starts(p0, p1, view.height, opts.size, opts.overlap)
    ]
    col_of = {x: i for i, x in enumerate(sorted({x for _, x in xs}))}
    row_of = {y: i for i, y in enumerate(sorted({y for _, y in ys}))}
    return [
        GridChip(x, y, row_of[y], col_of[x], (bx, by))
        for by, y in sorted(ys, key=lambda ky: ky[1])
        for bx, x in sorted(xs, key=lambda kx: kx[1])
    ]


def block_segments(n: int, origin: float, step: float, block: float) -> list[tuple[int, int, int]]:
    """(block index, first pixel, end pixel) of each block along one axis of n pixels.

    Pixel p spans world [origin + step * p, origin + step * (p + 1)); block k spans world
    [k * block, (k + 1) * block). A pixel cut by a block edge is left out of both blocks.
    """
    ends = sorted([origin, origin + step * n])
    k_first = math.floor(ends[0] / block)
    k_last = math.ceil(ends[1] / block) - 1
    out = []
    for k in range(k_first, k_last + 1):
        a, b = sorted([(k * block - origin) / step, ((k + 1) * block - origin) / step])
        p0 = max(0, math.ceil(a - 1e-6))
        p1 = min(n, math.floor(b + 1e-6))
        if p1 > p0:
            out.append((k, p0, p1))
    return out


def chip_starts(p0: int, p1: int, n: int, size: int, overlap: int) -> list[int]:
    """Chip starts inside [p0, p1) of an axis of n pixels: evenly spread, first flush with
    p0, last with p1."""
    length = p1 - p0
    if length >= size:
        stride = size - overlap
        # 2 px of slack: a block a pixel longer than size + k * stride must not cost a chip.
        count = max(0, math.ceil((length - size - 2) / stride)) + 1
        return sorted({round(v) for v in np.linspace(p0, p1 - size, count)})
    if p0 == 0 and p1 == n:
        return [0]  # the raster is narrower than a chip: pad past its end, like TileGrid
    if p0 == 0:
        return [p1 - size]  # a block cut by the raster's start: reach out before the raster
    if p1 == n:
        return [p0]  # cut by the raster's end: reach out past it
    return []


def block_size_in_crs_units(
    crs, view, block_size_m: float, assumed_gsd_m: float | None = None
) -> tuple[float, float]:
    """The block side in the raster CRS's x and y units (degrees at the raster's latitude)."""
    t = view.transform
    if crs is None:
        # No CRS: units are unknown; count the block in pixels at the view's GSD, else at
        # the GSD the user stated (--gsd), else at 1 m per pixel.
        pixels = block_size_m / (view.gsd_m or assumed_gsd_m or 1.0)
        return pixels * math.hypot(t.a, t.d), pixels * math.hypot(t.b, t.e)
    centre_y = t.f + t.e * view.height / 2
    hx, hy = half_sizes(crs, np.array([centre_y]), block_size_m)
    return float(hx[0] * 2), float(hy[0] * 2)


def chip_window(x_off: int, y_off: int, size: int) -> Window:
    """The chip's square window in the view's pixel grid."""
    return Window(x_off, y_off, size, size)
