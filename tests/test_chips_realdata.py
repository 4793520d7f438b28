"""Chips on real imagery: a lon/lat (EPSG:4326, non-square pixel) Joplin tile with GeoJSON
footprints, and a UTM 16-bit SpaceNet sample. Skipped when ../shared/realdata is absent."""

from __future__ import annotations

import csv
import warnings

import numpy as np
import pytest

from debrismap.chips import ChipOptions, build_chips
from debrismap.labels import LabelWarning

pytestmark = pytest.mark.realdata


def _world_bounds(out, split):
    with open(out / "chips.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == split]
    return np.array([[float(r[k]) for k in ("minx", "miny", "maxx", "maxy")] for r in rows])


@pytest.mark.parametrize(
    "raster, labels",
    [
        ("xview2deploy_joplin/post_tile_31500-5137.tif", "xview2deploy_joplin/joplin.geojson"),
        ("spacenet_solaris/sample_geotiff.tif", "spacenet_solaris/geotiff_labels.geojson"),
    ],
)
def test_real_rasters_chip_without_leakage(realdata, tmp_path, raster, labels):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabelWarning)  # footprints outside the tile are dropped
        summary = build_chips(
            [(realdata / raster, realdata / labels)], tmp_path / "ds", ChipOptions(size=128, overlap=16)
        )
    assert summary.counts["train"]["boxes"] > 0 and summary.counts["val"]["boxes"] > 0
    train, val = _world_bounds(tmp_path / "ds", "train"), _world_bounds(tmp_path / "ds", "val")
    t, v = train[:, None, :], val[None, :, :]
    w = np.minimum(t[..., 2], v[..., 2]) - np.maximum(t[..., 0], v[..., 0])
    h = np.minimum(t[..., 3], v[..., 3]) - np.maximum(t[..., 1], v[..., 1])
    assert not ((w > 1e-9) & (h > 1e-9)).any()
