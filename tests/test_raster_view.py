"""RasterView: resampling to a target GSD, padding, transforms, valid fraction, seams."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window

from debrismap.errors import GsdUnknownWarning
from debrismap.raster import TileGrid, open_raster, pixel_to_world


def write_tif(
    path: Path, data: np.ndarray, transform: Affine, crs: str = "EPSG:32615", **kw
) -> Path:
    count, height, width = data.shape
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=count,
        dtype=data.dtype,
        crs=crs,
        transform=transform,
        **kw,
    ) as dst:
        dst.write(data)
    return path


def smooth_image(height: int, width: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    r = 127 + 100 * np.sin(xx / 23.0) * np.cos(yy / 31.0)
    g = (xx * 255 // max(width - 1, 1)).astype(float)
    b = (yy * 255 // max(height - 1, 1)).astype(float)
    return np.stack([r, g, b]).astype(np.uint8)


def whole(view):
    return view.read(Window(0, 0, view.width, view.height))


def test_identity_within_ten_percent(tmp_path):
    path = write_tif(tmp_path / "a.tif", smooth_image(50, 60), Affine(0.5, 0, 0, 0, -0.5, 0))
    with open_raster(path) as src:
        for target in (0.46, 0.5, 0.54):
            view = src.at_gsd(target)
            assert view.is_identity and (view.width, view.height) == (60, 50)
            assert view.transform == src.transform and view.scale == 1.0
        assert not src.at_gsd(0.56).is_identity


def test_downsample_by_two_is_block_average(tmp_path):
    data = smooth_image(64, 80)
    path = write_tif(tmp_path / "fine.tif", data, Affine(0.25, 0, 500000, 0, -0.25, 4100000))
    with open_raster(path) as src:
        view = src.at_gsd(0.5)
        assert (view.width, view.height) == (40, 32)
        assert view.scale == pytest.approx(2.0)
        assert view.transform == Affine(0.5, 0, 500000, 0, -0.5, 4100000)
        img = whole(view)
    expected = data.reshape(3, 32, 2, 40, 2).astype(float).mean(axis=(2, 4)).transpose(1, 2, 0)
    assert np.abs(img.pixels.astype(float) - expected).max() <= 1.0
    assert img.valid.all()


def test_upsample_bilinear(tmp_path):
    data = smooth_image(30, 40)
    path = write_tif(tmp_path / "coarse.tif", data, Affine(1.0, 0, 500000, 0, -1.0, 4100000))
    with open_raster(path) as src:
        view = src.at_gsd(0.5)
        assert (view.width, view.height) == (80, 60)
        img = whole(view)
    # each 2x2 block of the view straddles one source pixel: its mean ~ the source value
    blocks = img.pixels.astype(float).reshape(30, 2, 40, 2, 3).mean(axis=(1, 3))
    inner = (slice(1, -1), slice(1, -1))
    assert np.abs(blocks[inner] - data.transpose(1, 2, 0)[inner]).mean() < 3.0


def test_geographic_raster_resampled_with_latitude(tmp_path):
    # Joplin-like: 6e-6 degree pixels at 37 N are ~0.53 m east-west and ~0.67 m north-south
    t = Affine(6e-6, 0, -94.5, 0, -6e-6, 37.08)
    path = write_tif(tmp_path / "geo.tif", smooth_image(300, 200), t, crs="EPSG:4326")
    with open_raster(path) as src:
        px, py = src.pixel_size_m
        assert 0.52 < px < 0.545 and 0.66 < py < 0.675
        view = src.at_gsd(0.5)
        assert view.width == round(200 * px / 0.5) and view.height == round(300 * py / 0.5)
        # the view covers exactly the same ground: corners map to the same world points
        X, Y = pixel_to_world(view.transform, [0, view.width], [0, view.height])
        X0, Y0 = pixel_to_world(src.transform, [0, src.width], [0, src.height])
        np.testing.assert_allclose(X, X0, atol=1e-12)
        np.testing.assert_allclose(Y, Y0, atol=1e-12)
        # both axes are resampled to the target, not just the mean
        assert view.scale_x == pytest.approx(0.5 / px, rel=0.01)
        assert view.scale_y == pytest.approx(0.5 / py, rel=0.01)
        img = whole(view)
        assert img.pixels.shape == (view.height, view.width, 3) and img.valid.all()


def test_resampled_tiles_agree_with_whole_view(tmp_path):
    # noise, so a tile read from a rounded (shifted) source window would differ a lot
    data = np.random.default_rng(0).integers(0, 256, (3, 333, 377), dtype=np.uint8)
    path = write_tif(tmp_path / "odd.tif", data, Affine(0.37, 0, 500000, 0, -0.37, 4100000))
    with open_raster(path) as src:
        view = src.at_gsd(0.5)
        reference = whole(view).pixels.astype(int)
        grid = TileGrid(view.width, view.height, 96, 16)
        for tile in grid:
            img = view.read(tile.window)
            w = tile.window
            h = min(w.height, view.height - w.row_off)
            wd = min(w.width, view.width - w.col_off)
            diff = np.abs(
                img.pixels[:h, :wd].astype(int)
                - reference[w.row_off : w.row_off + h, w.col_off : w.col_off + wd]
            )
            # same fractional source window, same kernel: at most rounding differences
            assert diff.max() <= 1, (tile, diff.max())
            assert img.transform == view.transform @ Affine.translation(w.col_off, w.row_off)


def test_windows_beyond_raster_are_padded_invalid(tmp_path):
    data = smooth_image(50, 70)
    path = write_tif(tmp_path / "small.tif", data, Affine(0.5, 0, 0, 0, -0.5, 0))
    with open_raster(path) as src:
        view = src.at_gsd(None)
        grid = TileGrid(view.width, view.height, 256, 32)
        img = view.read(grid.tile_at(0, 0).window)
        assert img.pixels.shape == (256, 256, 3)
        assert (
            img.valid[:50, :70].all() and not img.valid[50:].any() and not img.valid[:, 70:].any()
        )
        assert (img.pixels[50:] == 0).all()
        np.testing.assert_array_equal(img.pixels[:50, :70], data.transpose(1, 2, 0))
        assert view.valid_fraction(grid.tile_at(0, 0).window) == pytest.approx(50 * 70 / 256**2)
        # negative offsets pad on the other side
        img = view.read(Window(-10, -5, 20, 20))
        assert not img.valid[:5].any() and not img.valid[:, :10].any() and img.valid[5:, 10:].all()
        np.testing.assert_array_equal(img.pixels[5:, 10:], data.transpose(1, 2, 0)[:15, :10])
        assert view.valid_fraction(Window(100, 100, 10, 10)) == 0.0
        with pytest.raises(ValueError):
            view.read(Window(0.5, 0, 10, 10))


def test_unknown_gsd_warns_and_keeps_native(tmp_path):
    data = smooth_image(20, 20)
    path = tmp_path / "bare.png"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(
            path, "w", driver="PNG", width=20, height=20, count=3, dtype="uint8"
        ) as dst:
            dst.write(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_raster(path) as src:
            view = src.at_gsd(0.5)
            assert view.is_identity and view.gsd_m is None
    assert any(issubclass(w.category, GsdUnknownWarning) for w in caught)


def test_resampled_view_matches_gdal_whole_raster_resample(tmp_path):
    data = np.random.default_rng(7).integers(0, 256, (3, 210, 190), dtype=np.uint8)
    path = write_tif(tmp_path / "n.tif", data, Affine(0.3, 0, 500000, 0, -0.3, 4100000))
    with open_raster(path) as src, rasterio.open(path) as ds:
        view = src.at_gsd(0.5)
        assert (view.width, view.height) == (round(190 * 0.3 / 0.5), round(210 * 0.3 / 0.5))
        ours = whole(view).pixels
        gdal = ds.read(out_shape=(3, view.height, view.width), resampling=view.resampling)
    assert view.resampling.name == "average"
    assert np.abs(ours.astype(int) - gdal.transpose(1, 2, 0).astype(int)).max() <= 1
