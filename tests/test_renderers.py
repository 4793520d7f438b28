"""The pile renderers, the hard negatives and compositing onto a measured scene (synth.renderers,
synth.realscene, synth.realchips). Small sprites and a 160-px scene: about 10 s on 2 cores."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from debrismap.synth.composite import ToneModel
from debrismap.synth.realchips import composite, crop, pile_size_m
from debrismap.synth.realscene import RealScene, measure_blur, sites_from_footprints
from debrismap.synth.renderers import RENDERERS, Light
from debrismap.synth.renderers.negatives import NEGATIVES, render_negative

SUN = Light(azimuth_deg=135.0, elevation_deg=40.0)  # sun to the south-east: shadows fall north-west


def test_at_least_three_independent_renderers():
    assert {"mound", "scatter", "rubble"} <= set(RENDERERS)
    modules = {type(r).__module__ for r in RENDERERS.values()}
    assert len(modules) == len(RENDERERS)  # each in its own module


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_sprite_is_consistent_and_deterministic(name):
    r = RENDERERS[name]
    a = r.render(7, 0.5, SUN, 6.0)
    b = r.render(7, 0.5, SUN, 6.0)
    c = r.render(8, 0.5, SUN, 6.0)
    assert a.rgb.shape[:2] == a.alpha.shape == a.shadow.shape
    assert a.alpha.min() >= 0 and a.alpha.max() <= 1 and np.isfinite(a.rgb).all()
    assert np.array_equal(a.alpha, b.alpha) and np.array_equal(a.rgb, b.rgb)
    assert not (a.alpha.shape == c.alpha.shape and np.array_equal(a.alpha, c.alpha))
    x0, y0, x1, y1 = a.box
    assert 0 <= x0 < x1 <= a.alpha.shape[1] and 0 <= y0 < y1 <= a.alpha.shape[0]
    assert a.kind == name
    # the shadow lies outside the body
    assert (a.shadow[a.alpha >= 0.99] < 1e-6).all()


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_size_follows_size_m_and_gsd(name):
    r = RENDERERS[name]
    side = {}
    for size in (3.0, 12.0):
        sides = []
        for seed in range(3):
            x0, y0, x1, y1 = r.render(seed, 0.5, SUN, size).box
            sides.append(max(x1 - x0, y1 - y0) * 0.5)
        side[size] = np.median(sides)
    assert side[12.0] > 2 * side[3.0]
    assert 1.0 <= side[3.0] <= 8.0 and 5.0 <= side[12.0] <= 20.0
    # the same pile at a finer GSD covers more pixels
    fine = r.render(1, 0.3, SUN, 8.0).footprint.sum()
    coarse = r.render(1, 0.6, SUN, 8.0).footprint.sum()
    assert fine > 2 * coarse


@pytest.mark.parametrize("name", ["mound", "rubble"])
def test_shadow_falls_away_from_the_sun(name):
    s = RENDERERS[name].render(3, 0.5, SUN, 10.0)
    body = np.array(ndimage.center_of_mass(s.alpha))
    shade = np.array(ndimage.center_of_mass(s.shadow))
    dy, dx = shade - body
    assert np.dot([dx, dy], SUN.shadow_vector) > 0.5


def test_rubble_is_lit_from_the_sun_side():
    s = RENDERERS["rubble"].render(5, 0.5, Light(90.0, 30.0), 12.0)  # sun due east (+x)
    lum = s.rgb.mean(axis=2)
    body = s.alpha > 0.9
    _, cx = ndimage.center_of_mass(body)
    ys, xs = np.nonzero(body)
    east = lum[ys[xs > cx + 2], xs[xs > cx + 2]].mean()
    west = lum[ys[xs < cx - 2], xs[xs < cx - 2]].mean()
    assert east > west


@pytest.mark.parametrize("name", sorted(NEGATIVES))
def test_hard_negatives_render(name):
    s = render_negative(name, 4, 0.5, SUN)
    assert s.kind == name and s.box is not None
    assert np.isfinite(s.rgb).all() and s.alpha.min() >= 0 and s.alpha.max() <= 1


def test_pile_sizes_span_2_to_15_m():
    rng = np.random.default_rng(0)
    sizes = np.array([pile_size_m(rng) for _ in range(2000)])
    assert sizes.min() >= 2.0 and sizes.max() <= 15.0 and np.median(sizes) < 7


def _flat_scene(size=160, veg=None) -> RealScene:
    rng = np.random.default_rng(0)
    rgb = np.full((size, size, 3), 90.0, np.float32) + rng.normal(0, 2, (size, size, 3)).astype(np.float32)
    tone = ToneModel(np.full(3, 90.0), np.full(3, 200.0), 255.0)
    vegetation = np.zeros((size, size), np.float32) if veg is None else veg
    return RealScene("flat", rgb, np.ones((size, size), bool), 0.5, tone, 135.0, 0.7, 2.0, 0.35, vegetation)


def test_composite_labels_what_it_draws_and_nothing_else():
    scene = _flat_scene()
    image = crop(scene, 0, 0, 160)
    before = np.asarray(image).copy()
    piles = [("rubble", 1, 40.0, 40.0, 8.0, None), ("scatter", 2, 110.0, 110.0, 8.0, None)]
    placed = composite(scene, image, (0, 0), piles, [("car", 3, 120.0, 30.0)], np.random.default_rng(1))
    assert len(placed.boxes) == 2 and placed.kinds == ["rubble", "scatter"]
    changed = np.abs(np.asarray(image) - before).max(axis=2) > 6  # the scene noise is 2 DN
    for x0, y0, x1, y1 in placed.boxes:
        assert changed[y0:y1, x0:x1].mean() > 0.2  # the box holds the drawn pile
        assert x0 <= 40 + 12 and x1 >= 40 - 12 or x0 <= 110 + 12
    # the car changed pixels but got no box
    assert changed[20:40, 110:130].any()
    assert not any(x0 >= 100 and y1 <= 50 for x0, y0, x1, y1 in placed.boxes)


def test_piles_do_not_overlap_and_tree_crowns_hide_them():
    veg = np.zeros((160, 160), np.float32)
    veg[:, :80] = 1.0  # the left half is under tree crowns
    scene = _flat_scene(veg=veg)
    seen = 0
    for seed in range(10):
        image = crop(scene, 0, 0, 160)
        placed = composite(scene, image, (0, 0), [("mound", seed, 40.0, 80.0, 8.0, None),
                                                  ("mound", seed + 50, 41.0, 80.0, 8.0, None)],
                           [], np.random.default_rng(seed))
        assert len(placed.boxes) <= 1  # the second pile would overlap the first
        seen += len(placed.boxes)
    assert seen < 10  # mostly hidden under the crowns (70 % of piles are occluded there)


def test_blur_measure_recovers_a_known_blur():
    lum = np.zeros((200, 200), np.float32)
    lum[:, 100:] = 200
    lum[100:, :] += 30
    for sigma in (0.6, 1.2):
        got = measure_blur(ndimage.gaussian_filter(lum, sigma), np.ones_like(lum, bool))
        assert abs(got - sigma) < 0.45, (sigma, got)


def test_sites_from_footprints_lie_outside_the_building():
    import shapely

    building = shapely.box(40, 40, 80, 70)
    sites = sites_from_footprints([building], np.array([1.0, 1.0]), 0.5, np.random.default_rng(0),
                                  np.ones((120, 120), bool), per_building=50)
    assert len(sites) == 50
    inside = shapely.contains_xy(building, sites[:, 0], sites[:, 1])
    assert not inside.any()
    d = shapely.distance(building, shapely.points(sites[:, :2]))
    assert (d <= 4.0 / 0.5 + 1e-6).all()


def test_a_pile_too_faint_to_see_is_not_drawn_and_gets_no_box():
    scene = _flat_scene()
    piles = [("rubble", 1, 40.0, 40.0, 8.0, None), ("mound", 2, 110.0, 110.0, 8.0, None)]
    image = crop(scene, 0, 0, 160)
    placed = composite(scene, image, (0, 0), piles, [], np.random.default_rng(1), min_contrast=2.5)
    assert len(placed.boxes) == 2 and placed.too_faint == 0  # plainly visible piles pass the floor
    image = crop(scene, 0, 0, 160)
    before = np.asarray(image).copy()
    # a floor no pile can reach: nothing drawn, no box, the pixels untouched
    placed = composite(scene, image, (0, 0), piles, [], np.random.default_rng(1), min_contrast=1e4)
    assert placed.boxes == [] and placed.too_faint == 2
    assert np.array_equal(np.asarray(image), before)
