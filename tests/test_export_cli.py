"""`debrismap export` command-line checks that need neither torch nor a checkpoint."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("value", ["2", "0", "high"])
def test_a_score_threshold_outside_0_1_is_one_error_line(tmp_path, value):
    """Refused with one line and exit status 2 (it was a NameError reported as an internal error)."""
    env = {k: v for k, v in os.environ.items() if k != "DEBRISMAP_DEBUG"}
    done = subprocess.run(
        [sys.executable, "-m", "debrismap", "export", str(tmp_path / "best.ckpt"),
         "--out", str(tmp_path / "m.onnx"), "--score-threshold", value],
        check=False, capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"debrismap export: error: --score-threshold must be 'auto' or a number between 0 and 1, got {value!r}"
    ]
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []
