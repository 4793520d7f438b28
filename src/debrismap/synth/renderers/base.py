"""The one interface every pile renderer implements: a sprite at a GSD under a given sun.

A renderer draws one pile (or, for hard negatives, one object) as a small sprite: colour
(reflectance 0-1), coverage (alpha), the shadow it casts on the ground around it, the
footprint that a labeller would box, and that box. Compositors (synth.realchips) only see
this interface, so renderers built in quite different ways can be mixed and held out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy import ndimage

from debrismap.synth.geometry import shift

# A pixel belongs to a pile's labelled body when the pile covers at least this share of it
# (the same rule as synth.piles.BODY_ALPHA: boxes include the ragged, mixed-pixel rim).
BODY_ALPHA = 0.2


@dataclass(frozen=True)
class Light:
    """Sun geometry: azimuth clockwise from image up (towards the sun), elevation above horizon."""

    azimuth_deg: float = 135.0
    elevation_deg: float = 45.0

    @property
    def shadow_vector(self) -> np.ndarray:
        """Unit (dx, dy) in image pixels along which shadows fall (away from the sun)."""
        a = np.deg2rad(self.azimuth_deg)
        return np.array([-np.sin(a), np.cos(a)])

    @property
    def shadow_length_per_m(self) -> float:
        return float(1.0 / np.tan(np.deg2rad(max(self.elevation_deg, 5.0))))

    @property
    def sun_vector(self) -> np.ndarray:
        """Unit 3-vector towards the sun in (x right, y down, z up) image axes."""
        a, e = np.deg2rad(self.azimuth_deg), np.deg2rad(self.elevation_deg)
        return np.array([np.sin(a) * np.cos(e), -np.cos(a) * np.cos(e), np.sin(e)])


@dataclass
class Sprite:
    """A rendered pile or object. All arrays share one (h, w) pixel grid at the asked GSD."""

    rgb: np.ndarray  # (h, w, 3) float32 reflectance where alpha > 0 (not premultiplied)
    alpha: np.ndarray  # (h, w) float32 coverage 0..1
    shadow: np.ndarray  # (h, w) float32 share of the ground shadowed, outside the body
    kind: str  # renderer name (piles) or object name (hard negatives)
    centre: tuple[float, float]  # (x, y) of the object's centre in sprite pixels

    @property
    def footprint(self) -> np.ndarray:
        """Pixels a labeller would count as the object: coverage >= BODY_ALPHA."""
        return self.alpha >= BODY_ALPHA

    @property
    def box(self) -> tuple[int, int, int, int] | None:
        """(x0, y0, x1, y1) pixel-corner box of the footprint in sprite pixels (x1, y1 exclusive)."""
        ys, xs = np.nonzero(self.footprint)
        if len(xs) == 0:
            return None
        return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


class PileRenderer(Protocol):
    """Draws one pile of `size_m` (rough longest side, metres) at `gsd` under `light`.

    `along` (radians, image axes) asks for a pile stretched along a wall or fence; None lets
    the renderer choose. The same (seed, gsd, light, size_m, along) always gives the same sprite.
    """

    name: str

    def render(self, seed: int, gsd: float, light: Light, size_m: float,
               along: float | None = None) -> Sprite: ...


def downsample(a: np.ndarray, ss: int) -> np.ndarray:
    """Average ss x ss super-samples into one pixel (leading two axes)."""
    h, w = a.shape[0] // ss, a.shape[1] // ss
    a = a[: h * ss, : w * ss]
    return a.reshape(h, ss, w, ss, *a.shape[2:]).mean(axis=(1, 3))


def finish(img: np.ndarray, cov: np.ndarray, shadow: np.ndarray, ss: int, kind: str) -> Sprite:
    """Super-sampled colour / coverage / shadow -> a pixel sprite with straight colour."""
    alpha = downsample(cov.astype(np.float32), ss)
    pre = downsample(img * cov[..., None], ss)
    with np.errstate(invalid="ignore", divide="ignore"):
        rgb = np.where(alpha[..., None] > 0, pre / np.maximum(alpha, 1e-6)[..., None], 0)
    sh = downsample(shadow.astype(np.float32), ss) * (1 - alpha)
    ys, xs = np.nonzero(alpha >= BODY_ALPHA)
    centre = (float(xs.mean()) + 0.5, float(ys.mean()) + 0.5) if len(xs) else (alpha.shape[1] / 2, alpha.shape[0] / 2)
    return Sprite(np.clip(rgb, 0, 1.5).astype(np.float32), alpha.astype(np.float32),
                  np.clip(sh, 0, 1).astype(np.float32), kind, centre)


def cast_shadow(height: np.ndarray, light: Light, px_m: float) -> np.ndarray:
    """Ground pixels in the shadow of a height field (metres; px_m metres per pixel).

    March from every raised pixel away from the sun, lowering the ray by the sun's slope:
    a pixel is shadowed when some ray arrives above its own height.
    """
    dx, dy = light.shadow_vector
    drop = px_m / light.shadow_length_per_m  # metres the ray falls per pixel travelled
    top = float(height.max())
    if top <= 0:
        return np.zeros(height.shape, bool)
    steps = int(np.ceil(top / drop)) + 1
    reach = np.full(height.shape, -1.0, np.float32)
    for k in range(1, steps + 1):
        level = height - k * drop
        if level.max() <= 0:
            break
        ox, oy = round(dx * k), round(dy * k)
        reach = np.maximum(reach, shift(level, ox, oy, fill=-1.0))
    return reach > height + 1e-3


def fractal(shape: tuple[int, int], rng: np.random.Generator, scales: tuple[float, ...],
            weights: tuple[float, ...] | None = None) -> np.ndarray:
    """Zero-mean, unit-std fractal noise: Gaussian-filtered white noise summed over scales (pixels)."""

    out = np.zeros(shape, np.float32)
    weights = weights or tuple(s ** 0.8 for s in scales)
    for s, wt in zip(scales, weights):
        n = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), max(s, 0.5), mode="wrap")
        out += wt * n / (n.std() + 1e-9)
    return (out - out.mean()) / (out.std() + 1e-9)
