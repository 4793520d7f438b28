"""Unreadable inputs and unwritable folders give one line, even when the tests run as root (CI does).

Root reads and writes whatever the permission bits say, so each command runs in a child
process that has dropped CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from its capability
bounding set (prctl PR_CAPBSET_DROP) before exec: it is still uid 0, owns the files, and is
bound by their mode bits like any user. As a normal user the same child simply runs as is.
"""

from __future__ import annotations

import ctypes
import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_detect_oracle import build_oracle, draw_squares, write_raster

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2


def _drop_file_powers() -> None:  # runs in the child between fork and exec
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != errno.EINVAL:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def debrismap(*argv, cwd: Path) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEBRISMAP_")}
    proc = subprocess.run([sys.executable, "-m", "debrismap", *map(str, argv)], cwd=cwd, env=env, check=False,
                          capture_output=True, text=True, timeout=120, preexec_fn=_drop_file_powers)
    return proc.returncode, proc.stderr


def one_error_line(err: str, *needles: str) -> None:
    lines = [line for line in err.strip().splitlines() if "error" in line]
    assert len(lines) == 1 and "Traceback" not in err and "internal error" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    d = tmp_path_factory.mktemp("perm")
    model = build_oracle(d / "oracle.onnx")
    raster = write_raster(d / "city.tif", draw_squares(128, 128, [(20, 30), (90, 90)]))
    locked = write_raster(d / "locked.tif", draw_squares(128, 128, [(20, 30)]))
    locked.chmod(0)
    read_only = d / "read-only"
    read_only.mkdir()
    run = d / "run"
    assert debrismap("detect", raster, "--out", run, "--model", model, "--overlap", "16", "--no-heatmap",
                     cwd=d)[0] == 0
    read_only.chmod(0o555)
    yield {"dir": d, "model": model, "raster": raster, "locked": locked, "read_only": read_only, "run": run}
    read_only.chmod(0o755)
    locked.chmod(0o644)


def test_the_child_really_is_bound_by_permissions(assets):
    # Without this the tests below would pass for the wrong reason as root.
    probe = subprocess.run([sys.executable, "-c", f"open({str(assets['locked'])!r}).read()"], check=False,
                           capture_output=True, text=True, preexec_fn=_drop_file_powers)
    assert "PermissionError" in probe.stderr


@pytest.mark.parametrize("verb", ["info", "detect"])
def test_unreadable_raster(assets, verb):
    extra = ["--out", assets["dir"] / f"run_{verb}", "--model", assets["model"]] if verb == "detect" else []
    code, err = debrismap(verb, assets["locked"], *extra, cwd=assets["dir"])
    assert code == 2
    one_error_line(err, "locked.tif", "permission denied")


def test_unreadable_model(assets, tmp_path):
    model = tmp_path / "model.onnx"
    model.write_bytes(Path(assets["model"]).read_bytes())
    model.chmod(0)
    code, err = debrismap("detect", assets["raster"], "--out", tmp_path / "run", "--model", model, cwd=tmp_path)
    assert code == 2
    one_error_line(err, "model.onnx", "permission denied")


@pytest.mark.parametrize("verb", ["detect", "detect-inside", "heatmap", "synth"])
def test_unwritable_output_folder(assets, verb):
    ro = assets["read_only"]
    argv = {
        "detect": ["detect", assets["raster"], "--out", ro, "--model", assets["model"], "--force"],
        "detect-inside": ["detect", assets["raster"], "--out", ro / "run", "--model", assets["model"]],
        "heatmap": ["heatmap", assets["run"], "--out", ro],
        "synth": ["synth", "--size", "256", "--out", ro / "city.tif"],
    }[verb]
    code, err = debrismap(*argv, cwd=assets["dir"])
    assert code == 2, err
    one_error_line(err, str(ro))
    assert sorted(os.listdir(ro)) == []
