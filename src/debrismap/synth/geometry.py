"""Pure plane geometry of the city plan, in metres: outlines, rectangles, sweeps, cuts, samples.

Shared by the planner and the object placers; nothing here knows about a plan, a style or
a layer, so every function is a plain function of its arguments (and of `rng` where given).
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import MultiPoint, Point, Polygon

# ---------------------------------------------------------------- outlines


def blob(x, y, r, rng, ecc=1.0, wobble=0.18, n=18, angle=None) -> Polygon:
    """An irregular closed outline around (x, y) with mean radius r."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    k = rng.normal(0, wobble, 4)
    rad = r * (1 + k[0] * np.sin(2 * t + k[1] * 5) * 0.6 + k[2] * np.sin(3 * t + k[3] * 5) * 0.5
               + rng.normal(0, wobble * 0.35, n))
    rad = np.maximum(rad, r * 0.35)
    a = rng.uniform(0, np.pi) if angle is None else angle
    px, py = rad * np.cos(t) * ecc, rad * np.sin(t) / ecc
    ca, sa = np.cos(a), np.sin(a)
    poly = Polygon(np.column_stack([x + px * ca - py * sa, y + px * sa + py * ca]))
    return poly if poly.is_valid else poly.buffer(0)


def orect(cx, cy, length, width, ang, chamfer: float = 0.0) -> Polygon:
    """Rectangle centred at (cx, cy), long side along `ang` (rad); optional cut corners."""
    lx, wy = length / 2, width / 2
    if chamfer > 0:
        c = min(chamfer, lx, wy) * 0.999
        px = np.array([-lx + c, lx - c, lx, lx, lx - c, -lx + c, -lx, -lx])
        py = np.array([-wy, -wy, -wy + c, wy - c, wy, wy, wy - c, -wy + c])
    else:
        px = np.array([-lx, lx, lx, -lx])
        py = np.array([-wy, -wy, wy, wy])
    ca, sa = np.cos(ang), np.sin(ang)
    return Polygon(np.column_stack([cx + px * ca - py * sa, cy + px * sa + py * ca]))


def moved(poly: Polygon, dx: float, dy: float) -> Polygon:
    """Fast translate for hole-free polygons (shapely.affinity is slow per call)."""
    if poly.geom_type != "Polygon" or len(poly.interiors):
        return affinity.translate(poly, dx, dy)
    return Polygon(np.asarray(poly.exterior.coords) + (dx, dy))


def convex_sweep(poly: Polygon, dx: float, dy: float) -> Polygon:
    """Area swept by a convex polygon moved by (dx, dy)."""
    c = np.asarray(poly.exterior.coords)
    return MultiPoint(np.vstack([c, c + (dx, dy)])).convex_hull


def rect_corners(cx, cy, length, width, ang, chamfer=0.0):
    """Vectorised `orect` for arrays of n rectangles: (n, k, 2) corner arrays."""
    lx, wy = length[:, None] / 2, width[:, None] / 2
    if chamfer > 0:
        c = np.minimum(chamfer, np.minimum(lx, wy)) * 0.999
        px = np.hstack([-lx + c, lx - c, lx, lx, lx - c, -lx + c, -lx, -lx])
        py = np.hstack([-wy, -wy, -wy + c, wy - c, wy, wy, wy - c, -wy + c])
    else:
        px = np.hstack([-lx, lx, lx, -lx])
        py = np.hstack([-wy, -wy, wy, wy])
    ca, sa = np.cos(ang)[:, None], np.sin(ang)[:, None]
    return np.stack([cx[:, None] + px * ca - py * sa, cy[:, None] + px * sa + py * ca], axis=-1)


# ---------------------------------------------------------------- derived shapes and cuts


def sweep(poly: Polygon, dx: float, dy: float) -> Polygon:
    """Area swept by `poly` moved by (dx, dy): a prism's shadow or its leaning walls."""
    hull = poly.convex_hull
    if poly.area > 0.985 * hull.area and hull.geom_type == "Polygon":
        return convex_sweep(hull, dx, dy)
    shifted = affinity.translate(poly, dx, dy)
    coords = np.asarray(poly.exterior.coords)
    quads = [
        Polygon([coords[i], coords[i + 1], coords[i + 1] + (dx, dy), coords[i] + (dx, dy)])
        for i in range(len(coords) - 1)
    ]
    return shapely.union_all([poly, shifted] + [q for q in quads if q.is_valid])


def obb_frame(poly: Polygon) -> tuple[float, float, float, float, float]:
    """Centre, length, width and angle (rad) of the minimum rotated rectangle."""
    rect = poly.minimum_rotated_rectangle
    c = np.asarray(rect.exterior.coords)[:4]
    e1, e2 = c[1] - c[0], c[2] - c[1]
    l1, l2 = np.hypot(*e1), np.hypot(*e2)
    if l1 >= l2:
        ang, length, width = np.arctan2(e1[1], e1[0]), l1, l2
    else:
        ang, length, width = np.arctan2(e2[1], e2[0]), l2, l1
    cx, cy = c.mean(axis=0)
    return float(cx), float(cy), float(length), float(width), float(ang)


def split_polygon(poly: Polygon, target_area: float, rng, depth: int = 0) -> list[Polygon]:
    """Recursive cut across the long axis: parcels of roughly target_area."""
    if poly.area <= target_area * rng.uniform(1.0, 1.8) or depth > 10:
        return [poly]
    cx, cy, length, width, ang = obb_frame(poly)
    t = rng.uniform(-0.15, 0.15) * length
    ux, uy = np.cos(ang), np.sin(ang)
    px, py = cx + ux * t, cy + uy * t
    big = length + width + 10
    half = Polygon(
        [
            (px - uy * big, py + ux * big),
            (px + uy * big, py - ux * big),
            (px + uy * big + ux * big, py - ux * big + uy * big),
            (px - uy * big + ux * big, py + ux * big + uy * big),
        ]
    )
    out = []
    for part in (poly.intersection(half), poly.difference(half)):
        for g in getattr(part, "geoms", [part]):
            if isinstance(g, Polygon) and g.area > 4:
                out.extend(split_polygon(g, target_area, rng, depth + 1))
    return out


def polygons(geom) -> list[Polygon]:
    """The non-empty polygons of any geometry (a cut or a buffer may return several, or none)."""
    if geom is None or geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon) and not g.is_empty]


def random_point_in(poly: Polygon, rng, margin: float = 0.0, tries: int = 24) -> Point | None:
    """A uniform random point inside `poly`, at least `margin` from its edge (or None)."""
    if poly is None or poly.is_empty:
        return None
    x0, y0, x1, y1 = poly.bounds
    if x1 - x0 <= 2 * margin or y1 - y0 <= 2 * margin:
        return None
    xs = rng.uniform(x0 + margin, x1 - margin, tries)
    ys = rng.uniform(y0 + margin, y1 - margin, tries)
    ok = shapely.contains_xy(poly, xs, ys)
    if margin > 0 and ok.any():
        idx = np.nonzero(ok)[0]
        d = shapely.distance(poly.boundary, shapely.points(xs[idx], ys[idx]))
        ok[idx[d < margin]] = False
    hit = np.nonzero(ok)[0]
    return Point(xs[hit[0]], ys[hit[0]]) if len(hit) else None


def shift(a: np.ndarray, dx: int, dy: int, fill=0) -> np.ndarray:
    """`a` moved by (dx, dy) pixels, `fill` where nothing arrives."""
    out = np.full_like(a, fill)
    h, w = a.shape[:2]
    if abs(dx) >= w or abs(dy) >= h:
        return out
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = a[ys, xs]
    return out
