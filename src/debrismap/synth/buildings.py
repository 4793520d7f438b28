"""Buildings: footprint to shadow, leaning walls and roof; rooftop equipment; doors; sheds.

A building's roof is its footprint displaced by the camera's lean times its height; the
walls we see fill the gap. Flat roofs carry equipment (placed by synth.objects); each door
becomes an `entrance` site where piles may be dumped.
"""

from __future__ import annotations

import numpy as np
import shapely.ops
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon

from debrismap.synth import objects as obj
from debrismap.synth.context import PlanContext
from debrismap.synth.geometry import obb_frame, orect, random_point_in, sweep
from debrismap.synth.plan import Site
from debrismap.synth.style import material_colour, pick


def building(ctx: PlanContext, fp, height, roof_kind, mat, ang, small=False, equipment=1.0):
    """Shadow, leaning walls and roof of one building; rooftop equipment on flat roofs."""
    rng, plan, style = ctx.rng, ctx.plan, ctx.style
    sdx, sdy = ctx.shadow_dir * height
    plan.tall_shadows.add(sweep(fp, sdx, sdy))
    ldx, ldy = ctx.lean * height
    roof = affinity.translate(fp, ldx, ldy)
    wall_mat = pick(rng, ctx.spec["walls"])
    wcol, _ = material_colour(rng, wall_mat)
    if abs(ldx) + abs(ldy) > 0.15:
        plan.buildings.add(sweep(fp, ldx, ldy), wcol * np.float32(style.wall_light), 0)
    rcol, rkind = material_colour(rng, mat)
    plan.solids.append(fp.union(roof).convex_hull if small else sweep(fp, ldx, ldy))
    if roof_kind == "flat":
        plan.buildings.add(roof, rcol * np.float32(rng.uniform(0.85, 1.2)), rkind, ang)
        inner = roof.buffer(-rng.uniform(0.3, 0.6), join_style="mitre")
        plan.buildings.add(inner, rcol, rkind, ang)
        roof_equipment(ctx, inner, height, equipment)
    else:
        cx, cy, length, width, a = obb_frame(roof)
        ux, uy = np.cos(a), np.sin(a)
        # the two slopes: one faces the sun more than the other
        n1 = np.array([-uy, ux])
        to_sun = -ctx.style.shadow_vector
        tilt = np.cos(np.deg2rad(style.sun_elevation_deg)) * 0.8
        lit = style.shadow_brightness + (1 - style.shadow_brightness) * np.clip(
            np.sin(np.deg2rad(style.sun_elevation_deg)) + tilt * np.dot(n1, to_sun), 0, 1)
        dark = style.shadow_brightness + (1 - style.shadow_brightness) * np.clip(
            np.sin(np.deg2rad(style.sun_elevation_deg)) - tilt * np.dot(n1, to_sun), 0, 1)
        half1 = orect(cx - uy * width / 4, cy + ux * width / 4, length + 1, width / 2, a)
        rf = roof.buffer(0)
        plan.buildings.add(rf.intersection(half1), rcol * np.float32(lit / 0.85), rkind, a + np.pi / 2)
        plan.buildings.add(rf.difference(half1), rcol * np.float32(dark / 0.85), rkind, a + np.pi / 2)
        if roof_kind == "hip" and length > width:
            # hip ends: small triangles at each end with the mid tone
            for sgn in (-1, 1):
                ex, ey = cx + sgn * ux * length / 2, cy + sgn * uy * length / 2
                rx, ry = cx + sgn * ux * (length / 2 - width / 2), cy + sgn * uy * (length / 2 - width / 2)
                tri = Polygon([(ex - uy * width / 2, ey + ux * width / 2), (ex + uy * width / 2, ey - ux * width / 2), (rx, ry)])
                mid = (lit + dark) / 2 + sgn * np.dot((ux, uy), to_sun) * tilt * 0.5
                plan.buildings.add(tri.intersection(rf), rcol * np.float32(mid / 0.85), rkind, a)
        # ridge line: a thin brighter stroke
        plan.buildings.add(
            LineString([(cx - ux * length / 2, cy - uy * length / 2), (cx + ux * length / 2, cy + uy * length / 2)])
            .buffer(0.15).intersection(rf), rcol * np.float32(1.15), 0)


def roof_equipment(ctx: PlanContext, roof: Polygon, height: float, density: float) -> None:
    """Patches, AC units, tanks, solar panels and heaters, dishes, stair boxes, tarps."""
    rng, spec = ctx.rng, ctx.spec
    area = roof.area
    if area < 30:
        return
    base = height
    # part of the roof (buildings layer): roof shadows and equipment fall on them
    for _ in range(rng.poisson(0.8)):  # repairs, bitumen patches, stains on flat roofs
        p = random_point_in(roof, rng, margin=1)
        if p is not None:
            col, kind = material_colour(rng, pick(rng, {"roof_bitumen": 2, "roof_concrete": 2, "roof_gravel": 1}))
            patch = orect(p.x, p.y, rng.uniform(1.5, 6), rng.uniform(1, 4), obb_frame(roof)[4])
            ctx.plan.buildings.add(patch.intersection(roof), col * np.float32(rng.uniform(0.7, 1.2)), kind)
    for _ in range(rng.poisson(area / 120 * density * rng.uniform(0.2, 1.5))):
        p = random_point_in(roof, rng, margin=0.8)
        if p is not None:
            obj.ac_unit(ctx, p.x, p.y, base, rng)
    if rng.random() < spec["water_tanks"]:
        for _ in range(rng.poisson(area / 60 * spec["water_tanks"])):
            p = random_point_in(roof, rng, margin=1.0)
            if p is not None:
                obj.water_tank(ctx, p.x, p.y, base, rng)
    if rng.random() < spec["solar"] and area > 60:
        p = random_point_in(roof, rng, margin=3)
        if p is not None:
            obj.solar_array(ctx, p.x, p.y, base, rng, obb_frame(roof)[4])
    if rng.random() < spec["water_tanks"] * 0.8 and area > 40:
        # rows of solar water heaters, all facing the same way (towards the equator)
        ang = obb_frame(roof)[4] + rng.choice([0.0, np.pi / 2])
        ux, uy = np.cos(ang), np.sin(ang)
        p0 = random_point_in(roof, rng, margin=1.5)
        if p0 is not None:
            for i in range(rng.integers(1, 8)):
                for j in range(rng.integers(1, 3)):
                    x, y = p0.x + ux * i * 2.3 - uy * j * 2.6, p0.y + uy * i * 2.3 + ux * j * 2.6
                    if roof.contains(Point(x, y)) and rng.random() < 0.85:
                        obj.solar_heater(ctx, x, y, base, rng, ang)
    for _ in range(rng.poisson(area / 300 * rng.uniform(0, 2))):
        p = random_point_in(roof, rng, margin=0.8)
        if p is not None:
            obj.dish(ctx, p.x, p.y, base, rng)
    if rng.random() < 0.4 and area > 150:
        p = random_point_in(roof, rng, margin=3)
        if p is not None:
            obj.roof_box(ctx, p.x, p.y, base, rng)
    if rng.random() < 0.08:
        p = random_point_in(roof, rng, margin=2)
        if p is not None:
            obj.tarp(ctx, p.x, p.y, rng, layer=ctx.plan.roof_objects)


def entrances(ctx: PlanContext, i, fp, block, n=1):
    """Doors: on the footprint edge nearest the block edge (the street), or spread round."""
    rng = ctx.rng
    ext = block.exterior
    ring = fp.exterior
    for k in range(n):
        if k == 0:
            d = ring.project(shapely.ops.nearest_points(ring, ext)[0])
        else:
            d = rng.uniform(0, ring.length)
        p = ring.interpolate(d)
        q = ring.interpolate(d + 0.5)
        tx, ty = q.x - p.x, q.y - p.y
        norm = np.hypot(tx, ty) + 1e-9
        nx, ny = ty / norm, -tx / norm
        # make the normal point out of the footprint
        if fp.contains(Point(p.x + nx, p.y + ny)):
            nx, ny = -nx, -ny
        ctx.plan.sites.append(Site(p.x, p.y, "entrance", i, nx, ny))


def shed(ctx: PlanContext, x, y, rng) -> None:
    """A garden shed: a tiny flat-roofed building, without rooftop equipment."""
    ang = rng.uniform(0, np.pi)
    fp = orect(x, y, rng.uniform(2, 4), rng.uniform(1.5, 3), ang)
    mat = str(rng.choice(["roof_metal", "roof_metal_rust", "roof_shingle", "roof_concrete"]))
    building(ctx, fp, rng.uniform(2, 2.8), "flat", mat, ang, small=True, equipment=0.0)
