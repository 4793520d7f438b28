"""The city plan: streets, blocks, parcels, buildings and everything on the ground, as vectors.

The whole city is planned first (cheap: a few thousand polygons in metres), then the
renderer rasterises any window of it. Planning order matters for determinism: piles are
placed last from their own random stream, so a city rendered with and without piles is
otherwise identical (the tests rely on this).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
import shapely.ops
from shapely import affinity
from shapely.geometry import LineString, MultiPoint, Point, Polygon, box

from debrismap.synth import objects as obj
from debrismap.synth.layers import Layer, ShadowLayer
from debrismap.synth.style import CityStyle, material_colour, pick

ROAD_MATERIALS = {"asphalt": 5, "asphalt_old": 3, "concrete": 1}


@dataclass
class Site:
    """A place where piles may be dumped: a point and how likely it is used."""

    x: float
    y: float
    kind: str  # entrance | courtyard | yard | street
    block: int
    nx: float = 0.0  # outward normal (entrances): piles sit in front of the door
    ny: float = 0.0


@dataclass
class CityPlan:
    """Everything needed to render any window of the city (pixel coordinates after finalize)."""

    width_px: int
    height_px: int
    gsd: float
    style: CityStyle
    ground: Layer = field(default_factory=lambda: Layer("ground"))
    flat_shadows: ShadowLayer = field(default_factory=lambda: ShadowLayer("flat"))  # small things
    tall_shadows: ShadowLayer = field(default_factory=lambda: ShadowLayer("tall"))  # buildings, trees
    objects: Layer = field(default_factory=lambda: Layer("objects"))
    buildings: Layer = field(default_factory=lambda: Layer("buildings"))
    roof_shadows: ShadowLayer = field(default_factory=lambda: ShadowLayer("roof"))
    roof_objects: Layer = field(default_factory=lambda: Layer("roof_objects"))
    canopy: Layer = field(default_factory=lambda: Layer("canopy"))
    piles: list = field(default_factory=list)  # piles.PilePlan, metres until finalize
    sites: list = field(default_factory=list)
    solids: list = field(default_factory=list)  # footprints piles must not overlap (metres)
    block_ransack: dict = field(default_factory=dict)

    def layers(self):
        return [self.ground, self.objects, self.buildings, self.roof_objects, self.canopy]

    def shadow_layers(self):
        return [self.flat_shadows, self.tall_shadows, self.roof_shadows]

    def finalize(self, offset_px: tuple[int, int] = (0, 0)) -> None:
        """Metres -> pixels of the whole raster (a tile's plan is shifted by its offset)."""
        for layer in self.layers() + self.shadow_layers():
            layer.finalize(self.gsd, offset_px)
        for p in self.piles:
            p.shift(offset_px[0] * self.gsd, offset_px[1] * self.gsd)
            p.finalize(self.gsd)


# ---------------------------------------------------------------- geometry helpers


def sweep(poly: Polygon, dx: float, dy: float) -> Polygon:
    """Area swept by `poly` moved by (dx, dy): a prism's shadow or its leaning walls."""
    hull = poly.convex_hull
    if poly.area > 0.985 * hull.area and hull.geom_type == "Polygon":
        return obj.convex_sweep(hull, dx, dy)
    moved = affinity.translate(poly, dx, dy)
    coords = np.asarray(poly.exterior.coords)
    quads = [
        Polygon([coords[i], coords[i + 1], coords[i + 1] + (dx, dy), coords[i] + (dx, dy)])
        for i in range(len(coords) - 1)
    ]
    return shapely.union_all([poly, moved] + [q for q in quads if q.is_valid])


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


def oriented_rect(cx, cy, length, width, ang) -> Polygon:
    return obj.orect(cx, cy, length, width, ang)


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


# ---------------------------------------------------------------- the planner


class CityPlanner:
    """Builds a CityPlan in metres. One instance per city; not reused."""

    def __init__(self, width_m: float, height_m: float, style: CityStyle, rng: np.random.Generator,
                 pad_m: float = 60.0):
        self.w, self.h = width_m, height_m
        # How far the plan reaches beyond the city edge (0 for one tile of a tiled city, so
        # that neighbouring tiles partition the ground exactly).
        self.pad = pad_m
        self.style = style
        self.rng = rng
        self.spec = style.region_spec
        self.shadow_dir = style.shadow_vector * style.shadow_length_per_m  # metres per metre height
        self.lean = style.lean_vector
        self.plan: CityPlan | None = None
        self.block_polys: list[Polygon] = []
        self.cars: list[tuple] = []  # queued, built in one go by objects.flush_cars

    # -- streets and blocks
    def districts(self) -> list[tuple[Polygon, str, float]]:
        rng = self.rng
        area_km2 = self.w * self.h / 1e6
        n = int(np.clip(rng.poisson(1 + 2.5 * area_km2), 1, 40))
        pad = self.pad
        pts = np.column_stack([rng.uniform(-pad, self.w + pad, n), rng.uniform(-pad, self.h + pad, n)])
        frame = box(-pad, -pad, self.w + pad, self.h + pad)
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

    def grid_blocks(self, district: Polygon) -> list[Polygon]:
        rng = self.rng
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

    def organic_blocks(self, district: Polygon) -> list[Polygon]:
        rng = self.rng
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

    # -- the plan
    def build(self, gsd: float, width_px: int, height_px: int) -> CityPlan:
        plan = CityPlan(width_px, height_px, gsd, self.style)
        self.plan = plan
        fp = min(self.pad, 40.0)
        frame = box(-fp, -fp, self.w + fp, self.h + fp)
        # One road surface for the whole city (plan tiles of a large city must agree).
        road_rng = np.random.default_rng(self.style.extras.get("road_seed", 0))
        col, kind = material_colour(road_rng, pick(road_rng, ROAD_MATERIALS), 0.08)
        plan.ground.add(frame, col, kind)
        blocks: list[tuple[Polygon, str]] = []
        for district, dkind, arterial in self.districts():
            if district.is_empty:
                continue
            self.road_markings(district, arterial)
            made = self.grid_blocks(district) if dkind == "grid" else self.organic_blocks(district)
            blocks.extend((b, dkind) for b in made)
        for i, (b, dkind) in enumerate(blocks):
            self.block_polys.append(b)
            self.fill_block(i, b, dkind)
        obj.flush_cars(self)
        return plan

    def road_markings(self, district: Polygon, arterial: float) -> None:
        """Lane lines along arterials: thin bright strokes, a common high-contrast edge."""
        if self.rng.random() < 0.5:
            return
        ring = district.buffer(arterial / 2, join_style="mitre").exterior
        dashes = []
        length = ring.length
        step = self.rng.uniform(6, 12)
        for d in np.arange(0, length, step):
            p0, p1 = ring.interpolate(d), ring.interpolate(min(d + step * 0.5, length))
            dashes.append(LineString([p0, p1]).buffer(0.12, cap_style="flat"))
        col = np.array([0.6, 0.6, 0.55, 0.55], np.float32) * self.rng.uniform(0.6, 1.0)
        for dsh in dashes:
            self.plan.ground.add(dsh, col, 0)

    def fill_block(self, i: int, block: Polygon, dkind: str) -> None:
        rng, plan, spec = self.rng, self.plan, self.spec
        sidewalk = rng.uniform(1.2, 3.5) if (dkind == "grid" or rng.random() < 0.3) else 0.0
        if sidewalk:
            col, kind = material_colour(rng, pick(rng, {"sidewalk": 4, "paving": 2, "concrete": 1}))
            plan.ground.add(block, col, kind)
        inner = block.buffer(-sidewalk, join_style="mitre") if sidewalk else block
        inner = max(polygons(inner), key=lambda g: g.area, default=None)
        if inner is None or inner.area < 100:
            return
        self.curb_cars(block)
        if sidewalk and rng.random() < 0.35 * spec["tree_density"]:
            self.street_trees(block, sidewalk)
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
        getattr(self, f"block_{use}")(i, inner)
        self.stains(block)

    def stains(self, area: Polygon) -> None:
        """Worn, wet or oily patches on the ground: irregular tone changes that are not piles."""
        rng = self.rng
        for _ in range(rng.poisson(area.area / 2500)):
            p = random_point_in(area, rng)
            if p is None:
                continue
            r = rng.uniform(1.5, 8)
            shape = obj.blob(p.x, p.y, r, rng, ecc=rng.uniform(1, 2.2), wobble=0.3)
            tone = rng.choice([0.7, 0.8, 1.15, 1.25]) * rng.uniform(0.95, 1.05)
            mat = pick(rng, {"soil": 2, "asphalt_old": 1, "gravel": 1, "soil_dark": 1})
            col, kind = material_colour(rng, mat)
            # a tone shift of whatever is below would need a blend; a muted material reads the same
            self.plan.ground.add(shape.intersection(area), col * np.float32(tone), kind)

    # -- block uses
    def block_houses(self, i, inner):
        rng, spec = self.rng, self.spec
        yard_mat = pick(rng, spec["ground"])
        col, kind = material_colour(rng, yard_mat)
        self.plan.ground.add(inner, col, kind)
        for parcel in split_polygon(inner, rng.uniform(180, 700), rng):
            self.house_parcel(i, parcel, inner)

    def house_parcel(self, i, parcel, block):
        rng, plan, spec = self.rng, self.plan, self.spec
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
        fp = oriented_rect(hx, hy, hl, hw, ang)
        if rng.random() < 0.25:  # L-shaped extension
            ext = oriented_rect(
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
        self.building(fp, height, roof_kind, mat, ang, small=True)
        self.entrances(i, fp, block, n=1)
        yard = parcel.difference(fp.buffer(0.5))
        self.yard_stuff(i, yard)

    def block_dense(self, i, inner):
        """Old-town: parcels almost fully built, small courtyards, flat roofs."""
        rng, spec = self.rng, self.spec
        col, kind = material_colour(rng, pick(rng, {"paving": 2, "soil": 2, "concrete": 1}))
        self.plan.ground.add(inner, col, kind)
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
                        self.plan.ground.add(c, ccol, ck)
                        self.plan.sites.append(Site(c.centroid.x, c.centroid.y, "courtyard", i))
                        if rng.random() < 0.35:
                            self.tree(c.centroid.x, c.centroid.y, rng.uniform(3, 7))
            for part in polygons(fp):
                if part.area < 15:
                    continue
                height = rng.uniform(3, 14)
                flat = rng.random() < 0.75
                mat = pick(rng, spec["roofs_flat"] if flat else spec["roofs_house"])
                self.building(part, height, "flat" if flat else "gable", mat, obb_frame(part)[4])
                self.entrances(i, part, inner, n=1)

    def block_apartments(self, i, inner):
        rng = self.rng
        col, kind = material_colour(rng, pick(rng, {"grass": 2, "paving": 2, "soil": 1, "grass_dry": 1}))
        self.plan.ground.add(inner, col, kind)
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
                    self.apartment(i, part, inner, obb_frame(part)[4])
            for c in polygons(court):
                self.courtyard(i, c)
        else:
            n = max(1, int(width // rng.uniform(28, 45)))
            ux, uy = np.cos(ang), np.sin(ang)
            for k in range(n):
                off = (k + 0.5) / n * width - width / 2
                sl = min(length - 2 * setback - 4, rng.uniform(25, 90))
                if sl < 12:
                    continue
                fp = oriented_rect(cx - uy * off, cy + ux * off, sl, depth, ang).intersection(inner)
                for part in polygons(fp):
                    if part.area > 60:
                        self.apartment(i, part, inner, ang)
            rest = inner.difference(shapely.union_all(self.plan_solids_recent(n + 2)).buffer(2))
            for c in polygons(rest):
                if c.area > 150:
                    self.courtyard(i, c)

    def plan_solids_recent(self, n):
        return self.plan.solids[-n:] if self.plan.solids else [Point(-1e6, -1e6)]

    def apartment(self, i, fp, block, ang):
        rng = self.rng
        height = rng.uniform(9, 32) if rng.random() < 0.8 else rng.uniform(35, 60)
        mat = pick(rng, self.spec["roofs_flat"])
        self.building(fp, height, "flat", mat, ang)
        self.entrances(i, fp, block, n=max(1, int(fp.length / 40)))

    def courtyard(self, i, court):
        rng, plan = self.rng, self.plan
        if court.area < 40:
            return
        col, kind = material_colour(rng, pick(rng, {"grass": 3, "paving": 2, "soil": 2, "grass_dry": 2, "asphalt_old": 1}))
        plan.ground.add(court, col, kind)
        for _ in range(max(1, int(court.area / 400))):
            p = random_point_in(court, rng)
            if p is not None:
                plan.sites.append(Site(p.x, p.y, "courtyard", i))
        n_trees = rng.poisson(court.area / 250 * self.spec["tree_density"])
        for _ in range(n_trees):
            p = random_point_in(court, rng)
            if p is not None:
                self.tree(p.x, p.y, rng.uniform(3, 10))
        if court.area > 300 and rng.random() < 0.4:
            p = random_point_in(court, rng, margin=6)
            if p is not None:
                obj.playground(self, p.x, p.y, rng)
        if rng.random() < 0.5:
            obj.parking_rows(self, court.buffer(-2), rng, fill=rng.uniform(0.2, 0.8), max_rows=2)
        for _ in range(rng.poisson(1.5)):
            p = random_point_in(court, rng, margin=1)
            if p is not None:
                obj.dumpster(self, p.x, p.y, rng)
        if rng.random() < 0.35:
            p = random_point_in(court, rng, margin=2)
            if p is not None:
                obj.clutter(self, p.x, p.y, rng)
        if rng.random() < 0.15:
            p = random_point_in(court, rng, margin=3)
            if p is not None:
                obj.material_stack(self, p.x, p.y, rng)

    def block_park(self, i, inner):
        rng, plan = self.rng, self.plan
        col, kind = material_colour(rng, pick(rng, {"grass": 4, "grass_dry": 2, "soil": 1}))
        plan.ground.add(inner, col, kind)
        # paths
        pcol, pk = material_colour(rng, pick(rng, {"paving": 2, "gravel": 2, "sand": 1}))
        c = inner.centroid
        for _ in range(rng.integers(1, 4)):
            p = random_point_in(inner, rng)
            if p is not None:
                plan.ground.add(LineString([c, p]).buffer(rng.uniform(1, 2.5)).intersection(inner), pcol, pk)
        n = rng.poisson(inner.area / 120 * self.spec["tree_density"])
        for _ in range(n):
            p = random_point_in(inner, rng)
            if p is not None:
                self.tree(p.x, p.y, rng.uniform(3, 12))
        for _ in range(rng.integers(0, 3)):
            p = random_point_in(inner, rng, margin=6)
            if p is not None:
                obj.playground(self, p.x, p.y, rng)
        for _ in range(max(1, int(inner.area / 900))):
            p = random_point_in(inner, rng)
            if p is not None:
                plan.sites.append(Site(p.x, p.y, "yard", i))

    def block_parking(self, i, inner):
        rng = self.rng
        col, kind = material_colour(rng, pick(rng, {"asphalt": 3, "asphalt_old": 3, "concrete": 1, "gravel": 1}))
        self.plan.ground.add(inner, col, kind)
        obj.parking_rows(self, inner.buffer(-1.5), rng, fill=rng.uniform(0.3, 0.95), max_rows=20, lines=True)
        p = random_point_in(inner, rng)
        if p is not None:
            self.plan.sites.append(Site(p.x, p.y, "yard", i))

    def block_vacant(self, i, inner):
        rng, plan = self.rng, self.plan
        col, kind = material_colour(rng, pick(rng, {"soil": 3, "grass_dry": 3, "sand": 1, "gravel": 1, "soil_dark": 1}))
        plan.ground.add(inner, col, kind)
        for _ in range(rng.integers(0, 4)):  # patches of other ground
            p = random_point_in(inner, rng)
            if p is not None:
                pc, pk = material_colour(rng, pick(rng, {"soil": 1, "grass": 1, "gravel": 1, "soil_dark": 1}))
                blob = obj.blob(p.x, p.y, rng.uniform(4, 15), rng, ecc=1.6).intersection(inner)
                plan.ground.add(blob, pc, pk)
        for _ in range(rng.poisson(inner.area / 600)):
            p = random_point_in(inner, rng, margin=2)
            if p is not None:
                pick_fn = rng.choice([obj.material_stack, obj.material_stack, obj.clutter, obj.dumpster])
                pick_fn(self, p.x, p.y, rng)
        for _ in range(rng.poisson(inner.area / 500 * self.spec["tree_density"])):
            p = random_point_in(inner, rng)
            if p is not None:
                self.tree(p.x, p.y, rng.uniform(2, 7))
        for _ in range(max(1, int(inner.area / 700))):
            p = random_point_in(inner, rng)
            if p is not None:
                plan.sites.append(Site(p.x, p.y, "yard", i))

    def block_commercial(self, i, inner):
        rng, plan = self.rng, self.plan
        col, kind = material_colour(rng, pick(rng, {"asphalt": 3, "concrete": 2, "asphalt_old": 2}))
        plan.ground.add(inner, col, kind)
        cx, cy, length, width, ang = obb_frame(inner)
        bl, bw = length * rng.uniform(0.3, 0.7), width * rng.uniform(0.3, 0.7)
        ux, uy = np.cos(ang), np.sin(ang)
        t = rng.uniform(-0.2, 0.2) * length
        fp = oriented_rect(cx + ux * t, cy + uy * t, bl, bw, ang).intersection(inner.buffer(-3))
        for part in polygons(fp):
            if part.area > 80:
                mat = pick(rng, self.spec["roofs_flat"] | {"roof_white": 2, "roof_metal": 2})
                self.building(part, rng.uniform(5, 14), "flat", mat, ang, equipment=2.5)
                self.entrances(i, part, inner, n=2)
        rest = inner.difference(fp.buffer(3))
        for c in polygons(rest):
            if c.area > 100:
                obj.parking_rows(self, c.buffer(-1), rng, fill=rng.uniform(0.2, 0.9), max_rows=8, lines=True)
        for _ in range(rng.poisson(2)):
            p = random_point_in(rest, rng) if not rest.is_empty else None
            if p is not None:
                rng.choice([obj.dumpster, obj.material_stack, obj.clutter])(self, p.x, p.y, rng)

    # -- things
    def building(self, fp, height, roof_kind, mat, ang, small=False, equipment=1.0):
        """Shadow, leaning walls and roof of one building; rooftop equipment on flat roofs."""
        rng, plan, style = self.rng, self.plan, self.style
        sdx, sdy = self.shadow_dir * height
        plan.tall_shadows.add(sweep(fp, sdx, sdy))
        ldx, ldy = self.lean * height
        roof = affinity.translate(fp, ldx, ldy)
        wall_mat = pick(rng, self.spec["walls"])
        wcol, _ = material_colour(rng, wall_mat)
        if abs(ldx) + abs(ldy) > 0.15:
            plan.buildings.add(sweep(fp, ldx, ldy), wcol * np.float32(style.wall_light), 0)
        rcol, rkind = material_colour(rng, mat)
        plan.solids.append(fp.union(roof).convex_hull if small else sweep(fp, ldx, ldy))
        if roof_kind == "flat":
            plan.buildings.add(roof, rcol * np.float32(rng.uniform(0.85, 1.2)), rkind, ang)
            inner = roof.buffer(-rng.uniform(0.3, 0.6), join_style="mitre")
            plan.buildings.add(inner, rcol, rkind, ang)
            self.roof_equipment(inner, height, equipment)
        else:
            cx, cy, length, width, a = obb_frame(roof)
            ux, uy = np.cos(a), np.sin(a)
            # the two slopes: one faces the sun more than the other
            n1 = np.array([-uy, ux])
            to_sun = -self.style.shadow_vector
            tilt = np.cos(np.deg2rad(style.sun_elevation_deg)) * 0.8
            lit = style.shadow_brightness + (1 - style.shadow_brightness) * np.clip(
                np.sin(np.deg2rad(style.sun_elevation_deg)) + tilt * np.dot(n1, to_sun), 0, 1)
            dark = style.shadow_brightness + (1 - style.shadow_brightness) * np.clip(
                np.sin(np.deg2rad(style.sun_elevation_deg)) - tilt * np.dot(n1, to_sun), 0, 1)
            half1 = oriented_rect(cx - uy * width / 4, cy + ux * width / 4, length + 1, width / 2, a)
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

    def roof_equipment(self, roof: Polygon, height: float, density: float) -> None:
        rng, spec = self.rng, self.spec
        area = roof.area
        if area < 30:
            return
        base = height
        # part of the roof (buildings layer): roof shadows and equipment fall on them
        for _ in range(rng.poisson(0.8)):  # repairs, bitumen patches, stains on flat roofs
            p = random_point_in(roof, rng, margin=1)
            if p is not None:
                col, kind = material_colour(rng, pick(rng, {"roof_bitumen": 2, "roof_concrete": 2, "roof_gravel": 1}))
                patch = obj.orect(p.x, p.y, rng.uniform(1.5, 6), rng.uniform(1, 4), obb_frame(roof)[4])
                self.plan.buildings.add(patch.intersection(roof), col * np.float32(rng.uniform(0.7, 1.2)), kind)
        for _ in range(rng.poisson(area / 120 * density * rng.uniform(0.2, 1.5))):
            p = random_point_in(roof, rng, margin=0.8)
            if p is not None:
                obj.ac_unit(self, p.x, p.y, base, rng)
        if rng.random() < spec["water_tanks"]:
            for _ in range(rng.poisson(area / 60 * spec["water_tanks"])):
                p = random_point_in(roof, rng, margin=1.0)
                if p is not None:
                    obj.water_tank(self, p.x, p.y, base, rng)
        if rng.random() < spec["solar"] and area > 60:
            p = random_point_in(roof, rng, margin=3)
            if p is not None:
                obj.solar_array(self, p.x, p.y, base, rng, obb_frame(roof)[4])
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
                            obj.solar_heater(self, x, y, base, rng, ang)
        for _ in range(rng.poisson(area / 300 * rng.uniform(0, 2))):
            p = random_point_in(roof, rng, margin=0.8)
            if p is not None:
                obj.dish(self, p.x, p.y, base, rng)
        if rng.random() < 0.4 and area > 150:
            p = random_point_in(roof, rng, margin=3)
            if p is not None:
                obj.roof_box(self, p.x, p.y, base, rng)
        if rng.random() < 0.08:
            p = random_point_in(roof, rng, margin=2)
            if p is not None:
                obj.tarp(self, p.x, p.y, rng, layer=self.plan.roof_objects)

    def entrances(self, i, fp, block, n=1):
        """Doors: on the footprint edge nearest the block edge (the street), or spread round."""
        rng = self.rng
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
            self.plan.sites.append(Site(p.x, p.y, "entrance", i, nx, ny))

    def yard_stuff(self, i, yard):
        rng = self.rng
        if yard.is_empty:
            return
        for _ in range(rng.poisson(1.2 * self.spec["tree_density"])):
            p = random_point_in(yard, rng)
            if p is not None:
                self.tree(p.x, p.y, rng.uniform(2.5, 9))
        if rng.random() < 0.45:
            p = random_point_in(yard, rng, margin=2)
            if p is not None:
                obj.car(self, p.x, p.y, rng.uniform(0, np.pi), rng)
        if rng.random() < 0.2:
            p = random_point_in(yard, rng, margin=2)
            if p is not None:
                obj.garden(self, p.x, p.y, rng)
        if rng.random() < 0.2:
            p = random_point_in(yard, rng, margin=1.5)
            if p is not None:
                obj.clutter(self, p.x, p.y, rng)
        if rng.random() < 0.1:
            p = random_point_in(yard, rng, margin=2)
            if p is not None:
                obj.shed(self, p.x, p.y, rng)
        if rng.random() < 0.06:
            p = random_point_in(yard, rng, margin=2)
            if p is not None:
                obj.tarp(self, p.x, p.y, rng)
        if rng.random() < 0.08:
            p = random_point_in(yard, rng, margin=3)
            if p is not None:
                obj.material_stack(self, p.x, p.y, rng)
        p = random_point_in(yard, rng)
        if p is not None:
            self.plan.sites.append(Site(p.x, p.y, "yard", i))

    def curb_cars(self, block: Polygon) -> None:
        rng = self.rng
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
                obj.car(self, p.x + nx * off, p.y + ny * off, np.arctan2(ty, tx) + rng.normal(0, 0.04), rng)
            if rng.random() < 0.04:
                self.plan.sites.append(Site(p.x + nx * 2.5, p.y + ny * 2.5, "street", -1))
            d += step * rng.uniform(0.95, 1.3)

    def street_trees(self, block: Polygon, sidewalk: float) -> None:
        rng = self.rng
        ring = block.buffer(-sidewalk / 2).exterior
        if ring.is_empty:
            return
        step = rng.uniform(6, 14)
        for d in np.arange(rng.uniform(0, step), ring.length, step):
            if rng.random() < 0.8:
                p = ring.interpolate(d)
                self.tree(p.x, p.y, rng.uniform(3, 8))

    def tree(self, x, y, crown):
        """Crown polygon (leaning with height), dome shading towards the sun, and its shadow."""
        rng, plan = self.rng, self.plan
        height = crown * rng.uniform(0.8, 1.6) + 1
        lx, ly = self.lean * height * 0.85
        sx, sy = self.shadow_dir * height * 0.7
        shape = obj.blob(x, y, crown / 2, rng, ecc=1.15, wobble=0.22)
        plan.tall_shadows.add(obj.moved(shape, sx, sy))
        trunk = np.hypot(sx, sy)
        if trunk > 0.5:
            plan.tall_shadows.add(obj.orect(x + sx * 0.6, y + sy * 0.6, trunk * 1.2, 0.35, np.arctan2(sy, sx)))
        mat = "foliage" if rng.random() < 0.7 else "foliage_light"
        col, kind = material_colour(rng, mat, 0.18)
        crown_poly = obj.moved(shape, lx, ly)
        plan.canopy.add(crown_poly, col, kind, 0.0, (x + lx, y + ly, crown / 2, 0.55))
        plan.solids.append(crown_poly.buffer(-crown * 0.15))
