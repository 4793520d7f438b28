"""Write rasters as Cloud-Optimized GeoTIFFs (tiled, compressed, with overviews).

GDAL's COG driver can only copy an existing dataset, so the array is staged in an
in-memory GeoTIFF and copied to a temp file, which is then renamed into place.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS
from rasterio.enums import ColorInterp
from rasterio.io import MemoryFile
from rasterio.shutil import copy as rio_copy

from debrismap.atomic import atomic_target

NODATA = -9999.0


def write_float_cog(path: str | Path, values: np.ndarray, transform: Affine, crs: CRS,
                    description: str = "") -> Path:
    """float32 single band; NaN becomes the nodata value (kept out of the overviews)."""
    data = np.where(np.isfinite(values), values, NODATA).astype(np.float32)[None]
    return _write_cog(path, data, transform, crs, nodata=NODATA, resampling="AVERAGE",
                      description=description)


def write_rgba_cog(path: str | Path, rgba: np.ndarray, transform: Affine, crs: CRS) -> Path:
    """uint8 RGBA (H, W, 4) for web maps: the alpha band says where there is colour."""
    data = np.moveaxis(rgba, -1, 0).astype(np.uint8)
    return _write_cog(path, data, transform, crs, nodata=None, resampling="AVERAGE", rgba=True)


def _write_cog(path, data, transform, crs, nodata, resampling, rgba=False, description=""):
    count, rows, cols = data.shape
    profile = {"driver": "GTiff", "width": cols, "height": rows, "count": count, "dtype": data.dtype.name,
                   "crs": rasterio.crs.CRS.from_wkt(crs.to_wkt()), "transform": transform, "nodata": nodata}
    blocksize = 256 if max(rows, cols) > 256 else 128
    with MemoryFile() as mem:
        with mem.open(**profile) as ds:
            ds.write(data)
            if rgba:
                ds.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue,
                                  ColorInterp.alpha]
            if description:
                ds.set_band_description(1, description)
        with atomic_target(path) as tmp, mem.open() as src:
            rio_copy(src, tmp, driver="COG", COMPRESS="DEFLATE", BLOCKSIZE=blocksize,
                     OVERVIEWS="AUTO", RESAMPLING=resampling, OVERVIEW_RESAMPLING=resampling,
                     **_small_raster_overviews(rows, cols, blocksize))
    return Path(path)


def _small_raster_overviews(rows: int, cols: int, blocksize: int) -> dict:
    """GDAL makes no overviews for a raster within one block; web viewers still expect some."""
    side = max(rows, cols)
    if side > blocksize or side < 32:
        return {}
    return {"OVERVIEW_COUNT": int(min(3, np.floor(np.log2(side / 16))))}
