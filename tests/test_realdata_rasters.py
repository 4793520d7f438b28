"""Every file in ../shared/realdata either opens, describes itself and reads its first and
last tiles correctly, or fails with a one-line RasterError: no other exception type."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window

from debrismap.commands.info import format_info
from debrismap.errors import RasterError
from debrismap.raster import TileGrid, open_raster, pixel_to_world

pytestmark = pytest.mark.realdata

# Files that must be refused (and why), and real scenes that must open.
MUST_FAIL = {
    "rasterio_testdata/corrupt.tif": "cannot read",
    "spacenet_solaris/sar_hh.tif": "complex",
    "riocogeo_fixtures/slc.tif": "complex",
    "xview2deploy_joplin/joplin.geojson": "not a raster",
    "README.md": "not a raster",
}
MUST_OPEN = [
    "xview2deploy_joplin/post_tile_31500-5137.tif",
    "xview2deploy_joplin/staging_tile_31500-5137.tif",
    "planet_turkey_eq2023/mimar_sinan_antakya_hatay_turkey_20230212_ssc16_rgb_flat_50cm_2880px_logo_wm_post.jpg",
    "spacenet_solaris/sample_geotiff.tif",
    "opengeos_data/naip_m_4709963_se_14_1_20200831.tif",
    "riotiler_fixtures/hro_colorado_CL_1_extmask.tif",
    "riotiler_fixtures/cog_cmap.tif",
    "rasterio_testdata/rotated.tif",
]


def all_files(root: Path) -> list[Path]:
    """Every file on disk plus every file the manifest lists (a listed-but-missing file
    is reported by open_raster as 'no such file', which is a RasterError too)."""
    files = {p for p in root.rglob("*") if p.is_file()}
    manifest = root / "manifest.csv"
    if manifest.exists():
        with open(manifest, newline="") as fh:
            for row in csv.DictReader(fh):
                folder, name = row.get("dir") or "", row.get("file") or ""
                if name:
                    files.add(root / folder / name)
    return sorted(files)


def check_tile(src, view, tile, ds) -> None:
    img = view.read(tile.window)
    w = tile.window
    assert img.pixels.shape == (w.height, w.width, 3) and img.pixels.dtype == np.uint8
    assert img.valid.shape == (w.height, w.width) and img.valid.dtype == bool
    # padding beyond the raster is invalid and zero
    h_in = max(0, min(w.height, view.height - w.row_off))
    w_in = max(0, min(w.width, view.width - w.col_off))
    assert not img.valid[h_in:].any() and not img.valid[:, w_in:].any()
    assert (img.pixels[~img.valid] == 0).all()  # masked pixels filled consistently
    # the tile's transform puts its (0, 0) at the window's corner in world space
    X, Y = pixel_to_world(img.transform, 0, 0)
    X0, Y0 = pixel_to_world(view.transform, w.col_off, w.row_off)
    assert (float(X), float(Y)) == pytest.approx((float(X0), float(Y0)))
    # the valid mask agrees with GDAL's dataset mask (nodata / alpha / .msk / internal mask)
    # wherever the chosen bands are all the colour bands of the file
    colour_bands = [i + 1 for i, ci in enumerate(ds.colorinterp) if ci.name != "alpha"]
    if (
        view.is_identity
        and sorted(set(src.band_indexes)) == colour_bands
        and np.dtype(ds.dtypes[0]).kind != "f"
    ):
        window = Window(w.col_off, w.row_off, w_in, h_in)
        np.testing.assert_array_equal(img.valid[:h_in, :w_in], ds.dataset_mask(window=window) > 0)
    # 8-bit pass-through: the pixels are exactly the file's bands, independently read
    if (
        src.stretch.is_identity
        and src.dtype == "uint8"
        and src._palette is None
        and view.is_identity
    ):
        window = Window(w.col_off, w.row_off, w_in, h_in)
        reference = ds.read(list(src.band_indexes), window=window).transpose(1, 2, 0)
        inside = img.valid[:h_in, :w_in]
        np.testing.assert_array_equal(img.pixels[:h_in, :w_in][inside], reference[inside])


def sweep(root: Path) -> tuple[dict[str, str], dict[str, str], list[str]]:
    opened, refused, problems = {}, {}, []
    for path in all_files(root):
        name = path.relative_to(root).as_posix()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with open_raster(path) as src, rasterio.open(path) as ds:
                    info = src.describe()
                    json.dumps(info)
                    assert format_info(
                        {
                            **info,
                            "tiling": {
                                "tile_size": 256,
                                "overlap": 32,
                                "rows": 1,
                                "cols": 1,
                                "tiles": 1,
                            },
                        }
                    )
                    view = src.at_gsd(None)
                    grid = TileGrid(view.width, view.height, 256, 32)
                    for row, col in {(0, 0), (grid.n_rows - 1, grid.n_cols - 1)}:
                        check_tile(src, view, grid.tile_at(row, col), ds)
                    if src.georeferenced:
                        assert src.transform != Affine.identity()
                    else:
                        assert src.transform == Affine.identity() and src.gsd_m is None
            opened[name] = f"{info['width']}x{info['height']}"
        except RasterError as exc:
            message = str(exc)
            if "\n" in message or str(path) not in message:
                problems.append(f"{name}: RasterError not one line naming the file: {message!r}")
            refused[name] = message
        except Exception as exc:  # noqa: BLE001  anything else is a bug in the raster core
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
    return opened, refused, problems


def test_every_realdata_file_opens_or_raises_raster_error(realdata):
    opened, refused, problems = sweep(realdata)
    assert not problems, "\n".join(problems)
    assert len(opened) + len(refused) >= 200  # the folder holds ~267 files
    for name, reason in MUST_FAIL.items():
        assert name in refused, f"{name} should be refused"
        assert reason in refused[name], refused[name]
    for name in MUST_OPEN:
        assert name in opened, f"{name} should open: {refused.get(name)}"
