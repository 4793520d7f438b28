"""Renderer "rubble": a debris mound built as a procedural height field, then hill-shaded.

The mound is an irregular envelope (lumpy radius, optional elongation) raised by fractal
noise; broken slabs are planar facets tilted at random over Voronoi cells; dark voids are
pockets between them. The surface is lit by the sun direction (Lambert plus sky light), the
height field shadows itself and the ground, and the colour mixes concrete, plaster, brick
and dust at two scales, with a few stray coloured bits. Nothing is drawn as vector items.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from debrismap.synth.renderers import palette
from debrismap.synth.renderers.base import Light, Sprite, cast_shadow, finish, fractal


class RubbleRenderer:
    name = "rubble"

    def render(self, seed: int, gsd: float, light: Light, size_m: float,
               along: float | None = None) -> Sprite:
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 303]))
        ss = 2
        px = gsd / ss
        ecc = rng.uniform(1.0, 1.8) if along is None else rng.uniform(1.6, 3.0)
        ang = along if along is not None else rng.uniform(0, np.pi)
        a = size_m / 2  # semi-axes, metres
        b = a / ecc
        peak = float(np.clip(0.18 * size_m * rng.uniform(0.5, 1.3), 0.3, 3.5))
        margin = peak * light.shadow_length_per_m + 1.0
        half = a + margin
        n = int(np.ceil(2 * half / gsd)) * ss
        yy, xx = (np.mgrid[0:n, 0:n].astype(np.float32) + 0.5) * px - half
        u = xx * np.cos(ang) + yy * np.sin(ang)
        v = -xx * np.sin(ang) + yy * np.cos(ang)
        theta = np.arctan2(v / b, u / a)
        # lumpy outline: the radius wanders with angle (a few harmonics)
        lump = np.ones_like(theta)
        for k in range(2, 7):
            lump += rng.normal(0, 0.12 / k ** 0.5) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
        r = np.sqrt((u / a) ** 2 + (v / b) ** 2) / np.clip(lump, 0.6, 1.4)
        rough = fractal((n, n), rng, (0.4 / px, 1.2 / px, 3.0 / px))
        envelope = np.clip(1 - r ** 2, 0, None) ** rng.uniform(0.5, 1.0)
        h = peak * envelope * (1 + 0.25 * rough)
        # slabs: planar facets over Voronoi cells, tilted at random
        n_cells = int(np.clip(size_m * size_m / rng.uniform(1.5, 5.0), 4, 400))
        sites = np.column_stack([rng.uniform(-a, a, n_cells), rng.uniform(-a, a, n_cells)])
        cell = _voronoi_labels(xx, yy, sites)
        tilt = rng.normal(0, 0.35, (n_cells, 2)).astype(np.float32)
        lift = rng.uniform(-0.15, 0.25, n_cells).astype(np.float32) * peak
        slab = (tilt[cell, 0] * (xx - sites[cell, 0]) + tilt[cell, 1] * (yy - sites[cell, 1])) + lift[cell]
        is_slab = rng.random(n_cells)[cell] < rng.uniform(0.3, 0.8)
        h = np.where(is_slab & (envelope > 0.05), h + np.clip(slab, -0.3 * peak, 0.4 * peak), h)
        edge_noise = fractal((n, n), rng, (0.3 / px, 0.8 / px))
        body = (envelope > 0.02) & (r + 0.12 * edge_noise < 1.0)
        body = ndimage.binary_opening(body, iterations=1)
        h = np.where(body, np.clip(h, 0.02, None), 0.0).astype(np.float32)
        # voids: dark pockets where the noise dips (gaps between slabs, openings)
        voids = body & (fractal((n, n), rng, (0.25 / px, 0.6 / px)) < -rng.uniform(1.0, 1.8))

        # colour: material by noise at two scales
        mix = palette.rubble_mix(rng)
        names = list(mix)
        weights = np.array([mix[k] for k in names])
        weights = weights / weights.sum()
        mat_noise = fractal((n, n), rng, (0.6 / px, 2.0 / px))
        thresholds = np.quantile(mat_noise, np.cumsum(weights)[:-1])
        mat = np.digitize(mat_noise, thresholds)
        tint = np.exp(rng.normal(0, 0.06, 3)).astype(np.float32)
        colours = np.stack([palette.RUBBLE[k] for k in names]).astype(np.float32) * tint
        img = colours[mat] * (1 + 0.12 * fractal((n, n), rng, (0.15 / px,)))[..., None]
        img *= np.float32(0.75 * np.exp(rng.normal(0.0, 0.18)))  # per-heap tone: fresh and pale, or wet and dark
        bits = body & (rng.random((n, n)) < rng.choice([0.0, 0.004, 0.015]))
        if bits.any():  # belongings caught in the rubble
            img[bits] = np.stack([palette.household(rng, "saturated") for _ in range(int(bits.sum()))])
        img[voids] = palette.RUBBLE["void"] * rng.uniform(0.7, 1.5)
        # fragments at the pixel scale: bright broken faces and dark gaps, what makes real rubble speckled
        speck = rng.random((n, n))
        img[body & (speck < 0.04)] *= 1.6
        img[body & (speck > 0.95)] *= 0.35

        # hill shade: Lambert towards the sun plus sky light, and the shadow the heap casts on itself
        gy, gx = np.gradient(ndimage.gaussian_filter(h, 0.7), px)
        normal = np.stack([-gx, -gy, np.ones_like(h)], axis=-1)
        normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
        sun = light.sun_vector.astype(np.float32)
        lambert = np.clip(np.clip(normal @ sun, 0, None) / max(sun[2], 0.2), 0, 1.3)
        shaded = cast_shadow(h, light, px)
        sky = 0.5  # at 0.5 m a heap's slopes are soft: much of its light is from the sky
        light_map = sky + (1 - sky) * np.where(shaded, 0.0, lambert)
        img *= np.clip(light_map, 0.15, 1.6)[..., None]
        return finish(img.astype(np.float32), body, shaded & ~body, ss, self.name)


def _voronoi_labels(xx: np.ndarray, yy: np.ndarray, sites: np.ndarray) -> np.ndarray:
    """Index of the nearest site for every pixel (a KD-tree: hundreds of sites, 10^5 pixels)."""

    _, idx = cKDTree(sites).query(np.column_stack([xx.ravel(), yy.ravel()]))
    return idx.reshape(xx.shape)
