"""Residential block uses: houses on parcels, dense old towns, apartment blocks, and their yards and courtyards.

Each use fills the block's inner polygon with ground, buildings and the clutter of daily
life, and records the pile sites (yards, courtyards; doors come from buildings.entrances).
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import LineString, Point

from debrismap.synth import objects as obj
from debrismap.synth.buildings import building, entrances, shed
from debrismap.synth.context import PlanContext
from debrismap.synth.geometry import obb_frame, orect, polygons, random_point_in, split_polygon
from debrismap.synth.plan import Site
from debrismap.synth.style import material_colour, pick


def block_houses(ctx: PlanContext, i, inner):
    """Detached houses: the block cut into parcels, a house and a yard on each."""
    rng, spec = ctx.rng, ctx.spec
    yard_mat = pick(rng, spec["ground"])
    col, kind = material_colour(rng, yard_mat)
    ctx.plan.ground.add(inner, col, kind)
    for parcel in split_polygon(inner, rng.uniform(180, 700), rng):
        house_parcel(ctx, i, parcel, inner)


def house_parcel(ctx: PlanContext, i, parcel, block):
    """One house (sometimes L-shaped) set in its parcel, its door and its yard."""
    rng, plan, spec = ctx.rng, ctx.plan, ctx.spec
    if rng.random() < 0.5:
        col, kind = material_colour(rng, pick(rng, spec["ground"]))
        plan.ground.add(parcel.buffer(-0.3), col, kind)
    cx, cy, length, width, ang = obb_frame(parcel)
    if length < 8 or width < 6:
        return
    hl = length * rng.uniform(0.35, 0.65)
    hw = width * rng.uniform(0.4, 0.7)
    hl, hw = min(hl, 22), min(hw, 14)
    off = rng.uniform(-0.5, 0.5, 2) * (length - hl - 2, width - hw - 2)
    ux, uy = np.cos(ang), np.sin(ang)
    hx, hy = cx + ux * off[0] - uy * off[1], cy + uy * off[0] + ux * off[1]
    fp = orect(hx, hy, hl, hw, ang)
    if rng.random() < 0.25:  # L-shaped extension
        ext = orect(
            hx + ux * hl * 0.3 - uy * hw * 0.5, hy + uy * hl * 0.3 + ux * hw * 0.5,
            hl * 0.4, hw * rng.uniform(0.5, 0.9), ang,
        )
        fp = fp.union(ext)
    fp = fp.intersection(parcel.buffer(-0.8))
    fp = max(polygons(fp), key=lambda g: g.area, default=None)
    if fp is None or fp.area < 25:
        return
    height = rng.uniform(3, 8)
    roof_kind = pick(rng, {"gable": 5, "hip": 2, "flat": 2})
    if fp.area / fp.minimum_rotated_rectangle.area < 0.95:
        roof_kind = "flat"
    mat = pick(rng, spec["roofs_house"] if roof_kind != "flat" else spec["roofs_flat"])
    building(ctx, fp, height, roof_kind, mat, ang, small=True)
    entrances(ctx, i, fp, block, n=1)
    yard = parcel.difference(fp.buffer(0.5))
    yard_stuff(ctx, i, yard)


def block_dense(ctx: PlanContext, i, inner):
    """Old-town: parcels almost fully built, small courtyards, flat roofs."""
    rng, spec = ctx.rng, ctx.spec
    col, kind = material_colour(rng, pick(rng, {"paving": 2, "soil": 2, "concrete": 1}))
    ctx.plan.ground.add(inner, col, kind)
    for parcel in split_polygon(inner, rng.uniform(120, 450), rng):
        cover = parcel.buffer(-rng.uniform(0.3, 1.5), join_style="mitre")
        fp = max(polygons(cover), key=lambda g: g.area, default=None)
        if fp is None or fp.area < 20:
            continue
        if rng.random() < 0.55 and fp.area > 90:  # inner courtyard
            court = fp.buffer(-rng.uniform(3, 6), join_style="mitre")
            for c in polygons(court):
                if c.area > 12:
                    fp = fp.difference(c)
                    ccol, ck = material_colour(rng, pick(rng, {"paving": 3, "soil": 2, "grass_dry": 1}))
                    ctx.plan.ground.add(c, ccol, ck)
                    ctx.plan.sites.append(Site(c.centroid.x, c.centroid.y, "courtyard", i))
                    if rng.random() < 0.35:
                        obj.tree(ctx, c.centroid.x, c.centroid.y, rng.uniform(3, 7), rng)
        for part in polygons(fp):
            if part.area < 15:
                continue
            height = rng.uniform(3, 14)
            flat = rng.random() < 0.75
            mat = pick(rng, spec["roofs_flat"] if flat else spec["roofs_house"])
            building(ctx, part, height, "flat" if flat else "gable", mat, obb_frame(part)[4])
            entrances(ctx, i, part, inner, n=1)


def block_apartments(ctx: PlanContext, i, inner):
    """Apartment blocks: a perimeter ring round a courtyard, or parallel slabs."""
    rng = ctx.rng
    col, kind = material_colour(rng, pick(rng, {"grass": 2, "paving": 2, "soil": 1, "grass_dry": 1}))
    ctx.plan.ground.add(inner, col, kind)
    setback = rng.uniform(0, 6)
    depth = rng.uniform(10, 16)
    cx, cy, length, width, ang = obb_frame(inner)
    if rng.random() < 0.55 and width > 2 * depth + 12:
        outer = inner.buffer(-setback, join_style="mitre")
        court = outer.buffer(-depth, join_style="mitre")
        ring = outer.difference(court)
        # cut the ring into separate buildings of different heights
        cuts = []
        ux, uy = np.cos(ang), np.sin(ang)
        for t in rng.uniform(-0.5, 0.5, rng.integers(1, 5)) * length:
            px, py = cx + ux * t, cy + uy * t
            cuts.append(LineString([(px - uy * 400, py + ux * 400), (px + uy * 400, py - ux * 400)]).buffer(
                rng.uniform(0.2, 6)))
        if cuts:
            ring = ring.difference(shapely.union_all(cuts))
        for part in polygons(ring):
            if part.area > 60:
                apartment(ctx, i, part, inner, obb_frame(part)[4])
        for c in polygons(court):
            courtyard(ctx, i, c)
    else:
        n = max(1, int(width // rng.uniform(28, 45)))
        ux, uy = np.cos(ang), np.sin(ang)
        for k in range(n):
            off = (k + 0.5) / n * width - width / 2
            sl = min(length - 2 * setback - 4, rng.uniform(25, 90))
            if sl < 12:
                continue
            fp = orect(cx - uy * off, cy + ux * off, sl, depth, ang).intersection(inner)
            for part in polygons(fp):
                if part.area > 60:
                    apartment(ctx, i, part, inner, ang)
        rest = inner.difference(shapely.union_all(recent_solids(ctx, n + 2)).buffer(2))
        for c in polygons(rest):
            if c.area > 150:
                courtyard(ctx, i, c)


def recent_solids(ctx: PlanContext, n):
    """The last n solids added (a far-away point if none, so a union of them is never empty)."""
    return ctx.plan.solids[-n:] if ctx.plan.solids else [Point(-1e6, -1e6)]


def apartment(ctx: PlanContext, i, fp, block, ang):
    """One apartment building (sometimes a tower) with a door every 40 m of outline."""
    rng = ctx.rng
    height = rng.uniform(9, 32) if rng.random() < 0.8 else rng.uniform(35, 60)
    mat = pick(rng, ctx.spec["roofs_flat"])
    building(ctx, fp, height, "flat", mat, ang)
    entrances(ctx, i, fp, block, n=max(1, int(fp.length / 40)))


def courtyard(ctx: PlanContext, i, court):
    """A shared courtyard: ground, trees, a playground, parking, bins and pile sites."""
    rng, plan = ctx.rng, ctx.plan
    if court.area < 40:
        return
    col, kind = material_colour(rng, pick(rng, {"grass": 3, "paving": 2, "soil": 2, "grass_dry": 2, "asphalt_old": 1}))
    plan.ground.add(court, col, kind)
    for _ in range(max(1, int(court.area / 400))):
        p = random_point_in(court, rng)
        if p is not None:
            plan.sites.append(Site(p.x, p.y, "courtyard", i))
    n_trees = rng.poisson(court.area / 250 * ctx.spec["tree_density"])
    for _ in range(n_trees):
        p = random_point_in(court, rng)
        if p is not None:
            obj.tree(ctx, p.x, p.y, rng.uniform(3, 10), rng)
    if court.area > 300 and rng.random() < 0.4:
        p = random_point_in(court, rng, margin=6)
        if p is not None:
            obj.playground(ctx, p.x, p.y, rng)
    if rng.random() < 0.5:
        obj.parking_rows(ctx, court.buffer(-2), rng, fill=rng.uniform(0.2, 0.8), max_rows=2)
    for _ in range(rng.poisson(1.5)):
        p = random_point_in(court, rng, margin=1)
        if p is not None:
            obj.dumpster(ctx, p.x, p.y, rng)
    if rng.random() < 0.35:
        p = random_point_in(court, rng, margin=2)
        if p is not None:
            obj.clutter(ctx, p.x, p.y, rng)
    if rng.random() < 0.15:
        p = random_point_in(court, rng, margin=3)
        if p is not None:
            obj.material_stack(ctx, p.x, p.y, rng)


def yard_stuff(ctx: PlanContext, i, yard):
    """What sits in a house yard: trees, a car, a garden, a shed, clutter; one pile site."""
    rng = ctx.rng
    if yard.is_empty:
        return
    for _ in range(rng.poisson(1.2 * ctx.spec["tree_density"])):
        p = random_point_in(yard, rng)
        if p is not None:
            obj.tree(ctx, p.x, p.y, rng.uniform(2.5, 9), rng)
    if rng.random() < 0.45:
        p = random_point_in(yard, rng, margin=2)
        if p is not None:
            obj.car(ctx, p.x, p.y, rng.uniform(0, np.pi), rng)
    if rng.random() < 0.2:
        p = random_point_in(yard, rng, margin=2)
        if p is not None:
            obj.garden(ctx, p.x, p.y, rng)
    if rng.random() < 0.2:
        p = random_point_in(yard, rng, margin=1.5)
        if p is not None:
            obj.clutter(ctx, p.x, p.y, rng)
    if rng.random() < 0.1:
        p = random_point_in(yard, rng, margin=2)
        if p is not None:
            shed(ctx, p.x, p.y, rng)
    if rng.random() < 0.06:
        p = random_point_in(yard, rng, margin=2)
        if p is not None:
            obj.tarp(ctx, p.x, p.y, rng)
    if rng.random() < 0.08:
        p = random_point_in(yard, rng, margin=3)
        if p is not None:
            obj.material_stack(ctx, p.x, p.y, rng)
    p = random_point_in(yard, rng)
    if p is not None:
        ctx.plan.sites.append(Site(p.x, p.y, "yard", i))
