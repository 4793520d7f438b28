"""debrismap heatmap: grid counts, density raster, zones, sensitivity, figure, CLI errors."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS
from test_heatmap_fixtures import ORIGIN, UTM, clustered_piles, make_run, scene_polygon

from debrismap.aggregate.heatmap import analyse_run, run_heatmap
from debrismap.aggregate.sensitivity import count_summary, threshold_curve
from debrismap.cli import main
from debrismap.vector_io import read_vector, write_vector

X0, Y0 = ORIGIN


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def notched_run(tmp_path_factory):
    """Projected run whose coverage misses a 300 x 500 m corner; some piles lie there."""
    run_dir = tmp_path_factory.mktemp("notched")
    inside = clustered_piles(150, seed=1, spread=200)
    hole = shapely.box(X0 + 1700, Y0, X0 + 2000, Y0 + 500)
    outside = np.random.default_rng(2).uniform([X0 + 1710, Y0 + 10], [X0 + 1990, Y0 + 490], (7, 2))
    coverage = shapely.difference(scene_polygon(), hole)
    scores = np.random.default_rng(3).uniform(0.25, 1.0, 157)
    make_run(run_dir, np.vstack([inside, outside]), scores, coverage_utm=coverage)
    return run_dir, len(inside), len(outside)


@pytest.fixture(scope="module")
def notched_outputs(notched_run, tmp_path_factory):
    run_dir, _, _ = notched_run
    return run_heatmap(run_dir, out_dir=tmp_path_factory.mktemp("notched_out"), dots=True,
                       formats=("png", "svg"))


def test_counts_add_up_to_detections_inside_coverage(notched_run, notched_outputs):
    _, n_inside, n_outside = notched_run
    rows = read_csv(notched_outputs.counts_csv)
    assert sum(int(r["count"]) for r in rows) == n_inside  # the 7 outside coverage are left out
    # lon/lat of the centres for charting tools: UTM 37N at x = 500 km is on 39° E
    assert abs(float(rows[0]["lon"]) - 39.0) < 0.03 and 36.9 < float(rows[0]["lat"]) < 37.1
    gpkg = read_vector(notched_outputs.counts_gpkg)
    assert int(gpkg.fields["count"].sum()) == n_inside
    summary = json.loads(notched_outputs.summary_json.read_text())
    assert summary["counted"] == n_inside
    assert summary["detections_outside_coverage"] == n_outside
    assert summary["detections_in_run"] == n_inside + n_outside


def test_cells_without_imagery_are_omitted_not_zero(notched_outputs):
    ids = {r["cell_id"] for r in read_csv(notched_outputs.counts_csv)}
    # cells wholly inside the missing corner (x 501700-502000, y 4100000-4100500)
    for ix in (5017, 5018, 5019):
        for iy in range(41000, 41005):
            assert f"E{ix}N{iy}" not in ids
    assert "E5016N41000" in ids and "E5017N41005" in ids
    assert len(ids) == 20 * 15 - 3 * 5


def test_grid_aligned_to_multiples_of_cell_in_metres(tmp_path):
    # an origin that is not a multiple of anything: the grid must still snap to 100 m
    extent = shapely.box(500_037.3, 4_100_011.9, 500_637.3, 4_100_411.9)
    piles = clustered_piles(40, seed=4, extent=extent, spread=100, centre=extent.centroid.coords[0])
    run_dir = make_run(tmp_path / "run", piles, extent_utm=extent, raster=False)
    analysis = analyse_run(run_dir, cell=100.0)
    polys = analysis.grid.polygons()
    bounds = shapely.bounds(polys)
    assert np.allclose(bounds / 100.0, np.round(bounds / 100.0), atol=1e-9)
    assert np.allclose(shapely.area(polys), 100.0**2)
    assert analysis.grid.count.sum() == len(piles)
    # edge cells are partial: x from 500037.3 to 500100 is 62.7 % of the first column
    first = (analysis.grid.ix == 5000) & (analysis.grid.iy == 41001)
    assert analysis.grid.valid_fraction[first][0] == pytest.approx(0.627, abs=1e-6)


def test_partial_cells_flagged_and_normalised_by_valid_area(tmp_path):
    extent = shapely.box(X0, Y0, X0 + 250, Y0 + 200)  # the x = 200..250 column is half imaged
    piles = np.array([[X0 + 210, Y0 + 50], [X0 + 220, Y0 + 60], [X0 + 50, Y0 + 50]])
    run_dir = make_run(tmp_path / "run", piles, extent_utm=extent, raster=False)
    grid = analyse_run(run_dir, cell=100.0).grid
    half = (grid.ix == 5002) & (grid.iy == 41000)
    full = (grid.ix == 5000) & (grid.iy == 41000)
    assert grid.partial[half][0] and not grid.partial[full][0]
    assert grid.valid_fraction[half][0] == pytest.approx(0.5)
    assert grid.count[half][0] == 2
    assert grid.piles_per_km2[half][0] == pytest.approx(2 / 0.005)  # 2 piles in 0.005 km²
    assert grid.piles_per_km2[full][0] == pytest.approx(1 / 0.01)


def test_density_integrates_to_count(tmp_path):
    piles = np.vstack([clustered_piles(200, seed=5, spread=120, margin=450),
                       clustered_piles(60, seed=6, centre=(X0 + 600, Y0 + 600), spread=60, margin=450)])
    run_dir = make_run(tmp_path / "run", piles, raster=False)
    analysis = analyse_run(run_dir, cell=100.0, bandwidth=75.0)
    assert analysis.density.integral() == pytest.approx(len(piles), rel=0.01)
    # a wider kernel spreads the same mass
    wide = analyse_run(run_dir, cell=100.0, bandwidth=150.0)
    assert wide.density.integral() == pytest.approx(len(piles), rel=0.02)
    assert np.nanmax(wide.density.values) < np.nanmax(analysis.density.values)


def test_density_cog_on_disk(notched_outputs):
    import rasterio

    with rasterio.open(notched_outputs.density_tif) as ds:
        assert ds.dtypes[0] == "float32" and ds.nodata is not None
        assert ds.profile["tiled"] and ds.overviews(1)
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert ds.crs.to_epsg() == 32637
        data = ds.read(1, masked=True)
        assert data.mask.any() and not data.mask.all()  # nodata in the missing corner
        # the corner x 501700-502000, y 4100000-4100500 is nodata
        row, col = ds.index(X0 + 1850, Y0 + 250)
        assert data.mask[row, col]
        per_km2_x_area = float(data.sum()) * abs(ds.transform.a * ds.transform.e) / 1e6
    counted = json.loads(notched_outputs.summary_json.read_text())["counted"]
    assert per_km2_x_area == pytest.approx(counted, rel=0.1)  # tails near the edges are lost
    with rasterio.open(notched_outputs.density_rgba_tif) as ds:
        assert ds.count == 4 and ds.dtypes[0] == "uint8" and ds.overviews(1)
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"


def test_small_density_raster_still_has_overviews(tmp_path):
    import rasterio

    extent = shapely.box(X0, Y0, X0 + 600, Y0 + 500)  # 60 x 50 px at 10 m: within one block
    run_dir = make_run(tmp_path / "run", clustered_piles(20, seed=14, extent=extent, spread=80,
                                                         centre=(X0 + 300, Y0 + 250)),
                       extent_utm=extent, raster=False)
    out = run_heatmap(run_dir, out_dir=tmp_path / "out")
    for path in (out.density_tif, out.density_rgba_tif):
        with rasterio.open(path) as ds:
            assert ds.overviews(1) and ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"


def test_edge_correction_restores_mass_at_the_edges(tmp_path):
    piles = np.array([[X0 + 5 + i, Y0 + 700.0] for i in range(0, 20, 2)])  # hugging the left edge
    run_dir = make_run(tmp_path / "run", piles, raster=False)
    plain = analyse_run(run_dir).density.integral()
    corrected = analyse_run(run_dir, edge_correction=True).density.integral()
    assert plain < 0.7 * len(piles)
    assert corrected == pytest.approx(len(piles), rel=0.1)


def test_geographic_run_is_gridded_in_utm(tmp_path):
    piles = clustered_piles(80, seed=7, spread=200)
    projected = analyse_run(make_run(tmp_path / "utm", piles, raster=False))
    geographic = analyse_run(make_run(tmp_path / "ll", piles, crs="EPSG:4326", raster=False))
    assert geographic.metric_crs.equals(CRS.from_user_input(UTM))
    assert geographic.grid.count.sum() == projected.grid.count.sum() == len(piles)
    assert geographic.valid_area_km2 == pytest.approx(3.0, rel=1e-3)


def test_zones_any_crs(tmp_path):
    from pyproj import Transformer

    west = shapely.box(X0, Y0, X0 + 1000, Y0 + 1500)
    east = shapely.box(X0 + 1000, Y0, X0 + 3000, Y0 + 1500)  # half outside the imagery
    to_ll = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    zones_ll = [shapely.transform(shapely.segmentize(z, 20),
                                  lambda c: np.column_stack(to_ll.transform(c[:, 0], c[:, 1])))
                for z in (west, east)]
    zones_path = tmp_path / "districts.geojson"
    write_vector(zones_path, zones_ll, "EPSG:4326", {"NAME": np.array(["West", "East"], dtype=object)})
    piles = np.array([[X0 + 100, Y0 + 100], [X0 + 900, Y0 + 700], [X0 + 1500, Y0 + 700]])
    out = run_heatmap(make_run(tmp_path / "run", piles, raster=False), zones=zones_path,
                      out_dir=tmp_path / "out")
    rows = {r["zone"]: r for r in read_csv(out.zones_csv)}
    assert int(rows["West"]["count"]) == 2 and int(rows["East"]["count"]) == 1
    assert float(rows["East"]["area_km2"]) == pytest.approx(3.0, rel=0.01)
    assert float(rows["East"]["valid_area_km2"]) == pytest.approx(1.5, rel=0.01)
    assert float(rows["East"]["piles_per_km2"]) == pytest.approx(1 / 1.5, rel=0.01)
    assert read_vector(out.zones_gpkg).crs.equals(CRS.from_epsg(4326))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.3, 1.0), max_size=60), st.floats(0.05, 0.3))
def test_sensitivity_is_monotone_non_increasing(scores, run_threshold):
    scores = np.array(scores)
    curve = threshold_curve(scores, run_threshold)
    assert curve.thresholds[0] == pytest.approx(run_threshold)
    assert np.all(np.diff(curve.thresholds) > 0)
    assert np.all(np.diff(curve.counts) <= 0)
    assert curve.counts[0] == np.count_nonzero(scores >= run_threshold)
    xs, ys = curve.exact_curve()
    assert np.all(np.diff(ys) <= 0)
    assert all(n == np.count_nonzero(scores >= t) for t, n in zip(xs, ys))
    summary = count_summary(scores, run_threshold, run_threshold)
    assert summary["low"] <= summary["central"] <= summary["high"]


def test_summary_states_what_the_range_means(notched_outputs):
    summary = json.loads(notched_outputs.summary_json.read_text())["counts"]
    assert summary["low"] < summary["central"] == summary["high"]
    assert "not recorded" in summary["meaning"]["high"]
    text = notched_outputs.summary_txt.read_text()
    assert "Below the run threshold 0.25 nothing is known" in text
    rows = read_csv(notched_outputs.sensitivity_csv)
    assert float(rows[0]["score_threshold"]) == 0.25 and "not recorded" in rows[0]["note"]
    counts = [int(r["count"]) for r in rows]
    assert counts == sorted(counts, reverse=True)


def test_precision_corrected_estimate_when_the_model_carries_validation(tmp_path):
    piles = clustered_piles(50, seed=8)
    run_dir = make_run(tmp_path / "run", piles, raster=False, threshold=0.1,
                       scores=np.linspace(0.1, 0.9, len(piles)),
                       model_extra={"score_threshold": 0.3, "validation": {"precision": 0.8, "recall": 0.5}})
    s = analyse_run(run_dir).summary
    central = int(np.count_nonzero(np.linspace(0.1, 0.9, 50) >= 0.3 - 1e-12))
    assert s["central"] == central and s["high"] > central > s["low"]
    assert s["precision_corrected"] == pytest.approx(central * 0.8 / 0.5, abs=0.05)


@pytest.mark.parametrize("crs", [UTM, "EPSG:4326"])
def test_figure_is_print_sized(tmp_path, crs):
    from PIL import Image

    piles = clustered_piles(120, seed=9, spread=250)
    out = run_heatmap(make_run(tmp_path / "run", piles, crs=crs), out_dir=tmp_path / "out",
                      credit="© Test Imaging 2023")
    with Image.open(out.heatmap_png) as im:
        assert im.width >= 1000
        assert im.info["dpi"][0] == pytest.approx(300, abs=1)
        grey = np.asarray(im.convert("L"))
        assert grey.std() > 20  # imagery + overlay, not a blank page


def test_figure_formats(notched_outputs):
    svg = next(p for p in notched_outputs.figures if p.suffix == ".svg")
    assert svg.read_text().lstrip().startswith("<?xml")
    assert notched_outputs.sensitivity_png.stat().st_size > 10_000


def test_bad_run_folders_give_one_line_errors(tmp_path, capsys):
    assert main(["heatmap", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("debrismap heatmap: error:") and "not a run folder" in err and "\n" not in err

    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["heatmap", str(empty)]) == 2
    assert "run.json is missing" in capsys.readouterr().err

    running = make_run(tmp_path / "running", clustered_piles(5), status="running", raster=False)
    assert main(["report", str(running)]) == 2
    err = capsys.readouterr().err
    assert "not complete" in err and "'running'" in err and err.count("\n") == 1

    broken = make_run(tmp_path / "broken", clustered_piles(5), raster=False)
    (broken / "coverage.gpkg").unlink()
    assert main(["heatmap", str(broken)]) == 2
    assert "coverage.gpkg is missing" in capsys.readouterr().err

    (broken / "run.json").write_text("{not json")
    assert main(["heatmap", str(broken)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_bad_flags_are_one_line_errors(tmp_path, capsys):
    run_dir = make_run(tmp_path / "run", clustered_piles(5), raster=False)
    assert main(["heatmap", str(run_dir), "--format", "png,gif", "--out", str(tmp_path / "o")]) == 2
    assert "unknown figure format 'gif'" in capsys.readouterr().err
    assert main(["heatmap", str(run_dir), "--cell", "0"]) == 2
    assert "--cell must be a positive number" in capsys.readouterr().err
    assert main(["heatmap", str(run_dir), "--basemap", str(tmp_path / "none.tif"),
                 "--out", str(tmp_path / "o")]) == 2
    assert "basemap raster not found" in capsys.readouterr().err


def test_output_path_that_is_a_file_is_refused(tmp_path, capsys):
    run_dir = make_run(tmp_path / "run", clustered_piles(5), raster=False)
    (tmp_path / "taken").write_text("x")
    assert main(["heatmap", str(run_dir), "--out", str(tmp_path / "taken")]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err


@settings(max_examples=30, deadline=None)
@given(st.floats(1, 450), st.floats(1, 450), st.floats(0, 300), st.floats(0, 300),
       st.sampled_from([25.0, 50.0, 100.0]), st.integers(0, 2**16))
def test_count_grid_sums_to_points_inside_coverage(w, h, hx, hy, cell, seed):
    from debrismap.aggregate.grid import count_grid

    coverage = shapely.difference(shapely.box(X0 + 3.3, Y0 + 7.1, X0 + 503.3, Y0 + 407.1),
                                  shapely.box(X0 + hx, Y0 + hy, X0 + hx + w, Y0 + hy + h))
    pts = np.random.default_rng(seed).uniform([X0 - 50, Y0 - 50], [X0 + 560, Y0 + 460], (200, 2))
    inside = pts[shapely.intersects_xy(coverage, pts[:, 0], pts[:, 1])]
    grid = count_grid(inside, coverage, cell, CRS.from_user_input(UTM))
    assert grid.count.sum() == len(inside)
    assert np.all(grid.valid_fraction > 0) and np.all(grid.valid_fraction <= 1)
    assert grid.valid_area_km2.sum() * 1e6 == pytest.approx(coverage.area, rel=1e-9)


def test_zones_without_crs_is_a_config_error(tmp_path, capsys):
    zones = tmp_path / "zones.geojson"
    zones.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "a"},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}]}))
    # GeoJSON implies WGS 84; a shapefile with no .prj has no CRS at all
    shp = tmp_path / "zones.shp"
    write_vector(shp, [shapely.box(0, 0, 1, 1)], None, {"name": np.array(["a"], dtype=object)})
    run_dir = make_run(tmp_path / "run", clustered_piles(5), raster=False)
    assert main(["heatmap", str(run_dir), "--zones", str(shp), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "no CRS" in err and str(shp) in err and err.count("\n") == 1
    assert main(["heatmap", str(run_dir), "--zones", str(tmp_path / "nope.gpkg")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_cli_subprocess_has_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "debrismap", "compare", str(tmp_path), str(tmp_path),
                           "--out", str(tmp_path / "o")], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
