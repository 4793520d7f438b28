"""The run folder's final files: detections.gpkg (run CRS), detections.geojson (EPSG:4326),
candidates.gpkg (run CRS), coverage.gpkg and run.json. Each is written to a temp file and renamed, so a file under its
final name is always complete; a failure becomes one OutputError line.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import shapely

from debrismap.atomic import no_space_error, write_error, write_json
from debrismap.errors import OutputError
from debrismap.geometry.crs import reproject
from debrismap.vector_io import write_vector

DETECTIONS_GPKG = "detections.gpkg"
DETECTIONS_GEOJSON = "detections.geojson"
CANDIDATES_GPKG = "candidates.gpkg"
COVERAGE_GPKG = "coverage.gpkg"
RUN_JSON = "run.json"
OUTPUT_NAMES = (DETECTIONS_GPKG, DETECTIONS_GEOJSON, CANDIDATES_GPKG, COVERAGE_GPKG, RUN_JSON)


def _write(path: Path, geoms, crs, fields: dict, layer: str) -> None:
    try:
        with warnings.catch_warnings():
            if crs is None:  # pixel-space run: GDAL's "no SRS" complaints are expected
                warnings.simplefilter("ignore")
            write_vector(path, geoms, crs, fields, layer=layer,
                         geometry_type="Polygon" if layer in ("detections", "candidates") else "MultiPolygon")
    except OSError as exc:
        raise write_error(exc, path) from exc
    except OutputError:
        raise
    except Exception as exc:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if "space" in text.lower():
            raise no_space_error(path) from exc
        raise OutputError(f"cannot write ({text})", path=path) from exc


def write_detections(run_dir: Path, geoms: np.ndarray, crs, fields: dict) -> None:
    """detections.gpkg in the run CRS and detections.geojson in EPSG:4326.

    Without georeferencing only the GeoPackage is written (in pixel coordinates): a GeoJSON
    file is lon/lat by definition, and pixel numbers in one would be read as degrees.
    """
    _write(run_dir / DETECTIONS_GPKG, geoms, crs, fields, "detections")
    if crs is not None:
        _write(run_dir / DETECTIONS_GEOJSON, reproject(geoms, crs, "EPSG:4326"), "EPSG:4326", fields, "detections")
    else:
        (run_dir / DETECTIONS_GEOJSON).unlink(missing_ok=True)


def write_candidates(run_dir: Path, geoms: np.ndarray, crs, fields: dict) -> None:
    """candidates.gpkg (layer `candidates`): every box down to the run's candidate floor, detections included.

    A file of its own rather than a second layer of detections.gpkg: dropping detections.gpkg
    into QGIS (or reading it without naming a layer) must still give exactly the detections.
    """
    _write(run_dir / CANDIDATES_GPKG, geoms, crs, fields, "candidates")


def as_multipolygon(geom):
    """Any areal result of overlay operations (Polygon, MultiPolygon, collection, None) as a MultiPolygon."""
    if geom is None or geom.is_empty:
        return shapely.MultiPolygon()
    polygons = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and not p.is_empty]
    nested = [q for p in shapely.get_parts(geom) if p.geom_type == "MultiPolygon" for q in p.geoms]
    return shapely.MultiPolygon(polygons + nested)


def write_coverage(run_dir: Path, geoms: list, crs, sources: list[str]) -> None:
    multi = np.asarray([as_multipolygon(g) for g in geoms], dtype=object)
    _write(run_dir / COVERAGE_GPKG, multi, crs, {"source": np.asarray(sources, dtype=object)}, "coverage")


def write_run_json(run_dir: Path, manifest: dict) -> None:
    write_json(run_dir / RUN_JSON, manifest, default=str, ensure_ascii=True)
