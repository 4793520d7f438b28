"""Pixel <-> world coordinates and ground sample distance, in the pixel-corner convention.

(0, 0) is the top-left corner of the top-left pixel; x grows to the right, y down.
World = transform * (x, y) with rasterio's corner-based Affine, never a half-pixel
offset, so a box (x0, y0, x1, y1) maps to the polygon GDAL would draw around those pixels.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from affine import Affine
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def pixel_to_world(transform: Affine, x: ArrayLike, y: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """World coordinates of pixel-space points (vectorised; scalars give 0-d arrays)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    a, b, c, d, e, f = transform.a, transform.b, transform.c, transform.d, transform.e, transform.f
    return a * x + b * y + c, d * x + e * y + f


def world_to_pixel(transform: Affine, X: ArrayLike, Y: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Pixel-space (fractional, corner-convention) coordinates of world points (vectorised)."""
    if transform.is_degenerate:
        raise ValueError(f"transform is not invertible: {tuple(transform)[:6]}")
    return pixel_to_world(~transform, X, Y)


def pixel_size_crs_units(transform: Affine) -> tuple[float, float]:
    """Length of one pixel step along x and along y, in CRS units.

    Uses the lengths of the transform's column vectors, so rotated and south-up
    (positive e) transforms give the true pixel size rather than |a| and |e|.
    """
    return math.hypot(transform.a, transform.d), math.hypot(transform.b, transform.e)


def pixel_size_m(crs, transform: Affine, width: int, height: int) -> tuple[float, float] | None:
    """Ground size of one pixel (x step, y step) in metres, or None when it cannot be known.

    Projected CRSs: the pixel size in the CRS's linear unit times the unit's metre factor,
    unless the projection's scale at the raster's centre departs from true ground distance
    by more than 1% (Web Mercator away from the equator), in which case the geodesic length
    is used. Geographic CRSs: the geodesic length on the CRS's ellipsoid of one pixel step
    at the raster's centre.
    """
    if crs is None:
        return None
    step_x, step_y = pixel_size_crs_units(transform)
    ground = _geodesic_pixel_size(crs, transform, width, height)
    if crs.is_geographic:
        return ground
    try:
        _, factor = crs.linear_units_factor
    except Exception:  # noqa: BLE001  CRS without a usable linear unit (engineering CRS, odd WKT)
        return ground
    nominal = (step_x * float(factor), step_y * float(factor))
    if ground is not None and any(
        abs(n / g - 1.0) > 0.01 for n, g in zip(nominal, ground) if g > 0
    ):
        return ground
    return nominal


def _geodesic_pixel_size(
    crs, transform: Affine, width: int, height: int
) -> tuple[float, float] | None:
    """Geodesic length of one pixel step along x and y at the raster centre, or None."""
    try:
        import pyproj

        pcrs = pyproj.CRS.from_wkt(crs.to_wkt())
        geod = pcrs.get_geod()
        if geod is None:
            return None
        cx, cy = width / 2.0, height / 2.0
        xs = np.array([cx, cx + 1.0, cx])
        ys = np.array([cy, cy, cy + 1.0])
        wx, wy = pixel_to_world(transform, xs, ys)
        if pcrs.is_geographic:
            lon, lat = wx, wy
            # geographic CRSs may declare lat/lon axis order; rasterio transforms are x=lon, y=lat
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                to_geo = pyproj.Transformer.from_crs(pcrs, pcrs.geodetic_crs, always_xy=True)
                lon, lat = to_geo.transform(wx, wy)
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        if not (np.all(np.isfinite(lon)) and np.all(np.isfinite(lat))) or np.any(np.abs(lat) > 90):
            return None
        _, _, dist = geod.inv(lon[[0, 0]], lat[[0, 0]], lon[[1, 2]], lat[[1, 2]])
        dx, dy = float(dist[0]), float(dist[1])
        if not (math.isfinite(dx) and math.isfinite(dy)) or dx <= 0 or dy <= 0:
            return None
        return dx, dy
    except Exception:  # noqa: BLE001  pyproj cannot handle the CRS: GSD unknown rather than wrong
        return None
