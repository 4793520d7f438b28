"""The test run is isolated from the shell: no DEBRISMAP_* variables, and hypothesis is derandomised."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]


def test_no_debrismap_variables_reach_the_tests():
    assert [n for n in os.environ if n.startswith("DEBRISMAP_") and n != "DEBRISMAP_REALDATA"] == []
    from debrismap.detect import hooks
    from debrismap.detect.model_file import find_default_model

    assert hooks._KILL_AT == ""
    found = find_default_model("cpu")
    assert found is None or found.name == "debrismap-default-int8.onnx"


def test_hypothesis_is_derandomised_by_default():
    assert settings().derandomize is True and settings().database is None


def test_variables_set_in_the_shell_are_cleared(tmp_path):
    """Run the first test in a fresh pytest with the variables that would change results set."""
    env = {**os.environ, "DEBRISMAP_MODEL": str(tmp_path / "nope.onnx"), "DEBRISMAP_DEBUG": "1",
           "DEBRISMAP_TEST_KILL_AT": "batch:1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           f"{Path(__file__).name}::test_no_debrismap_variables_reach_the_tests"],
                          cwd=ROOT / "tests", env=env, check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "1 passed" in proc.stdout
