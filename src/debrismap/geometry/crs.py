"""CRS names and reprojection: one way to label a CRS, one way to move geometries between CRSs.

Counts per km² need a grid in metres. A projected run CRS in metres is used as is (so the
grid lines up with the imagery); a geographic one gets the WGS 84 UTM zone of its centre.
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info


def as_crs(crs) -> CRS | None:
    """A pyproj CRS from a pyproj or rasterio CRS, an "EPSG:n" string or WKT (None stays None)."""
    if crs is None:
        return None
    if isinstance(crs, CRS):
        return crs
    if hasattr(crs, "to_wkt"):  # rasterio.crs.CRS: go through WKT so custom CRSs survive
        return CRS.from_wkt(crs.to_wkt())
    return CRS.from_user_input(crs)


def crs_label(crs) -> str | None:
    """Short human name of a CRS: "EPSG:32637 (WGS 84 / UTM zone 37N)" or the WKT's name."""
    if crs is None:
        return None
    try:
        pcrs = as_crs(crs)
        code = pcrs.to_epsg(min_confidence=90)
        if code:
            return f"EPSG:{code} ({pcrs.name})"
        method = pcrs.coordinate_operation.method_name if pcrs.coordinate_operation else None
        kind = "geographic" if pcrs.is_geographic else (method or "projected")
        return f"{pcrs.name} (custom WKT, {kind})"
    except Exception:  # noqa: BLE001  a CRS pyproj cannot parse still has a string form
        return crs.to_string()[:80]


def crs_text(crs) -> str:
    """A CRS as text that reads back to the same CRS: "EPSG:n" when it has a code, else WKT."""
    if crs is None:
        return ""
    epsg = crs.to_epsg() if hasattr(crs, "to_epsg") else None
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


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


def transform_points(xy: np.ndarray, src, dst) -> np.ndarray:
    src, dst = as_crs(src), as_crs(dst)
    if len(xy) == 0 or src.equals(dst):
        return np.asarray(xy, dtype=float).reshape(-1, 2)
    tr = Transformer.from_crs(src, dst, always_xy=True)
    x, y = tr.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def reproject(geoms, src, dst, densify: bool = False):
    """shapely geometries (an array, or one geometry) from `src` to `dst` (x/y order, as rasterio uses).

    densify: add vertices (~100 m apart) first so the edges of large areas bend with the
    projection; off for detection boxes, which stay four-cornered for GIS users.
    A missing CRS on either side returns the geometries unchanged.
    """
    src, dst = as_crs(src), as_crs(dst)
    if src is None or dst is None or np.size(geoms) == 0 or src.equals(dst):
        return geoms
    transformer = Transformer.from_crs(src, dst, always_xy=True)
    if densify:
        geoms = shapely.segmentize(geoms, 0.001 if src.is_geographic else 100.0)

    def apply(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, apply)
