"""Load detections and ground truth into one shared frame for matching.

The frame is where boxes are compared:
- world: both sides georeferenced. The detections' CRS when it is projected, else the UTM zone
  of the scene (so boxes, sizes and cells are in metres); truth is reprojected into it.
- pixel: the detections carry no CRS (detect ran on an un-georeferenced image), so the truth
  must be pixel boxes too (a YOLO txt, or a vector file declared with --truth-crs pixel).

A reprojected box becomes the axis-aligned envelope of its reprojected corners; across a UTM
zone the grid rotates by at most a few degrees, which inflates a box by a few per cent at most.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
import shapely
from pyproj import CRS
from rasterio.errors import RasterioIOError

from debrismap.errors import DatasetError, LabelError, RasterError
from debrismap.geometry.boxes import as_boxes, box_polygons
from debrismap.geometry.crs import is_metric, reproject, utm_crs_at
from debrismap.labels import LabelWarning, read_labels
from debrismap.vector_io import read_vector

PIXEL = "pixel"  # --truth-crs value: the truth file holds pixel coordinates


@dataclass
class Layer:
    """Polygons in a CRS (None: pixel coordinates), with optional scores."""

    geometries: np.ndarray
    crs: CRS | None
    scores: np.ndarray | None = None
    path: Path | None = None
    notes: list[str] = field(default_factory=list)  # recoverable problems met while reading


@dataclass
class DetectionInput:
    layer: Layer
    run_dir: Path | None = None
    run_score: float | None = None  # thresholds.score of run.json: detect kept nothing below it
    coverage: Layer | None = None
    gsd_m: float | None = None
    run: dict = field(default_factory=dict)


@dataclass
class Frame:
    crs: CRS | None  # None: pixel frame
    unit_m: float | None  # metres per frame unit; None when unknown (pixel frame without GSD)

    @property
    def kind(self) -> str:
        return "pixel" if self.crs is None else "world"


# --- detections -------------------------------------------------------------------------------


def load_detections(path: str | Path) -> DetectionInput:
    """A run folder (detections.gpkg + run.json + coverage.gpkg) or one detections file."""

    path = Path(path)
    if not path.exists():
        raise DatasetError("detections not found (give a run folder or a .gpkg/.geojson)", path=path)
    run_dir, run, coverage = None, {}, None
    # A detections file inside a run folder (e.g. its detections.geojson) still gets the
    # run's threshold and coverage.
    folder = path if path.is_dir() else path.parent
    if path.is_dir() or (folder / "run.json").exists():
        run_dir = folder
        run_json = folder / "run.json"
        if run_json.exists():
            try:
                run = json.loads(run_json.read_text())
            except (ValueError, OSError) as exc:
                raise DatasetError(f"run.json is not readable JSON ({exc})", path=run_json) from exc
        if run.get("status") not in (None, "complete"):
            raise DatasetError(
                f"run is not complete (status {run.get('status')!r}); resume detect first", path=folder
            )
        cov_path = folder / "coverage.gpkg"
        if cov_path.exists():
            cov = read_vector(cov_path, error=DatasetError)
            coverage = Layer(_valid(cov.geometries), cov.crs, path=cov_path)
    if path.is_dir():
        gpkg = path / "detections.gpkg"
        if not gpkg.exists():
            raise DatasetError("is not a run folder: detections.gpkg is missing", path=path)
        data = read_vector(gpkg, layer="detections", error=DatasetError)
        path = gpkg
    else:
        data = read_vector(path, error=DatasetError)
    geoms = data.geometries
    keep = _present(geoms)
    if "score" in data.fields:
        scores = np.asarray(data.fields["score"], dtype=np.float64)
    else:  # a hand-made or third-party file without scores: every box counts, ranked equally
        scores = np.ones(len(geoms))
    run_score = (run.get("thresholds") or {}).get("score")
    inputs = run.get("inputs") or [{}]
    return DetectionInput(
        layer=Layer(geoms[keep], data.crs, scores[keep], path),
        run_dir=run_dir,
        run_score=float(run_score) if run_score is not None else None,
        coverage=coverage,
        gsd_m=inputs[0].get("gsd_m") if inputs else None,
        run=run,
    )


# --- truth ------------------------------------------------------------------------------------


@dataclass
class RasterInfo:
    path: Path
    width: int
    height: int
    crs: CRS | None
    transform: object  # affine.Affine

    def footprint(self) -> Layer:
        return Layer(np.array([shapely.box(0, 0, self.width, self.height)], dtype=object), None)


def raster_info(path: str | Path) -> RasterInfo:
    path = Path(path)
    if not path.exists():
        raise RasterError("raster not found", path=path)
    try:
        with rasterio.open(path) as src:
            crs = CRS.from_user_input(src.crs.to_wkt()) if src.crs else None
            return RasterInfo(path, src.width, src.height, crs, src.transform)
    except RasterioIOError as exc:
        raise RasterError(f"not a readable raster ({str(exc).splitlines()[0]})", path=path) from exc


def load_truth(path: str | Path, raster: RasterInfo | None = None, truth_crs: str | None = None) -> Layer:
    """Truth boxes as polygons with their CRS (None: pixel coordinates).

    Parsing is debrismap.labels' job (GeoJSON/GPKG/SHP, YOLO pixel or normalised, COCO);
    here pixel boxes are put on the map with the raster's transform when it has one.
    """


    path = Path(path)
    pixel_declared = truth_crs == PIXEL
    if _is_empty_feature_collection(path):
        # A scene without piles (e.g. pre-event) is a valid truth; the labels reader refuses
        # empty GeoJSON for training's sake, so it is handled here.
        crs = None if pixel_declared else CRS.from_user_input(truth_crs or "EPSG:4326")
        return Layer(np.empty(0, dtype=object), crs, path=path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LabelWarning)
        boxes = read_labels(
            path,
            labels_crs=None if pixel_declared else truth_crs,
            image_size=(raster.width, raster.height) if raster is not None else None,
            allow_empty=True,  # a scene without piles is a valid truth (e.g. pre-event imagery)
        )
    notes = [str(w.message) for w in caught if issubclass(w.category, LabelWarning)]
    geoms = shapely.box(*boxes.xyxy.T) if len(boxes) else np.empty(0, dtype=object)
    if boxes.pixel:
        if truth_crs not in (None, PIXEL):
            raise LabelError("holds pixel boxes: use --raster to georeference them, not --truth-crs", path=path)
        if raster is not None and raster.crs is not None:
            return Layer(box_polygons(boxes.xyxy, raster.transform), raster.crs, path=path, notes=notes)
        return Layer(geoms, None, path=path, notes=notes)
    return Layer(geoms, None if pixel_declared else boxes.crs, path=path, notes=notes)


def centres_inside(boxes: np.ndarray, area) -> np.ndarray:
    """Mask of boxes whose centre lies in `area` (boundary included); all True without an area."""
    if area is None or len(boxes) == 0:
        return np.ones(len(boxes), dtype=bool)
    shapely.prepare(area)
    return shapely.intersects_xy(area, (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2)


def _is_empty_feature_collection(path: Path) -> bool:
    if path.suffix.lower() not in (".geojson", ".json") or path.stat().st_size > 4096:
        return False
    try:
        doc = json.loads(path.read_text())
    except (ValueError, OSError, UnicodeDecodeError):
        return False  # let the labels reader name the problem
    return isinstance(doc, dict) and doc.get("type") == "FeatureCollection" and doc.get("features") == []


# --- the shared frame -------------------------------------------------------------------------


def choose_frame(dets: DetectionInput, truth: Layer, pixel_gsd_m: float | None = None) -> Frame:
    """World frame in metres when the detections are georeferenced, else the pixel frame.

    The same rule as the heatmap (debrismap.geometry.crs): the run CRS when it is
    projected in metres, else the WGS 84 UTM zone of the scene's centre, so that evaluation
    cells are heatmap cells.
    """

    crs = dets.layer.crs
    if crs is None:
        return Frame(None, pixel_gsd_m if pixel_gsd_m else dets.gsd_m)
    if is_metric(crs):
        return Frame(crs, 1.0)
    lonlat = None
    for layer in (dets.layer, dets.coverage, truth):
        if layer is not None and len(layer.geometries) and layer.crs is not None:
            lonlat = to_crs(layer, CRS.from_epsg(4326))
            break
    if lonlat is None:
        raise DatasetError(
            "detections are in a non-metric CRS and there is nothing to place the scene with",
            path=dets.layer.path,
        )
    minx, miny, maxx, maxy = shapely.total_bounds(lonlat)
    return Frame(utm_crs_at((minx + maxx) / 2, (miny + maxy) / 2), 1.0)


def to_crs(layer: Layer, target: CRS | None) -> np.ndarray:
    """The layer's geometries in `target` (None: pixel frame); a mismatch is a named error."""
    if layer.crs is None and target is None:
        return layer.geometries
    if layer.crs is None:
        raise LabelError(
            "has no CRS but the detections are georeferenced: pass --truth-crs, or --raster for pixel boxes",
            path=layer.path,
        )
    if target is None:
        raise LabelError(
            "is georeferenced but the detections are in pixel coordinates (no CRS): "
            "give pixel truth (YOLO txt or --truth-crs pixel)",
            path=layer.path,
        )
    if layer.crs == target or len(layer.geometries) == 0:
        return layer.geometries
    out = reproject(layer.geometries, layer.crs, target)
    if not np.isfinite(shapely.bounds(out)).all():
        raise LabelError(f"cannot be reprojected to {target.name} (coordinates out of range?)", path=layer.path)
    return out


def boxes_in(layer: Layer, frame: Frame) -> np.ndarray:
    geoms = to_crs(layer, frame.crs)
    return as_boxes(shapely.bounds(geoms)) if len(geoms) else np.empty((0, 4))


def evaluated_area(dets: DetectionInput, truth: Layer, raster: RasterInfo | None, frame: Frame):
    """(geometry, source): the run's coverage, else the raster footprint, else the truth extent."""
    if dets.coverage is not None and len(dets.coverage.geometries):
        return shapely.union_all(to_crs(dets.coverage, frame.crs)), "coverage.gpkg"
    if raster is not None:
        footprint = raster.footprint()
        if raster.crs is not None:
            pixel_box = shapely.bounds(footprint.geometries)
            footprint = Layer(box_polygons(pixel_box, raster.transform), raster.crs, path=raster.path)
        elif frame.crs is not None:
            footprint = None  # an un-georeferenced raster says nothing about a world frame
        if footprint is not None:
            return shapely.union_all(to_crs(footprint, frame.crs)), "raster extent"
    for layer, name in ((truth, "truth extent"), (dets.layer, "detection extent")):
        if len(layer.geometries):
            return shapely.box(*shapely.total_bounds(to_crs(layer, frame.crs))), name
    return None, "none"


def _present(geoms: np.ndarray) -> np.ndarray:
    """Mask of features that have a non-empty geometry (vectorised; None counts as missing)."""
    geoms = np.asarray(geoms, dtype=object)
    return ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)


def _valid(geoms: np.ndarray) -> np.ndarray:
    geoms = np.asarray(geoms, dtype=object)
    return geoms[_present(geoms)] if len(geoms) else np.empty(0, dtype=object)
