"""debrismap evaluate on files: run folders, reprojected truth, YOLO truth, outputs, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine

from debrismap.cli import main
from debrismap.evaluate import evaluate_paths
from debrismap.vector_io import write_vector

UTM = "EPSG:32615"
ORIGIN = (360_000.0, 4_105_000.0)  # Joplin, MO, in UTM 15N
GSD = 0.5


def pixel_boxes(n: int = 12) -> np.ndarray:
    i = np.arange(n)
    x, y = 20 + (i % 4) * 40, 20 + (i // 4) * 40
    return np.column_stack([x, y, x + 10, y + 8]).astype(float)


def to_world(px: np.ndarray) -> np.ndarray:
    x0, y0 = ORIGIN
    return np.column_stack([x0 + px[:, 0] * GSD, y0 - px[:, 3] * GSD, x0 + px[:, 2] * GSD, y0 - px[:, 1] * GSD])


def make_run(folder: Path, world_boxes: np.ndarray, scores=None, crs=UTM, threshold=0.25, coverage=None) -> Path:
    folder.mkdir(parents=True)
    geoms = shapely.box(*world_boxes.T)
    scores = np.full(len(geoms), 0.9) if scores is None else np.asarray(scores, float)
    write_vector(folder / "detections.gpkg", geoms, crs, {"score": scores, "class": np.zeros(len(geoms), np.int32)},
                 layer="detections")
    if coverage is not None:
        write_vector(folder / "coverage.gpkg", [coverage], crs, layer="coverage")
    (folder / "run.json").write_text(json.dumps({
        "format_version": 1, "status": "complete", "thresholds": {"score": threshold, "nms_iou": 0.5},
        "inputs": [{"gsd_m": GSD if crs else None}],
    }))
    return folder


def make_raster(path: Path, georeferenced: bool = True) -> Path:
    profile = {"driver": "GTiff", "width": 200, "height": 160, "count": 3, "dtype": "uint8"}
    if georeferenced:
        profile.update(crs=UTM, transform=Affine(GSD, 0, ORIGIN[0], 0, -GSD, ORIGIN[1]))
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.zeros((3, 160, 200), np.uint8))
    return path


def write_yolo(path: Path, boxes: np.ndarray) -> Path:
    path.write_text("".join(f"0 {a:g} {b:g} {c:g} {d:g}\n" for a, b, c, d in boxes))
    return path


def test_wgs84_truth_is_reprojected_onto_utm_detections(tmp_path):
    world = to_world(pixel_boxes())
    run = make_run(tmp_path / "run", world)
    truth = tmp_path / "truth.geojson"
    from pyproj import Transformer

    to_lonlat = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    lonlat = shapely.transform(shapely.box(*world.T), lambda xy: np.column_stack(to_lonlat.transform(xy[:, 0], xy[:, 1])))
    write_vector(truth, lonlat, "EPSG:4326")
    assert "32615" not in truth.read_text()  # really lon/lat on disk
    r = evaluate_paths(run, truth, iou=0.5, resamples=100)
    op = r["metrics"]["operating_point"]
    assert r["frame"]["epsg"] == 32615 and r["frame"]["unit_m"] == 1.0
    assert op["precision"] == op["recall"] == 1.0 and r["metrics"]["ap50"] == pytest.approx(1.0)
    assert r["settings"]["score"] == 0.25 and r["settings"]["score_source"] == "run.json"


def test_geographic_detections_are_matched_in_utm(tmp_path):
    world = to_world(pixel_boxes())
    truth = tmp_path / "truth.gpkg"
    write_vector(truth, shapely.box(*world.T), UTM)
    # detections in EPSG:4326 (as detections.geojson is), truth in UTM: matched in the metric frame
    from pyproj import Transformer

    to_lonlat = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    boxes = shapely.box(*world.T)
    lonlat = shapely.transform(boxes, lambda xy: np.column_stack(to_lonlat.transform(xy[:, 0], xy[:, 1])))
    assert shapely.bounds(lonlat)[:, 0].max() < 180  # really degrees
    dets = tmp_path / "detections.geojson"
    write_vector(dets, lonlat, "EPSG:4326", {"score": np.full(len(world), 0.8)})
    r = evaluate_paths(dets, truth, resamples=50)
    assert r["frame"]["epsg"] == 32615
    op = r["metrics"]["operating_point"]
    assert (op["tp"], op["fp"], op["fn"], op["recall"]) == (len(world), 0, 0, 1.0)


def test_yolo_pixel_truth_is_georeferenced_with_the_raster(tmp_path):
    px = pixel_boxes()
    run = make_run(tmp_path / "run", to_world(px[:9]))  # 9 of 12 found
    raster = make_raster(tmp_path / "city.tif")
    truth = write_yolo(tmp_path / "city.labels.txt", px)
    r = evaluate_paths(run, truth, raster=raster, iou=0.5, resamples=100, cell_m=50)
    op = r["metrics"]["operating_point"]
    assert (op["tp"], op["fp"], op["fn"]) == (9, 0, 3)
    assert r["area"]["source"] == "raster extent"
    assert r["area"]["area_km2"] == pytest.approx(100 * 80 / 1e6)
    assert r["metrics"]["counting"]["total"] == {"predicted": 9, "true": 12, "error": -3, "relative_error": -0.25}
    # Box side sqrt(5 m x 4 m) = 4.47 m: all medium.
    bins = {b["name"]: b["truths"] for b in r["metrics"]["sizes"]["bins"]}
    assert bins == {"small": 0, "medium": 12, "large": 0}


def test_normalised_yolo_truth_needs_and_uses_the_raster_size(tmp_path):
    px = pixel_boxes(4)
    run = make_run(tmp_path / "run", to_world(px))
    raster = make_raster(tmp_path / "city.tif")
    cx, cy = (px[:, 0] + px[:, 2]) / 2 / 200, (px[:, 1] + px[:, 3]) / 2 / 160
    w, h = (px[:, 2] - px[:, 0]) / 200, (px[:, 3] - px[:, 1]) / 160
    truth = write_yolo(tmp_path / "norm.txt", np.column_stack([cx, cy, w, h]))
    assert evaluate_paths(run, truth, raster=raster, resamples=10)["metrics"]["operating_point"]["recall"] == 1.0


def test_coverage_restricts_the_counting_cells(tmp_path):
    world = to_world(pixel_boxes())
    x0, y0 = ORIGIN
    coverage = shapely.box(x0, y0 - 50, x0 + 50, y0)  # 50 m x 50 m of the 100 x 80 m scene
    run = make_run(tmp_path / "run", world, coverage=coverage)
    truth = tmp_path / "truth.gpkg"
    write_vector(truth, shapely.box(*world.T), UTM)
    c = evaluate_paths(run, truth, cell_m=25, resamples=10)
    assert c["area"]["source"] == "coverage.gpkg"
    assert c["metrics"]["counting"]["cells"] == 4


def test_pixel_frame_when_detections_have_no_crs(tmp_path):
    px = pixel_boxes()
    with pytest.warns(UserWarning, match="crs"):  # pyogrio: a file without a CRS, as intended
        run = make_run(tmp_path / "run", px, crs=None)
    truth = write_yolo(tmp_path / "t.txt", px)
    r = evaluate_paths(run, truth, resamples=10, pixel_gsd_m=0.5)
    assert r["frame"]["kind"] == "pixel" and r["metrics"]["operating_point"]["f1"] == 1.0
    assert r["metrics"]["counting"]["cell_size"] == 100.0


def test_cli_writes_json_and_png_and_prints_a_table(tmp_path, capsys):
    px = pixel_boxes()
    run = make_run(tmp_path / "run", to_world(px), scores=np.linspace(0.9, 0.3, 12))
    raster = make_raster(tmp_path / "city.tif")
    truth = write_yolo(tmp_path / "city.labels.txt", px)
    out = tmp_path / "eval"
    assert main(["evaluate", str(run), str(truth), "--raster", str(raster), "--out", str(out), "--bootstrap", "100"]) == 0
    printed = capsys.readouterr().out
    assert "AP50" in printed and "per-cell MAE" in printed
    data = json.loads((out / "evaluation.json").read_text())
    assert data["metrics"]["operating_point"]["recall"] == 1.0
    assert (out / "pr_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "content, expected",
    [("0 1 2 3\n", "line 1"), ("0 a b c d\n", "line 1"), ("0 1 2 3 4\n0 x\n", "line 2")],
)
def test_bad_truth_file_is_one_line_error(tmp_path, capsys, content, expected):
    run = make_run(tmp_path / "run", to_world(pixel_boxes()))
    truth = tmp_path / "bad.txt"
    truth.write_text(content)
    assert main(["evaluate", str(run), str(truth), "--raster", str(make_raster(tmp_path / "r.tif"))]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(truth) in err and expected in err


def test_unreadable_vector_truth_and_missing_crs_are_named(tmp_path, capsys):
    run = make_run(tmp_path / "run", to_world(pixel_boxes()))
    truth = tmp_path / "broken.geojson"
    truth.write_text("{not json")
    assert main(["evaluate", str(run), str(truth)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "broken.geojson" in err
    # Pixel boxes without a raster cannot be put on a georeferenced run's map.
    txt = write_yolo(tmp_path / "t.txt", pixel_boxes())
    assert main(["evaluate", str(run), str(txt)]) == 2
    err = capsys.readouterr().err.strip()
    assert "t.txt" in err and "--raster" in err and len(err.splitlines()) == 1


def test_empty_truth_is_a_scene_without_piles(tmp_path):
    world = to_world(pixel_boxes(3))
    x0, y0 = ORIGIN
    run = make_run(tmp_path / "run", world, coverage=shapely.box(x0, y0 - 80, x0 + 100, y0))
    truth = tmp_path / "none.geojson"
    truth.write_text('{"type": "FeatureCollection", "features": []}')
    r = evaluate_paths(run, truth, resamples=20, cell_m=50)
    op, c = r["metrics"]["operating_point"], r["metrics"]["counting"]
    assert (op["truths"], op["fp"], op["precision"], op["recall"]) == (0, 3, 0.0, None)
    assert c["total"] == {"predicted": 3, "true": 0, "error": 3, "relative_error": None}
    assert c["cells"] == 4


def test_web_geojson_inside_a_run_folder_uses_the_run(tmp_path):
    world = to_world(pixel_boxes())
    x0, y0 = ORIGIN
    run = make_run(tmp_path / "run", world, threshold=0.4, coverage=shapely.box(x0, y0 - 50, x0 + 50, y0))
    write_vector(run / "detections.geojson", shapely.box(*world.T), UTM, {"score": np.full(len(world), 0.9)})
    truth = tmp_path / "truth.gpkg"
    write_vector(truth, shapely.box(*world.T), UTM)
    r = evaluate_paths(run / "detections.geojson", truth, resamples=10, cell_m=25)
    assert r["settings"]["score"] == 0.4 and r["area"]["source"] == "coverage.gpkg"
    assert r["frame"]["epsg"] == 32615 and r["metrics"]["operating_point"]["recall"] == 1.0


def test_truth_outside_the_coverage_is_not_counted_as_missed(tmp_path):
    world = to_world(pixel_boxes())  # 12 boxes over 100 m x 80 m
    x0, y0 = ORIGIN
    coverage = shapely.box(x0, y0 - 45, x0 + 100, y0)  # the top rows only: 8 of the 12 piles
    run = make_run(tmp_path / "run", world[:8], coverage=coverage)
    truth = tmp_path / "truth.gpkg"
    write_vector(truth, shapely.box(*world.T), UTM)
    r = evaluate_paths(run, truth, resamples=10)
    assert r["area"]["truths_outside"] == 4
    assert r["metrics"]["operating_point"]["recall"] == 1.0 and r["metrics"]["counting"]["total"]["error"] == 0


def test_coco_pixel_truth_with_the_raster(tmp_path):
    px = pixel_boxes(5)
    run = make_run(tmp_path / "run", to_world(px[:4]))
    raster = make_raster(tmp_path / "city.tif")
    coco = {
        "images": [{"id": 1, "file_name": "city.tif", "width": 200, "height": 160}],
        "annotations": [
            {"id": i + 1, "image_id": 1, "category_id": 1, "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]]}
            for i, b in enumerate(px.tolist())
        ],
        "categories": [{"id": 1, "name": "debris"}],
    }
    truth = tmp_path / "coco.json"
    truth.write_text(json.dumps(coco))
    op = evaluate_paths(run, truth, raster=raster, resamples=10)["metrics"]["operating_point"]
    assert (op["tp"], op["fn"]) == (4, 1)
