"""Shared test fixtures: where the real imagery lives, and a fresh temp dir per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# ../shared/realdata beside the checkout; DEBRISMAP_REALDATA overrides it.
REALDATA = Path(
    os.environ.get("DEBRISMAP_REALDATA", Path(__file__).resolve().parents[2] / "shared" / "realdata")
)


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
