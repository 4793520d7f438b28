"""Pick the metric CRS a run is gridded in, and move geometries and points into it.

Counts per km² need a grid in metres. A projected run CRS in metres is used as is (so the
grid lines up with the imagery); a geographic one gets the WGS 84 UTM zone of its centre.
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info


def is_metric(crs: CRS) -> bool:
    if not crs.is_projected:
        return False
    units = {(a.unit_name or "").lower() for a in crs.axis_info}
    return units <= {"metre", "meter", "m"}


def metric_crs_for(crs: CRS, geometry: shapely.Geometry) -> CRS:
    """The run CRS if it is projected in metres, else the UTM zone of `geometry`'s centre."""
    if is_metric(crs):
        return crs
    to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    c = geometry.centroid
    lon, lat = to_lonlat.transform(c.x, c.y)
    return utm_crs_at(lon, lat)


def utm_crs_at(lon: float, lat: float) -> CRS:
    infos = query_utm_crs_info(
        datum_name="WGS 84", area_of_interest=AreaOfInterest(lon, lat, lon, lat)
    )
    for info in infos:
        if "UTM zone" in info.name:
            return CRS.from_authority(info.auth_name, info.code)
    zone = int((lon + 180) // 6) % 60 + 1  # fallback: the standard zone formula
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def transform_points(xy: np.ndarray, src: CRS, dst: CRS) -> np.ndarray:
    if len(xy) == 0 or src.equals(dst):
        return np.asarray(xy, dtype=float).reshape(-1, 2)
    tr = Transformer.from_crs(src, dst, always_xy=True)
    x, y = tr.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def transform_geometries(geoms, src: CRS, dst: CRS):
    """Reproject shapely geometries; lines are densified first so edges bend with the projection."""
    if src.equals(dst):
        return geoms
    tr = Transformer.from_crs(src, dst, always_xy=True)
    # ~100 m between vertices before projecting: enough for cell-scale areas.
    step = 0.001 if src.is_geographic else 100.0
    dense = shapely.segmentize(geoms, step)

    def _apply(coords: np.ndarray) -> np.ndarray:
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(dense, _apply)


def crs_label(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"{crs.name} (EPSG:{epsg})" if epsg else crs.name
