"""A full disk while detect, heatmap and chips write their final files: one line, exit 2, nothing half-written.

The disk is real: a 2 MiB tmpfs (CI runs as root), filled to within a few pages, so the
errors come from the kernel through GDAL, SQLite and Python exactly as on a full laptop.
Also here: `--debug` shows the traceback, and a bug still ends in one "internal error" line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_detect_oracle import build_oracle, draw_squares, write_raster

from debrismap.cli import main

LEAVE = 16 * 1024  # free bytes left: room for run.json, not for a GeoPackage


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], check=False,
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path, leave: int = LEAVE) -> Path:
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free
    with open(filler, "wb") as handle:
        handle.write(b"\0" * max(0, free - leave))
    return filler


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    d = tmp_path_factory.mktemp("fulldisk")
    corners = [(x, y) for x in range(5, 300, 37) for y in range(7, 300, 41)]
    return {"model": build_oracle(d / "oracle.onnx"), "raster": write_raster(d / "city.tif", draw_squares(320, 320, corners)),
            "n": len(corners)}


def _detect_argv(assets, out: Path, *extra: str) -> list[str]:
    return ["detect", str(assets["raster"]), "--out", str(out), "--model", str(assets["model"]), "--overlap", "16",
            "--no-heatmap", "--quiet", *extra]


def one_error_line(err: str, *needles: str) -> str:
    lines = [line for line in err.strip().splitlines() if "error" in line]
    assert len(lines) == 1 and "Traceback" not in err and "internal error" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _leftovers(folder: Path) -> list[str]:
    """Temp files a write in progress leaves behind (they start with a dot and hold '.tmp')."""
    return sorted(p.name for p in folder.rglob("*") if ".tmp" in p.name)


def test_detect_final_files_on_a_full_disk_then_resume(assets, small_disk, capsys):
    out = small_disk / "run"
    env = {**os.environ, "DEBRISMAP_TEST_KILL_AT": "finalize"}  # every shard saved, no final file yet
    killed = subprocess.run([sys.executable, "-m", "debrismap", *_detect_argv(assets, out)], env=env, check=False,
                            capture_output=True, timeout=120)
    assert killed.returncode == -9
    filler = fill(small_disk)
    assert main(_detect_argv(assets, out, "--resume")) == 2
    one_error_line(capsys.readouterr().err, "detections.gpkg", "no space left on device", "--resume")
    assert not (out / "detections.gpkg").exists() and _leftovers(out) == []
    assert json.loads((out / "run.json").read_text())["status"] == "running"
    filler.unlink()
    assert main(_detect_argv(assets, out, "--resume")) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "complete" and run["counts"]["detections"] == assets["n"]


def test_heatmap_on_a_full_disk(assets, small_disk, capsys):
    out = small_disk / "run"
    assert main(_detect_argv(assets, out)) == 0
    before = sorted(p.name for p in out.iterdir())
    filler = fill(small_disk)
    assert main(["heatmap", str(out)]) == 2
    one_error_line(capsys.readouterr().err, str(out), "No space left on device")
    assert _leftovers(out) == [] and sorted(p.name for p in out.iterdir()) == before
    # --debug shows the traceback instead
    with pytest.raises(OSError, match="No space left"):
        main(["--debug", "heatmap", str(out)])
    filler.unlink()
    assert main(["heatmap", str(out)]) == 0
    assert (out / "heatmap.png").exists() and (out / "counts.gpkg").exists()


def test_chips_on_a_full_disk(tmp_path, small_disk, capsys):
    from debrismap.synth import generate_city

    city = generate_city(tmp_path / "city.tif", size=256, seed=2, progress=False)
    fill(small_disk)
    code = main(["chips", str(city.raster), "--labels", str(city.labels_geojson), "--out", str(small_disk / "chips"),
                 "--gsd", "0.5"])
    assert code == 2
    one_error_line(capsys.readouterr().err, str(small_disk / "chips"), "No space left on device")


def test_a_bug_gives_one_internal_error_line_and_debug_gives_the_traceback(monkeypatch, tmp_path, capsys):
    from debrismap.commands import info

    def broken(args):
        raise KeyError("boom")

    monkeypatch.setattr(info, "run", broken)
    monkeypatch.delenv("DEBRISMAP_DEBUG", raising=False)
    assert main(["info", str(tmp_path / "x.tif")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [
        "debrismap info: internal error: KeyError: 'boom' (rerun with --debug for the traceback and please report it)"
    ]
    with pytest.raises(KeyError, match="boom"):
        main(["--debug", "info", str(tmp_path / "x.tif")])
    monkeypatch.setenv("DEBRISMAP_DEBUG", "1")
    with pytest.raises(KeyError, match="boom"):
        main(["info", str(tmp_path / "x.tif")])
