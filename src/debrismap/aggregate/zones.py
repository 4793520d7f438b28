"""Counts and density per user zone (neighbourhoods, districts), from a vector file in any CRS.

A pile is counted in a zone when its centre lies inside it and inside the analysed
coverage; density is per km² of *valid* (analysed) area, so a district half outside the
image is not diluted by ground nobody looked at.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS

from debrismap.errors import ConfigError
from debrismap.geometry.crs import reproject
from debrismap.vector_io import read_vector

# Field names tried (case-insensitively, in order) when --zone-field is not given.
NAME_FIELDS = ("name", "zone", "zone_name", "district", "neighbourhood", "neighborhood",
               "quarter", "admin_name", "label", "title", "id")


@dataclass
class ZoneCounts:
    names: np.ndarray  # str
    geometries: np.ndarray  # shapely, in `crs` (the zones file's own CRS)
    crs: CRS
    count: np.ndarray  # int64
    area_km2: np.ndarray
    valid_area_km2: np.ndarray

    @property
    def piles_per_km2(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.valid_area_km2 > 0, self.count / self.valid_area_km2, np.nan)

    def columns(self) -> dict[str, np.ndarray]:
        return {
            "zone": self.names,
            "count": self.count,
            "area_km2": self.area_km2,
            "valid_area_km2": self.valid_area_km2,
            "valid_fraction": np.where(self.area_km2 > 0, self.valid_area_km2 / self.area_km2, 0.0),
            "piles_per_km2": self.piles_per_km2,
        }


@dataclass
class Zones:
    path: Path
    names: np.ndarray
    geometries: np.ndarray
    crs: CRS


def read_zones(path: str | Path, name_field: str | None = None) -> Zones:
    path = Path(path)
    data = read_vector(path, error=ConfigError)
    if data.crs is None:
        raise ConfigError("zones file has no CRS; assign one (e.g. ogr2ogr -a_srs EPSG:4326)", path=path)
    keep = np.array([g is not None and not g.is_empty and g.geom_type in ("Polygon", "MultiPolygon")
                     for g in data.geometries], dtype=bool)
    if not keep.any():
        raise ConfigError("zones file holds no polygons", path=path)
    field = _name_field(data.fields, name_field, path)
    if field is None:
        names = np.array([f"zone {i + 1}" for i in range(len(data))], dtype=object)
    else:
        names = np.array([str(v) for v in data.fields[field]], dtype=object)
    geoms = shapely.make_valid(data.geometries[keep])
    return Zones(path, names[keep], geoms, data.crs)


def _name_field(fields: dict, wanted: str | None, path: Path) -> str | None:
    if wanted:
        if wanted not in fields:
            raise ConfigError(f"zones file has no field {wanted!r} (fields: {', '.join(fields) or 'none'})",
                              path=path)
        return wanted
    lower = {k.lower(): k for k in fields}
    for candidate in NAME_FIELDS:
        if candidate in lower:
            return lower[candidate]
    for k, v in fields.items():  # otherwise the first text column
        if v.dtype.kind in ("U", "O", "S"):
            return k
    return None


def zone_counts(zones: Zones, centres: np.ndarray, coverage: shapely.Geometry, metric_crs: CRS) -> ZoneCounts:
    """`centres` and `coverage` in `metric_crs`; centres already restricted to coverage."""

    metric = reproject(zones.geometries, zones.crs, metric_crs, densify=True)
    shapely.prepare(metric)
    counts = np.array([int(shapely.contains_xy(g, centres[:, 0], centres[:, 1]).sum()) if len(centres) else 0
                       for g in metric], dtype=np.int64)
    area = shapely.area(metric) / 1e6
    valid = shapely.area(shapely.intersection(metric, coverage)) / 1e6
    return ZoneCounts(zones.names, zones.geometries, zones.crs, counts, area, valid)
