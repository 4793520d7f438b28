"""Shared test set-up: where the real imagery lives, a clean DEBRISMAP_* environment, hypothesis profile."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# ../shared/realdata beside the checkout; DEBRISMAP_REALDATA overrides it.
REALDATA = Path(
    os.environ.get("DEBRISMAP_REALDATA", Path(__file__).resolve().parents[2] / "shared" / "realdata")
)

# A DEBRISMAP_MODEL, DEBRISMAP_DEBUG or test hook left in the shell must not change what the
# tests see; cleared here, before any test module imports debrismap (hooks read it at import).
for _name in [n for n in os.environ if n.startswith("DEBRISMAP_") and n != "DEBRISMAP_REALDATA"]:
    del os.environ[_name]

# Hypothesis: the same examples on every run and machine, so a CI failure reproduces locally
# (and prints its reproduction blob). HYPOTHESIS_PROFILE=explore searches afresh.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"real imagery folder not found: {REALDATA}")
    return REALDATA


def pytest_configure(config):
    # ultralytics writes a settings file and may try network checks at import; keep it local.
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(config.rootpath) / ".pytest_cache" / "ultralytics"))
    os.environ.setdefault("MPLBACKEND", "Agg")
