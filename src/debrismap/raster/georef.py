"""Where a raster sits on the Earth: its own geotransform, else an affine fitted to its GCPs,
else nothing (pixel coordinates, with one warning)."""

from __future__ import annotations

import warnings
from typing import Any

import rasterio
from affine import Affine

from debrismap.errors import UngeoreferencedRasterWarning
from debrismap.raster.gdal_errors import gdal_errors


def georeference(ds: rasterio.io.DatasetReader, path: str) -> tuple[Any, Affine, bool, str]:
    """(CRS or None, transform, georeferenced?, where the georeferencing came from)."""
    if ds.transform != Affine.identity() and not ds.transform.is_degenerate:
        if ds.crs is None:
            _warn_not_georeferenced(
                path, "has a geotransform but no CRS: GSD unknown, outputs have no CRS"
            )
        return ds.crs, ds.transform, True, "geotransform"
    gcps, gcp_crs = ds.gcps
    if len(gcps) >= 3:
        # An affine fitted to the GCPs: exact for an affine-georeferenced scene,
        # approximate for a warped one (we never warp here).
        try:
            fitted = rasterio.transform.from_gcps(gcps)
        except (*gdal_errors(), ValueError, ZeroDivisionError):
            fitted = Affine.identity()  # collinear or degenerate GCPs
        if fitted != Affine.identity() and not fitted.is_degenerate:
            return gcp_crs, fitted, True, f"affine fit to {len(gcps)} GCPs"
    why = "has a CRS but no geotransform" if ds.crs else "has no georeferencing"
    _warn_not_georeferenced(path, f"{why}: working in pixel coordinates")
    return None, Affine.identity(), False, "none"


def _warn_not_georeferenced(path: str, why: str) -> None:
    # stacklevel: this, georeference, RasterSource._init, RasterSource.__init__,
    # open_raster, then the caller of open_raster, whose line the warning should name
    warnings.warn(f"{path}: {why}", UngeoreferencedRasterWarning, stacklevel=6)
