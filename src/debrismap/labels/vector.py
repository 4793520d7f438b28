"""Vector label files (GeoJSON, GeoPackage, Shapefile) <-> `Boxes` in world coordinates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from debrismap.errors import LabelError
from debrismap.geometry.crs import as_crs, crs_label
from debrismap.labels.boxes import DEFAULT_CLASS, Boxes
from debrismap.labels.geometry import geometries_to_boxes
from debrismap.labels.notices import warn_labels
from debrismap.vector_io import read_vector, write_vector

DEFAULT_CLASS_FIELD = "class_name"
# json.load costs about ten times the file's size in memory. Small GeoJSON is parsed here first
# for precise messages (line and column); larger GeoJSON goes straight to GDAL's streaming
# reader; COCO must be parsed whole, so it has a hard limit.
PARSE_JSON_BYTES = 32 * 1024 * 1024
MAX_JSON_BYTES = 256 * 1024 * 1024
MAX_GEOJSON_BYTES = 2 * 1024 * 1024 * 1024
GEOJSON_TYPES = {
    "FeatureCollection", "Feature", "Point", "MultiPoint", "LineString", "MultiLineString",
    "Polygon", "MultiPolygon", "GeometryCollection",
}  # fmt: skip


def load_json(path: Path):
    """Parse a JSON file, turning every failure into one LabelError line."""
    size = path.stat().st_size
    if size == 0:
        raise LabelError("is empty", path=path)
    if size > MAX_JSON_BYTES:
        raise _too_large(path, size, MAX_JSON_BYTES)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except UnicodeDecodeError as exc:
        raise LabelError("is not a text (UTF-8) JSON file", path=path) from exc
    except json.JSONDecodeError as exc:
        raise LabelError(
            f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", path=path
        ) from exc
    except RecursionError as exc:
        raise LabelError("is not usable JSON (nested too deeply)", path=path) from exc


def _too_large(path: Path, size: int, limit: int) -> LabelError:
    return LabelError(
        f"is {size / 2**20:.0f} MiB, too large to read as JSON (limit {limit / 2**20:.0f} MiB); "
        "convert it to GeoPackage (.gpkg)",
        path=path,
    )


def json_head(path: Path, n_bytes: int = 65536) -> str:
    """The start of a file as text (undecodable bytes replaced), to sniff what it holds."""
    with open(path, "rb") as f:
        return f.read(n_bytes).decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")


def check_large_geojson(path: Path) -> None:
    """Cheap checks for GeoJSON too large to parse here; GDAL reads the rest."""
    size = path.stat().st_size
    if size > MAX_GEOJSON_BYTES:
        raise _too_large(path, size, MAX_GEOJSON_BYTES)
    if not json_head(path, 4096).startswith("{"):
        raise LabelError("is not GeoJSON (does not start with a JSON object)", path=path)


def check_geojson(doc, path: Path) -> None:
    """Refuse JSON that is not GeoJSON before GDAL gives a vaguer message."""
    kind = doc.get("type") if isinstance(doc, dict) else None
    if not isinstance(kind, str) or kind not in GEOJSON_TYPES:
        raise LabelError(
            "is JSON but not GeoJSON (no FeatureCollection/Feature 'type') nor COCO "
            "('images'/'annotations')",
            path=path,
        )
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise LabelError("is a FeatureCollection without a 'features' list", path=path)
        if not features:
            raise LabelError("has no features (no labels)", path=path)


def read_vector_labels(
    path: str | Path,
    *,
    crs=None,
    labels_crs=None,
    class_field: str | None = None,
    names=None,
    point_size_m: float = 6.0,
    layer: str | int | None = None,
    allow_empty: bool = False,
    json_doc=None,
) -> Boxes:
    """Read polygons (-> their bounds) and points (-> `point_size_m` squares) as world boxes.

    crs: the CRS to return boxes in (the raster's); None keeps the file's CRS.
    labels_crs: the CRS the coordinates are in, overriding the file (needed when it has none).
    class_field: attribute holding class names; default 'class_name' when present, else every
        box is 'debris'. names: fixed class list (others are an error); default: sorted names seen.
    """
    path = Path(path)
    is_json = path.suffix.lower() in (".geojson", ".json")
    if is_json and json_doc is not None:
        check_geojson(json_doc, path)
    elif is_json and path.stat().st_size > PARSE_JSON_BYTES:
        check_large_geojson(path)
    elif is_json:
        check_geojson(load_json(path), path)
    data = read_vector(path, layer=layer, error=LabelError)
    if len(data) == 0:
        if allow_empty:
            return Boxes.empty(names or (DEFAULT_CLASS,), crs=as_crs(crs) or data.crs)
        raise LabelError("has no features (no labels)", path=path)

    src_crs = _source_crs(path, data.crs, labels_crs, is_json)
    dst_crs = as_crs(crs) if crs is not None else src_crs
    feature_names = _feature_class_names(path, data.fields, class_field, len(data))

    found = geometries_to_boxes(data.geometries, src_crs, dst_crs, point_size_m)
    if len(found.xyxy) == 0:
        if src_crs is not None and dst_crs is not None and not src_crs.equals(dst_crs):
            hint = f"; its coordinates may not be in {crs_label(src_crs)} (pass --labels-crs)"
        else:
            hint = ""
        raise LabelError(
            f"none of its {found.n_total} geometries is a usable polygon or point "
            f"(empty, degenerate, non-finite or of another type){hint}",
            path=path,
        )
    if found.n_invalid:
        warn_labels(
            path,
            f"skipped {found.n_invalid} of {found.n_total} geometries "
            "(empty, degenerate, non-finite, or not a polygon/point)",
        )
    box_names = feature_names[found.feature_index]
    return _boxes_from_names(path, found.xyxy, box_names, names, dst_crs)


def _source_crs(path: Path, file_crs: CRS | None, labels_crs, is_json: bool) -> CRS | None:
    if labels_crs is not None:
        try:
            given = as_crs(labels_crs)
        except (CRSError, TypeError, ValueError) as exc:
            raise LabelError(f"--labels-crs {labels_crs!r} is not a CRS", path=path) from exc
        # GDAL stamps EPSG:4326 on every GeoJSON, so a difference there is no news.
        if file_crs is not None and not is_json and not file_crs.equals(given):
            warn_labels(path, f"file says {crs_label(file_crs)}; using {crs_label(given)} as told")
        return given
    if file_crs is None:
        if is_json:  # RFC 7946: GeoJSON is WGS84 longitude/latitude
            return CRS.from_epsg(4326)
        raise LabelError(
            "has no CRS (e.g. a Shapefile without .prj); pass --labels-crs, e.g. EPSG:32636",
            path=path,
        )
    return file_crs


def _feature_class_names(path: Path, fields: dict, class_field: str | None, n: int) -> np.ndarray:
    field = class_field or DEFAULT_CLASS_FIELD
    if field not in fields:
        if class_field is not None and class_field != DEFAULT_CLASS_FIELD:
            raise LabelError(
                f"has no attribute {class_field!r} (it has: {', '.join(fields) or 'none'})",
                path=path,
            )
        return np.full(n, DEFAULT_CLASS, dtype=object)
    values = fields[field]
    out = np.empty(n, dtype=object)
    for i, v in enumerate(values):
        text = "" if v is None else str(v).strip()
        # An unset attribute (NULL, '') means the default class, not a class called 'None'.
        out[i] = DEFAULT_CLASS if text in ("", "None", "nan") else text
    return out


def _boxes_from_names(path, xyxy, box_names, names, crs) -> Boxes:
    if names is None:
        names = tuple(sorted(set(box_names)))
    names = tuple(names)
    lookup = {n: i for i, n in enumerate(names)}
    unknown = sorted(set(box_names) - set(lookup))
    if unknown:
        raise LabelError(
            f"has class names {unknown[:5]} that are not in the class list {list(names)}",
            path=path,
        )
    classes = np.fromiter((lookup[n] for n in box_names), dtype=np.int64, count=len(box_names))
    return Boxes(xyxy, classes, names, crs=crs, pixel=False, source=str(path))


def write_vector_labels(path: str | Path, boxes: Boxes, extra_fields: dict | None = None) -> Path:
    """World boxes -> polygons with `class` (int) and `class_name` (str); driver from suffix."""
    if boxes.pixel:
        raise ValueError("write_vector_labels needs world boxes; use Boxes.to_world first")
    polys = shapely.box(*boxes.xyxy.T) if len(boxes) else np.empty(0, dtype=object)
    fields = {
        "class": boxes.classes.astype(np.int32),
        "class_name": np.asarray(boxes.class_names, dtype=object),
    }
    fields.update(extra_fields or {})
    return write_vector(path, polys, boxes.crs, fields, geometry_type="Polygon")
