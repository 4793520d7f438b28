"""Renderer "splinter": storm debris, a tangle of boards, beams and siding over a dark churned stain.

Built from line segments rather than areas: dozens to hundreds of anti-aliased strokes of
fresh or weathered timber, white siding, insulation and metal, criss-crossing at random
angles, over a stain of mud, shredded leaves and wet material darker than the ground, with
bright fragments flung a little beyond it. It is what a tornado or hurricane leaves where a
house stood, and what Joplin's post-event tiles show at 0.5-0.6 m.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.draw import line_aa

from debrismap.synth.renderers import palette
from debrismap.synth.renderers.base import Light, Sprite, finish, fractal, shift

STROKES = {  # colour family: (weight, reflectance RGB)
    "fresh_wood": (3.0, (0.52, 0.42, 0.3)),
    "old_wood": (2.0, (0.36, 0.3, 0.24)),
    "siding": (2.0, (0.7, 0.7, 0.66)),
    "insulation": (0.6, (0.68, 0.55, 0.45)),
    "metal": (0.8, (0.45, 0.46, 0.48)),
    "roofing": (1.2, (0.2, 0.19, 0.18)),
}


class SplinterRenderer:
    name = "splinter"

    def render(self, seed: int, gsd: float, light: Light, size_m: float,
               along: float | None = None) -> Sprite:
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 707]))
        ss = 3
        px = gsd / ss
        ecc = rng.uniform(1.0, 1.7) if along is None else rng.uniform(1.8, 3.0)
        ang = along if along is not None else rng.uniform(0, np.pi)
        a = size_m / 2
        b = a / ecc
        half = a + 4.5  # boards stick out of the stain by up to their length
        n = int(np.ceil(2 * half / gsd)) * ss
        yy, xx = (np.mgrid[0:n, 0:n].astype(np.float32) + 0.5) * px - half
        u = xx * np.cos(ang) + yy * np.sin(ang)
        v = -xx * np.sin(ang) + yy * np.cos(ang)
        r = np.sqrt((u / a) ** 2 + (v / b) ** 2) + 0.25 * fractal((n, n), rng, (0.8 / px, 2.0 / px))
        stain = r < 1.0
        ground = np.asarray(rng.choice([[0.13, 0.11, 0.09], [0.17, 0.15, 0.12], [0.1, 0.11, 0.08]]), np.float32)
        img = np.zeros((n, n, 3), np.float32)
        img[:] = ground * (1 + 0.3 * fractal((n, n), rng, (0.3 / px, 1.0 / px)))[..., None]
        # stain coverage fades at the rim: a churned patch, not a cut-out
        cov = stain & (rng.random((n, n)) < np.clip(1.6 - r, 0, 1))
        lit = np.zeros((n, n), bool)
        names = list(STROKES)
        weights = np.array([STROKES[k][0] for k in names])
        density = rng.uniform(0.6, 2.0)  # strokes per m² of stain
        n_strokes = int(np.clip(np.pi * a * b * density, 6, 600))
        ys, xs = np.nonzero(stain)
        for _ in range(n_strokes):
            k = rng.integers(len(xs))
            fam = names[rng.choice(len(names), p=weights / weights.sum())]
            col = np.asarray(STROKES[fam][1], np.float32) * np.float32(rng.uniform(0.75, 1.2))
            length = rng.uniform(0.8, 4.0) / px
            theta = rng.uniform(0, np.pi)
            width = max(1, round(rng.uniform(0.12, 0.4) / px))
            x0, y0 = xs[k], ys[k]
            x1 = int(np.clip(x0 + np.cos(theta) * length, 0, n - 1))
            y1 = int(np.clip(y0 + np.sin(theta) * length, 0, n - 1))
            for w in range(width):  # a board: parallel anti-aliased lines
                ox, oy = round(-np.sin(theta) * w), round(np.cos(theta) * w)
                rr, cc, val = line_aa(int(np.clip(y0 + oy, 0, n - 1)), int(np.clip(x0 + ox, 0, n - 1)),
                                      int(np.clip(y1 + oy, 0, n - 1)), int(np.clip(x1 + ox, 0, n - 1)))
                keep = val > 0.3
                img[rr[keep], cc[keep]] = col
                cov[rr[keep], cc[keep]] = True
                lit[rr[keep], cc[keep]] = True
        # bright fragments flung around the patch
        flung = (r < 1.35) & (rng.random((n, n)) < rng.uniform(0.002, 0.01))
        flung = ndimage.binary_dilation(flung, iterations=1)
        img[flung] = palette.household(rng, "white")
        cov |= flung
        # boards cast thin shadows on the stain and ground
        dx, dy = light.shadow_vector
        off = 0.15 * light.shadow_length_per_m / px
        shadow = shift(lit, round(dx * off), round(dy * off)) & ~lit
        img[shadow & cov] *= 0.6
        return finish(img, cov, shadow & ~cov, ss, self.name)
