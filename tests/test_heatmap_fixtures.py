"""Builders of synthetic detect run folders for the heatmap / compare / report tests.

Not tests themselves: the other test_heatmap*/test_compare*/test_report* files import them.
A run folder is written exactly as the contract in docs/contracts.md describes it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS, Transformer

from debrismap.vector_io import write_vector

UTM = "EPSG:32637"  # WGS 84 / UTM 37N (south-east Türkiye)
ORIGIN = (500_000.0, 4_100_000.0)  # lower-left of the synthetic scene, metres
BOX_M = 4.0  # side of a pile's box, metres


def scene_polygon(width_m: float = 2000.0, height_m: float = 1500.0, origin=ORIGIN) -> shapely.Polygon:
    x0, y0 = origin
    return shapely.box(x0, y0, x0 + width_m, y0 + height_m)


def make_run(
    run_dir: Path,
    piles_utm: np.ndarray,
    scores: np.ndarray | None = None,
    coverage_utm: shapely.Geometry | None = None,
    crs: str = UTM,
    status: str = "complete",
    threshold: float = 0.25,
    raster: bool = True,
    extent_utm: shapely.Geometry | None = None,
    date: str = "2023-02-10",
    model_extra: dict | None = None,
) -> Path:
    """Write a complete run folder; pile centres and coverage are given in UTM metres and
    transformed to `crs` (the run CRS) for storage."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    piles_utm = np.asarray(piles_utm, dtype=float).reshape(-1, 2)
    if scores is None:
        scores = np.full(len(piles_utm), 0.8)
    extent_utm = extent_utm if extent_utm is not None else scene_polygon()
    coverage_utm = coverage_utm if coverage_utm is not None else extent_utm
    tr = Transformer.from_crs(UTM, crs, always_xy=True)

    def to_run(geom):
        return shapely.transform(shapely.segmentize(geom, 50.0),
                                 lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))

    h = BOX_M / 2
    boxes = [to_run(shapely.box(x - h, y - h, x + h, y + h)) for x, y in piles_utm]
    n = len(boxes)
    fields = {
        "score": np.asarray(scores, dtype=float),
        "class": np.zeros(n, dtype=np.int32),
        "class_name": np.array(["debris"] * n, dtype=object),
        "tile_row": np.zeros(n, dtype=np.int32),
        "tile_col": np.zeros(n, dtype=np.int32),
        "source": np.array(["scene.tif"] * n, dtype=object),
    }
    write_vector(run_dir / "detections.gpkg", np.array(boxes, dtype=object), crs, fields,
                 layer="detections", geometry_type="Polygon")
    to_ll = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    boxes_ll = [shapely.transform(shapely.box(x - h, y - h, x + h, y + h),
                                  lambda c: np.column_stack(to_ll.transform(c[:, 0], c[:, 1])))
                for x, y in piles_utm]
    write_vector(run_dir / "detections.geojson", np.array(boxes_ll, dtype=object), "EPSG:4326",
                 fields, layer="detections", geometry_type="Polygon")
    write_vector(run_dir / "coverage.gpkg", np.array([to_run(coverage_utm)], dtype=object), crs,
                 layer="coverage")
    inputs = []
    if raster:
        tif = write_scene_raster(run_dir / "scene.tif", extent_utm, crs)
        inputs.append({"path": str(tif), "width": 0, "height": 0, "header_sha256": "0" * 64,
                       "crs": CRS.from_user_input(crs).to_wkt(), "gsd_m": 2.0,
                       "acquisition_date": date, "bands": [1, 2, 3], "stretch": None})
    manifest = {
        "format_version": 1,
        "software_version": "0.1.0",
        "status": status,
        "started": "2026-11-21T10:00:00Z",
        "finished": "2026-11-21T10:05:00Z" if status == "complete" else None,
        "crs": CRS.from_user_input(crs).to_wkt(),
        "inputs": inputs,
        "model": {"path": "models/debris.onnx", "sha256": "ab" * 32, "classes": ["debris"],
                  "gsd_m": 0.5, "input_size": 640, **(model_extra or {})},
        "thresholds": {"score": threshold, "nms_iou": 0.5},
        "tiling": {"tile_size": 640, "overlap": 64, "tiles_total": 12, "batch_size": 4},
        "timings": {"total_s": 300.0, "inference_s": 250.0},
        "counts": {"detections": n},
    }
    (run_dir / "run.json").write_text(json.dumps(manifest, indent=2))
    return run_dir


def write_scene_raster(path: Path, extent_utm: shapely.Geometry, crs: str, pixels: int = 400) -> Path:
    """A small textured RGB GeoTIFF over the scene (blocks like a city), in `crs`."""
    import rasterio
    from rasterio.transform import from_bounds

    tr = Transformer.from_crs(UTM, crs, always_xy=True)
    minx, miny, maxx, maxy = extent_utm.bounds
    xs, ys = tr.transform([minx, maxx, minx, maxx], [miny, miny, maxy, maxy])
    left, right, bottom, top = min(xs), max(xs), min(ys), max(ys)
    aspect = (maxy - miny) / (maxx - minx)
    width, height = pixels, max(int(pixels * aspect), 1)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    blocks = ((xx // 25 + yy // 25) % 2) * 60 + 90
    streets = ((xx % 25) < 3) | ((yy % 25) < 3)
    base = np.where(streets, 200, blocks) + rng.normal(0, 12, (height, width))
    rgb = np.stack([base * 1.0, base * 0.95, base * 0.85]).clip(0, 255).astype(np.uint8)
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=3, dtype="uint8",
                       crs=crs, transform=from_bounds(left, bottom, right, top, width, height)) as ds:
        ds.write(rgb)
    return path


def clustered_piles(n: int, seed: int = 1, centre=None, spread: float = 150.0,
                    extent: shapely.Geometry | None = None, margin: float = 0.0) -> np.ndarray:
    """`n` pile centres in a Gaussian cluster, clipped to the extent minus `margin`."""
    rng = np.random.default_rng(seed)
    extent = extent if extent is not None else scene_polygon()
    minx, miny, maxx, maxy = extent.bounds
    cx, cy = centre if centre is not None else ((minx + maxx) / 2, (miny + maxy) / 2)
    pts = rng.normal([cx, cy], spread, size=(n * 3, 2))
    ok = ((pts[:, 0] > minx + margin) & (pts[:, 0] < maxx - margin)
          & (pts[:, 1] > miny + margin) & (pts[:, 1] < maxy - margin))
    return pts[ok][:n]
