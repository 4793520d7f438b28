"""End-to-end detect runs with the oracle model: seams, georeferencing, masks, AOI, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from test_detect_oracle import GSD, K, S, build_oracle, draw_squares, read_boxes, write_raster

from debrismap.detect import DetectSettings, run_detect


@pytest.fixture(scope="module")
def oracle(tmp_path_factory) -> Path:
    return build_oracle(tmp_path_factory.mktemp("model") / "oracle.onnx")


def _settings(model, **kw) -> DetectSettings:
    kw.setdefault("overlap", 16)
    return DetectSettings(model=model, progress=False, readers=2, **kw)


def _pixel_centres(run_dir: Path, transform: Affine) -> np.ndarray:
    import shapely

    from debrismap.vector_io import read_vector

    geoms = read_vector(run_dir / "detections.gpkg").geometries
    c = shapely.get_coordinates(geoms).reshape(-1, 5, 2)[:, :4].mean(axis=1)
    inv = ~transform
    return np.column_stack([inv.a * c[:, 0] + inv.b * c[:, 1] + inv.c, inv.d * c[:, 0] + inv.e * c[:, 1] + inv.f])


def _grid_of_squares(width, height, step):
    return [(x, y) for y in range(2, height - K - 1, step) for x in range(3, width - K - 1, step)]


@pytest.mark.parametrize("overlap", [0, K // 2, K, 16, S // 2])
def test_objects_across_tile_borders_reported_exactly_once(oracle, tmp_path, overlap):
    # Squares every 19 px fall at every offset relative to tile windows and cores.
    width, height = 300, 250
    corners = _grid_of_squares(width, height, 19)
    transform = Affine(GSD, 0, 500000.0, 0, -GSD, 4000000.0)
    raster = write_raster(tmp_path / "r.tif", draw_squares(width, height, corners), transform)
    result = run_detect([raster], tmp_path / "run", _settings(oracle, overlap=overlap))
    found = sorted(map(tuple, np.round(_pixel_centres(tmp_path / "run", transform) - K / 2).astype(int)))
    assert found == sorted(corners)
    assert result.manifest["tiling"]["overlap"] == overlap
    assert result.manifest["tiling"]["tiles_total"] > 9  # objects really crossed seams


ROTATED = Affine.rotation(20) @ Affine(GSD, 0, 0, 0, -GSD, 0)
# Well under half a pixel: a pixel-centre / pixel-corner mix-up (0.5 px) cannot pass.
GEOREF_TOLERANCE_PX = 0.05


@pytest.mark.parametrize(
    "crs, transform, scale",
    [
        ("EPSG:32637", Affine(GSD, 0, 500000.0, 0, -GSD, 4000000.0), 1),
        ("EPSG:4326", Affine(GSD / 111320.0, 0, 39.0, 0, -GSD / 110574.0, 1.0), 1),
        ("EPSG:3857", Affine(GSD, 0, 4341000.0, 0, -GSD, 110000.0), 1),
        ("EPSG:32637", Affine.translation(500000.0, 4000000.0) @ ROTATED, 1),
        ("EPSG:32637", Affine(GSD, 0, 500000.0, 0, GSD, 3990000.0), 1),  # south-up: rows run north
        # twice finer than the model, rotated: detect averages it down 2x on the rotated grid
        ("EPSG:32637", Affine.translation(500000.0, 4000000.0) @ ROTATED @ Affine.scale(0.5), 2),
    ],
    ids=["utm", "wgs84", "webmercator", "rotated", "south-up", "rotated-resampled"],
)
def test_known_world_positions_come_back_to_a_twentieth_of_a_pixel(oracle, tmp_path, crs, transform, scale):
    import shapely
    from pyproj import Transformer

    from debrismap.vector_io import read_vector

    corners = [(20, 30), (70, 71), (150, 20), (33, 160), (180, 180)]
    # In source pixels: at scale 2 every square is 2K px wide on even corners, exactly K px once averaged.
    source_corners = [(x * scale, y * scale) for x, y in corners]
    raster = write_raster(tmp_path / "r.tif", draw_squares(200 * scale, 200 * scale, source_corners, k=K * scale),
                          transform, crs=crs)
    result = run_detect([raster], tmp_path / "run", _settings(oracle))
    assert result.manifest["inputs"][0]["view"]["width"] == 200  # resampled when scale is 2
    got = _pixel_centres(tmp_path / "run", transform)
    want = np.array([(x + K * scale / 2, y + K * scale / 2) for x, y in source_corners], float)
    got = got[np.lexsort((got[:, 0], got[:, 1]))]
    want = want[np.lexsort((want[:, 0], want[:, 1]))]
    assert len(got) == len(want)
    assert np.abs(got - want).max() < GEOREF_TOLERANCE_PX
    # The web GeoJSON is EPSG:4326 and puts the same piles in the same places.
    gj = read_vector(tmp_path / "run" / "detections.geojson")
    lonlat = shapely.get_coordinates(shapely.centroid(gj.geometries))
    to_raster = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    X, Y = to_raster.transform(lonlat[:, 0], lonlat[:, 1])
    inv = ~transform
    px = np.column_stack([inv.a * X + inv.b * Y + inv.c, inv.d * X + inv.e * Y + inv.f])
    px = px[np.lexsort((px[:, 0], px[:, 1]))]
    assert np.abs(px - want).max() < GEOREF_TOLERANCE_PX
    doc = json.loads((tmp_path / "run" / "detections.geojson").read_text())
    assert all("score" in f["properties"] for f in doc["features"])


def test_masked_pixels_are_skipped_and_give_no_detections(oracle, tmp_path):
    width, height = 320, 192
    corners = [(10, 10), (100, 100), (200, 40), (250, 150)]  # the last two lie in the masked half
    mask = np.ones((height, width), bool)
    mask[:, 180:] = False
    raster = write_raster(tmp_path / "r.tif", draw_squares(width, height, corners), mask=mask)
    result = run_detect([raster], tmp_path / "run", _settings(oracle))
    found = sorted(map(tuple, np.round(_pixel_centres(tmp_path / "run", Affine(GSD, 0, 500000.0, 0, -GSD, 4000000.0)) - K / 2).astype(int)))
    assert found == [(10, 10), (100, 100)]
    tiling = result.manifest["tiling"]
    assert tiling["tiles_analysed"] < tiling["tiles_total"]  # fully masked tiles never reach the model
    from debrismap.vector_io import read_vector

    cover = read_vector(tmp_path / "run" / "coverage.gpkg").geometries[0]
    assert cover.area == pytest.approx(180 * height * GSD * GSD, rel=0.06)


def test_detections_centred_on_nodata_are_dropped(oracle, tmp_path):
    corners = [(20, 20), (60, 60), (200, 60)]
    img = draw_squares(256, 128, corners)
    img[:, :, 128:] = 0  # right half: nodata (the square at x=200 disappears with it)
    img[:, 63:65, 63:65] = 0  # the square at (60, 60) keeps its look but its centre pixels are nodata
    raster = write_raster(tmp_path / "r.tif", img, nodata=0)
    run_detect([raster], tmp_path / "run", _settings(oracle))
    found = np.round(_pixel_centres(tmp_path / "run", Affine(GSD, 0, 500000.0, 0, -GSD, 4000000.0)) - K / 2)
    assert found.astype(int).tolist() == [[20, 20]]


def test_aoi_and_exclusions_in_other_crs(oracle, tmp_path):
    import shapely
    from pyproj import Transformer

    from debrismap.vector_io import write_vector

    transform = Affine(GSD, 0, 500000.0, 0, -GSD, 4000000.0)
    corners = _grid_of_squares(320, 320, 40)
    raster = write_raster(tmp_path / "r.tif", draw_squares(320, 320, corners), transform)
    # AOI: the left 150 px, given in EPSG:4326; exclusion: a box in EPSG:3857.
    to_geo = Transformer.from_crs("EPSG:32637", "EPSG:4326", always_xy=True)
    aoi_utm = shapely.box(500000.0, 4000000.0 - 160, 500000.0 + 75, 4000000.0)
    aoi = shapely.transform(aoi_utm.segmentize(5), lambda xy: np.column_stack(to_geo.transform(xy[:, 0], xy[:, 1])))
    write_vector(tmp_path / "aoi.geojson", [aoi], "EPSG:4326")
    excl_utm = shapely.box(500000.0, 4000000.0 - 40, 500000.0 + 40, 4000000.0)  # top-left 80 px
    to_merc = Transformer.from_crs("EPSG:32637", "EPSG:3857", always_xy=True)
    excl = shapely.transform(excl_utm.segmentize(5), lambda xy: np.column_stack(to_merc.transform(xy[:, 0], xy[:, 1])))
    write_vector(tmp_path / "excl.gpkg", [excl], "EPSG:3857")
    result = run_detect([raster], tmp_path / "run", _settings(oracle, aoi=tmp_path / "aoi.geojson", exclude=tmp_path / "excl.gpkg"))
    found = sorted(map(tuple, np.round(_pixel_centres(tmp_path / "run", transform) - K / 2).astype(int)))

    def inside(x, y):
        cx, cy = x + K / 2, y + K / 2
        return cx < 150 and cy < 320 and not (cx < 80 and cy < 80)

    assert found == sorted(c for c in corners if inside(*c))
    assert result.manifest["tiling"]["tiles_analysed"] < result.manifest["tiling"]["tiles_total"]


def test_several_rasters_one_run_with_source_field(oracle, tmp_path):
    folder = tmp_path / "tiles"
    folder.mkdir()
    write_raster(folder / "a.tif", draw_squares(128, 128, [(10, 10)]))
    # the second raster sits east of the first, in another UTM zone: reprojected into the first's CRS
    write_raster(folder / "b.tif", draw_squares(128, 128, [(50, 50), (90, 20)]),
                 Affine(GSD, 0, 166100.0, 0, -GSD, 4000000.0), crs="EPSG:32638")
    result = run_detect([folder], tmp_path / "run", _settings(oracle))
    _, fields = read_boxes(tmp_path / "run")
    assert sorted(fields["source"].tolist()) == ["a.tif", "b.tif", "b.tif"]
    assert len(result.manifest["inputs"]) == 2
    from debrismap.vector_io import read_vector

    data = read_vector(tmp_path / "run" / "detections.gpkg")
    assert data.crs.to_epsg() == 32637
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["status"] == "complete" and run["counts"]["detections"] == 3
    assert {"tile_size", "overlap", "tiles_total", "batch_size"} <= set(run["tiling"])
    assert len(run["model"]["sha256"]) == 64
    assert {"read", "preprocess", "inference", "decode_merge", "write", "total"} <= set(run["timings"])
    assert run["inputs"][0]["stretch"]


def test_unreferenced_raster_needs_assumed_gsd(oracle, tmp_path):
    from debrismap.errors import RasterError

    img = draw_squares(128, 128, [(30, 40)])
    raster = write_raster(tmp_path / "plain.tif", img, transform=Affine.identity(), crs=None)
    with pytest.raises(RasterError, match="--assume-gsd"):
        run_detect([raster], tmp_path / "run", _settings(oracle))
    run_detect([raster], tmp_path / "run2", _settings(oracle, assume_gsd=GSD))
    bounds, _ = read_boxes(tmp_path / "run2")
    np.testing.assert_allclose(bounds, [[30, 40, 38, 48]])  # pixel coordinates


def test_vrt_mosaic_input(oracle, tmp_path):
    """A VRT mosaic (here one 128 px raster repeated twice side by side) is read like any raster."""
    raster = write_raster(tmp_path / "part.tif", draw_squares(128, 128, [(60, 60)]))
    import rasterio

    with rasterio.open(raster) as src:
        srs = src.crs.to_wkt().replace('"', "&quot;")
        t = src.transform
    bands = "".join(
        f'<VRTRasterBand dataType="Byte" band="{b}">' + "".join(
            f'<SimpleSource><SourceFilename relativeToVRT="1">part.tif</SourceFilename><SourceBand>{b}</SourceBand>'
            f'<SrcRect xOff="0" yOff="0" xSize="128" ySize="128"/><DstRect xOff="{i * 128}" yOff="0" xSize="128" ySize="128"/>'
            "</SimpleSource>" for i in range(2)) + "</VRTRasterBand>"
        for b in (1, 2, 3)
    )
    vrt = tmp_path / "mosaic.vrt"
    vrt.write_text(f'<VRTDataset rasterXSize="256" rasterYSize="128"><SRS>{srs}</SRS>'
                   f"<GeoTransform>{t.c}, {t.a}, 0, {t.f}, 0, {t.e}</GeoTransform>{bands}</VRTDataset>")
    run_detect([vrt], tmp_path / "run", _settings(oracle))
    found = sorted(map(tuple, np.round(_pixel_centres(tmp_path / "run", t) - K / 2).astype(int)))
    assert found == [(60, 60), (188, 60)]


def test_parallel_sessions_give_the_same_detections_as_one(oracle, tmp_path):
    width, height = 300, 250
    corners = _grid_of_squares(width, height, 23)
    transform = Affine(GSD, 0, 500000.0, 0, -GSD, 4000000.0)
    raster = write_raster(tmp_path / "r.tif", draw_squares(width, height, corners), transform)
    runs = {}
    for sessions in (1, 3):
        result = run_detect([raster], tmp_path / f"run{sessions}", _settings(oracle, batch=2, sessions=sessions, threads=3))
        assert result.manifest["model"]["sessions"] == sessions
        runs[sessions] = sorted(map(tuple, np.round(_pixel_centres(tmp_path / f"run{sessions}", transform), 6)))
    assert runs[1] == runs[3] and len(runs[1]) == len(corners)
