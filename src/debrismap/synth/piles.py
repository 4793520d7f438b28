"""Debris piles: where they go (plan) and what they look like (a small sprite per pile).

A pile is a dense, irregular heap of many small items — furniture, mattresses, fabric,
boxes, planks, or broken concrete — over a dusty base with a ragged outline, casting a
mound-shaped shadow. Each pile is drawn from its own seed, super-sampled then averaged
down to the pixel grid, so it looks the same whichever block of the city asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from rasterio import features
from rasterio.transform import Affine
from scipy import ndimage
from shapely import affinity
from shapely.geometry import Polygon

from debrismap.synth import noise
from debrismap.synth.geometry import shift
from debrismap.synth.objects import blob, item_colour, orect

PILE_KINDS = {"household": 0.62, "mixed": 0.23, "rubble": 0.15}
# A pixel belongs to a pile's body (and to its label box) when the pile covers at least
# this fraction of it. Low on purpose: boxes include the pile's ragged, mixed-pixel rim.
BODY_ALPHA = 0.2


@dataclass
class PilePlan:
    """One pile: footprint in metres (pixels after finalize) and the seed that draws it."""

    id: int
    x: float
    y: float
    radius: float  # metres, mean
    height: float  # metres at the top of the mound
    seed: int
    kind: str
    footprint: Polygon
    site: str = ""
    bbox_px: tuple | None = None  # max extent (incl. shadow) in pixels, after finalize
    gsd: float = 0.0

    def shift(self, dx_m: float, dy_m: float) -> None:
        """Move the pile (metres): a tile's plan is placed at its offset in the city."""
        if dx_m or dy_m:
            self.x += dx_m
            self.y += dy_m
            self.footprint = affinity.translate(self.footprint, dx_m, dy_m)

    def finalize(self, gsd: float) -> None:
        self.gsd = gsd
        minx, miny, maxx, maxy = self.footprint.bounds
        m = 1.2 + self.height * 4  # items overhang + shadow reach (generous)
        self.bbox_px = (
            int(np.floor((minx - m) / gsd)), int(np.floor((miny - m) / gsd)),
            int(np.ceil((maxx + m) / gsd)), int(np.ceil((maxy + m) / gsd)),
        )


@dataclass
class PileSprite:
    """A rendered pile on the absolute pixel grid: colour, coverage and its shadow."""

    x0: int
    y0: int
    rgbn: np.ndarray  # (h, w, 4) reflectance
    alpha: np.ndarray  # (h, w) coverage 0..1
    shadow: np.ndarray  # (h, w) shadow fraction 0..1 (ground around the pile only)


def make_pile(pid: int, x: float, y: float, rng: np.random.Generator, size_m: float | None = None,
              kind: str | None = None, site: str = "", along: float | None = None) -> PilePlan:
    """Draw a pile's shape parameters; size_m is the rough diameter (2-15 m)."""
    if size_m is None:
        size_m = 2.5 * 6.0 ** rng.random()
    if kind is None:
        names = list(PILE_KINDS)
        kind = names[rng.choice(len(names), p=np.array(list(PILE_KINDS.values())))]
    ecc = rng.uniform(1.0, 1.9) if rng.random() < 0.85 else rng.uniform(2.0, 3.2)  # some windrows
    ang = along if along is not None else rng.uniform(0, np.pi)
    r = size_m / 2 / np.sqrt(ecc) * 1.05
    fp = blob(x, y, r, rng, ecc=ecc, wobble=0.22, n=22, angle=ang)
    height = float(np.clip(0.25 * size_m ** 0.8 * rng.uniform(0.5, 1.4), 0.3, 2.8))
    return PilePlan(pid, x, y, r, height, int(rng.integers(2**31)), kind, fp, site)


def place_piles(planner, rng: np.random.Generator, density: float) -> list[PilePlan]:
    """Uneven ransacking: some blocks untouched, some with piles by most doors."""
    plan = planner.plan
    if density <= 0 or not plan.sites:
        return []
    tree = shapely.STRtree(plan.solids) if plan.solids else None
    placed = np.zeros((0, 3))  # x, y, outer radius of piles already placed
    piles: list[PilePlan] = []
    # Neighbourhood-scale intensity: ransacking comes in waves through districts.
    field_seed = int(rng.integers(2**31))
    levels: dict[int, float] = {}
    for site in plan.sites:
        if site.block not in levels:
            hit = rng.random() < min(0.95, 0.4 * density ** 0.5)
            wave = float(np.exp(1.2 * noise.value(int(site.x), int(site.y), 1, 1, 300.0, field_seed)[0, 0]))
            levels[site.block] = hit * rng.gamma(1.3, 0.8) * density * wave
        plan.block_ransack[site.block] = levels[site.block]
    order = rng.permutation(len(plan.sites))
    for k in order:
        site = plan.sites[k]
        weight = {"entrance": 1.0, "courtyard": 0.9, "yard": 0.5, "street": 0.6}[site.kind]
        if rng.random() >= min(0.95, 0.45 * levels[site.block] * weight):
            continue
        for _attempt in range(4):
            size = 2.5 * 6.0 ** rng.random()
            if site.kind == "entrance":
                off = size / 2 * rng.uniform(0.6, 1.2) + rng.uniform(0.3, 2.5)
                tx, ty = -site.ny, site.nx
                along = rng.normal(0, 1.5)
                x = site.x + site.nx * off + tx * along
                y = site.y + site.ny * off + ty * along
                ang = np.arctan2(ty, tx) if rng.random() < 0.6 else None
            else:
                x, y = site.x + rng.normal(0, 3), site.y + rng.normal(0, 3)
                ang = None
            p = make_pile(len(piles), x, y, rng, size, site=site.kind, along=ang)
            fp = p.footprint
            if not (0 < x < planner.w and 0 < y < planner.h):
                continue
            if tree is not None and len(tree.query(fp.buffer(0.3), predicate="intersects")):
                continue
            minx, miny, maxx, maxy = fp.bounds
            outer = max(maxx - minx, maxy - miny) / 2
            if len(placed) and np.any(np.hypot(placed[:, 0] - x, placed[:, 1] - y) < placed[:, 2] + outer + 1.0):
                continue
            placed = np.vstack([placed, [x, y, outer]])
            piles.append(p)
            break
    return piles


# ---------------------------------------------------------------- sprite rendering

_ITEM_SHAPES = {
    "household": {"mattress": 2, "furniture": 3, "box": 3, "plank": 3, "fabric": 4, "bits": 5, "slab": 0.3, "bag": 1.5},
    "mixed": {"mattress": 1, "furniture": 2, "box": 2, "plank": 3, "fabric": 2, "bits": 4, "slab": 2, "bag": 1},
    "rubble": {"mattress": 0, "furniture": 0.3, "box": 0.5, "plank": 1.5, "fabric": 0.3, "bits": 4, "slab": 5, "bag": 0.2},
}


def _item(rng, kind: str, x: float, y: float, scale: float = 1.0) -> tuple[Polygon, np.ndarray, str]:
    """One item: its outline (metres) and colour; `scale` sizes all items of a pile."""
    table = _ITEM_SHAPES[kind]
    names = list(table)
    p = np.array([table[n] for n in names], float)
    shape = names[rng.choice(len(names), p=p / p.sum())]
    ang = rng.uniform(0, np.pi)
    if shape == "mattress":
        col, _ = item_colour(rng, rng.choice(["white", "white", "fabric"]))
        poly = orect(x, y, rng.uniform(1.6, 2.0), rng.uniform(0.8, 1.5), ang)
    elif shape == "furniture":
        col, _ = item_colour(rng, rng.choice(["wood", "wood", "fabric", "white", "dark"]))
        poly = orect(x, y, rng.uniform(0.6, 2.1), rng.uniform(0.4, 1.0), ang)
    elif shape == "box":
        col, _ = item_colour(rng, rng.choice(["cardboard", "cardboard", "plastic", "white"]))
        s = rng.uniform(0.3, 0.8)
        poly = orect(x, y, s, s * rng.uniform(0.6, 1.0), ang)
    elif shape == "plank":
        col, _ = item_colour(rng, rng.choice(["wood", "wood", "metal", "white"]))
        poly = orect(x, y, rng.uniform(1.0, 3.0), rng.uniform(0.1, 0.3), ang)
    elif shape == "fabric":
        col, _ = item_colour(rng, rng.choice(["fabric", "fabric", "tarp", "plastic"]))
        poly = blob(x, y, rng.uniform(0.3, 0.9), rng, ecc=rng.uniform(1, 2), wobble=0.3, n=10)
    elif shape == "slab":
        col, _ = item_colour(rng, "rubble")
        n = rng.integers(4, 7)
        t = np.sort(rng.uniform(0, 2 * np.pi, n))
        r = rng.uniform(0.4, 1.4) * rng.uniform(0.6, 1.0, n)
        poly = Polygon(np.column_stack([x + r * np.cos(t), y + r * np.sin(t)])).convex_hull
    elif shape == "bag":  # rubbish bags: round, black, white, blue or green plastic
        rgb = rng.choice([[0.04, 0.04, 0.045], [0.55, 0.55, 0.55], [0.1, 0.18, 0.4], [0.1, 0.25, 0.12]])
        col = np.array([*rgb, np.mean(rgb) + 0.03], np.float32) * np.float32(rng.uniform(0.7, 1.2))
        poly = blob(x, y, rng.uniform(0.25, 0.5), rng, ecc=rng.uniform(1, 1.4), wobble=0.1, n=8)
    else:  # bits: small odds and ends of any colour
        col, _ = item_colour(rng)
        s = rng.uniform(0.15, 0.45)
        poly = orect(x, y, s, s * rng.uniform(0.4, 1), ang)
    return poly, col, shape


def render_pile(pile: PilePlan, gsd: float, sun_shadow: np.ndarray, shadow_len_per_m: float,
                palette_shift: float = 0.0) -> PileSprite:
    """Draw a pile at `gsd` (pixels) on the absolute pixel grid."""
    rng = np.random.default_rng(pile.seed)
    ss = 4 if gsd > 0.35 else 3
    fp_m = pile.footprint  # metres
    bx0, by0, bx1, by1 = pile.bbox_px
    w, h = bx1 - bx0, by1 - by0
    W, H = w * ss, h * ss
    # metres -> super-sampled sprite pixels
    to_px = Affine(ss / gsd, 0, -bx0 * ss, 0, ss / gsd, -by0 * ss)
    minx, miny, maxx, maxy = fp_m.bounds
    area = fp_m.area
    item_scale = float(np.exp(rng.normal(0, 0.25)))  # coarse junk or fine bits, per pile
    n_items = int(np.clip(area / rng.uniform(0.25, 0.7) / item_scale**2, 5, 900))
    # Item centres: inside the footprint, denser towards the middle.
    cand = np.column_stack([rng.uniform(minx, maxx, n_items * 4), rng.uniform(miny, maxy, n_items * 4)])
    inside = shapely.contains_xy(fp_m, cand[:, 0], cand[:, 1])
    cand = cand[inside]
    d = np.hypot((cand[:, 0] - pile.x), (cand[:, 1] - pile.y)) / (pile.radius * 1.5 + 1e-6)
    keep = rng.random(len(cand)) < (1.1 - d)
    cand = cand[keep][:n_items]
    base = fp_m.buffer(-0.15 * pile.radius)
    base_col, _ = item_colour(rng, "rubble" if pile.kind != "household" else rng.choice(["rubble", "cardboard", "dark"]))
    base_col = base_col * np.float32(rng.uniform(0.7, 1.05))
    shapes = [(base if not base.is_empty else fp_m, 1)]
    colours = [base_col]
    shade = [0.75]
    for k, (x, y) in enumerate(cand):
        poly, col, _shape = _item(rng, pile.kind, x, y)
        if item_scale != 1.0:
            poly = affinity.scale(poly, item_scale, item_scale, origin=(x, y))
        if palette_shift:
            col = col.copy()
            col[:3] *= np.exp(np.array([palette_shift, 0, -palette_shift], np.float32))
        shapes.append((poly, len(shapes) + 1))
        colours.append(col)
        # items lower in the heap (drawn first) sit in the shade of the ones above
        rank = (k + 1) / (len(cand) + 1)
        shade.append(rng.uniform(0.55, 1.3) * (0.8 + 0.3 * rank))
    geoms = [(affinity.affine_transform(g, [to_px.a, 0, 0, to_px.e, to_px.c, to_px.f]), v) for g, v in shapes]
    idx = features.rasterize(geoms, out_shape=(H, W), fill=0, dtype="int32")
    cov = idx > 0
    colours = np.array([np.zeros(4, np.float32)] + colours, np.float32)
    # Per-pile tone: most piles are dusty and light, some dark (wet, burnt, in shade).
    colours *= np.float32(np.exp(rng.normal(0.1, 0.3)))
    # Dust: everything in a heap is greyed towards the colour of the base.
    dust = rng.uniform(0.0, 0.45)
    colours[1:] = colours[1:] * (1 - dust) + base_col * dust * np.float32(1.3)
    shade_a = np.array([0.0] + shade, np.float32)
    img = colours[idx] * shade_a[idx][..., None]
    # texture: per-item facet noise and dark gaps between items
    n1 = noise.value(0, 0, H, W, 1.5 * ss / 2, pile.seed & 0xFFFF)
    n2 = noise.white(0, 0, H, W, pile.seed & 0xFFFFF)
    img *= (1 + 0.22 * n1 + 0.15 * n2)[..., None]
    gaps = noise.value(0, 0, H, W, max(2.0, 0.35 / gsd * ss), (pile.seed >> 3) & 0xFFFF) > rng.uniform(0.4, 0.7)
    img[gaps & cov] *= rng.uniform(0.35, 0.6)
    # ragged edge: the rim of the base breaks up into scattered bits
    edge = noise.value(0, 0, H, W, max(2.0, 0.5 / gsd * ss), (pile.seed >> 5) & 0xFFFF)
    base_only = idx == 1
    rim = ndimage.distance_transform_edt(cov) < (0.5 / gsd * ss)
    cov = cov & ~(base_only & rim & (edge > 0.1))
    img[~cov] = 0
    # mound height: highest in the middle, for a realistic shadow shape
    dist = ndimage.distance_transform_edt(cov)
    hmap = np.clip(dist / max(dist.max(), 1e-6), 0, 1) ** 0.6 * pile.height
    # brighter on the sun side of the mound, darker on the far side (slope shading)
    gy, gx = np.gradient(hmap)
    slope = (gx * sun_shadow[0] + gy * sun_shadow[1]) / (gsd / ss)  # >0: faces the sun
    img *= np.clip(1 + 0.25 * np.tanh(slope * 0.6), 0.6, 1.3)[..., None]
    shadow = np.zeros((H, W), bool)
    steps = 10
    for t in np.linspace(0, 1, steps)[1:] if pile.height > 0 else []:
        level = hmap >= t * pile.height * 0.999
        if not level.any():
            break
        off = t * pile.height * shadow_len_per_m / gsd * ss
        dx, dy = int(round(sun_shadow[0] * off)), int(round(sun_shadow[1] * off))
        shadow |= shift(level, dx, dy)
    shadow &= ~cov
    # average the super-samples down to pixels
    def down(a):
        return a.reshape(h, ss, w, ss, *a.shape[2:]).mean(axis=(1, 3))

    alpha = down(cov.astype(np.float32))
    # Stray sub-pixel specks more than a pixel from the body would fall outside the label
    # box; a real pile's rim is a mixed pixel next to it, so keep only those.
    near_body = ndimage.binary_dilation(alpha >= BODY_ALPHA, structure=np.ones((3, 3), bool))
    alpha[~near_body] = 0.0
    rgbn = down(img)
    with np.errstate(invalid="ignore", divide="ignore"):
        rgbn = np.where(alpha[..., None] > 0, rgbn / np.maximum(alpha, 1e-6)[..., None], 0).astype(np.float32)
    shadow_f = down(shadow.astype(np.float32))
    return PileSprite(bx0, by0, rgbn, alpha.astype(np.float32), shadow_f.astype(np.float32))
