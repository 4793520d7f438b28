"""Every GeoTIFF the project calls Cloud-Optimized passes a COG validator (rio-cogeo's), not only the layout tag.

Covers a real run folder (detect -> heatmap -> compare: density, density_rgba, change_density
and its RGBA copy) and the writers at sizes around their block and overview thresholds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from pyproj import CRS
from rio_cogeo.cogeo import cog_validate
from test_detect_oracle import build_oracle, draw_squares, write_raster

from debrismap.aggregate.cog import write_float_cog, write_rgba_cog
from debrismap.cli import main

# The outputs that claim to be COGs (README, docs/heatmap.md).
CLAIMED_COGS = {"run": ["density.tif", "density_rgba.tif"], "change": ["change_density.tif", "change_density_rgba.tif"]}


def assert_valid_cog(path: Path) -> None:
    valid, errors, warnings = cog_validate(str(path), quiet=True)
    assert valid and not errors, (path.name, errors)
    assert not [w for w in warnings if "overview" in w.lower()], (path.name, warnings)


def test_every_geotiff_of_a_run_and_a_change_is_a_valid_cog(tmp_path):
    model = build_oracle(tmp_path / "oracle.onnx")
    corners = [(x, y) for x in range(5, 300, 37) for y in range(7, 300, 41)]
    raster = write_raster(tmp_path / "city.tif", draw_squares(320, 320, corners))
    common = ["--model", str(model), "--overlap", "16", "--quiet"]
    assert main(["detect", str(raster), "--out", str(tmp_path / "run"), *common]) == 0
    assert main(["compare", str(tmp_path / "run"), str(tmp_path / "run"), "--out", str(tmp_path / "change")]) == 0
    for folder, names in CLAIMED_COGS.items():
        written = sorted(p.name for p in (tmp_path / folder).glob("*.tif"))
        assert written == sorted(names), written  # a new GeoTIFF output must be added here (and be a COG)
        for name in names:
            assert_valid_cog(tmp_path / folder / name)


@pytest.mark.parametrize("side", [20, 100, 256, 700, 2000])
def test_cog_writers_make_valid_cogs_at_every_size(tmp_path, side):
    rng = np.random.default_rng(side)
    values = rng.gamma(2.0, 50.0, (side, side + 3)).astype(np.float32)
    values[: side // 4] = np.nan  # nodata stripe
    transform = Affine(10.0, 0, 500000.0, 0, -10.0, 4000000.0)
    crs = CRS.from_epsg(32637)
    assert_valid_cog(write_float_cog(tmp_path / "float.tif", values, transform, crs))
    rgba = rng.integers(0, 256, (side, side + 3, 4), dtype=np.uint8)
    assert_valid_cog(write_rgba_cog(tmp_path / "rgba.tif", rgba, transform, crs))
