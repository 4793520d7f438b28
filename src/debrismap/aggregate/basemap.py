"""A greyscale, downsampled copy of the imagery on the density raster's grid (figure backdrop).

Only a decimated read is made (rasterio picks the overview nearest `out_shape`), so a
whole-city mosaic costs seconds, then it is warped into the metric grid of the map.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.warp import reproject

from debrismap.errors import RasterError


def read_greyscale(
    path: str | Path,
    dst_crs: CRS,
    dst_bounds: tuple[float, float, float, float],
    dst_shape: tuple[int, int],
) -> np.ndarray | None:
    """Greyscale in [0, 1] (NaN where there is no imagery) on the destination grid.

    Returns None when the raster has no CRS (it cannot be placed under the map).
    """

    path = Path(path)
    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise RasterError(f"cannot open basemap raster ({str(exc).splitlines()[0]})", path=path) from exc
    with src:
        if src.crs is None:
            return None
        rows, cols = dst_shape
        # Read at about twice the output resolution: enough for bilinear warping.
        scale = max(src.width / (2 * cols), src.height / (2 * rows), 1.0)
        out_w, out_h = max(int(src.width / scale), 1), max(int(src.height / scale), 1)
        bands = [1, 2, 3] if src.count >= 3 else [1]
        data = src.read(bands, out_shape=(len(bands), out_h, out_w),
                        resampling=Resampling.average).astype(np.float64)
        valid = src.dataset_mask(out_shape=(out_h, out_w), resampling=Resampling.nearest) > 0
        src_transform = src.transform @ Affine.scale(src.width / out_w, src.height / out_h)
        src_crs = src.crs
    grey = data.mean(axis=0)
    if valid.any():
        lo, hi = np.percentile(grey[valid], [2, 98])
        grey = np.clip((grey - lo) / max(hi - lo, 1e-9), 0, 1)
    grey[~valid] = np.nan
    left, bottom, right, top = dst_bounds
    dst_transform = Affine((right - left) / cols, 0, left, 0, -(top - bottom) / rows, top)
    out = np.full((rows, cols), np.nan)
    reproject(grey, out, src_transform=src_transform, src_crs=src_crs, src_nodata=np.nan,
              dst_transform=dst_transform, dst_crs=rasterio.crs.CRS.from_wkt(dst_crs.to_wkt()),
              dst_nodata=np.nan, resampling=Resampling.bilinear)
    return out
