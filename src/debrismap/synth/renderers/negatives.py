"""Hard negatives as sprites at pile scale: things a detector must learn are *not* piles.

Cars and full car-park rows, skips full of rubble in a clean steel rim, wheelie bins and
dumpsters, rooftop-style equipment boxes, market stalls, stacked construction material,
smooth uniform sand or gravel heaps, tarps, sparse garden clutter, shrubs and playgrounds.
Same interface as the pile renderers (base.Sprite), drawn the same way (super-sampled
skimage fills, sun-cast shadows), but composited without a label.
"""

from __future__ import annotations

import colorsys

import numpy as np
from skimage.draw import ellipse as draw_ellipse
from skimage.draw import polygon as draw_polygon

from debrismap.synth.renderers import palette
from debrismap.synth.renderers.base import Light, Sprite, cast_shadow, finish, fractal

SS = 3
CAR_COLOURS = ([0.7, 0.7, 0.7], [0.05, 0.05, 0.06], [0.45, 0.46, 0.48], [0.25, 0.25, 0.27],
               [0.5, 0.08, 0.06], [0.08, 0.15, 0.4], [0.6, 0.58, 0.5], [0.15, 0.3, 0.2])


class _Canvas:
    """A super-sampled drawing surface in metres, centred on the object."""

    def __init__(self, half_w: float, half_h: float, gsd: float, light: Light, max_h: float):
        margin = max_h * light.shadow_length_per_m + 1.0
        self.px = gsd / SS
        self.W = int(np.ceil(2 * (half_w + margin) / gsd)) * SS
        self.H = int(np.ceil(2 * (half_h + margin) / gsd)) * SS
        self.img = np.zeros((self.H, self.W, 3), np.float32)
        self.cov = np.zeros((self.H, self.W), bool)
        self.height = np.zeros((self.H, self.W), np.float32)
        self.light = light

    def rect(self, x, y, length, width, rot, colour, h, tex=0.05, rng=None):
        c, s = np.cos(rot), np.sin(rot)
        pts = np.array([[-length, -width], [length, -width], [length, width], [-length, width]]) / 2
        xs = (x + pts[:, 0] * c - pts[:, 1] * s) / self.px + self.W / 2
        ys = (y + pts[:, 0] * s + pts[:, 1] * c) / self.px + self.H / 2
        rr, cc = draw_polygon(ys, xs, shape=(self.H, self.W))
        return self._fill(rr, cc, colour, h, tex, rng)

    def ellipse(self, x, y, length, width, rot, colour, h, tex=0.05, rng=None):
        rr, cc = draw_ellipse(y / self.px + self.H / 2, x / self.px + self.W / 2, width / 2 / self.px,
                              length / 2 / self.px, shape=(self.H, self.W), rotation=-rot)
        return self._fill(rr, cc, colour, h, tex, rng)

    def _fill(self, rr, cc, colour, h, tex, rng):
        mask = np.zeros((self.H, self.W), bool)
        mask[rr, cc] = True
        n = len(rr)
        noise = (1 + tex * rng.standard_normal(n)) if rng is not None else 1.0
        self.img[rr, cc] = np.asarray(colour, np.float32) * np.asarray(noise, np.float32)[..., None]
        self.cov[rr, cc] = True
        self.height[rr, cc] = np.maximum(self.height[rr, cc], h)
        return mask

    def sprite(self, kind: str, shade_tops: bool = True) -> Sprite:
        shadow = cast_shadow(self.height, self.light, self.px)
        if shade_tops:  # lower parts in the shadow of higher ones
            self.img[shadow & self.cov] *= 0.5
        return finish(self.img, self.cov, shadow & ~self.cov, SS, kind)


def car(rng, gsd, light, size_m=None):
    cv = _Canvas(2.6, 2.6, gsd, light, 1.6)
    _car(cv, rng, 0.0, 0.0, rng.uniform(0, np.pi))
    return cv.sprite("car")


def _car(cv, rng, x, y, rot):
    length, width = rng.uniform(4.0, 4.9), rng.uniform(1.7, 1.95)
    col = np.array(CAR_COLOURS[rng.integers(len(CAR_COLOURS))]) * rng.uniform(0.85, 1.15)
    cv.rect(x, y, length, width, rot, col, rng.uniform(1.4, 1.6), 0.03, rng)
    # windscreen and rear window: dark glass across the car
    for off in (0.18, -0.3):
        gx, gy = x + np.cos(rot) * off * length, y + np.sin(rot) * off * length
        cv.rect(gx, gy, 0.45, width * 0.8, rot, [0.06, 0.07, 0.08], 1.5)


def carpark(rng, gsd, light, size_m=None):
    n = int(rng.integers(3, 10))
    rot = rng.uniform(0, np.pi)
    pitch = rng.uniform(2.4, 2.8)
    cv = _Canvas(n * pitch / 2 + 3, n * pitch / 2 + 3, gsd, light, 1.6)
    c, s = np.cos(rot), np.sin(rot)
    for k in range(n):
        if rng.random() < 0.2:  # an empty bay
            continue
        off = (k - (n - 1) / 2) * pitch
        _car(cv, rng, -s * off, c * off, rot + rng.normal(0, 0.04))
    return cv.sprite("carpark")


def skip(rng, gsd, light, size_m=None):
    """An open skip: a coloured steel rim around rubble, the hardest lookalike of a pile."""
    length, width = rng.uniform(3.2, 5.5), rng.uniform(1.7, 2.3)
    rot = rng.uniform(0, np.pi)
    cv = _Canvas(length / 2 + 1, length / 2 + 1, gsd, light, 1.5)
    rim = np.asarray(rng.choice([[0.6, 0.45, 0.05], [0.55, 0.2, 0.05], [0.1, 0.3, 0.15], [0.1, 0.15, 0.4],
                                 [0.3, 0.3, 0.3]]), np.float32) * rng.uniform(0.8, 1.2)
    cv.rect(0, 0, length, width, rot, rim, 1.4, 0.03, rng)
    inner = cv.rect(0, 0, length - 0.3, width - 0.3, rot, [0, 0, 0], 1.2)
    fill = fractal((cv.H, cv.W), rng, (0.2 / cv.px, 0.6 / cv.px))
    base = palette.RUBBLE["concrete"] if rng.random() < 0.6 else palette.household(rng)
    cv.img[inner] = (base * (1 + 0.25 * fill[inner])[:, None]).astype(np.float32)
    return cv.sprite("skip", shade_tops=False)


def dumpster(rng, gsd, light, size_m=None):
    cv = _Canvas(1.5, 1.5, gsd, light, 1.3)
    col = np.asarray(rng.choice([[0.1, 0.25, 0.12], [0.3, 0.3, 0.32], [0.1, 0.15, 0.35], [0.05, 0.05, 0.05]]))
    n = int(rng.integers(1, 4))
    rot = rng.uniform(0, np.pi)
    for k in range(n):
        off = (k - (n - 1) / 2) * 1.4
        cv.rect(-np.sin(rot) * off, np.cos(rot) * off, rng.uniform(1.0, 2.0), 1.1, rot, col * rng.uniform(0.8, 1.2), 1.2, 0.03, rng)
    return cv.sprite("dumpster")


def equipment(rng, gsd, light, size_m=None):
    """Air-conditioning units, tanks and boxes as on roofs and in yards."""
    cv = _Canvas(3, 3, gsd, light, 1.5)
    for _ in range(int(rng.integers(2, 7))):
        x, y = rng.uniform(-2.2, 2.2, 2)
        grey = np.full(3, rng.uniform(0.45, 0.8))
        if rng.random() < 0.3:
            cv.ellipse(x, y, 1.1, 1.1, 0, grey, rng.uniform(1.0, 1.6), 0.03, rng)
        else:
            cv.rect(x, y, rng.uniform(0.6, 1.4), rng.uniform(0.5, 0.9), rng.uniform(0, np.pi), grey,
                    rng.uniform(0.4, 1.0), 0.03, rng)
    return cv.sprite("equipment")


def market_stalls(rng, gsd, light, size_m=None):
    n = int(rng.integers(2, 7))
    w = rng.uniform(2.0, 3.0)
    rot = rng.uniform(0, np.pi)
    cv = _Canvas(n * w / 2 + 1, n * w / 2 + 1, gsd, light, 2.5)
    for k in range(n):
        off = (k - (n - 1) / 2) * w
        hue = rng.random()
        col = colorsys.hsv_to_rgb(hue, rng.uniform(0.0, 0.8), rng.uniform(0.4, 0.85))
        x, y = np.cos(rot) * off, np.sin(rot) * off
        mask = cv.rect(x, y, w * 0.95, w, rot, col, 2.4, 0.02, rng)
        if rng.random() < 0.4:  # striped awning
            yy, xx = np.nonzero(mask)
            stripe = ((xx * np.cos(rot) + yy * np.sin(rot)) * cv.px / 0.5).astype(int) % 2 == 0
            cv.img[yy[stripe], xx[stripe]] = [0.8, 0.8, 0.78]
    return cv.sprite("market_stalls")


def material_stack(rng, gsd, light, size_m=None):
    """Pallets of bricks or blocks, or timber, in a regular grid."""
    nx, ny = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    rot = rng.uniform(0, np.pi)
    cv = _Canvas(nx * 1.4 / 2 + 1.5, nx * 1.4 / 2 + 1.5, gsd, light, 1.3)
    base = np.asarray(rng.choice([[0.45, 0.25, 0.17], [0.5, 0.5, 0.48], [0.4, 0.3, 0.2], [0.6, 0.58, 0.52]]))
    for i in range(nx):
        for j in range(ny):
            u, v = (i - (nx - 1) / 2) * 1.4, (j - (ny - 1) / 2) * 1.4
            x, y = u * np.cos(rot) - v * np.sin(rot), u * np.sin(rot) + v * np.cos(rot)
            cv.rect(x, y, 1.2, 1.0, rot, base * rng.uniform(0.85, 1.15), rng.uniform(0.6, 1.2), 0.08, rng)
    return cv.sprite("material_stack")


def sand_heap(rng, gsd, light, size_m=None):
    """A smooth, uniform heap of sand or gravel: a mound without the mixed stuff of a pile."""
    r = (size_m or rng.uniform(2, 7)) / 2
    peak = r * rng.uniform(0.3, 0.6)
    cv = _Canvas(r + 0.5, r + 0.5, gsd, light, peak)
    yy, xx = (np.mgrid[0:cv.H, 0:cv.W] + 0.5) * cv.px
    d = np.hypot(xx - cv.W * cv.px / 2, (yy - cv.H * cv.px / 2) * rng.uniform(0.7, 1.3)) / r
    h = (peak * np.clip(1 - d, 0, None)).astype(np.float32)
    cv.cov = h > 0.02
    cv.height = h
    col = np.asarray(rng.choice([[0.55, 0.48, 0.36], [0.45, 0.44, 0.42], [0.35, 0.3, 0.25], [0.6, 0.6, 0.58]]))
    gy, gx = np.gradient(h, cv.px)
    normal = np.stack([-gx, -gy, np.ones_like(h)], -1)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    lam = np.clip(normal @ light.sun_vector.astype(np.float32), 0, None) / max(light.sun_vector[2], 0.2)
    cv.img = (col * (0.35 + 0.65 * lam)[..., None] * (1 + 0.03 * rng.standard_normal(h.shape))[..., None]).astype(np.float32)
    return cv.sprite("sand_heap", shade_tops=False)


def tarp(rng, gsd, light, size_m=None):
    length, width = rng.uniform(2, 8), rng.uniform(1.5, 5)
    rot = rng.uniform(0, np.pi)
    cv = _Canvas(length / 2 + 0.5, length / 2 + 0.5, gsd, light, 0.3)
    col = np.asarray(rng.choice([[0.08, 0.2, 0.5], [0.5, 0.5, 0.5], [0.55, 0.25, 0.05], [0.1, 0.3, 0.15], [0.7, 0.7, 0.7]]))
    mask = cv.rect(0, 0, length, width, rot, col, rng.uniform(0.05, 0.3))
    folds = 1 + 0.12 * np.sin(fractal((cv.H, cv.W), rng, (0.8 / cv.px,)) * 3)
    cv.img[mask] *= folds[mask][:, None]
    return cv.sprite("tarp")


def garden_clutter(rng, gsd, light, size_m=None):
    """A few tidy things in a yard: chairs, a table, a bin, toys, far apart."""
    cv = _Canvas(3.5, 3.5, gsd, light, 1.0)
    for _ in range(int(rng.integers(2, 5))):
        x, y = rng.uniform(-3, 3, 2)
        cv.rect(x, y, rng.uniform(0.4, 1.4), rng.uniform(0.4, 0.9), rng.uniform(0, np.pi), palette.household(rng),
                rng.uniform(0.3, 0.9), 0.04, rng)
    return cv.sprite("garden_clutter")


def shrub(rng, gsd, light, size_m=None):
    r = rng.uniform(0.8, 3.0)
    cv = _Canvas(r + 0.5, r + 0.5, gsd, light, r * 1.2)
    yy, xx = (np.mgrid[0:cv.H, 0:cv.W] + 0.5) * cv.px
    d = np.hypot(xx - cv.W * cv.px / 2, yy - cv.H * cv.px / 2) / r
    leaves = fractal((cv.H, cv.W), rng, (0.15 / cv.px, 0.4 / cv.px))
    h = (r * 1.1 * np.sqrt(np.clip(1 - d ** 2, 0, None)) * (1 + 0.15 * leaves)).astype(np.float32)
    cv.cov = (d + 0.1 * leaves) < 1
    cv.height = np.where(cv.cov, h, 0)
    green = np.array([0.09, 0.16, 0.06]) * rng.uniform(0.7, 1.4)
    cv.img = (green * (1 + 0.35 * leaves)[..., None]).astype(np.float32)
    return cv.sprite("shrub")


def playground(rng, gsd, light, size_m=None):
    cv = _Canvas(5, 5, gsd, light, 2.5)
    ground = np.asarray(rng.choice([[0.55, 0.48, 0.36], [0.45, 0.12, 0.1], [0.1, 0.35, 0.2]]))
    cv.rect(0, 0, rng.uniform(6, 9), rng.uniform(5, 8), rng.uniform(0, np.pi), ground, 0.02, 0.03, rng)
    for _ in range(int(rng.integers(2, 6))):
        x, y = rng.uniform(-3, 3, 2)
        col = colorsys.hsv_to_rgb(rng.choice([0.0, 0.15, 0.6, 0.33]), 0.8, 0.6)
        cv.rect(x, y, rng.uniform(0.3, 2.5), rng.uniform(0.3, 1.2), rng.uniform(0, np.pi), col, rng.uniform(0.5, 2.5))
    return cv.sprite("playground")


NEGATIVES = {f.__name__: f for f in (car, carpark, skip, dumpster, equipment, market_stalls, material_stack,
                                     sand_heap, tarp, garden_clutter, shrub, playground)}


def render_negative(name: str, seed: int, gsd: float, light: Light) -> Sprite:
    """One hard negative by name (a key of NEGATIVES), deterministic in `seed`."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 404]))
    return NEGATIVES[name](rng, gsd, light)

