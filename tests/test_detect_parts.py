"""detect.parts: one run as plan + bands of tile rows (in any order, any split) + finish equals plain detect."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from test_detect_oracle import build_oracle, draw_squares, read_boxes, write_raster

from debrismap.cli import main
from debrismap.detect import DetectSettings, run_detect
from debrismap.detect.parts import RunPart
from debrismap.errors import DatasetError

BATCH = 4


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    d = tmp_path_factory.mktemp("parts")
    model = build_oracle(d / "oracle.onnx")
    rng = np.random.default_rng(3)
    corners = []
    while len(corners) < 70:
        x, y = int(rng.integers(0, 480 - 9)), int(rng.integers(0, 352 - 9))
        if all(abs(x - a) > 10 or abs(y - b) > 10 for a, b in corners):
            corners.append((x, y))
    raster = write_raster(d / "city.tif", draw_squares(480, 352, corners))
    plain = d / "plain"
    assert main(["detect", str(raster), "--out", str(plain), "--model", str(model), "--batch", str(BATCH),
                 "--overlap", "16", "--no-heatmap", "--quiet"]) == 0
    return {"model": model, "raster": raster, "plain": plain}


def _settings(assets, **extra) -> DetectSettings:
    return DetectSettings(model=assets["model"], batch=BATCH, overlap=16, progress=False, **extra)


def test_bands_in_any_order_then_finish_equal_plain_detect(assets, tmp_path):
    out, settings = tmp_path / "run", _settings(assets)
    planned = run_detect([assets["raster"]], out, settings, RunPart("plan"))
    n_batches = -(-planned.manifest["tiling"]["tiles_analysed"] // BATCH)
    assert not (out / "detections.gpkg").exists() and planned.manifest["status"] == "running"
    with pytest.raises(DatasetError, match="no results yet"):
        run_detect([assets["raster"]], out, settings, RunPart("finish"))
    bands = [(start, min(start + 3, n_batches)) for start in range(0, n_batches, 3)]
    seen = []
    for band in reversed(bands):  # any order: each band writes only its own shards
        result = run_detect([assets["raster"]], out, settings, RunPart("band", band, on_tiles=seen.append))
        assert result.tiles_run == sum(seen[-(band[1] - band[0]):]) > 0
    assert sum(seen) == planned.manifest["tiling"]["tiles_analysed"]
    again = run_detect([assets["raster"]], out, settings, RunPart("band", bands[0]))
    assert again.tiles_run == 0  # a band run twice (a rerun after a worker died) redoes nothing
    done = run_detect([assets["raster"]], out, settings, RunPart("finish"))
    a, fa = read_boxes(assets["plain"])
    b, fb = read_boxes(out)
    assert len(a) == 70 == done.n_detections
    np.testing.assert_array_equal(a, b)
    for key in ("score", "class", "tile_row", "tile_col", "source"):
        np.testing.assert_array_equal(fa[key], fb[key])
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "complete" and run["started"] == planned.manifest["started"]


def test_a_band_needs_its_plan_and_the_same_settings(assets, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(DatasetError, match="plan"):
        run_detect([assets["raster"]], out, _settings(assets), RunPart("band", (0, 2)))
    run_detect([assets["raster"]], out, _settings(assets), RunPart("plan"))
    with pytest.raises(DatasetError, match="no planned run"):
        run_detect([assets["raster"]], out, _settings(assets, score=0.95), RunPart("band", (0, 2)))


def test_plan_of_a_finished_run_with_resume_does_nothing(assets, tmp_path):
    out = tmp_path / "run"
    assert main(["detect", str(assets["raster"]), "--out", str(out), "--model", str(assets["model"]),
                 "--batch", str(BATCH), "--overlap", "16", "--no-heatmap", "--quiet"]) == 0
    before = (out / "run.json").read_bytes()
    result = run_detect([assets["raster"]], out, _settings(assets, resume=True), RunPart("plan"))
    assert result.manifest["status"] == "complete" and result.n_detections == 70
    assert (out / "run.json").read_bytes() == before


def test_a_known_acquisition_date_is_recorded_with_its_source(assets, tmp_path):
    out = tmp_path / "run"
    run_detect([assets["raster"]], out, _settings(assets, acquisition_date=("2023-02-20", "list")))
    inp = json.loads((out / "run.json").read_text())["inputs"][0]
    assert (inp["acquisition_date"], inp["acquisition_date_source"]) == ("2023-02-20", "list")


def test_batch_modules_import_nothing_heavy():
    blocked = ("torch", "torchvision", "ultralytics", "cv2", "lightning", "pytorch_lightning")
    script = ("import sys, debrismap.batch, debrismap.batch.tasks, debrismap.commands.batch; "
              f"print([n for n in {blocked!r} if n in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
