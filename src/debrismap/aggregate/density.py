"""Kernel density of piles (Gaussian, bandwidth in metres) as a raster in piles per km².

Piles are binned onto a fine pixel grid and smoothed with a Gaussian filter: that is an
exact Gaussian KDE up to the pixel quantisation, and it conserves mass, so the density
integrates to the number of piles (minus the kernel tails that fall off the analysed area).
With `edge_correction`, each pile is weighted by one over the share of its kernel that lies
on analysed ground, which restores that lost mass near coverage edges (mass-conserving).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine
from pyproj import CRS
from rasterio.features import rasterize
from scipy.ndimage import gaussian_filter

# A pile whose kernel sees less than this share of analysed ground is weighted as if it
# saw this much: otherwise a pile at a sliver's tip would become a hotspot.
MIN_KERNEL_SUPPORT = 0.2


@dataclass
class DensityRaster:
    """Piles per km² on a north-up grid in a metric CRS; NaN outside the analysed coverage."""

    values: np.ndarray  # float32 (rows, cols)
    transform: Affine
    crs: CRS
    pixel_size: float  # metres
    bandwidth: float  # metres

    @property
    def valid(self) -> np.ndarray:
        return np.isfinite(self.values)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        rows, cols = self.values.shape
        left, top = self.transform.c, self.transform.f
        return left, top - rows * self.pixel_size, left + cols * self.pixel_size, top

    def integral(self) -> float:
        """Number of piles the surface holds: sum(density per m² × pixel area)."""
        return float(np.nansum(self.values.astype(np.float64)) * self.pixel_size**2 / 1e6)


def density_grid(coverage: shapely.Geometry, pixel_size: float) -> tuple[Affine, int, int]:
    """A pixel grid over `coverage`, its edges snapped to multiples of the pixel size."""
    minx, miny, maxx, maxy = coverage.bounds
    left = np.floor(minx / pixel_size) * pixel_size
    bottom = np.floor(miny / pixel_size) * pixel_size
    right = np.ceil(maxx / pixel_size) * pixel_size
    top = np.ceil(maxy / pixel_size) * pixel_size
    cols = max(round((right - left) / pixel_size), 1)
    rows = max(round((top - bottom) / pixel_size), 1)
    return Affine(pixel_size, 0, left, 0, -pixel_size, top), rows, cols


def coverage_mask(coverage: shapely.Geometry, transform: Affine, rows: int, cols: int) -> np.ndarray:
    return rasterize(
        [(coverage, 1)], out_shape=(rows, cols), transform=transform, fill=0, dtype="uint8"
    ).astype(bool)


def point_histogram(
    xy: np.ndarray, transform: Affine, rows: int, cols: int, weights: np.ndarray | None = None
) -> np.ndarray:
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    row, col = _pixel_of(xy, transform, rows, cols)
    inside = (col >= 0) & (col < cols) & (row >= 0) & (row < rows)
    hist = np.zeros((rows, cols), dtype=np.float64)
    w = np.ones(len(xy)) if weights is None else np.asarray(weights, dtype=float)
    np.add.at(hist, (row[inside], col[inside]), w[inside])
    return hist


def _pixel_of(xy: np.ndarray, transform: Affine, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    col = np.floor((xy[:, 0] - transform.c) / transform.a).astype(np.int64)
    row = np.floor((xy[:, 1] - transform.f) / transform.e).astype(np.int64)
    return row, col


def density_raster(
    centres: np.ndarray,
    coverage: shapely.Geometry,
    crs: CRS,
    bandwidth: float,
    pixel_size: float,
    weights: np.ndarray | None = None,
    edge_correction: bool = False,
) -> DensityRaster:
    """Gaussian KDE of `centres` (metric CRS) in piles per km², masked to `coverage`.

    `weights` (e.g. +1 for new piles, -1 for gone ones) make a signed density for change maps.
    """

    if bandwidth <= 0 or pixel_size <= 0:
        raise ValueError("bandwidth and pixel size must be positive")
    transform, rows, cols = density_grid(coverage, pixel_size)
    mask = coverage_mask(coverage, transform, rows, cols)
    sigma = bandwidth / pixel_size
    xy = np.asarray(centres, dtype=float).reshape(-1, 2)
    w = np.ones(len(xy)) if weights is None else np.asarray(weights, dtype=float)
    if edge_correction and len(xy):
        # Each pile is weighted by 1 / (share of its own kernel on analysed ground): the
        # mass each pile puts on analysed ground is then exactly one pile.
        support = gaussian_filter(mask.astype(np.float64), sigma, mode="constant", truncate=4.0)
        row, col = _pixel_of(xy, transform, rows, cols)
        share = support[np.clip(row, 0, rows - 1), np.clip(col, 0, cols - 1)]
        w = w / np.maximum(share, MIN_KERNEL_SUPPORT)
    hist = point_histogram(xy, transform, rows, cols, w)
    # mode="constant": mass that would land beyond the grid is lost, not folded back in.
    smooth = gaussian_filter(hist, sigma, mode="constant", cval=0.0, truncate=4.0)
    per_km2 = smooth / pixel_size**2 * 1e6
    values = np.where(mask, per_km2, np.nan).astype(np.float32)
    return DensityRaster(values, transform, crs, pixel_size, bandwidth)


def nice_pixel_size(cell: float, coverage: shapely.Geometry, max_side: int = 8000) -> float:
    """cell/10, coarsened (to a multiple of it) if that would make a huge raster."""
    pixel = cell / 10.0
    minx, miny, maxx, maxy = coverage.bounds
    side = max(maxx - minx, maxy - miny)
    factor = int(np.ceil(side / pixel / max_side))
    return pixel * max(factor, 1)
