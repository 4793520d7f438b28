"""Read and write vector files (GeoPackage, GeoJSON, Shapefile) as shapely arrays.

A thin layer over pyogrio's raw array API so the runtime side needs neither geopandas
nor pandas. Writes are atomic: a temp file in the same folder, then a rename, so a
killed process never leaves a half-written file under the final name.
"""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS

from debrismap.atomic import temp_path_for
from debrismap.errors import DebrismapError, LabelError

# A failed write with less than this free in the folder is reported as a full disk.
NEARLY_FULL_BYTES = 1 << 20
DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "ESRI Shapefile"}


@dataclass
class VectorData:
    """Geometries with their CRS (None if the file states none) and attribute columns."""

    geometries: np.ndarray  # object array of shapely geometries (None for empty ones)
    crs: CRS | None
    fields: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.geometries)


def read_vector(
    path: str | Path, layer: str | int | None = None, error: type[DebrismapError] = LabelError
) -> VectorData:
    """Read every feature of one layer. Any failure becomes `error` naming the file."""

    path = Path(path)
    if not path.exists():
        raise error("file not found", path=path)
    try:
        meta, _, wkb, field_data = pyogrio.raw.read(path, layer=layer)
    except (DataSourceError, DataLayerError) as exc:
        raise error(f"not a readable vector file ({_first_line(exc)})", path=path) from exc
    except Exception as exc:  # GDAL raises assorted errors for corrupt files
        raise error(f"cannot read vector file ({_first_line(exc)})", path=path) from exc
    try:
        crs = CRS.from_user_input(meta["crs"]) if meta.get("crs") else None
    except Exception as exc:
        raise error(f"has an unreadable CRS: {meta.get('crs')!r}", path=path) from exc
    geoms = shapely.from_wkb(wkb, on_invalid="ignore") if len(wkb) else np.empty(0, dtype=object)
    fields = {name: np.asarray(col) for name, col in zip(meta["fields"], field_data)}
    return VectorData(np.asarray(geoms, dtype=object), crs, fields)


def write_vector(
    path: str | Path,
    geometries,
    crs: CRS | str | None,
    fields: dict[str, np.ndarray] | None = None,
    layer: str | None = None,
    geometry_type: str | None = None,
) -> Path:
    """Write geometries + columns atomically; the driver comes from the suffix."""

    path = Path(path)
    driver = DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise DebrismapError(f"unsupported vector format (use {', '.join(DRIVERS)})", path=path)
    geoms = np.asarray(geometries, dtype=object)
    fields = {k: np.asarray(v) for k, v in (fields or {}).items()}
    if geometry_type is None:
        kinds = {g.geom_type for g in geoms if g is not None}
        geometry_type = kinds.pop() if len(kinds) == 1 else ("Polygon" if not kinds else "Unknown")
    crs_text = CRS.from_user_input(crs).to_wkt() if crs is not None else None
    tmp = temp_path_for(path)
    if tmp.exists():
        tmp.unlink()
    # RFC 7946 GeoJSON is EPSG:4326 by definition: GDAL reprojects to it when asked, so ask
    # only when the data already is lon/lat; other CRSs keep theirs in a `crs` member.
    options = {}
    if driver == "GeoJSON" and crs is not None and CRS.from_user_input(crs).equals(CRS.from_epsg(4326)):
        options = {"RFC7946": "YES", "WRITE_BBOX": "NO"}
    try:
        pyogrio.raw.write(
            tmp,
            shapely.to_wkb(geoms) if len(geoms) else np.empty(0, dtype=object),
            geometry_type=geometry_type,
            field_data=list(fields.values()),
            fields=list(fields.keys()),
            crs=crs_text,
            driver=driver,
            layer=layer or path.stem,
            layer_options=options or None,
        )
    except Exception as exc:
        # GDAL (SQLite for a GeoPackage) words a full disk or a read-only folder as anything
        # ("no such table: gpkg_contents"): ask the file system, so callers can say which.
        full = shutil.disk_usage(tmp.parent).free < NEARLY_FULL_BYTES
        for part in tmp.parent.glob(tmp.stem + ".*"):
            part.unlink(missing_ok=True)
        if full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from exc
        if not os.access(tmp.parent, os.W_OK | os.X_OK):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(path)) from exc
        raise
    # A shapefile is several files (.shp, .shx, .dbf, .prj, .cpg): move each sidecar too.
    for part in tmp.parent.glob(tmp.stem + ".*"):
        os.replace(part, path.with_suffix(part.suffix))
    return path


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
