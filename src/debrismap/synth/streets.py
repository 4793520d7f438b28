"""Streets: districts, the blocks streets cut them into, and what lines a street.

Districts are Voronoi cells of the city frame, each laid out as a grid or an organic old
town; arterials run between districts. Along each block edge: lane markings, parked cars,
street trees and the odd street-side pile site.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import LineString, MultiPoint, Point, Polygon, box

from debrismap.synth import objects as obj
from debrismap.synth.context import PlanContext
from debrismap.synth.geometry import polygons
from debrismap.synth.plan import Site


def districts(ctx: PlanContext) -> list[tuple[Polygon, str, float]]:
    """Voronoi districts of the padded frame, each shrunk by half its arterial.

    Returns (polygon, "grid" | "organic", arterial width in metres) per district.
    """
    rng = ctx.rng
    area_km2 = ctx.w * ctx.h / 1e6
    n = int(np.clip(rng.poisson(1 + 2.5 * area_km2), 1, 40))
    pad = ctx.pad
    pts = np.column_stack([rng.uniform(-pad, ctx.w + pad, n), rng.uniform(-pad, ctx.h + pad, n)])
    frame = box(-pad, -pad, ctx.w + pad, ctx.h + pad)
    if n == 1:
        cells = [frame]
    else:
        vor = shapely.voronoi_polygons(MultiPoint(pts), extend_to=frame)
        cells = [c.intersection(frame) for c in vor.geoms]
    out = []
    for cell in cells:
        if cell.is_empty:
            continue
        arterial = rng.uniform(5, 12)
        shrunk = cell.buffer(-arterial / 2, join_style="mitre")
        kind = "grid" if rng.random() < 0.6 else "organic"
        out.append((shrunk, kind, arterial))
    return out


def grid_blocks(ctx: PlanContext, district: Polygon) -> list[Polygon]:
    """Rectangular blocks on a (possibly rotated) street grid, clipped to the district."""
    rng = ctx.rng
    ang = rng.choice([0.0, rng.uniform(-45, 45)])
    bl, bw = rng.uniform(50, 140), rng.uniform(30, 90)
    street = rng.uniform(6, 13)
    cx, cy = district.centroid.x, district.centroid.y
    r = np.hypot(*(np.array(district.bounds[2:]) - np.array(district.bounds[:2]))) / 2 + 10
    ox, oy = rng.uniform(0, bl), rng.uniform(0, bw)
    blocks = []
    for x in np.arange(-r - ox, r, bl):
        for y in np.arange(-r - oy, r, bw):
            jl = bl * rng.uniform(0.9, 1.0)
            b = box(x + street / 2, y + street / 2, x + jl - street / 2, y + bw - street / 2)
            b = affinity.translate(affinity.rotate(b, ang, origin=(0, 0)), cx, cy)
            blocks.append(b)
    parts = shapely.intersection(np.array(blocks, dtype=object), district)
    return [p for g in parts for p in polygons(g) if p.area > 250]


def organic_blocks(ctx: PlanContext, district: Polygon) -> list[Polygon]:
    """Irregular old-town blocks: Voronoi cells shrunk by narrow, wobbly streets."""
    rng = ctx.rng
    spacing = rng.uniform(35, 70)
    x0, y0, x1, y1 = district.bounds
    n = max(2, int((x1 - x0) * (y1 - y0) / spacing**2))
    pts = np.column_stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)])
    vor = shapely.voronoi_polygons(MultiPoint(pts), extend_to=district.envelope)
    street = rng.uniform(3.5, 8)
    out = []
    for cell in vor.geoms:
        c = cell.intersection(district)
        # wobbly edges: old towns are not drawn with a ruler
        c = c.buffer(-street / 2, join_style="mitre").simplify(0.5)
        for p in polygons(c):
            if p.area > 200:
                out.append(p)
    return out


def road_markings(ctx: PlanContext, district: Polygon, arterial: float) -> None:
    """Lane lines along arterials: thin bright strokes, a common high-contrast edge."""
    if ctx.rng.random() < 0.5:
        return
    ring = district.buffer(arterial / 2, join_style="mitre").exterior
    dashes = []
    length = ring.length
    step = ctx.rng.uniform(6, 12)
    for d in np.arange(0, length, step):
        p0, p1 = ring.interpolate(d), ring.interpolate(min(d + step * 0.5, length))
        dashes.append(LineString([p0, p1]).buffer(0.12, cap_style="flat"))
    col = np.array([0.6, 0.6, 0.55, 0.55], np.float32) * ctx.rng.uniform(0.6, 1.0)
    for dsh in dashes:
        ctx.plan.ground.add(dsh, col, 0)


def curb_cars(ctx: PlanContext, block: Polygon) -> None:
    """Cars parked along the curb outside the block, and the odd street-side pile site."""
    rng = ctx.rng
    ring = block.exterior
    fill = rng.uniform(0.0, 0.7)
    step = rng.uniform(5.2, 7)
    d = rng.uniform(0, step)
    while d < ring.length:
        p, q = ring.interpolate(d), ring.interpolate(d + 1)
        tx, ty = q.x - p.x, q.y - p.y
        n = np.hypot(tx, ty) + 1e-9
        nx, ny = ty / n, -tx / n
        if block.contains(Point(p.x + nx, p.y + ny)):
            nx, ny = -nx, -ny
        if rng.random() < fill:
            off = rng.uniform(1.1, 1.5)
            obj.car(ctx, p.x + nx * off, p.y + ny * off, np.arctan2(ty, tx) + rng.normal(0, 0.04), rng)
        if rng.random() < 0.04:
            ctx.plan.sites.append(Site(p.x + nx * 2.5, p.y + ny * 2.5, "street", -1))
        d += step * rng.uniform(0.95, 1.3)


def street_trees(ctx: PlanContext, block: Polygon, sidewalk: float) -> None:
    """A row of trees along the middle of the sidewalk."""
    rng = ctx.rng
    ring = block.buffer(-sidewalk / 2).exterior
    if ring.is_empty:
        return
    step = rng.uniform(6, 14)
    for d in np.arange(rng.uniform(0, step), ring.length, step):
        if rng.random() < 0.8:
            p = ring.interpolate(d)
            obj.tree(ctx, p.x, p.y, rng.uniform(3, 8), rng)
