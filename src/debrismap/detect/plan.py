"""What a run will analyse: the rasters (opened, resampled to the model's GSD, tiled) and the
ordered list of tiles worth sending to the model (inside the AOI, not excluded, not fully masked).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from debrismap.errors import RasterError

GSD_LIMIT = 4.0  # refuse rasters more than 4x coarser than the model's training GSD (finer ones are averaged down)


@dataclass
class RasterJob:
    """One input raster as detect sees it."""

    index: int
    path: Path
    source: object  # RasterSource (main thread's handle)
    view: object  # RasterView at the model's GSD
    grid: object  # TileGrid over the view
    aoi: object | None  # shapely geometry in the raster's CRS
    exclude: object | None

    @property
    def name(self) -> str:
        return self.path.name


def check_gsd(source, model_gsd: float, assume_gsd: float | None) -> float:
    """The raster's GSD in metres, refusing rasters the model cannot read meaningfully."""
    gsd = source.gsd_m
    if gsd is None:
        if assume_gsd is None:
            raise RasterError(
                "has no georeferencing, so its pixel size is unknown; pass --assume-gsd METRES "
                "to process it in pixel coordinates",
                path=source.path,
            )
        gsd = float(assume_gsd)
    ratio = gsd / model_gsd
    if ratio > GSD_LIMIT:
        raise RasterError(
            f"is {gsd:.3g} m/pixel, more than {GSD_LIMIT:g}x coarser than the model's {model_gsd:g} m: "
            "debris piles are too small to see at this resolution",
            path=source.path,
        )
    # Finer imagery (drone, aerial) loses nothing the model needs when averaged down to its GSD;
    # each window is read through GDAL's resampling (overviews where present), so memory stays bounded.
    return gsd


def core_polygons(job: RasterJob, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Tile cores as world polygons (any transform, rotated included)."""

    tiles = [job.grid.tile_at(int(r), int(c)) for r, c in zip(rows, cols)]
    bounds = np.array([t.core_bounds for t in tiles], np.float64).reshape(-1, 4)
    x0, y0, x1, y1 = bounds.T
    xs = np.stack([x0, x1, x1, x0], axis=1)
    ys = np.stack([y0, y0, y1, y1], axis=1)
    t = job.view.transform
    wx, wy = t.a * xs + t.b * ys + t.c, t.d * xs + t.e * ys + t.f
    return shapely.polygons(np.stack([wx, wy], axis=-1))


def plan_tiles(jobs: list[RasterJob]) -> tuple[np.ndarray, int]:
    """(K, 3) int array of (raster, row, col) to analyse, in order; and the grid's total tile count."""

    plan, total = [], 0
    for job in jobs:
        grid = job.grid
        total += len(grid)
        rows, cols = np.divmod(np.arange(len(grid)), grid.n_cols)
        keep = np.ones(len(grid), bool)
        if job.aoi is not None or job.exclude is not None:
            cores = core_polygons(job, rows, cols)
            if job.aoi is not None:
                keep &= shapely.intersects(job.aoi, cores)
            if job.exclude is not None:
                keep &= ~shapely.covers(job.exclude, cores)
        for k in np.nonzero(keep)[0]:
            tile = grid.tile_at(int(rows[k]), int(cols[k]))
            if job.view.valid_fraction(tile.core) <= 0:
                keep[k] = False  # fully masked: nothing to find, skip the read and the model
        plan.append(np.column_stack([np.full(keep.sum(), job.index), rows[keep], cols[keep]]))
    return (np.concatenate(plan).astype(np.int64) if plan else np.empty((0, 3), np.int64)), total
