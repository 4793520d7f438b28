"""Pixel <-> world in the pixel-corner convention, and ground sample distance in metres."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.crs import CRS

from debrismap.errors import UngeoreferencedRasterWarning
from debrismap.raster import open_raster, pixel_to_world, world_to_pixel
from debrismap.raster.geometry import pixel_size_crs_units, pixel_size_m

WGS84_A = 6378137.0
WGS84_E2 = 0.00669437999014


def metres_per_degree(lat_deg: float) -> tuple[float, float]:
    """(east-west, north-south) metres per degree on WGS84 at a latitude (textbook formulas)."""
    phi = math.radians(lat_deg)
    w = 1 - WGS84_E2 * math.sin(phi) ** 2
    lon = math.pi * WGS84_A * math.cos(phi) / (180 * math.sqrt(w))
    lat = math.pi * WGS84_A * (1 - WGS84_E2) / (180 * w**1.5)
    return lon, lat


def test_hand_computed_corners_north_up():
    t = Affine(0.5, 0.0, 1000.0, 0.0, -0.5, 2000.0)
    X, Y = pixel_to_world(t, [0, 10, 0], [0, 4, 1])
    # (0, 0) is the top-left corner of the top-left pixel: exactly the origin, no half pixel
    assert X.tolist() == [1000.0, 1005.0, 1000.0]
    assert Y.tolist() == [2000.0, 1998.0, 1999.5]
    # the world point a quarter metre into the raster is the centre of pixel (0, 0)
    x, y = world_to_pixel(t, 1000.25, 1999.75)
    assert (float(x), float(y)) == (0.5, 0.5)


def test_round_trip_property_holds_for_many_transforms():
    rng = np.random.default_rng(0)
    for _ in range(50):
        a, b, d, e = rng.normal(size=4)
        if abs(a * e - b * d) < 1e-3:
            continue
        t = Affine(a, b, rng.uniform(-1e6, 1e6), d, e, rng.uniform(-1e6, 1e6))
        x, y = rng.uniform(-100, 5000, 200), rng.uniform(-100, 5000, 200)
        X, Y = pixel_to_world(t, x, y)
        x2, y2 = world_to_pixel(t, X, Y)
        np.testing.assert_allclose(x2, x, atol=1e-6)
        np.testing.assert_allclose(y2, y, atol=1e-6)


@settings(max_examples=80, deadline=None)
@given(
    res=st.floats(1e-7, 100),
    x=st.floats(0, 40000),
    y=st.floats(0, 40000),
    south_up=st.booleans(),
)
def test_round_trip_world_pixel_world(res, x, y, south_up):
    t = Affine(res, 0, 500000.0, 0, res if south_up else -res, 4000000.0)
    X, Y = pixel_to_world(t, x, y)
    x2, y2 = world_to_pixel(t, X, Y)
    X2, Y2 = pixel_to_world(t, x2, y2)
    assert float(X2) == pytest.approx(float(X), abs=1e-6)
    assert float(Y2) == pytest.approx(float(Y), abs=1e-6)


def test_degenerate_transform_refused():
    with pytest.raises(ValueError):
        world_to_pixel(Affine(0, 0, 0, 0, 0, 0), 1, 1)


def corners(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    return np.array([0, width, width, 0]), np.array([0, 0, height, height])


def test_rotated_transform_from_realdata(realdata):
    path = realdata / "rasterio_testdata" / "rotated.tif"
    with pytest.warns(UngeoreferencedRasterWarning, match="no CRS"):
        src = open_raster(path)
    with src, rasterio.open(path) as ds:
        t = src.transform
        assert t.b != 0 and t.d != 0  # really rotated
        xs, ys = corners(src.width, src.height)
        X, Y = pixel_to_world(t, xs, ys)
        # by hand: X = a*x + b*y + c, Y = d*x + e*y + f
        for x, y, Xi, Yi in zip(xs, ys, X, Y):
            assert Xi == pytest.approx(t.a * x + t.b * y + t.c)
            assert Yi == pytest.approx(t.d * x + t.e * y + t.f)
        # and against rasterio's own corner ('ul') convention
        rX, rY = ds.xy(ys[:3], xs[:3], offset="ul")
        np.testing.assert_allclose(X[:3], rX)
        np.testing.assert_allclose(Y[:3], rY)
        # pixel size is the length of the column vectors, not |a| or |e|
        sx, sy = pixel_size_crs_units(t)
        assert sx == pytest.approx(math.hypot(t.a, t.d)) and sx > abs(t.a)
        assert sy == pytest.approx(math.hypot(t.b, t.e))


def test_south_up_transform_from_realdata(realdata):
    path = realdata / "riotiler_fixtures" / "inverted_lat.tif"
    with open_raster(path) as src:
        assert src.transform.e > 0  # south-up
        X, Y = pixel_to_world(src.transform, [0, src.width], [0, src.height])
        # hand-computed from the header: origin (-180, -90), 0.5 deg pixels growing north
        assert (X.tolist(), Y.tolist()) == (
            [-180.0, -180.0 + 0.5 * src.width],
            [-90.0, -90.0 + 0.5 * src.height],
        )
        x, y = world_to_pixel(src.transform, 0.0, 0.0)
        assert (float(x), float(y)) == (360.0, 180.0)


def test_non_square_pixels_from_realdata(realdata):
    path = realdata / "xview2deploy_joplin" / "staging_tile_31500-5137.tif"
    with open_raster(path) as src:
        px, py = src.pixel_size_m
        assert px == pytest.approx(abs(src.transform.a))
        assert py == pytest.approx(abs(src.transform.e))
        assert py / px > 1.1  # clearly non-square
        assert src.gsd_m == pytest.approx((px + py) / 2)
        X, Y = pixel_to_world(src.transform, src.width, src.height)
        assert float(X) == pytest.approx(src.transform.c + src.width * src.transform.a)
        assert float(Y) == pytest.approx(src.transform.f + src.height * src.transform.e)


def test_geographic_gsd_uses_latitude():
    lat = 37.07
    t = Affine(6e-6, 0, -94.5, 0, -6e-6, lat + 0.003)
    px, py = pixel_size_m(CRS.from_epsg(4326), t, 1000, 1000)
    ew, ns = metres_per_degree(lat)
    assert px == pytest.approx(6e-6 * ew, rel=2e-3)
    assert py == pytest.approx(6e-6 * ns, rel=2e-3)
    # at the equator a degree of longitude is longer
    px0, _ = pixel_size_m(CRS.from_epsg(4326), Affine(6e-6, 0, 0, 0, -6e-6, 0.003), 1000, 1000)
    assert px0 > px * 1.2


def test_projected_gsd_in_metres_and_feet():
    utm = Affine(0.5, 0, 500000, 0, -0.5, 4100000)
    assert pixel_size_m(CRS.from_epsg(32615), utm, 100, 100) == (0.5, 0.5)
    feet = Affine(1.0, 0, 1000000, 0, -1.0, 200000)  # NY Long Island, US survey feet
    px, py = pixel_size_m(CRS.from_epsg(2263), feet, 100, 100)
    assert px == pytest.approx(1200 / 3937, rel=1e-6) and py == pytest.approx(1200 / 3937, rel=1e-6)


def test_web_mercator_gsd_is_ground_distance():
    # 1 "metre" Web Mercator pixels at 60 degrees north are about 0.5 m on the ground
    y60 = 8399737.89  # Web Mercator northing of latitude 60
    t = Affine(1.0, 0, 1000000, 0, -1.0, y60 + 50)
    px, py = pixel_size_m(CRS.from_epsg(3857), t, 100, 100)
    assert px == pytest.approx(0.5, rel=0.01) and py == pytest.approx(0.5, rel=0.01)


def test_no_crs_gives_no_gsd():
    assert pixel_size_m(None, Affine(0.5, 0, 0, 0, -0.5, 0), 10, 10) is None
