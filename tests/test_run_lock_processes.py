"""Two real `debrismap detect` processes into one folder: one is refused; a killed lock holder frees it.

A detect process frozen mid-run by the test hook (SIGSTOP after its first batch) is a live
run holding the folder's lock at a known point, with no timing involved.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_detect_oracle import build_oracle, draw_squares, read_boxes, write_raster

BATCH = 4
TILES = 49  # 320 px, 64 px tiles, 16 px overlap: 7 x 7


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    d = tmp_path_factory.mktemp("lock")
    corners = [(x, y) for x in range(5, 300, 37) for y in range(7, 300, 41)]
    return {"model": build_oracle(d / "oracle.onnx"), "raster": write_raster(d / "city.tif", draw_squares(320, 320, corners)),
            "n": len(corners)}


def _cmd(assets, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "debrismap", "detect", str(assets["raster"]), "--out", str(out), "--model",
            str(assets["model"]), "--batch", str(BATCH), "--overlap", "16", "--no-heatmap", "--quiet", *extra]


def _env(**extra: str) -> dict:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("DEBRISMAP_")}, **extra}


def test_a_live_run_holds_the_folder_and_a_killed_one_frees_it(assets, tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen(_cmd(assets, out), env=_env(DEBRISMAP_TEST_KILL_AT="batch:1",
                              DEBRISMAP_TEST_KILL_SIGNAL="SIGSTOP"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, status = os.waitpid(holder.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status), "the holder should be frozen mid-run, not finished"
        # A second real process into the same folder, even with --resume, is refused at once.
        second = subprocess.run(_cmd(assets, out, "--resume"), check=False, env=_env(), capture_output=True, text=True, timeout=120)
        assert second.returncode == 2, second.stderr
        errors = [line for line in second.stderr.splitlines() if "error:" in line]
        assert len(errors) == 1 and f"another debrismap run (pid {holder.pid})" in errors[0], second.stderr
        assert json.loads((out / "run.json").read_text())["status"] == "running"
    finally:
        holder.kill()  # kill -9 the lock holder (a stopped process dies too)
        holder.wait(timeout=60)
    assert holder.returncode == -signal.SIGKILL
    resumed = subprocess.run(_cmd(assets, out, "--resume"), check=False, env=_env(), capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "complete" and run["timings"]["tiles_run"] == TILES - BATCH  # the holder's batch kept
    assert len(read_boxes(out)[0]) == assets["n"]


def test_two_processes_started_together_one_runs_one_is_refused(assets, tmp_path):
    out = tmp_path / "run"
    procs = [subprocess.Popen(_cmd(assets, out), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    # Whichever order they reach the lock in: the loser meets either the live run or its finished folder.
    assert sorted(code for code, _ in results) == [0, 2], results
    refusal = next(err for code, err in results if code == 2)
    assert len([line for line in refusal.splitlines() if "error:" in line]) == 1, refusal
    assert "Traceback" not in refusal
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    assert len(read_boxes(out)[0]) == assets["n"]
