"""detect's candidates.gpkg: boxes down to the candidate floor, kept like the detections.

The oracle detector scores every window by its mean brightness, so the dark background
(40/255 = 0.16) and windows partly over a square score between 0.05 and the operating 0.9:
plenty of candidates, each a real box the same seam rules must handle.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import shapely
from test_detect_oracle import build_oracle, draw_squares, read_boxes, write_raster

from debrismap.cli import main
from debrismap.raster import TileGrid
from debrismap.vector_io import read_vector

BATCH = 4
OVERLAP = 16


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    d = tmp_path_factory.mktemp("candidates")
    model = build_oracle(d / "oracle.onnx")
    rng = np.random.default_rng(11)
    corners = []
    while len(corners) < 40:
        x, y = (int(v) for v in rng.integers(0, 256 - 9, 2))
        if all(abs(x - a) > 10 or abs(y - b) > 10 for a, b in corners):
            corners.append((x, y))
    raster = write_raster(d / "scene.tif", draw_squares(256, 256, corners))
    unbroken = d / "unbroken"
    assert main(_args(model, raster, unbroken)) == 0
    return {"model": model, "raster": raster, "unbroken": unbroken, "n": len(corners)}


def _args(model, raster, out, *extra) -> list[str]:
    return ["detect", str(raster), "--out", str(out), "--model", str(model), "--batch", str(BATCH),
            "--overlap", str(OVERLAP), "--no-heatmap", "--quiet", *extra]


def _candidates(run_dir):
    data = read_vector(run_dir / "candidates.gpkg", layer="candidates")
    return shapely.bounds(data.geometries).reshape(-1, 4), data.fields


def test_candidates_hold_every_detection_and_more(assets):
    det, det_fields = read_boxes(assets["unbroken"])
    cand, cand_fields = _candidates(assets["unbroken"])
    assert len(det) == assets["n"]
    assert len(cand) > len(det)
    run = json.loads((assets["unbroken"] / "run.json").read_text())
    assert run["thresholds"]["candidate_floor"] == 0.05
    assert run["counts"] == {"detections": len(det), "candidates": len(cand)}
    assert cand_fields["score"].min() >= 0.05 - 1e-6
    # every detection is a candidate, with the same box and score
    strong = cand_fields["score"] >= 0.9
    assert strong.sum() == len(det)
    order_c = np.lexsort((cand[strong][:, 1], cand[strong][:, 0]))
    order_d = np.lexsort((det[:, 1], det[:, 0]))
    np.testing.assert_allclose(cand[strong][order_c], det[order_d])
    np.testing.assert_allclose(cand_fields["score"][strong][order_c], det_fields["score"][order_d])
    assert set(cand_fields) >= {"score", "class", "class_name", "tile_row", "tile_col", "source"}


def test_candidates_are_kept_by_the_tile_whose_core_holds_their_centre(assets):
    """The seam rule: no candidate comes from a tile other than its centre's core owner."""
    import rasterio

    cand, fields = _candidates(assets["unbroken"])
    with rasterio.open(assets["raster"]) as src:
        t = src.transform
        grid = TileGrid(src.width, src.height, 64, OVERLAP)
    cx, cy = (cand[:, 0] + cand[:, 2]) / 2, (cand[:, 1] + cand[:, 3]) / 2
    row, col = grid.core_owner((cx - t.c) / t.a, (cy - t.f) / t.e)  # north-up: world -> pixel
    np.testing.assert_array_equal(row, fields["tile_row"])
    np.testing.assert_array_equal(col, fields["tile_col"])
    # and the cross-tile NMS leaves no two candidates overlapping beyond the model's NMS IoU
    from debrismap.geometry.boxes import intersecting_pairs_within, pair_iou

    i, j = intersecting_pairs_within(cand, np.zeros(len(cand), np.intp))
    assert not np.any(pair_iou(cand[i], cand[j]) > 0.3 + 1e-9)


def test_floor_at_or_above_the_threshold_gives_candidates_equal_to_detections(assets, tmp_path):
    out = tmp_path / "run"
    assert main(_args(assets["model"], assets["raster"], out, "--candidate-floor", "0.95")) == 0
    det, _ = read_boxes(out)
    cand, _ = _candidates(out)
    assert json.loads((out / "run.json").read_text())["thresholds"]["candidate_floor"] == 0.9
    np.testing.assert_array_equal(det, cand)


@pytest.mark.parametrize("bad", ["0", "-0.1", "1.5"])
def test_bad_candidate_floor_is_one_line_error(assets, tmp_path, capsys, bad):
    assert main(_args(assets["model"], assets["raster"], tmp_path / "run", "--candidate-floor", bad)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--candidate-floor" in err[0]


def test_kill9_then_resume_gives_the_unbroken_candidates(assets, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "debrismap", *_args(assets["model"], assets["raster"], out)]
    env = {**os.environ, "DEBRISMAP_TEST_KILL_AT": "batch:2"}
    proc = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not (out / "candidates.gpkg").exists()
    assert main(_args(assets["model"], assets["raster"], out, "--resume")) == 0
    a, fa = _candidates(assets["unbroken"])
    b, fb = _candidates(out)
    np.testing.assert_array_equal(a, b)
    for key in ("score", "class", "tile_row", "tile_col", "source"):
        np.testing.assert_array_equal(fa[key], fb[key])
    np.testing.assert_array_equal(read_boxes(assets["unbroken"])[0], read_boxes(out)[0])
