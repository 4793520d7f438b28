"""Formats beyond plain GeoTIFF: VRT mosaics, world files, JPEG2000, COG with overviews."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window

from debrismap.raster import open_raster, pixel_to_world, world_to_pixel


def noise(count: int, height: int, width: int, seed: int = 0, dtype=np.uint8) -> np.ndarray:
    hi = 256 if dtype == np.uint8 else 4096
    return np.random.default_rng(seed).integers(0, hi, (count, height, width)).astype(dtype)


def write(path: Path, data: np.ndarray, driver: str = "GTiff", **kw) -> Path:
    count, height, width = data.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(
            path,
            "w",
            driver=driver,
            width=width,
            height=height,
            count=count,
            dtype=data.dtype,
            **kw,
        ) as dst:
            dst.write(data)
    return path


def test_vrt_mosaic_reads_across_the_seam(tmp_path):
    left = noise(3, 100, 120, seed=1)
    right = noise(3, 100, 80, seed=2)
    geo = dict(crs="EPSG:32615")
    write(tmp_path / "left.tif", left, transform=Affine(0.5, 0, 1000, 0, -0.5, 2000), **geo)
    write(tmp_path / "right.tif", right, transform=Affine(0.5, 0, 1060, 0, -0.5, 2000), **geo)
    bands = ""
    for b in (1, 2, 3):
        sources = "".join(
            f"""<SimpleSource><SourceFilename relativeToVRT="1">{name}</SourceFilename>
            <SourceBand>{b}</SourceBand>
            <SrcRect xOff="0" yOff="0" xSize="{w}" ySize="100"/>
            <DstRect xOff="{x}" yOff="0" xSize="{w}" ySize="100"/></SimpleSource>"""
            for name, x, w in (("left.tif", 0, 120), ("right.tif", 120, 80))
        )
        bands += f'<VRTRasterBand dataType="Byte" band="{b}">{sources}</VRTRasterBand>'
    srs = rasterio.crs.CRS.from_epsg(32615).to_wkt()
    vrt = tmp_path / "mosaic.vrt"
    vrt.write_text(
        f'<VRTDataset rasterXSize="200" rasterYSize="100"><SRS>{srs}</SRS>'
        f"<GeoTransform>1000, 0.5, 0, 2000, 0, -0.5</GeoTransform>{bands}</VRTDataset>"
    )
    with open_raster(vrt) as src:
        assert (src.width, src.height, src.gsd_m) == (200, 100, 0.5)
        img = src.at_gsd(None).read(Window(100, 10, 40, 40))  # straddles the seam at x=120
    expected = np.concatenate([left[:, 10:50, 100:120], right[:, 10:50, 0:20]], axis=2)
    np.testing.assert_array_equal(img.pixels, expected.transpose(1, 2, 0))


def test_world_file_is_pixel_centre_but_transform_is_corner(tmp_path):
    data = noise(3, 20, 30)
    png = write(tmp_path / "photo.png", data, driver="PNG")
    # A world file gives the CENTRE of the top-left pixel; GDAL moves it to the corner.
    (tmp_path / "photo.pgw").write_text("0.5\n0\n0\n-0.5\n1000.25\n2000.25\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        src = open_raster(png)
    with src:
        assert src.georeferenced and src.crs is None and src.gsd_m is None
        assert src.transform == Affine(0.5, 0, 1000.0, 0, -0.5, 2000.5)
        X, Y = pixel_to_world(src.transform, 0, 0)
        assert (float(X), float(Y)) == (1000.0, 2000.5)
        x, y = world_to_pixel(src.transform, 1000.25, 2000.25)  # the world file's point
        assert (float(x), float(y)) == (0.5, 0.5)  # = centre of pixel (0, 0)


def test_jpeg2000_lossless(tmp_path):
    data = noise(3, 64, 48, seed=3)
    jp2 = write(
        tmp_path / "scene.jp2",
        data,
        driver="JP2OpenJPEG",
        crs="EPSG:32637",
        transform=Affine(0.5, 0, 300000, 0, -0.5, 4000000),
        QUALITY=100,
        REVERSIBLE="YES",
    )
    with open_raster(jp2) as src:
        assert src.driver == "JP2OpenJPEG" and src.gsd_m == 0.5
        img = src.at_gsd(None).read(Window(0, 0, 48, 64))
    np.testing.assert_array_equal(img.pixels, data.transpose(1, 2, 0))


def test_cog_with_overviews_stretch_from_overview(tmp_path):
    data = noise(3, 1200, 1100, seed=4, dtype=np.uint16)
    cog = write(
        tmp_path / "scene_cog.tif",
        data,
        driver="COG",
        crs="EPSG:32637",
        transform=Affine(0.5, 0, 300000, 0, -0.5, 4000000),
        BLOCKSIZE=256,
        OVERVIEWS="AUTO",
    )
    with open_raster(cog) as src:
        assert src.overviews  # the COG driver built them
        info = src.describe()
        assert info["overviews"] == src.overviews
        # uniform noise in 0..4095: percentiles 2/98 land near 82 and 4013
        assert src.stretch.low[0] == pytest.approx(0.02 * 4095, abs=60)
        assert src.stretch.high[0] == pytest.approx(0.98 * 4095, abs=60)
