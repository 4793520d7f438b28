"""Shapely geometries -> upright boxes in a target CRS (vectorised).

Polygons become the bounding box of their vertices *after* reprojection (a rectangle drawn
in EPSG:4326 is slightly rotated in UTM; its upright bounds are what we want). Points become
square boxes `point_size_m` wide around the reprojected point. Multi-part geometries are
split: each part is one pile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import ProjError

# Metres per degree on the WGS84 ellipsoid, close enough for sizing a point box.
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQUATOR = 111_320.0


@dataclass
class GeometryBoxes:
    xyxy: np.ndarray  # (M, 4) boxes that survived
    feature_index: np.ndarray  # (M,) index of the source feature of each box
    n_invalid: int  # parts that were empty, unsupported, non-finite or degenerate
    n_total: int  # parts looked at


def geometries_to_boxes(
    geometries: np.ndarray, src_crs: CRS | None, dst_crs: CRS | None, point_size_m: float
) -> GeometryBoxes:
    geoms = np.asarray(geometries, dtype=object)
    present = np.array([g is not None for g in geoms], dtype=bool)
    idx_present = np.flatnonzero(present)
    parts, part_owner = shapely.get_parts(geoms[present].astype(object), return_index=True)
    owner = idx_present[part_owner] if len(parts) else np.empty(0, dtype=np.int64)
    n_missing = int((~present).sum())
    n_total = len(parts) + n_missing

    type_ids = shapely.get_type_id(parts) if len(parts) else np.empty(0, dtype=np.int64)
    is_empty = shapely.is_empty(parts) if len(parts) else np.empty(0, dtype=bool)
    is_poly = (type_ids == 3) & ~is_empty
    is_point = (type_ids == 0) & ~is_empty

    transformer = None
    if src_crs is not None and dst_crs is not None and not src_crs.equals(dst_crs):
        transformer = Transformer.from_crs(src_crs, dst_crs, always_xy=True)
    size_crs = dst_crs if dst_crs is not None else src_crs

    boxes = np.full((len(parts), 4), np.nan)
    if is_poly.any():
        boxes[is_poly] = _polygon_bounds(parts[is_poly], transformer)
    if is_point.any():
        boxes[is_point] = _point_boxes(parts[is_point], transformer, size_crs, point_size_m)

    with np.errstate(invalid="ignore"):
        ok = (
            np.isfinite(boxes).all(axis=1)
            & (boxes[:, 2] > boxes[:, 0])
            & (boxes[:, 3] > boxes[:, 1])
        )
    return GeometryBoxes(boxes[ok], owner[ok], n_total - int(ok.sum()), n_total)


def _transform(transformer: Transformer | None, x: np.ndarray, y: np.ndarray):
    if transformer is None:
        return x, y
    with np.errstate(all="ignore"):
        try:
            tx, ty = transformer.transform(x, y, errcheck=False)
        except ProjError:  # pyproj raises on some out-of-domain input instead of inf
            return np.full_like(x, np.inf), np.full_like(y, np.inf)
    return np.asarray(tx, dtype=np.float64), np.asarray(ty, dtype=np.float64)


def _polygon_bounds(polys: np.ndarray, transformer: Transformer | None) -> np.ndarray:
    coords = shapely.get_coordinates(polys)  # exterior and holes; holes lie inside anyway
    counts = shapely.get_num_coordinates(polys)
    x, y = _transform(transformer, coords[:, 0].copy(), coords[:, 1].copy())
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    # Non-finite vertices must poison the whole box, so use plain min/max (NaN propagates).
    x = np.where(np.isfinite(x), x, np.nan)
    y = np.where(np.isfinite(y), y, np.nan)
    return np.column_stack(
        [
            np.minimum.reduceat(x, starts),
            np.minimum.reduceat(y, starts),
            np.maximum.reduceat(x, starts),
            np.maximum.reduceat(y, starts),
        ]
    )


def _point_boxes(points, transformer, crs: CRS | None, point_size_m: float) -> np.ndarray:
    coords = shapely.get_coordinates(points)
    x, y = _transform(transformer, coords[:, 0].copy(), coords[:, 1].copy())
    half_x, half_y = half_sizes(crs, y, point_size_m)
    return np.column_stack([x - half_x, y - half_y, x + half_x, y + half_y])


def half_sizes(crs: CRS | None, y: np.ndarray, size_m: float):
    """Half of `size_m` metres in the CRS's x and y units (degrees: at each point's latitude)."""
    half = size_m / 2.0
    if crs is None:  # ungeoreferenced: units are pixels, nothing better to go on
        return np.full_like(y, half), np.full_like(y, half)
    if crs.is_geographic:
        with np.errstate(all="ignore"):
            coslat = np.cos(np.radians(np.clip(y, -89.9, 89.9)))
        return half / (M_PER_DEG_LON_EQUATOR * coslat), np.full_like(y, half / M_PER_DEG_LAT)
    try:
        factor = crs.axis_info[0].unit_conversion_factor or 1.0  # metres per CRS unit
    except (IndexError, AttributeError):
        factor = 1.0
    return np.full_like(y, half / factor), np.full_like(y, half / factor)
