"""Small things on the ground and on roofs: cars, dumpsters, equipment and other hard negatives.

Each function adds polygons (with their shadows) to the plan of a Placer (synth.context),
in metres. Many of these share the household colour palette with debris piles on purpose:
a detector must learn the *arrangement* of a pile (a dense, irregular heap of many items),
not its colours.
"""

from __future__ import annotations

import colorsys

import numpy as np
import shapely
from shapely.geometry import Point, Polygon

from debrismap.synth.context import Placer
from debrismap.synth.geometry import (
    blob,
    convex_sweep,
    moved,
    obb_frame,
    orect,
    polygons,
    rect_corners,
)
from debrismap.synth.style import FABRIC, FLAT, GRAVEL, METAL, material_colour

# ---------------------------------------------------------------- shared palette

FAMILIES = {
    "fabric": 4,
    "wood": 4,
    "cardboard": 3,
    "white": 5,
    "plastic": 1.5,
    "metal": 2,
    "dark": 2,
    "rubble": 3,
    "tarp": 0.7,
}


def item_colour(rng: np.random.Generator, family: str | None = None) -> tuple[np.ndarray, str]:
    """Reflectance (R, G, B, NIR) of one household item. Returns (colour, family)."""
    if family is None:
        names = list(FAMILIES)
        p = np.array([FAMILIES[n] for n in names], float)
        family = names[rng.choice(len(names), p=p / p.sum())]
    if family == "fabric":
        r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.1, 0.6) * rng.random() ** 0.5,
                                      rng.uniform(0.1, 0.55))
        rgb = np.array([r, g, b])
    elif family == "wood":
        rgb = np.array([0.30, 0.20, 0.12]) * rng.uniform(0.45, 1.4)
    elif family == "cardboard":
        rgb = np.array([0.42, 0.32, 0.21]) * rng.uniform(0.7, 1.2)
    elif family == "white":
        rgb = np.array([0.56, 0.56, 0.53]) * rng.uniform(0.65, 1.15) + rng.normal(0, 0.03, 3)
    elif family == "plastic":
        hue = rng.choice([0.0, 0.08, 0.15, 0.33, 0.55, 0.62, 0.8]) + rng.normal(0, 0.02)
        r, g, b = colorsys.hsv_to_rgb(hue % 1, rng.uniform(0.4, 0.85), rng.uniform(0.25, 0.6))
        rgb = np.array([r, g, b])
    elif family == "metal":
        rgb = np.array([0.30, 0.31, 0.33]) * rng.uniform(0.6, 1.5)
    elif family == "dark":
        rgb = np.array([0.06, 0.06, 0.065]) * rng.uniform(0.6, 2.0)
    elif family == "rubble":
        rgb = np.array([0.31, 0.29, 0.26]) * rng.uniform(0.6, 1.3) + rng.normal(0, 0.015, 3)
    else:  # tarp
        rgb = rng.choice([[0.08, 0.18, 0.42], [0.5, 0.5, 0.5], [0.45, 0.2, 0.05], [0.1, 0.3, 0.15]])
        rgb = np.array(rgb) * rng.uniform(0.8, 1.2)
    rgb = np.clip(rgb, 0.015, 0.9)
    nir = float(np.clip(rgb.mean() * rng.uniform(0.9, 1.3) + 0.04, 0.02, 0.9))
    if family == "wood":
        nir = float(np.clip(rgb.mean() * 1.4 + 0.05, 0.02, 0.9))
    return np.array([*rgb, nir], np.float32), family


# ---------------------------------------------------------------- placing


def _ground_thing(planner: Placer, fp: Polygon, height: float, colour, kind=FLAT, angle=0.0, dome=None):
    """Add a short object standing on the ground: shadow, then the body leaning slightly."""
    plan = planner.plan
    sdx, sdy = planner.shadow_dir * height
    plan.flat_shadows.add(convex_sweep(fp.convex_hull, sdx, sdy))
    lx, ly = planner.lean * height * 0.5
    body = moved(fp, lx, ly)
    c = body.centroid
    plan.objects.add(body, colour, kind, angle, dome or (c.x, c.y, 1.0, 0.0))
    plan.solids.append(fp)
    return body


def _roof_thing(planner: Placer, fp: Polygon, base: float, height: float, colour, kind=FLAT, angle=0.0, dome=None):
    """An object on a roof at `base` metres: its shadow falls on the roof."""
    plan = planner.plan
    lx, ly = planner.lean * base
    on_roof = moved(fp, lx, ly)
    sdx, sdy = planner.shadow_dir * height
    plan.roof_shadows.add(convex_sweep(on_roof.convex_hull, sdx, sdy))
    tx, ty = planner.lean * height
    body = moved(on_roof, tx, ty)
    c = body.centroid
    plan.roof_objects.add(body, colour, kind, angle, dome or (c.x, c.y, 1.0, 0.0))
    return body


# ---------------------------------------------------------------- things


CAR_COLOURS = [
    ((0.55, 0.55, 0.55), 26), ((0.05, 0.05, 0.055), 20), ((0.30, 0.30, 0.31), 18),
    ((0.17, 0.17, 0.18), 12), ((0.40, 0.06, 0.05), 8), ((0.06, 0.12, 0.32), 7),
    ((0.35, 0.30, 0.22), 4), ((0.12, 0.25, 0.12), 2), ((0.50, 0.40, 0.06), 2), ((0.6, 0.62, 0.65), 5),
]


def car(planner: Placer, x, y, ang, rng) -> None:
    """Queue a car; `flush_cars` builds all of them at once (cars are the most numerous thing)."""
    cols = _CAR_RGB
    rgb = cols[rng.choice(len(cols), p=_CAR_P)] * rng.uniform(0.85, 1.15)
    length = rng.uniform(3.8, 5.0) if rng.random() < 0.9 else rng.uniform(5.5, 9)
    width = rng.uniform(1.7, 2.0) if length < 6 else rng.uniform(2.1, 2.5)
    planner.cars.append((x, y, ang, length, width, *rgb))


_CAR_RGB = np.array([c for c, _ in CAR_COLOURS])
_CAR_P = np.array([p for _, p in CAR_COLOURS], float) / sum(p for _, p in CAR_COLOURS)


def flush_cars(planner: Placer) -> None:
    """Build every queued car: shadow, body (leaning a little), windscreen and rear window."""
    if not planner.cars:
        return
    a = np.array(planner.cars, float)
    planner.cars = []
    x, y, ang, length, width = a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4]
    rgb = a[:, 5:8]
    corners = rect_corners(x, y, length, width, ang, chamfer=0.45)
    fps = shapely.polygons(corners)
    sdx, sdy = planner.shadow_dir * 1.5
    shadows = shapely.convex_hull(shapely.multipoints(np.concatenate([corners, corners + (sdx, sdy)], axis=1)))
    lx, ly = planner.lean * 0.75
    bodies = shapely.polygons(corners + (lx, ly))
    plan = planner.plan
    for g in shadows:
        plan.flat_shadows.add(g)
    ux, uy = np.cos(ang), np.sin(ang)
    glass = np.array([0.04, 0.045, 0.05, 0.05], np.float32)
    front = shapely.polygons(rect_corners(x + lx + ux * length * 0.16, y + ly + uy * length * 0.16,
                                    length * 0.14, width * 0.8, ang))
    rear = shapely.polygons(rect_corners(x + lx - ux * length * 0.28, y + ly - uy * length * 0.28,
                                   length * 0.1, width * 0.8, ang))
    for k in range(len(a)):
        col = np.array([*rgb[k], rgb[k].mean() + 0.05], np.float32)
        plan.objects.add(bodies[k], col, METAL, ang[k], (x[k] + lx, y[k] + ly, width[k], 0.25))
        plan.objects.add(front[k], glass, FLAT)
        if length[k] < 6:
            plan.objects.add(rear[k], glass, FLAT)
    plan.solids.extend(fps)


def dumpster(planner: Placer, x, y, rng) -> None:
    rgb = rng.choice([[0.08, 0.2, 0.1], [0.1, 0.15, 0.35], [0.28, 0.28, 0.28], [0.5, 0.25, 0.04],
                      [0.45, 0.4, 0.08], [0.12, 0.12, 0.12], [0.35, 0.08, 0.06]])
    rgb = np.array(rgb) * rng.uniform(0.7, 1.2)
    ang = rng.uniform(0, np.pi)
    big = rng.random() < 0.25
    fp = orect(x, y, rng.uniform(4, 6.5) if big else rng.uniform(1.4, 2.2),
               rng.uniform(2, 2.5) if big else rng.uniform(1.0, 1.4), ang)
    _ground_thing(planner, fp, 1.4, np.array([*rgb, rgb.mean() + 0.05], np.float32), METAL, ang)
    if big and rng.random() < 0.6:  # an open skip, partly filled: a pile-like negative
        inner = fp.buffer(-0.3)
        col, _ = item_colour(rng, rng.choice(["rubble", "wood", "dark"]))
        planner.plan.objects.add(inner, col, GRAVEL)
    elif rng.random() < 0.5:  # lid
        planner.plan.objects.add(fp.buffer(-0.15), np.array([*rgb * 0.8, rgb.mean()], np.float32), FLAT)


def playground(planner: Placer, x, y, rng) -> None:
    plan = planner.plan
    r = rng.uniform(5, 11)
    mat = rng.choice(["sand", "rubber", "gravel"])
    col, kind = material_colour(rng, mat)
    if mat == "rubber" and rng.random() < 0.5:
        col[:3] = rng.choice([[0.1, 0.25, 0.12], [0.35, 0.1, 0.08], [0.1, 0.15, 0.35]])
    area = orect(x, y, r * 2, r * rng.uniform(1.2, 2), rng.uniform(0, np.pi)) if rng.random() < 0.6 else blob(x, y, r, rng)
    plan.ground.add(area, col, kind)
    for _ in range(rng.integers(2, 7)):
        px, py = x + rng.uniform(-r, r) * 0.6, y + rng.uniform(-r, r) * 0.6
        c, _ = item_colour(rng, rng.choice(["plastic", "plastic", "metal", "wood"]))
        ang = rng.uniform(0, np.pi)
        shape = rng.choice(["frame", "slide", "round"])
        if shape == "frame":
            fp = orect(px, py, rng.uniform(2, 4), 0.35, ang)
        elif shape == "slide":
            fp = orect(px, py, rng.uniform(1.5, 3), rng.uniform(0.6, 1.0), ang)
        else:
            fp = Point(px, py).buffer(rng.uniform(0.5, 1.3))
        _ground_thing(planner, fp, rng.uniform(1, 2.5), c, FLAT, ang)


def parking_rows(planner: Placer, area: Polygon, rng, fill=0.6, max_rows=4, lines=False) -> None:
    for part in polygons(area):
        if part.area < 40:
            continue
        cx, cy, length, width, ang = obb_frame(part)
        ux, uy = np.cos(ang), np.sin(ang)
        rows = min(max_rows, int(width // 5.5))
        for r in range(rows):
            off = (r + 0.5) * 5.5 - width / 2
            for t in np.arange(-length / 2 + 1.5, length / 2 - 1.2, 2.6):
                px, py = cx + ux * t - uy * off, cy + uy * t + ux * off
                if lines:
                    stripe = orect(px + ux * 1.3, py + uy * 1.3, 0.12, 4.6, ang)
                    if part.contains(stripe):
                        planner.plan.ground.add(stripe, np.array([0.55, 0.55, 0.5, 0.5], np.float32) * rng.uniform(0.5, 1), FLAT)
                if rng.random() < fill and part.contains(Point(px, py)):
                    car(planner, px + rng.normal(0, 0.1), py + rng.normal(0, 0.1), ang + np.pi / 2 + rng.normal(0, 0.05), rng)


def clutter(planner: Placer, x, y, rng) -> None:
    """A few scattered household items, sparse and tidy: the near-miss of a debris pile."""
    n = rng.integers(2, 8)
    spread = rng.uniform(1.5, 5)
    for _ in range(n):
        c, fam = item_colour(rng)
        px, py = x + rng.normal(0, spread / 2), y + rng.normal(0, spread / 2)
        ang = rng.uniform(0, np.pi)
        fp = orect(px, py, rng.uniform(0.5, 2.2), rng.uniform(0.4, 1.4), ang)
        _ground_thing(planner, fp, rng.uniform(0.3, 1.0), c, FABRIC if fam == "fabric" else FLAT, ang)


def material_stack(planner: Placer, x, y, rng) -> None:
    """Building material: brick pallets in a grid, timber, pipes, sand or gravel heaps."""
    kind = rng.choice(["pallets", "timber", "heap", "blocks"])
    ang = rng.uniform(0, np.pi)
    ux, uy = np.cos(ang), np.sin(ang)
    if kind == "pallets":
        col, _ = item_colour(rng, rng.choice(["rubble", "cardboard", "white"]))
        if rng.random() < 0.5:
            col = np.array([0.38, 0.17, 0.11, 0.38], np.float32) * rng.uniform(0.8, 1.2)  # bricks
        nx, ny = rng.integers(1, 5), rng.integers(1, 4)
        for i in range(nx):
            for j in range(ny):
                px, py = x + ux * i * 1.4 - uy * j * 1.4, y + uy * i * 1.4 + ux * j * 1.4
                _ground_thing(planner, orect(px, py, 1.1, 1.1, ang), 1.1, col * rng.uniform(0.93, 1.07), FLAT, ang)
    elif kind == "timber":
        col, _ = item_colour(rng, "wood")
        length = rng.uniform(3, 6)
        for j in range(rng.integers(2, 6)):
            px, py = x - uy * j * 0.5, y + ux * j * 0.5
            _ground_thing(planner, orect(px, py, length, 0.4, ang), 0.5, col * rng.uniform(0.9, 1.1), METAL, ang)
    elif kind == "heap":
        col, kind_ = material_colour(rng, rng.choice(["sand", "gravel", "soil"]))
        r = rng.uniform(1.5, 4)
        shape = blob(x, y, r, rng, ecc=rng.uniform(1, 1.5), wobble=0.08)
        _ground_thing(planner, shape, r * 0.5, col, kind_, 0.0, (x, y, r, 0.5))
    else:
        col, _ = item_colour(rng, "rubble")
        for _ in range(rng.integers(3, 10)):
            px, py = x + rng.normal(0, 1.5), y + rng.normal(0, 1.5)
            _ground_thing(planner, orect(px, py, 1.2, 0.8, ang), 0.8, col * rng.uniform(0.85, 1.1), FLAT, ang)


def garden(planner: Placer, x, y, rng) -> None:
    col, kind = material_colour(rng, "garden")
    ang = rng.uniform(0, np.pi)
    planner.plan.ground.add(orect(x, y, rng.uniform(3, 10), rng.uniform(2, 6), ang), col, kind, ang)


def tarp(planner: Placer, x, y, rng, layer=None) -> None:
    col, _ = item_colour(rng, "tarp")
    ang = rng.uniform(0, np.pi)
    fp = orect(x, y, rng.uniform(2, 6), rng.uniform(2, 4), ang)
    fp = fp.buffer(0.2).simplify(0.3)
    (layer or planner.plan.objects).add(fp, col, FABRIC, ang)


def tree(planner: Placer, x, y, crown, rng) -> None:
    """Crown polygon (leaning with height), dome shading towards the sun, and its shadow."""
    plan = planner.plan
    height = crown * rng.uniform(0.8, 1.6) + 1
    lx, ly = planner.lean * height * 0.85
    sx, sy = planner.shadow_dir * height * 0.7
    shape = blob(x, y, crown / 2, rng, ecc=1.15, wobble=0.22)
    plan.tall_shadows.add(moved(shape, sx, sy))
    trunk = np.hypot(sx, sy)
    if trunk > 0.5:
        plan.tall_shadows.add(orect(x + sx * 0.6, y + sy * 0.6, trunk * 1.2, 0.35, np.arctan2(sy, sx)))
    mat = "foliage" if rng.random() < 0.7 else "foliage_light"
    col, kind = material_colour(rng, mat, 0.18)
    crown_poly = moved(shape, lx, ly)
    plan.canopy.add(crown_poly, col, kind, 0.0, (x + lx, y + ly, crown / 2, 0.55))
    plan.solids.append(crown_poly.buffer(-crown * 0.15))


def ac_unit(planner: Placer, x, y, base, rng) -> None:
    ang = rng.choice([0.0, np.pi / 2]) + rng.normal(0, 0.05)
    s = rng.uniform(0.6, 1.3)
    col = np.array([0.5, 0.5, 0.5, 0.5], np.float32) * rng.uniform(0.6, 1.3)
    _roof_thing(planner, orect(x, y, s, s * rng.uniform(0.6, 1), ang), base, rng.uniform(0.5, 1.0), col, FLAT, ang)


def water_tank(planner: Placer, x, y, base, rng) -> None:
    r = rng.uniform(0.5, 1.0)
    rgb = rng.choice([[0.6, 0.6, 0.58], [0.06, 0.06, 0.06], [0.1, 0.18, 0.35], [0.5, 0.45, 0.2], [0.35, 0.35, 0.35]])
    col = np.array([*rgb, np.mean(rgb)], np.float32) * rng.uniform(0.85, 1.1)
    if rng.random() < 0.7:
        fp = Point(x, y).buffer(r, 12)
    else:
        fp = orect(x, y, r * 2.5, r * 1.6, rng.uniform(0, np.pi))
    _roof_thing(planner, fp, base, rng.uniform(1.0, 1.8), col, FLAT, 0.0, (x, y, r, 0.4))


def solar_array(planner: Placer, x, y, base, rng, ang) -> None:
    col, kind = material_colour(rng, "solar", 0.1)
    nx, ny = rng.integers(2, 8), rng.integers(1, 4)
    ux, uy = np.cos(ang), np.sin(ang)
    for i in range(nx):
        for j in range(ny):
            px, py = x + ux * i * 1.1 - uy * j * 2.0, y + uy * i * 1.1 + ux * j * 2.0
            _roof_thing(planner, orect(px, py, 1.0, 1.7, ang), base, 0.4, col, kind, ang)


def roof_box(planner: Placer, x, y, base, rng) -> None:
    """Stairwell or lift housing: a small box the colour of the roof, with a shadow."""
    ang = rng.uniform(0, np.pi)
    col, kind = material_colour(rng, rng.choice(["roof_concrete", "wall_plaster", "roof_white"]))
    _roof_thing(planner, orect(x, y, rng.uniform(2.5, 5), rng.uniform(2.5, 4), ang), base, rng.uniform(2, 3), col, kind, ang)


def solar_heater(planner: Placer, x, y, base, rng, ang) -> None:
    """Thermosiphon water heater: a tilted dark panel with a white tank along its top edge.
    Rows of these cover flat roofs across the Middle East and the Mediterranean."""
    ux, uy = np.cos(ang), np.sin(ang)
    panel, _ = material_colour(rng, "solar", 0.2)
    if rng.random() < 0.3:
        panel = np.array([0.25, 0.25, 0.27, 0.25], np.float32) * rng.uniform(0.7, 1.3)
    tank = np.array([0.62, 0.62, 0.6, 0.6], np.float32) * rng.uniform(0.75, 1.1)
    _roof_thing(planner, orect(x, y, 2.0, 1.0, ang), base, 0.8, panel, FLAT, ang)
    _roof_thing(planner, orect(x - uy * 0.75, y + ux * 0.75, 2.0, 0.55, ang), base, 1.2, tank, FLAT, ang,
                (x - uy * 0.75, y + ux * 0.75, 0.5, 0.35))


def dish(planner: Placer, x, y, base, rng) -> None:
    col = np.array([0.6, 0.6, 0.6, 0.6], np.float32) * rng.uniform(0.7, 1.1)
    _roof_thing(planner, Point(x, y).buffer(rng.uniform(0.3, 0.6), 8), base, 0.6, col, FLAT, 0.0)
