"""detect's refusals: bad models, unsuitable rasters, busy / foreign / unwritable / full output folders.

Each goes through the CLI and must give one line naming the file and the problem, exit 2,
and leave what was already written intact.
"""

from __future__ import annotations

import errno
import json

import numpy as np
import pytest
from affine import Affine
from test_detect_oracle import GSD, build_oracle, draw_squares, read_boxes, write_raster

from debrismap.cli import main


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    d = tmp_path_factory.mktemp("assets")
    model = build_oracle(d / "oracle.onnx")
    corners = [(x, y) for y in range(5, 180, 23) for x in range(7, 180, 29)]
    raster = write_raster(d / "city.tif", draw_squares(192, 192, corners))
    return {"dir": d, "model": model, "raster": raster, "n": len(corners)}


def detect(capsys, *argv) -> tuple[int, str]:
    code = main(["detect", *map(str, argv), "--overlap", "16", "--no-heatmap", "--quiet"])
    err = capsys.readouterr().err.strip()
    return code, err


def one_line_error(err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_model_without_metadata(assets, tmp_path, capsys):
    bare = build_oracle(tmp_path / "bare.onnx", metadata=False)
    code, err = detect(capsys, assets["raster"], "--out", tmp_path / "run", "--model", bare)
    assert code == 2
    one_line_error(err, "bare.onnx", "no debrismap metadata", "--accept-unlabelled-model")
    # ... and accepted when the user states what the metadata would have said.
    code, err = detect(capsys, assets["raster"], "--out", tmp_path / "run2", "--model", bare,
                       "--accept-unlabelled-model", "--input-size", "64", "--gsd", str(GSD), "--score", "0.9")
    assert code == 0, err
    assert len(read_boxes(tmp_path / "run2")[0]) == assets["n"]


@pytest.mark.parametrize("damage", ["truncated", "text", "empty"])
def test_corrupt_model(assets, tmp_path, capsys, damage):
    bad = tmp_path / "bad.onnx"
    data = assets["model"].read_bytes()
    bad.write_bytes({"truncated": data[: len(data) // 2], "text": b"this is not a model\n", "empty": b""}[damage])
    code, err = detect(capsys, assets["raster"], "--out", tmp_path / "run", "--model", bad)
    assert code == 2
    one_line_error(err, "bad.onnx", "not a valid ONNX model")


def test_model_shape_disagrees_with_metadata(assets, tmp_path, capsys):
    import onnx

    from debrismap.model.metadata import ModelMetadata

    model = onnx.load(str(assets["model"]))
    del model.metadata_props[:]
    props = ModelMetadata(classes=("debris",), input_size=128, gsd_m=GSD).to_props()
    onnx.helper.set_model_props(model, props)
    path = tmp_path / "liar.onnx"
    onnx.save(model, str(path))
    code, err = detect(capsys, assets["raster"], "--out", tmp_path / "run", "--model", path)
    assert code == 2
    one_line_error(err, "liar.onnx", "input_size 128")


def test_missing_default_model_is_explained(assets, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("debrismap.detect.run.find_default_model", lambda device="cpu": None)
    code, err = detect(capsys, assets["raster"], "--out", tmp_path / "run")
    assert code == 2
    one_line_error(err, "bundled default model", "--model")


def test_raster_far_coarser_than_the_model_is_refused(assets, tmp_path, capsys):
    gsd = 2.5
    raster = write_raster(tmp_path / "odd.tif", draw_squares(64, 64, []), Affine(gsd, 0, 500000.0, 0, -gsd, 4000000.0))
    code, err = detect(capsys, raster, "--out", tmp_path / "run", "--model", assets["model"])
    assert code == 2
    one_line_error(err, "odd.tif", "coarser", "4x")


def test_raster_far_finer_than_the_model_is_averaged_down(assets, tmp_path, capsys):
    """A 0.1 m drone-like raster is read at the model's 0.5 m: a 40 px square becomes the
    oracle's 8 px square and comes back once, at its true position."""
    from test_detect_oracle import read_boxes

    img = draw_squares(400, 400, [(200, 120)], k=40)
    raster = write_raster(tmp_path / "fine.tif", img, Affine(0.1, 0, 500000.0, 0, -0.1, 4000000.0))
    code, err = detect(capsys, raster, "--out", tmp_path / "run", "--model", assets["model"], "--no-heatmap")
    assert code == 0, err
    bounds, _ = read_boxes(tmp_path / "run")
    assert len(bounds) == 1
    expected = [500000.0 + 20.0, 4000000.0 - 16.0, 500000.0 + 24.0, 4000000.0 - 12.0]
    assert abs(bounds[0] - expected).max() <= 0.5  # within one model pixel


def test_missing_raster(assets, tmp_path, capsys):
    code, err = detect(capsys, tmp_path / "nope.tif", "--out", tmp_path / "run", "--model", assets["model"])
    assert code == 2
    one_line_error(err, "nope.tif", "not found")


def test_second_concurrent_run_refuses_and_first_is_untouched(assets, tmp_path, capsys):
    from debrismap.detect.lock import RunLock

    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text('{"status": "running"}')
    with RunLock(out):  # as if another process were writing here right now
        code, err = detect(capsys, assets["raster"], "--out", out, "--model", assets["model"])
    assert code == 2
    one_line_error(err, "another debrismap run", str(out))
    assert (out / "run.json").read_text() == '{"status": "running"}'
    assert not (out / "detections.gpkg").exists()


def test_lock_is_released_when_the_holder_dies(tmp_path):
    import subprocess
    import sys

    from debrismap.detect.lock import RunLock

    code = f"from debrismap.detect.lock import RunLock; import os; RunLock({str(tmp_path)!r}).acquire(); os._exit(0)"
    subprocess.run([sys.executable, "-c", code], check=True)
    RunLock(tmp_path).acquire().release()  # no stale lock after the process is gone


def test_folder_with_another_run_needs_force(assets, tmp_path, capsys):
    out = tmp_path / "run"
    assert detect(capsys, assets["raster"], "--out", out, "--model", assets["model"])[0] == 0
    before = (out / "detections.gpkg").read_bytes()
    # same folder, different settings: refused, nothing touched
    code, err = detect(capsys, assets["raster"], "--out", out, "--model", assets["model"], "--score", "0.95")
    assert code == 2
    one_line_error(err, "holds a different run", "thresholds", "--force")
    assert (out / "detections.gpkg").read_bytes() == before
    # the same run again: says it is complete
    code, err = detect(capsys, assets["raster"], "--out", out, "--model", assets["model"])
    assert code == 2
    one_line_error(err, "already holds this run")
    # --force replaces it
    code, err = detect(capsys, assets["raster"], "--out", out, "--model", assets["model"], "--score", "0.95", "--force")
    assert code == 0, err
    assert json.loads((out / "run.json").read_text())["thresholds"]["score"] == 0.95


def test_unwritable_output_folder(assets, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, err = detect(capsys, assets["raster"], "--out", blocker / "run", "--model", assets["model"])
    assert code == 2
    one_line_error(err, "cannot create the output folder")


def test_disk_full_then_resume(assets, tmp_path, capsys, monkeypatch):
    from debrismap.detect import state as state_module

    unbroken = tmp_path / "unbroken"
    assert detect(capsys, assets["raster"], "--out", unbroken, "--model", assets["model"], "--batch", "2")[0] == 0

    out = tmp_path / "run"
    real_write = state_module.RunState.write_shard
    calls = {"n": 0}

    def full_after_three(self, batch_id, arrays):
        calls["n"] += 1
        if calls["n"] > 3:
            # what a full disk looks like from inside the atomic writer
            original_open = open

            def failing_open(path, mode="r", *a, **k):
                handle = original_open(path, mode, *a, **k)
                if "w" in mode:
                    handle.close()
                    raise OSError(errno.ENOSPC, "No space left on device")
                return handle

            monkeypatch.setattr("builtins.open", failing_open)
            try:
                return real_write(self, batch_id, arrays)
            finally:
                monkeypatch.setattr("builtins.open", original_open)
        return real_write(self, batch_id, arrays)

    monkeypatch.setattr(state_module.RunState, "write_shard", full_after_three)
    code, err = detect(capsys, assets["raster"], "--out", out, "--model", assets["model"], "--batch", "2")
    assert code == 2
    one_line_error(err, "no space left on device", "--resume")
    assert not (out / "detections.gpkg").exists()  # nothing that looks finished
    assert json.loads((out / "run.json").read_text())["status"] == "running"
    shards = sorted(p.name for p in (out / ".state" / "shards").iterdir())
    assert shards == ["b000000.npz", "b000001.npz", "b000002.npz"]  # no temp debris either
    monkeypatch.setattr(state_module.RunState, "write_shard", real_write)

    code, err = detect(capsys, assets["raster"], "--out", out, "--model", assets["model"], "--batch", "2", "--resume")
    assert code == 0, err
    a, fa = read_boxes(unbroken)
    b, fb = read_boxes(out)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fa["score"], fb["score"])
    assert json.loads((out / "run.json").read_text())["status"] == "complete"


def test_cuda_request_without_cuda_falls_back_with_a_message(assets, tmp_path, capsys):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA: nothing to fall back from")
    code, err = detect(capsys, assets["raster"], "--out", tmp_path / "run", "--model", assets["model"], "--device", "cuda")
    assert code == 0, err
    assert "CUDA was requested" in err and "CPU" in err
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["model"]["device"] == "cpu"


def test_non_raster_input_exits_with_one_line_in_a_real_process(tmp_path):
    """In a real process, with the bundled model (two CPU sessions, the second still being built
    when the input fails): one line and exit 2, not a native abort (exit 134) from a session
    thread outliving the interpreter."""
    import subprocess
    import sys

    notes = tmp_path / "notes.txt"
    notes.write_text("not imagery\n")
    proc = subprocess.run(
        [sys.executable, "-m", "debrismap", "detect", str(notes), "--out", str(tmp_path / "run"), "--threads", "2"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"debrismap detect: error: {notes}: not a raster GDAL can read (unrecognised format)"
    ]
