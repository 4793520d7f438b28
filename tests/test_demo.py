"""`debrismap demo`: runs end to end with a model, and explains itself without one."""

from __future__ import annotations

import json
import re

from test_detect_oracle import build_oracle

from debrismap.cli import main
from debrismap.vector_io import read_vector


def test_demo_without_bundled_model_makes_the_city_and_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("debrismap.detect.run.find_default_model", lambda device="cpu": None)
    code = main(["demo", "--out", str(tmp_path / "demo"), "--size", "256", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "bundled default model is not installed" in err and "city.tif" in err
    assert "Traceback" not in err
    assert (tmp_path / "demo" / "city.tif").is_file()


def test_demo_runs_detect_and_heatmap(tmp_path, capsys):
    model = build_oracle(tmp_path / "oracle.onnx", size=64)
    code = main(["demo", "--out", str(tmp_path / "demo"), "--size", "256", "--model", str(model), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "piles found" in out and "the synthetic city holds" in out
    run = tmp_path / "demo" / "run"
    for name in ("detections.gpkg", "detections.geojson", "coverage.gpkg", "run.json", "heatmap.png", "density.tif",
                 "density_rgba.tif", "counts.csv", "counts.gpkg", "summary.json", "summary.txt", "sensitivity.csv"):
        assert (run / name).is_file(), name
    assert f"heatmap          {run / 'heatmap.png'}" in out
    # the numbers printed are the files' numbers
    found, truth = (int(v) for v in re.search(r"piles found\s+(\d+) \(the synthetic city holds (\d+)\)", out).groups())
    assert found == json.loads((run / "run.json").read_text())["counts"]["detections"]
    assert truth == len(read_vector(tmp_path / "demo" / "city.labels.geojson")) > 0
