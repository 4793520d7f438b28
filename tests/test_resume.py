"""Kill -9 a detect run at several points, resume it, and get exactly the unbroken run's detections."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_detect_oracle import build_oracle, draw_squares, read_boxes, write_raster

from debrismap.cli import main

BATCH = 4


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    d = tmp_path_factory.mktemp("resume")
    model = build_oracle(d / "oracle.onnx")
    rng = np.random.default_rng(7)
    # random squares (non-touching) so that every batch has its own detections
    corners = []
    while len(corners) < 60:
        x, y = (int(v) for v in rng.integers(0, 320 - 9, 2))
        if all(abs(x - a) > 10 or abs(y - b) > 10 for a, b in corners):
            corners.append((x, y))
    raster = write_raster(d / "city.tif", draw_squares(320, 320, corners))
    unbroken = d / "unbroken"
    assert main(["detect", str(raster), "--out", str(unbroken), "--model", str(model), "--batch", str(BATCH),
                 "--overlap", "16", "--no-heatmap", "--quiet"]) == 0
    return {"model": model, "raster": raster, "unbroken": unbroken, "n": len(corners)}


def _detect_cmd(assets, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "debrismap", "detect", str(assets["raster"]), "--out", str(out),
            "--model", str(assets["model"]), "--batch", str(BATCH), "--overlap", "16", "--no-heatmap", "--quiet", *extra]


def _assert_same_as_unbroken(assets, out: Path) -> None:
    a, fa = read_boxes(assets["unbroken"])
    b, fb = read_boxes(out)
    assert len(a) == assets["n"]
    np.testing.assert_array_equal(a, b)
    for key in ("score", "class", "tile_row", "tile_col", "source"):
        np.testing.assert_array_equal(fa[key], fb[key])
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "complete" and run["resumed"] is True


def _killed_mid_run(proc, out: Path, shards: int) -> None:
    """The process died by SIGKILL (not a normal exit), its run unfinished, with `shards` batches saved."""
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert json.loads((out / "run.json").read_text())["status"] == "running"
    assert not (out / "detections.gpkg").exists() or shards == TOTAL_BATCHES
    assert len(list((out / ".state" / "shards").glob("b*.npz"))) == shards


def _tiles_run(out: Path) -> int:
    return json.loads((out / "run.json").read_text())["timings"]["tiles_run"]


TILES = 49  # 320 px with 64 px tiles and 16 px overlap: 7 x 7
TOTAL_BATCHES = -(-TILES // BATCH)


@pytest.mark.parametrize("kill_at, saved", [("batch:1", 1), ("batch:9", 9), ("finalize", TOTAL_BATCHES),
                                            ("finalize:detections", TOTAL_BATCHES)])
def test_kill9_then_resume_gives_the_unbroken_result(assets, tmp_path, kill_at, saved):
    out = tmp_path / "run"
    assert _tiles_run(assets["unbroken"]) == TILES
    env = {**os.environ, "DEBRISMAP_TEST_KILL_AT": kill_at}
    proc = subprocess.run(_detect_cmd(assets, out), check=False, env=env, capture_output=True, text=True, timeout=120)
    _killed_mid_run(proc, out, saved)
    junk = [out / ".detections.gpkg.tmp12345.gpkg", out / ".state" / "shards" / ".b000003.npz.tmp12345"]
    for path in junk:  # what a kill in the middle of a write leaves behind
        path.write_bytes(b"half a file")
    # Without --resume the folder is not silently overwritten or reused.
    assert main(["detect", str(assets["raster"]), "--out", str(out), "--model", str(assets["model"]),
                 "--batch", str(BATCH), "--overlap", "16", "--no-heatmap", "--quiet"]) == 2
    assert main(["detect", str(assets["raster"]), "--out", str(out), "--model", str(assets["model"]),
                 "--batch", str(BATCH), "--overlap", "16", "--no-heatmap", "--quiet", "--resume"]) == 0
    _assert_same_as_unbroken(assets, out)
    assert not any(path.exists() for path in junk)
    # The resumed run reused the saved batches: it ran only the tiles of the missing ones.
    assert _tiles_run(out) == TILES - min(TILES, saved * BATCH)


def test_killed_twice_then_resumed(assets, tmp_path):
    """Killed mid-run, resumed and killed again mid-run, then resumed to the end: each run adds to the saved work."""
    out = tmp_path / "run"
    for kill_at, saved in (("batch:2", 2), ("batch:5", 7)):  # the second process counts its own batches
        env = {**os.environ, "DEBRISMAP_TEST_KILL_AT": kill_at}
        proc = subprocess.run(_detect_cmd(assets, out, "--resume"), check=False, env=env, capture_output=True,
                              text=True, timeout=120)
        _killed_mid_run(proc, out, saved)
    assert main(["detect", str(assets["raster"]), "--out", str(out), "--model", str(assets["model"]),
                 "--batch", str(BATCH), "--overlap", "16", "--no-heatmap", "--quiet", "--resume"]) == 0
    _assert_same_as_unbroken(assets, out)
    assert _tiles_run(out) == TILES - 7 * BATCH


def test_resume_refuses_a_different_run(assets, tmp_path, capsys):
    out = tmp_path / "run"
    env = {**os.environ, "DEBRISMAP_TEST_KILL_AT": "batch:2"}
    subprocess.run(_detect_cmd(assets, out), check=False, env=env, capture_output=True, timeout=120)
    code = main(["detect", str(assets["raster"]), "--out", str(out), "--model", str(assets["model"]),
                 "--batch", str(BATCH + 1), "--overlap", "16", "--no-heatmap", "--quiet", "--resume"])
    assert code == 2
    assert "holds a different run" in capsys.readouterr().err


def test_kill9_then_resume_with_the_bundled_split_head_model(tmp_path):
    """The same guarantee with the bundled int8 model, whose boxes debrismap decodes itself."""
    from debrismap.detect.model_file import find_default_model
    from debrismap.synth import generate_city

    model = find_default_model("cpu")
    if model is None:
        pytest.skip("bundled model not installed")
    city = generate_city(tmp_path / "city.tif", size=768, seed=5, progress=False).raster
    def cmd(out, *extra):
        return [sys.executable, "-m", "debrismap", "detect", str(city), "--out", str(out),
                "--model", str(model), "--batch", "2", "--no-heatmap", "--quiet", *extra]

    unbroken, out = tmp_path / "unbroken", tmp_path / "run"
    subprocess.run(cmd(unbroken), check=True, capture_output=True, timeout=120)
    env = {**os.environ, "DEBRISMAP_TEST_KILL_AT": "batch:3"}
    proc = subprocess.run(cmd(out), check=False, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert len(list((out / ".state" / "shards").glob("b*.npz"))) == 3
    subprocess.run(cmd(out, "--resume"), check=True, capture_output=True, timeout=120)
    assert _tiles_run(out) == _tiles_run(unbroken) - 3 * 2
    a, fa = read_boxes(unbroken)
    b, fb = read_boxes(out)
    assert len(a) > 0
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fa["score"], fb["score"])
    assert json.loads((out / "run.json").read_text())["model"]["box_decoding"] == "debrismap"
