"""Area-of-interest and exclusion polygons: read once, dissolved, reprojected to each raster's CRS."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS

from debrismap.errors import ConfigError
from debrismap.geometry.crs import reproject
from debrismap.vector_io import read_vector


@dataclass
class Region:
    """A dissolved polygon layer and the CRS it is in (None: same coordinates as the raster)."""

    path: Path
    geometry: object  # shapely (Multi)Polygon
    crs: object  # pyproj.CRS | None
    sha256: str

    def in_crs(self, raster_crs):
        """The polygon in `raster_crs` (rasterio or pyproj CRS; None for pixel-space rasters)."""

        if self.crs is None or raster_crs is None:
            return self.geometry

        target = CRS.from_user_input(raster_crs.to_wkt() if hasattr(raster_crs, "to_wkt") else raster_crs)
        return reproject(np.asarray([self.geometry], dtype=object), self.crs, target)[0]


def read_region(path: str | Path | None, what: str) -> Region | None:
    """Read --aoi / --exclude; GeoJSON without a CRS is EPSG:4326 (RFC 7946)."""
    if path is None:
        return None


    path = Path(path)
    data = read_vector(path, error=ConfigError)
    polys = [g for g in data.geometries if g is not None and g.geom_type in ("Polygon", "MultiPolygon") and not g.is_empty]
    if not polys:
        raise ConfigError(f"{what} file holds no polygons", path=path)
    crs = data.crs
    if crs is None and path.suffix.lower() in (".geojson", ".json"):
        crs = CRS.from_epsg(4326)
    geometry = shapely.union_all(shapely.make_valid(np.asarray(polys, dtype=object)))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Region(path, geometry, crs, digest)
