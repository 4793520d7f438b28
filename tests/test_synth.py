"""Synthetic city generator: determinism, labels vs rendered piles, georeferencing, formats, seams."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from debrismap.errors import ConfigError, OutputError
from debrismap.synth import generate_city
from debrismap.synth.city import plan_city, render_block


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    out = tmp_path_factory.mktemp("city") / "city.tif"
    return generate_city(out, size=320, gsd=0.5, seed=11, pile_density=3.0, progress=False)


def _read(path):
    with rasterio.open(path) as ds:
        return ds.read(), ds.profile, ds.crs, ds.transform


def test_same_seed_same_bytes(city, tmp_path):
    again = generate_city(tmp_path / "city.tif", size=320, gsd=0.5, seed=11, pile_density=3.0, progress=False)
    assert again.raster.read_bytes() == city.raster.read_bytes()
    assert again.labels_txt.read_bytes() == city.labels_txt.read_bytes()
    assert again.labels_geojson.read_bytes() == city.labels_geojson.read_bytes()


def test_other_seed_differs(city, tmp_path):
    other = generate_city(tmp_path / "other.tif", size=320, gsd=0.5, seed=12, pile_density=3.0, progress=False)
    assert _read(other.raster)[0].tobytes() != _read(city.raster)[0].tobytes()


def test_labels_formats_agree(city):
    lines = city.labels_txt.read_text().splitlines()
    assert city.n_piles == len(lines) > 0
    boxes = np.array([[int(v) for v in line.split()] for line in lines])
    assert (boxes[:, 0] == 0).all()
    x0, y0, x1, y1 = boxes[:, 1:].T
    assert (x0 < x1).all() and (y0 < y1).all()
    assert (x0 >= 0).all() and (y0 >= 0).all() and (x1 <= 320).all() and (y1 <= 320).all()
    doc = json.loads(city.labels_geojson.read_text())
    assert len(doc["features"]) == len(lines)
    _, _, crs, transform = _read(city.raster)
    assert doc["crs"]["properties"]["name"].endswith(str(crs.to_epsg()))
    for feat, (_, a, b, c, _d) in zip(doc["features"], boxes):
        assert feat["properties"]["class_name"] == "debris"
        ring = np.array(feat["geometry"]["coordinates"][0])
        wx, wy = transform @ (a, b)
        assert ring[:, 0].min() == pytest.approx(wx, abs=1e-2)
        assert ring[:, 1].max() == pytest.approx(wy, abs=1e-2)
        assert feat["properties"]["width_m"] == pytest.approx((c - a) * 0.5)


def test_boxes_cover_rendered_piles():
    """Render the same city with and without piles (no camera effects): every changed
    pixel of a pile body lies in its box, and every box holds changed pixels."""
    plan = plan_city(256, 256, 0.5, seed=2, pile_density=4.0)
    assert len(plan.piles) >= 5, "this seed should place piles"
    for p in plan.piles:  # isolate bodies: no shadows for this comparison
        p.height = 0.0
    with_p, pid = render_block(plan, 0, 0, 256, 256, 2, 8, 3, piles=True, sensor=False)
    without, _ = render_block(plan, 0, 0, 256, 256, 2, 8, 3, piles=False, sensor=False)
    changed = (with_p.astype(int) - without.astype(int)).any(axis=0)
    from debrismap.synth.labels import BoxAccumulator

    acc = BoxAccumulator(len(plan.piles))
    acc.add(pid, 0, 0)
    ids, boxes = acc.boxes(min_pixels=1)
    assert len(boxes)
    inside = np.zeros_like(changed)
    for x0, y0, x1, y1 in boxes:
        assert changed[y0:y1, x0:x1].any()
        # mixed rim pixels (< 20 % pile) may sit one pixel outside the box
        inside[max(0, y0 - 1) : y1 + 1, max(0, x0 - 1) : x1 + 1] = True
    # ...or next to a part of the pile hidden under a roof or a tree crown (not in the box)
    from scipy import ndimage

    from debrismap.synth.piles import BODY_ALPHA
    from debrismap.synth.render import SpriteCache, _overlap

    cache = SpriteCache()
    for p in plan.piles:
        s = cache.get(p, plan)
        sl_img, sl_spr = _overlap(s, 0, 0, 256, 256)
        if sl_img is None:
            continue
        hidden = np.zeros_like(changed)
        hidden[sl_img] = (s.alpha[sl_spr] >= BODY_ALPHA) & (pid[sl_img] != p.id)
        inside |= ndimage.binary_dilation(hidden, np.ones((3, 3), bool))
    assert changed[~inside].sum() == 0
    # and the body pixels (the label source) are strictly inside
    for i, (x0, y0, x1, y1) in zip(ids, boxes):
        ys, xs = np.nonzero(pid == i)
        assert xs.min() == x0 and xs.max() + 1 == x1 and ys.min() == y0 and ys.max() + 1 == y1


def test_piles_change_the_final_image_inside_their_boxes(tmp_path):
    a = generate_city(tmp_path / "a.tif", size=256, seed=5, pile_density=4.0, progress=False)
    b = generate_city(tmp_path / "b.tif", size=256, seed=5, pile_density=4.0, progress=False, piles=False)
    diff = np.abs(_read(a.raster)[0].astype(int) - _read(b.raster)[0].astype(int)).max(axis=0)
    boxes = [list(map(int, line.split()[1:])) for line in a.labels_txt.read_text().splitlines()]
    assert boxes
    for x0, y0, x1, y1 in boxes:
        assert diff[y0:y1, x0:x1].max() > 10


def test_georeferencing_utm_and_gsd(tmp_path):
    for gsd in (0.3, 0.7):
        r = generate_city(tmp_path / f"g{gsd}.tif", size=64, gsd=gsd, seed=1, progress=False,
                          origin=(13.4, 52.5))
        with rasterio.open(r.raster) as ds:
            assert ds.crs.to_epsg() == 32633
            assert ds.transform.a == pytest.approx(gsd) and ds.transform.e == pytest.approx(-gsd)
            assert ds.transform.b == 0 and ds.transform.d == 0
            assert ds.dtypes[0] == "uint8" and ds.count == 3
            assert ds.profile["tiled"] and ds.compression.name.lower() == "deflate"
    south = generate_city(tmp_path / "s.tif", size=32, seed=1, progress=False, origin=(-58.4, -34.6))
    with rasterio.open(south.raster) as ds:
        assert ds.crs.to_epsg() == 32721


def test_12bit_4band(tmp_path):
    r = generate_city(tmp_path / "c12.tif", size=256, seed=3, bands=4, bit_depth=12, progress=False)
    data, profile, _, _ = _read(r.raster)
    assert profile["dtype"] == "uint16" and profile["count"] == 4
    assert data.max() <= 4095 and data.max() > 255
    red, nir = data[0].astype(float), data[3].astype(float)
    green = data[1].astype(float)
    veg = (green > red * 1.15) & (green > data[2] * 1.1)
    if veg.sum() > 50:  # vegetation is bright in the near infrared
        assert np.median(nir[veg] / np.maximum(red[veg], 1)) > 1.5


def test_no_seams_block_size_does_not_matter(tmp_path):
    a = generate_city(tmp_path / "a.tif", size=288, seed=4, block_size=512, progress=False)
    b = generate_city(tmp_path / "b.tif", size=288, seed=4, block_size=64, progress=False)
    assert np.array_equal(_read(a.raster)[0], _read(b.raster)[0])
    assert a.labels_txt.read_text() == b.labels_txt.read_text()


def test_window_render_equals_pieces():
    plan = plan_city(192, 192, 0.5, seed=8, pile_density=3.0)
    whole, _ = render_block(plan, 0, 0, 192, 192, 8, 8, 3)
    parts = np.zeros_like(whole)
    for y in (0, 96):
        for x in (0, 48, 96, 144):
            parts[:, y : y + 96, x : x + 48], _ = render_block(plan, x, y, 48, 96, 8, 8, 3)
    assert np.array_equal(whole, parts)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(size=0), "size"),
        (dict(size=20000), "size"),
        (dict(gsd=0.1), "gsd"),
        (dict(gsd=1.0), "gsd"),
        (dict(bands=5), "bands"),
        (dict(bit_depth=16), "bit depth"),
        (dict(pile_density=-1), "density"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        generate_city(tmp_path / "x.tif", progress=False, **kwargs)
    assert not (tmp_path / "x.tif").exists()


def test_bad_output(tmp_path):
    with pytest.raises(OutputError):
        generate_city(tmp_path / "missing" / "x.tif", size=32, progress=False)
    with pytest.raises(ConfigError, match="GeoTIFF"):
        generate_city(tmp_path / "x.png", size=32, progress=False)


def test_cli(tmp_path, capsys):
    from debrismap.cli import main

    out = tmp_path / "c.tif"
    assert main(["synth", "--size", "64", "--seed", "2", "--out", str(out), "--quiet"]) == 0
    assert out.exists() and (tmp_path / "c.labels.txt").exists() and (tmp_path / "c.labels.geojson").exists()
    assert main(["synth", "--size", "64", "--gsd", "3", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "gsd" in err[0]


def test_large_city_is_planned_in_tiles(tmp_path):
    """Past one plan tile the city is planned tile by tile (bounded memory): still
    deterministic, independent of the block size, with labels inside the raster."""
    kw = dict(size=(384, 320), gsd=0.5, seed=9, pile_density=3.0, plan_tile=256, progress=False)
    a = generate_city(tmp_path / "a.tif", block_size=256, **kw)
    b = generate_city(tmp_path / "b.tif", block_size=96, **kw)
    assert a.raster.read_bytes() == b.raster.read_bytes() or np.array_equal(_read(a.raster)[0], _read(b.raster)[0])
    assert a.labels_txt.read_text() == b.labels_txt.read_text()
    boxes = np.array([[int(v) for v in line.split()[1:]] for line in a.labels_txt.read_text().splitlines()])
    assert len(boxes) > 0
    assert (boxes[:, 2] <= 384).all() and (boxes[:, 3] <= 320).all()
    ids = [f["properties"]["pile_id"] for f in json.loads(a.labels_geojson.read_text())["features"]]
    assert len(set(ids)) == len(ids) and max(ids) >= 1_000_000  # piles from more than one tile
