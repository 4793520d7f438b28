"""Renderer "scatter": a loose spread of discrete household items with ground between them.

Unlike the mound there is no base: mattresses, sofas, cabinets, tables, boxes, bags, rugs,
textiles and chairs lie as separate shapes, some touching, most with gaps, in saturated and
faded colours, often stretched in a strip along a façade or fence. Every item is lit from
the sun side, darkened at its rim and casts its own short shadow. Drawn super-sampled with
skimage polygon fills, so edges are mixed pixels.
"""

from __future__ import annotations

import numpy as np
from skimage.draw import ellipse as draw_ellipse
from skimage.draw import polygon as draw_polygon

from debrismap.synth.renderers import palette
from debrismap.synth.renderers.base import Light, Sprite, finish, shift

# item: (probability weight, length m, width m, height m, palette family or None, round?)
ITEMS = {
    "mattress": (2.0, (1.8, 2.0), (0.8, 1.5), (0.15, 0.3), "mattress", False),
    "sofa": (1.5, (1.6, 2.3), (0.8, 1.0), (0.6, 0.9), None, False),
    "armchair": (1.0, (0.7, 0.95), (0.7, 0.95), (0.6, 0.9), None, False),
    "cabinet": (1.2, (1.0, 2.0), (0.45, 0.65), (0.4, 0.6), "wood", False),
    "table": (1.0, (0.8, 1.6), (0.6, 0.9), (0.5, 0.8), "wood", False),
    "appliance": (0.8, (0.55, 0.7), (0.55, 0.7), (0.6, 0.9), "white", False),
    "box": (2.5, (0.35, 0.8), (0.3, 0.6), (0.25, 0.6), "cardboard", False),
    "bag": (2.5, (0.45, 0.8), (0.35, 0.6), (0.3, 0.5), "bag", True),
    "textile": (2.0, (0.6, 1.6), (0.5, 1.2), (0.1, 0.4), None, True),
    "rug": (0.8, (1.5, 2.5), (1.0, 1.8), (0.03, 0.08), None, False),
    "chair": (1.0, (0.45, 0.55), (0.45, 0.55), (0.4, 0.9), None, False),
    "plank": (1.0, (1.2, 2.6), (0.1, 0.3), (0.05, 0.15), "wood", False),
}


class ScatterRenderer:
    name = "scatter"

    def render(self, seed: int, gsd: float, light: Light, size_m: float,
               along: float | None = None) -> Sprite:
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 202]))
        ss = 3
        px = gsd / ss  # metres per super-sample
        strip = along is not None or rng.random() < 0.5
        length = float(size_m)
        depth = max(1.5, length * (rng.uniform(0.25, 0.5) if strip else rng.uniform(0.6, 1.0)))
        ang = along if along is not None else rng.uniform(0, np.pi)
        items = self._layout(rng, length, depth, ang)
        tallest = max(h for *_, h, _, _ in items)
        margin = tallest * light.shadow_length_per_m + 1.5
        ext = np.abs(np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])) @ np.array([length, depth]) / 2
        W = int(np.ceil((2 * (ext[0] + margin)) / gsd)) * ss
        H = int(np.ceil((2 * (ext[1] + margin)) / gsd)) * ss
        cx, cy = W / 2 * px, H / 2 * px
        img = np.zeros((H, W, 3), np.float32)
        cov = np.zeros((H, W), bool)
        ground_shadow = np.zeros((H, W), bool)
        fade = rng.uniform(0.0, 0.5)  # sun-bleached / dusty goods, per scatter
        dust = palette.RUBBLE["dust"] * rng.uniform(0.8, 1.2)
        sdx, sdy = light.shadow_vector
        for x, y, length_i, width_i, rot, h, family, rnd in items:
            mask = np.zeros((H, W), bool)
            r0, c0 = (cy + y) / px, (cx + x) / px
            if rnd:
                rr, cc = draw_ellipse(r0, c0, width_i / 2 / px, length_i / 2 / px, shape=(H, W), rotation=-rot)
            else:
                corners = _rect(c0, r0, length_i / px, width_i / px, rot)
                rr, cc = draw_polygon(corners[:, 1], corners[:, 0], shape=(H, W))
            mask[rr, cc] = True
            if not mask.any():
                continue
            off = h * light.shadow_length_per_m / px
            sh = np.zeros_like(mask)
            for t in np.linspace(0.3, 1.0, 4):  # swept: a box's shadow is its footprint dragged away from the sun
                sh |= shift(mask, round(sdx * off * t), round(sdy * off * t))
            ground_shadow |= sh
            col = _colour(rng, family) * np.float32(1 - fade) + dust * np.float32(fade)
            # the sun-facing rim is lit, the far rim in shade: a top seen obliquely
            edge = mask & ~shift(mask, round(-sdx * 0.12 / px), round(-sdy * 0.12 / px))
            far = mask & ~shift(mask, round(sdx * 0.12 / px), round(sdy * 0.12 / px))
            tex = 1 + 0.08 * rng.standard_normal(int(mask.sum())).astype(np.float32)
            shade = np.ones(int(mask.sum()), np.float32) * tex
            img[mask] = col * shade[:, None]
            img[edge & mask] *= 0.7
            img[far & mask] *= 1.12
            # items already drawn that this one now shades (it lies on top of them)
            img[sh & cov & ~mask] *= 0.55
            cov |= mask
        ground_shadow &= ~cov
        return finish(img, cov, ground_shadow, ss, self.name)

    def _layout(self, rng, length, depth, ang):
        """Item list (x, y, length, width, rotation, height, family, round) in metres, centred."""
        names = list(ITEMS)
        weights = np.array([ITEMS[n][0] for n in names])
        density = rng.uniform(0.7, 1.6)  # items per m² of the envelope: how loose the scatter is
        n = int(np.clip(length * depth * density, 4, 200))
        ca, sa = np.cos(ang), np.sin(ang)
        placed, out = [], []
        for _ in range(n * 15):
            if len(out) >= n:
                break
            name = names[rng.choice(len(names), p=weights / weights.sum())]
            _, lr, wr, _hr, family, rnd = ITEMS[name]
            li, wi = rng.uniform(*lr), rng.uniform(*wr)
            # an elliptical envelope, a little denser towards the middle
            u, v = rng.uniform(-0.5, 0.5, 2) * (length, depth)
            if (2 * u / length) ** 2 + (2 * v / depth) ** 2 > rng.uniform(0.6, 1.0):
                continue
            x, y = u * ca - v * sa, u * sa + v * ca
            r = 0.5 * np.hypot(li, wi) * 0.7
            gap = rng.uniform(0.05, 0.4) if rng.random() < 0.75 else -r * 0.6  # most apart, some heaped
            if any(np.hypot(x - px_, y - py_) < r + pr + gap for px_, py_, pr in placed):
                continue
            placed.append((x, y, r))
            rot = ang + (rng.normal(0, 0.25) if rng.random() < 0.6 else rng.uniform(0, np.pi))
            out.append((x, y, li, wi, rot, rng.uniform(*ITEMS[name][3]), family, rnd))
        if not out:
            out.append((0.0, 0.0, 1.0, 0.8, ang, 0.4, None, False))
        return out


def _rect(cx, cy, length, width, rot):
    c, s = np.cos(rot), np.sin(rot)
    pts = np.array([[-length, -width], [length, -width], [length, width], [-length, width]]) / 2
    return np.column_stack([cx + pts[:, 0] * c - pts[:, 1] * s, cy + pts[:, 0] * s + pts[:, 1] * c])


def _colour(rng, family):
    if family == "mattress":
        return palette.household(rng, rng.choice(["white", "white", "faded", "saturated"]))
    if family == "bag":
        return np.asarray(rng.choice([[0.04, 0.04, 0.045], [0.6, 0.6, 0.6], [0.08, 0.16, 0.42],
                                      [0.1, 0.3, 0.12], [0.5, 0.45, 0.1]]), np.float32) * np.float32(rng.uniform(0.8, 1.2))
    return palette.household(rng, family)
