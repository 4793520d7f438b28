"""`debrismap info`: human text, --json, tiling counts, and one-line errors for bad input."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import rasterio
from affine import Affine

from debrismap.cli import main
from debrismap.raster import TileGrid


@pytest.fixture
def uint16_tif(tmp_path):
    path = tmp_path / "scene.tif"
    rng = np.random.default_rng(3)
    data = rng.integers(0, 4096, (4, 300, 700)).astype(np.uint16)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=700,
        height=300,
        count=4,
        dtype="uint16",
        crs="EPSG:32637",
        transform=Affine(0.5, 0, 300000, 0, -0.5, 4000000),
        nodata=0,
        nbits=12,  # Pléiades-style 12-bit data in uint16
    ) as dst:
        dst.write(data)
        dst.update_tags(ns="IMAGERY", ACQUISITIONDATETIME="2023-02-12T08:00:00")
    return path


def run_json(capsys, *argv):
    assert main(["info", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_reports_the_raster(capsys, uint16_tif):
    info = run_json(capsys, str(uint16_tif))
    assert (info["width"], info["height"], info["count"], info["dtype"]) == (700, 300, 4, "uint16")
    assert info["nbits"] == 12
    assert info["crs"] == "EPSG:32637" and info["gsd_m"] == pytest.approx(0.5)
    assert info["bands"] == [1, 2, 3]  # 4 undefined bands: RGBN assumed
    assert info["mask"].startswith("nodata") and info["nodata"] == 0
    assert info["acquisition_date"] == "2023-02-12T08:00:00"
    assert info["stretch"]["method"] == "percentile" and len(info["stretch"]["low"]) == 3
    expected = TileGrid(700, 300, 256, 32)
    assert info["tiling"] == {
        "tile_size": 256,
        "overlap": 32,
        "rows": expected.n_rows,
        "cols": expected.n_cols,
        "tiles": len(expected),
    }


def test_tile_options_and_gsd(capsys, uint16_tif):
    info = run_json(capsys, str(uint16_tif), "--tile", "128", "--overlap", "17", "--gsd", "1.0")
    assert info["tiling"]["tiles"] == len(TileGrid(700, 300, 128, 17))
    at = info["tiling_at_gsd"]
    assert (at["width"], at["height"]) == (350, 150)
    assert at["tiles"] == len(TileGrid(350, 150, 128, 17))


def test_bands_option(capsys, uint16_tif):
    assert run_json(capsys, str(uint16_tif), "--bands", "4,3,2")["bands"] == [4, 3, 2]


def test_text_output(capsys, uint16_tif):
    assert main(["info", str(uint16_tif)]) == 0
    out = capsys.readouterr().out
    for expected in (
        "700 x 300 px",
        "uint16 (12-bit)",
        "EPSG:32637",
        "0.500 m",
        "bands 1,2,3",
        "nodata value 0",
        "2023-02-12",
        "percentile 2-98%",
        f"{len(TileGrid(700, 300, 256, 32))} of 256 px",
    ):
        assert expected in out, expected


def test_text_output_not_georeferenced(capsys, tmp_path):
    path = tmp_path / "photo.png"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(
            path, "w", driver="PNG", width=30, height=20, count=3, dtype="uint8"
        ) as dst:
            dst.write(np.zeros((3, 20, 30), np.uint8))
    assert main(["info", str(path)]) == 0
    captured = capsys.readouterr()
    assert (
        "not georeferenced" in captured.out and "gsd:" in captured.out and "unknown" in captured.out
    )
    # the warning goes to stderr, once, as one line
    assert captured.err.count("warning:") == 1 and "photo.png" in captured.err


def test_realdata_example(capsys, realdata):
    path = realdata / "xview2deploy_joplin" / "staging_tile_31500-5137.tif"
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "928 x 1024 px" in out and "EPSG:32615" in out and "non-square" in out


@pytest.mark.parametrize(
    "content, message",
    [(b"", "empty"), (b"hello, not a raster\n" * 20, "not a raster")],
)
def test_bad_input_one_line_error(capsys, tmp_path, content, message):
    path = tmp_path / "bad.tif"
    path.write_bytes(content)
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert err.startswith("debrismap info: error:") and str(path) in err and message in err


def test_bad_options(capsys, uint16_tif):
    assert main(["info", str(uint16_tif), "--overlap", "256"]) == 2
    assert "--overlap" in capsys.readouterr().err
    assert main(["info", str(uint16_tif), "--bands", "9,1,1"]) == 2
    assert "band 9 does not exist" in capsys.readouterr().err
