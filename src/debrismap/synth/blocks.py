"""One city block: sidewalk, curb and street trees, then a land use picked for it, then stains.

The residential uses live in synth.housing; parks, parking, vacant lots and commercial
plots are here.
"""

from __future__ import annotations

import numpy as np
from shapely.geometry import LineString, Polygon

from debrismap.synth import objects as obj
from debrismap.synth.buildings import building, entrances
from debrismap.synth.context import PlanContext
from debrismap.synth.geometry import blob, obb_frame, orect, polygons, random_point_in
from debrismap.synth.housing import block_apartments, block_dense, block_houses
from debrismap.synth.plan import Site
from debrismap.synth.streets import curb_cars, street_trees
from debrismap.synth.style import material_colour, pick


def fill_block(ctx: PlanContext, i: int, block: Polygon, dkind: str) -> None:
    """Sidewalk, curb cars and street trees round block i, then its land use, then stains."""
    rng, plan, spec = ctx.rng, ctx.plan, ctx.spec
    sidewalk = rng.uniform(1.2, 3.5) if (dkind == "grid" or rng.random() < 0.3) else 0.0
    if sidewalk:
        col, kind = material_colour(rng, pick(rng, {"sidewalk": 4, "paving": 2, "concrete": 1}))
        plan.ground.add(block, col, kind)
    inner = block.buffer(-sidewalk, join_style="mitre") if sidewalk else block
    inner = max(polygons(inner), key=lambda g: g.area, default=None)
    if inner is None or inner.area < 100:
        return
    curb_cars(ctx, block)
    if sidewalk and rng.random() < 0.35 * spec["tree_density"]:
        street_trees(ctx, block, sidewalk)
    use_p = {
        "apartments": spec["apartment_share"] * 3,
        "houses": (1 - spec["apartment_share"]) * 3,
        "park": 0.25,
        "parking": 0.2,
        "vacant": 0.25,
        "commercial": 0.3,
    }
    if dkind == "organic":
        use_p["dense"] = 2.5
    use = pick(rng, use_p)
    if inner.area < 600 and use in ("apartments", "commercial"):
        use = "houses"
    BLOCK_USES[use](ctx, i, inner)
    stains(ctx, block)


def stains(ctx: PlanContext, area: Polygon) -> None:
    """Worn, wet or oily patches on the ground: irregular tone changes that are not piles."""
    rng = ctx.rng
    for _ in range(rng.poisson(area.area / 2500)):
        p = random_point_in(area, rng)
        if p is None:
            continue
        r = rng.uniform(1.5, 8)
        shape = blob(p.x, p.y, r, rng, ecc=rng.uniform(1, 2.2), wobble=0.3)
        tone = rng.choice([0.7, 0.8, 1.15, 1.25]) * rng.uniform(0.95, 1.05)
        mat = pick(rng, {"soil": 2, "asphalt_old": 1, "gravel": 1, "soil_dark": 1})
        col, kind = material_colour(rng, mat)
        # a tone shift of whatever is below would need a blend; a muted material reads the same
        ctx.plan.ground.add(shape.intersection(area), col * np.float32(tone), kind)


def block_park(ctx: PlanContext, i, inner):
    """Grass with paths, trees and playgrounds."""
    rng, plan = ctx.rng, ctx.plan
    col, kind = material_colour(rng, pick(rng, {"grass": 4, "grass_dry": 2, "soil": 1}))
    plan.ground.add(inner, col, kind)
    # paths
    pcol, pk = material_colour(rng, pick(rng, {"paving": 2, "gravel": 2, "sand": 1}))
    c = inner.centroid
    for _ in range(rng.integers(1, 4)):
        p = random_point_in(inner, rng)
        if p is not None:
            plan.ground.add(LineString([c, p]).buffer(rng.uniform(1, 2.5)).intersection(inner), pcol, pk)
    n = rng.poisson(inner.area / 120 * ctx.spec["tree_density"])
    for _ in range(n):
        p = random_point_in(inner, rng)
        if p is not None:
            obj.tree(ctx, p.x, p.y, rng.uniform(3, 12), rng)
    for _ in range(rng.integers(0, 3)):
        p = random_point_in(inner, rng, margin=6)
        if p is not None:
            obj.playground(ctx, p.x, p.y, rng)
    for _ in range(max(1, int(inner.area / 900))):
        p = random_point_in(inner, rng)
        if p is not None:
            plan.sites.append(Site(p.x, p.y, "yard", i))


def block_parking(ctx: PlanContext, i, inner):
    """A car park: marked rows, part full."""
    rng = ctx.rng
    col, kind = material_colour(rng, pick(rng, {"asphalt": 3, "asphalt_old": 3, "concrete": 1, "gravel": 1}))
    ctx.plan.ground.add(inner, col, kind)
    obj.parking_rows(ctx, inner.buffer(-1.5), rng, fill=rng.uniform(0.3, 0.95), max_rows=20, lines=True)
    p = random_point_in(inner, rng)
    if p is not None:
        ctx.plan.sites.append(Site(p.x, p.y, "yard", i))


def block_vacant(ctx: PlanContext, i, inner):
    """A vacant lot: bare ground, patches, building material and rubbish, a few trees."""
    rng, plan = ctx.rng, ctx.plan
    col, kind = material_colour(rng, pick(rng, {"soil": 3, "grass_dry": 3, "sand": 1, "gravel": 1, "soil_dark": 1}))
    plan.ground.add(inner, col, kind)
    for _ in range(rng.integers(0, 4)):  # patches of other ground
        p = random_point_in(inner, rng)
        if p is not None:
            pc, pk = material_colour(rng, pick(rng, {"soil": 1, "grass": 1, "gravel": 1, "soil_dark": 1}))
            patch = blob(p.x, p.y, rng.uniform(4, 15), rng, ecc=1.6).intersection(inner)
            plan.ground.add(patch, pc, pk)
    for _ in range(rng.poisson(inner.area / 600)):
        p = random_point_in(inner, rng, margin=2)
        if p is not None:
            pick_fn = rng.choice([obj.material_stack, obj.material_stack, obj.clutter, obj.dumpster])
            pick_fn(ctx, p.x, p.y, rng)
    for _ in range(rng.poisson(inner.area / 500 * ctx.spec["tree_density"])):
        p = random_point_in(inner, rng)
        if p is not None:
            obj.tree(ctx, p.x, p.y, rng.uniform(2, 7), rng)
    for _ in range(max(1, int(inner.area / 700))):
        p = random_point_in(inner, rng)
        if p is not None:
            plan.sites.append(Site(p.x, p.y, "yard", i))


def block_commercial(ctx: PlanContext, i, inner):
    """A large flat-roofed building with car parks and service clutter around it."""
    rng, plan = ctx.rng, ctx.plan
    col, kind = material_colour(rng, pick(rng, {"asphalt": 3, "concrete": 2, "asphalt_old": 2}))
    plan.ground.add(inner, col, kind)
    cx, cy, length, width, ang = obb_frame(inner)
    bl, bw = length * rng.uniform(0.3, 0.7), width * rng.uniform(0.3, 0.7)
    ux, uy = np.cos(ang), np.sin(ang)
    t = rng.uniform(-0.2, 0.2) * length
    fp = orect(cx + ux * t, cy + uy * t, bl, bw, ang).intersection(inner.buffer(-3))
    for part in polygons(fp):
        if part.area > 80:
            mat = pick(rng, ctx.spec["roofs_flat"] | {"roof_white": 2, "roof_metal": 2})
            building(ctx, part, rng.uniform(5, 14), "flat", mat, ang, equipment=2.5)
            entrances(ctx, i, part, inner, n=2)
    rest = inner.difference(fp.buffer(3))
    for c in polygons(rest):
        if c.area > 100:
            obj.parking_rows(ctx, c.buffer(-1), rng, fill=rng.uniform(0.2, 0.9), max_rows=8, lines=True)
    for _ in range(rng.poisson(2)):
        p = random_point_in(rest, rng) if not rest.is_empty else None
        if p is not None:
            rng.choice([obj.dumpster, obj.material_stack, obj.clutter])(ctx, p.x, p.y, rng)


BLOCK_USES = {
    "houses": block_houses,
    "dense": block_dense,
    "apartments": block_apartments,
    "park": block_park,
    "parking": block_parking,
    "vacant": block_vacant,
    "commercial": block_commercial,
}
