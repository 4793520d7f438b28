"""open_raster: band choice, radiometry (one stretch per raster), masks, metadata, bad input."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.enums import ColorInterp
from rasterio.windows import Window

from debrismap.errors import ConfigError, RasterError, UngeoreferencedRasterWarning
from debrismap.raster import (
    Stretch,
    TileGrid,
    choose_bands,
    open_raster,
    parse_bands,
    pixel_to_world,
)

UTM_TRANSFORM = Affine(0.5, 0, 500000, 0, -0.5, 4100000)


def write_tif(
    path: Path,
    data: np.ndarray,
    *,
    colorinterp: list[ColorInterp] | None = None,
    crs: str | None = "EPSG:32615",
    transform: Affine | None = UTM_TRANSFORM,
    **profile,
) -> Path:
    """Write a (C, H, W) array as a GeoTIFF."""
    count, height, width = data.shape
    kwargs = {
        "driver": "GTiff", "width": width, "height": height, "count": count, "dtype": data.dtype
    }
    if crs is not None:
        kwargs["crs"] = crs
    if transform is not None:
        kwargs["transform"] = transform
    kwargs.update(profile)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # UngeoreferencedRasterWarning for deliberately bare files
        with rasterio.open(path, "w", **kwargs) as dst:
            dst.write(data)
            if colorinterp is not None:
                dst.colorinterp = colorinterp
    return path


def gradient(
    count: int, height: int, width: int, dtype=np.uint16, scale: float = 1.0
) -> np.ndarray:
    """Bands with distinct, known value ranges: band i = (x + y) * scale + 1000 * i."""
    yy, xx = np.mgrid[0:height, 0:width]
    return np.stack([((xx + yy) * scale + 1000 * i) for i in range(count)]).astype(dtype)


def read_all(src) -> tuple[np.ndarray, np.ndarray]:
    img = src.at_gsd(None).read(Window(0, 0, src.width, src.height))
    return img.pixels, img.valid


# -- band choice -----------------------------------------------------------------------------


def test_uint8_rgb_passes_through(tmp_path):
    data = np.random.default_rng(1).integers(0, 256, (3, 40, 50), dtype=np.uint8)
    path = write_tif(tmp_path / "rgb.tif", data, photometric="RGB")
    with open_raster(path) as src:
        assert (src.width, src.height, src.count, src.dtype) == (50, 40, 3, "uint8")
        assert src.band_indexes == (1, 2, 3)
        assert src.stretch.is_identity
        pixels, valid = read_all(src)
    np.testing.assert_array_equal(pixels, data.transpose(1, 2, 0))
    assert valid.all()


def test_bgrn_colour_interpretation_gives_rgb(tmp_path):
    data = np.stack([np.full((20, 30), v, np.uint8) for v in (10, 20, 30, 40)])
    ci = [ColorInterp.blue, ColorInterp.green, ColorInterp.red, ColorInterp.undefined]
    path = write_tif(tmp_path / "bgrn.tif", data, colorinterp=ci)
    with open_raster(path) as src:
        assert src.band_indexes == (3, 2, 1)
        pixels, _ = read_all(src)
    assert pixels[0, 0].tolist() == [30, 20, 10]


def test_undefined_four_bands_assumed_rgbn(tmp_path):
    data = np.stack([np.full((20, 30), v, np.uint8) for v in (10, 20, 30, 40)])
    ci = [ColorInterp.gray, ColorInterp.undefined, ColorInterp.undefined, ColorInterp.undefined]
    path = write_tif(tmp_path / "rgbn.tif", data, colorinterp=ci)
    with open_raster(path) as src:
        assert src.band_indexes == (1, 2, 3)
        assert read_all(src)[0][5, 5].tolist() == [10, 20, 30]


def test_panchromatic_replicated(tmp_path):
    data = np.arange(600, dtype=np.uint8).reshape(1, 20, 30)
    path = write_tif(tmp_path / "pan.tif", data)
    with open_raster(path) as src:
        assert src.band_indexes == (1, 1, 1)
        pixels, _ = read_all(src)
    for c in range(3):
        np.testing.assert_array_equal(pixels[..., c], data[0])


def test_explicit_bands_win(tmp_path):
    data = np.stack([np.full((20, 30), v, np.uint8) for v in (10, 20, 30, 40)])
    path = write_tif(tmp_path / "four.tif", data)
    with open_raster(path, bands=(4, 3, 2)) as src:
        assert src.band_indexes == (4, 3, 2)
        assert read_all(src)[0][0, 0].tolist() == [40, 30, 20]
    with pytest.raises(RasterError, match="band 5 does not exist"):
        open_raster(path, bands=(5, 3, 2))
    with pytest.raises(RasterError, match="1 or 3"):
        open_raster(path, bands=(1, 2))


def test_ambiguous_band_layouts_refused():
    with pytest.raises(RasterError, match="--bands"):
        choose_bands([ColorInterp.undefined] * 8, None, "wv3.tif")
    with pytest.raises(RasterError, match="--bands"):
        choose_bands([ColorInterp.gray, ColorInterp.undefined], None, "two.tif")
    # grey + alpha is fine: the alpha is a mask, not a colour
    assert choose_bands([ColorInterp.gray, ColorInterp.alpha], None) == (1, 1, 1)
    assert choose_bands(
        [ColorInterp.red, ColorInterp.green, ColorInterp.blue, ColorInterp.alpha], None
    ) == (1, 2, 3)


def test_parse_bands():
    assert parse_bands("3,2,1") == (3, 2, 1)
    assert parse_bands(" 4 ") == (4,)
    assert parse_bands(None) is None
    with pytest.raises(ConfigError):
        parse_bands("red,green")
    with pytest.raises(ConfigError):
        parse_bands("0,1,2")


def test_palette_expanded_to_rgb(tmp_path):
    data = np.array([[[0, 1], [2, 1]]], dtype=np.uint8)
    path = write_tif(tmp_path / "pal.tif", data, photometric="palette")
    with rasterio.open(path, "r+") as ds:
        ds.write_colormap(1, {0: (0, 0, 0, 255), 1: (255, 0, 0, 255), 2: (0, 0, 255, 255)})
    with open_raster(path) as src:
        assert src.colorinterp[0] == ColorInterp.palette
        pixels, _ = read_all(src)
    assert pixels[0, 1].tolist() == [255, 0, 0]
    assert pixels[1, 0].tolist() == [0, 0, 255]


# -- radiometry --------------------------------------------------------------------------------


def test_uint16_stretch_computed_once_per_raster(tmp_path, monkeypatch):
    data = gradient(3, 300, 400, np.uint16, scale=3.0)
    path = write_tif(tmp_path / "u16.tif", data, tiled=True, blockxsize=128, blockysize=128)
    with open_raster(path) as src:
        stretch = src.stretch
        assert stretch.method == "percentile" and len(stretch.low) == 3
        for band, lo, hi in zip(data, stretch.low, stretch.high):
            assert lo == pytest.approx(np.percentile(band, 2), rel=0.02)
            assert hi == pytest.approx(np.percentile(band, 98), rel=0.02)
        # reading tiles never recomputes it: tiles share one mapping, so seams agree
        import debrismap.raster.source as source_module

        def fail(*args, **kwargs):
            raise AssertionError("stretch recomputed while reading a tile")

        monkeypatch.setattr(source_module, "percentile_stretch", fail)
        view = src.at_gsd(None)
        grid = TileGrid(src.width, src.height, 128, 16)
        whole = view.read(Window(0, 0, src.width, src.height)).pixels
        for tile in grid:
            img = view.read(tile.window)
            w = tile.window
            h, wd = min(w.height, src.height - w.row_off), min(w.width, src.width - w.col_off)
            np.testing.assert_array_equal(
                img.pixels[:h, :wd], whole[w.row_off : w.row_off + h, w.col_off : w.col_off + wd]
            )
        # values map linearly: low -> 0, high -> 255
        lo, hi = stretch.low[0], stretch.high[0]
        expected = np.clip(np.rint((data[0].astype(np.float32) - lo) / (hi - lo) * 255), 0, 255)
        np.testing.assert_array_equal(whole[..., 0], expected.astype(np.uint8))


def test_stretch_reused_from_dict(tmp_path):
    data = gradient(3, 64, 64, np.uint16, scale=10.0)
    path = write_tif(tmp_path / "u16.tif", data)
    with open_raster(path) as src:
        recorded = json.loads(json.dumps(src.stretch.to_dict()))  # as stored in run.json
    fixed = Stretch(low=(0, 0, 0), high=(4095, 4095, 4095), method="fixed")
    with open_raster(path, stretch=recorded) as again, open_raster(path, stretch=fixed) as other:
        assert again.stretch == Stretch.from_dict(recorded)
        assert other.stretch.high == (4095.0, 4095.0, 4095.0)
        assert other.at_gsd(None).read(Window(63, 63, 1, 1)).pixels[0, 0, 0] == round(
            data[0, 63, 63] / 4095 * 255
        )
    with pytest.raises(RasterError, match="channels"):
        open_raster(path, stretch=Stretch(low=(0.0,), high=(1.0,)))


def test_twelve_bit_int16_and_float_get_a_stretch(tmp_path):
    rng = np.random.default_rng(2)
    cases = {
        "pleiades12.tif": rng.integers(0, 4096, (4, 50, 60)).astype(np.uint16),
        "int16.tif": rng.integers(-500, 3000, (3, 50, 60)).astype(np.int16),
        "float.tif": rng.normal(0.2, 0.05, (3, 50, 60)).astype(np.float32),
    }
    for name, data in cases.items():
        with open_raster(write_tif(tmp_path / name, data)) as src:
            assert not src.stretch.is_identity, name
            pixels, valid = read_all(src)
            assert pixels.dtype == np.uint8 and valid.all()
            assert pixels.min() == 0 and pixels.max() == 255  # 2/98 clips both tails
            assert max(src.stretch.high) <= data.max()


def test_nodata_excluded_from_percentiles_and_masked(tmp_path):
    data = gradient(3, 100, 100, np.uint16, scale=5.0) + 100
    data[:, :, :50] = 0  # half the raster is nodata
    path = write_tif(tmp_path / "nodata.tif", data, nodata=0)
    with open_raster(path) as src:
        assert src.mask_kind.startswith("nodata")
        real = data[0][:, 50:]
        assert src.stretch.low[0] == pytest.approx(np.percentile(real, 2), rel=0.02)
        pixels, valid = read_all(src)
        assert not valid[:, :50].any() and valid[:, 50:].all()
        assert (pixels[:, :50] == 0).all()  # masked pixels filled consistently
        assert src.at_gsd(None).valid_fraction(Window(0, 0, 100, 100)) == pytest.approx(
            0.5, abs=0.05
        )
        assert src.at_gsd(None).valid_fraction(Window(0, 0, 40, 100)) == 0.0


def test_nan_pixels_are_invalid(tmp_path):
    data = np.full((1, 10, 10), 0.5, np.float32)
    data[0, :3] = np.nan
    data[0, 5, 5] = 0.9
    with open_raster(write_tif(tmp_path / "nan.tif", data)) as src:
        pixels, valid = read_all(src)
    assert not valid[:3].any() and valid[3:].all()
    assert (pixels[:3] == 0).all()


def test_alpha_band_mask(tmp_path):
    data = np.full((4, 30, 30), 120, np.uint8)
    data[3] = 255
    data[3, :10] = 0
    ci = [ColorInterp.red, ColorInterp.green, ColorInterp.blue, ColorInterp.alpha]
    with open_raster(write_tif(tmp_path / "rgba.tif", data, colorinterp=ci)) as src:
        assert src.band_indexes == (1, 2, 3)
        assert src.mask_kind == "alpha band"
        pixels, valid = read_all(src)
    assert not valid[:10].any() and valid[10:].all()
    assert (pixels[:10] == 0).all() and (pixels[10:] == 120).all()


@pytest.mark.parametrize("external", [False, True])
def test_internal_and_external_masks(tmp_path, external):
    data = np.full((3, 32, 32), 90, np.uint8)
    path = write_tif(tmp_path / f"mask_{external}.tif", data)
    mask = np.full((32, 32), 255, np.uint8)
    mask[:, 16:] = 0
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=not external), rasterio.open(path, "r+") as ds:
        ds.write_mask(mask)
    assert os.path.exists(str(path) + ".msk") == external
    with open_raster(path) as src:
        assert src.mask_kind == ("external mask (.msk)" if external else "internal mask")
        pixels, valid = read_all(src)
        assert valid[:, :16].all() and not valid[:, 16:].any()
        assert (pixels[:, 16:] == 0).all()
        view = src.at_gsd(None)
        assert view.valid_fraction(Window(16, 0, 16, 32)) == 0.0
        assert view.valid_fraction(Window(0, 0, 16, 32)) == 1.0


# -- metadata ----------------------------------------------------------------------------------


def test_not_georeferenced_warns_once_and_uses_pixels(tmp_path):
    data = np.zeros((3, 10, 12), np.uint8)
    path = write_tif(tmp_path / "bare.tif", data, crs=None, transform=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        src = open_raster(path)
    ours = [w for w in caught if issubclass(w.category, UngeoreferencedRasterWarning)]
    assert len(ours) == 1 and "bare.tif" in str(ours[0].message)
    assert not any("rasterio" in type(w.message).__module__ for w in caught)
    with src:
        assert src.georeferenced is False
        assert src.transform == Affine.identity()
        assert src.gsd_m is None and src.crs is None
        # a caller may still resample by passing an assumed GSD
        view = src.at_gsd(1.0, assumed_gsd_m=0.5)
        assert (view.width, view.height) == (6, 5)


def test_header_sha256_changes_with_content(tmp_path):
    a = write_tif(tmp_path / "a.tif", np.zeros((3, 8, 8), np.uint8))
    b = write_tif(tmp_path / "b.tif", np.ones((3, 8, 8), np.uint8))
    with open_raster(a) as sa, open_raster(b) as sb:
        assert len(sa.header_sha256) == 64
        assert sa.header_sha256 != sb.header_sha256
    # the same bytes under another name, opened afresh, hash the same (the hash is of content, not path)
    twin = tmp_path / "twin.tif"
    twin.write_bytes(a.read_bytes())
    with open_raster(a) as sa, open_raster(twin) as st:
        assert sa.header_sha256 == st.header_sha256


def test_describe_is_json_serialisable(tmp_path):
    data = np.full((1, 8, 8), np.nan, np.float32)
    data[0, 0, 0] = 1
    with open_raster(write_tif(tmp_path / "f.tif", data, nodata=np.nan)) as src:
        info = json.loads(json.dumps(src.describe()))
    assert info["width"] == 8 and info["bands"] == [1, 1, 1] and info["nodata"] == "nan"


# -- bad input ---------------------------------------------------------------------------------


def one_line_raster_error(path, **kwargs) -> str:
    with pytest.raises(RasterError) as info:
        open_raster(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_bad_files_give_one_line_raster_errors(tmp_path):
    empty = tmp_path / "empty.tif"
    empty.write_bytes(b"")
    assert "empty" in one_line_raster_error(empty)

    text = tmp_path / "notes.tif"
    text.write_text("this is not an image\n" * 50)
    assert "not a raster" in one_line_raster_error(text)

    assert "no such file" in one_line_raster_error(tmp_path / "missing.tif")
    assert "directory" in one_line_raster_error(tmp_path)

    good = write_tif(tmp_path / "good.tif", gradient(3, 400, 400, np.uint8))
    truncated = tmp_path / "truncated.tif"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    one_line_raster_error(truncated)

    complex_path = write_tif(tmp_path / "sar.tif", np.ones((1, 8, 8), np.complex64))
    assert "complex" in one_line_raster_error(complex_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read anything")
def test_unreadable_file(tmp_path):
    path = write_tif(tmp_path / "secret.tif", np.zeros((3, 8, 8), np.uint8))
    path.chmod(0)
    try:
        assert "permission" in one_line_raster_error(path)
    finally:
        path.chmod(0o644)


def test_permission_check_message(tmp_path, monkeypatch):
    # runs even as root (where chmod 0 does not stop reads): the check itself is exercised
    path = write_tif(tmp_path / "locked.tif", np.zeros((3, 8, 8), np.uint8))
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    assert "permission denied" in one_line_raster_error(path)


def test_read_errors_become_raster_errors(realdata):
    path = realdata / "rasterio_testdata" / "corrupt.tif"
    message = one_line_raster_error(path)
    assert "see previous exception" not in message.lower()


def test_large_raster_streams_in_bounded_memory(tmp_path):
    """A 12000 x 12000 x 3 uint16 raster (864 MB decoded) opens, gets its stretch and
    reads tiles with a small Python-side footprint: nothing reads it whole."""
    import tracemalloc

    side, block = 12000, 512
    path = tmp_path / "city.tif"
    rng = np.random.default_rng(5)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=side,
        height=side,
        count=3,
        dtype="uint16",
        tiled=True,
        blockxsize=block,
        blockysize=block,
        compress="deflate",
        sparse_ok=True,
        nodata=0,
        crs="EPSG:32637",
        transform=Affine(0.5, 0, 300000, 0, -0.5, 4000000),
    ) as dst:
        # data only in a full-width strip two blocks tall; elsewhere unwritten = nodata
        for row in (11 * block, 12 * block):
            for col in range(0, side, block):
                value = int(rng.integers(1000, 3000))
                w = min(block, side - col)
                dst.write(
                    np.full((3, block, w), value, np.uint16), window=Window(col, row, w, block)
                )
    tracemalloc.start()
    try:
        with open_raster(path) as src:
            low, high = src.stretch.low, src.stretch.high
            view = src.at_gsd(0.5)
            grid = TileGrid(view.width, view.height, 256, 32)
            fractions = [view.valid_fraction(grid.tile_at(r, 0).window) for r in (0, 26)]
            img = view.read(grid.tile_at(26, 3).window)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64e6, f"peak Python allocation {peak / 1e6:.0f} MB"
    # nodata excluded: the stretch comes from the strip's values only
    assert all(1000 <= v <= 3000 for v in (*low, *high)) and high[0] > low[0]
    assert fractions[0] == 0.0 and fractions[1] > 0.5
    assert img.valid.any()


def test_gcp_only_raster_gets_fitted_affine(tmp_path):
    from rasterio.control import GroundControlPoint

    true = Affine(0.5, 0.1, 500000, 0.1, -0.5, 4100000)  # slightly rotated
    rows, cols = np.array([0, 0, 30, 30, 15]), np.array([0, 40, 0, 40, 20])
    xs, ys = pixel_to_world(true, cols, rows)
    gcps = [
        GroundControlPoint(row=int(r), col=int(c), x=float(x), y=float(y))
        for r, c, x, y in zip(rows, cols, xs, ys)
    ]
    path = tmp_path / "gcps.tif"
    with (
        warnings.catch_warnings(),
        rasterio.open(
            path, "w", driver="GTiff", width=40, height=30, count=3, dtype="uint8",
            gcps=gcps, crs="EPSG:32615",
        ) as dst,
    ):  # fmt: skip
        warnings.simplefilter("ignore")
        dst.write(np.zeros((3, 30, 40), np.uint8))
    with open_raster(path) as src:
        assert src.georeferenced and "GCP" in src.georeference_source
        assert src.crs == rasterio.crs.CRS.from_epsg(32615)
        assert src.transform.almost_equals(true, precision=1e-6)
        assert src.gsd_m == pytest.approx(np.hypot(0.5, 0.1), rel=1e-6)
