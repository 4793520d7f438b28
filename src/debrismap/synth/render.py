"""Rasterise one pixel window of a city plan to surface reflectance (R, G, B, NIR).

Paint order, bottom to top: ground, low shadows (cars, piles), objects, piles, tall
shadows (buildings, trees: they fall on everything below them), leaning buildings, roof
shadows, rooftop equipment, tree crowns. Every texture is a pure function of absolute
pixel coordinates, so any window renders the same pixels whatever block it belongs to.
Also returns which pile is visible at each pixel, the source of the label boxes.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from rasterio import features
from rasterio.transform import Affine

from debrismap.synth import noise
from debrismap.synth.layers import Layer, ShadowLayer
from debrismap.synth.layout import CityPlan
from debrismap.synth.piles import BODY_ALPHA, PileSprite, render_pile
from debrismap.synth.style import TEXTURES

# Sky light in shadows is bluer than direct sun.
SHADOW_TINT = np.array([0.88, 0.97, 1.18, 0.85], np.float32)


class SpriteCache:
    """Recently drawn piles, so a pile spanning blocks is drawn once (bounded memory)."""

    def __init__(self, max_items: int = 512):
        self.items: OrderedDict[int, PileSprite] = OrderedDict()
        self.max_items = max_items
        self.body: dict[int, int] = {}  # pile id -> pixels of its whole body (coverage >= 50 %)

    def get(self, pile, plan: CityPlan) -> PileSprite:
        sprite = self.items.get(pile.id)
        if sprite is None:
            st = plan.style
            sprite = render_pile(pile, plan.gsd, st.shadow_vector, st.shadow_length_per_m, st.pile_palette_shift)
            self.items[pile.id] = sprite
            self.body[pile.id] = int((sprite.alpha >= BODY_ALPHA).sum())
            if len(self.items) > self.max_items:
                self.items.popitem(last=False)
        else:
            self.items.move_to_end(pile.id)
        return sprite


class Textures:
    """Shared noise fields of one window (absolute coordinates), built once per window."""

    def __init__(self, x0: int, y0: int, h: int, w: int, gsd: float, seed: int):
        self.fine = noise.white(x0, y0, h, w, seed + 1)
        self.med = noise.value(x0, y0, h, w, 1.2 / gsd, seed + 2)
        self.coarse = noise.fbm(x0, y0, h, w, 9.0 / gsd, seed + 3, octaves=2)
        self.broad = noise.value(x0, y0, h, w, 60.0 / gsd, seed + 4)
        ys, xs = np.mgrid[y0 : y0 + h, x0 : x0 + w].astype(np.float32)
        self.xm, self.ym = xs * gsd, ys * gsd  # metres, for stripes

    def apply(self, colours: np.ndarray, kinds: np.ndarray, angles: np.ndarray, domes: np.ndarray,
              idx: np.ndarray, sun: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Colour of the pixels in `mask` from the shape index map `idx`."""
        i = idx[mask]
        t = TEXTURES[kinds[i]]
        mod = 1 + t[:, 0] * self.fine[mask] + t[:, 1] * self.med[mask] + t[:, 2] * self.coarse[mask]
        has_stripe = t[:, 3] > 0
        if has_stripe.any():
            a = angles[i][has_stripe]
            proj = self.xm[mask][has_stripe] * np.cos(a) + self.ym[mask][has_stripe] * np.sin(a)
            mod[has_stripe] += t[has_stripe, 3] * np.sin(2 * np.pi * proj / t[has_stripe, 4])
        d = domes[i]
        rounded = d[:, 3] > 0
        if rounded.any():
            ys, xs = np.nonzero(mask)
            # offset from the object's centre towards the sun, in radii
            dx = (xs[rounded] + 0.5 - d[rounded, 0]) / d[rounded, 2]
            dy = (ys[rounded] + 0.5 - d[rounded, 1]) / d[rounded, 2]
            toward_sun = -(dx * sun[0] + dy * sun[1])
            r2 = dx * dx + dy * dy
            mod[rounded] *= np.clip(1 + d[rounded, 3] * toward_sun - 0.25 * d[rounded, 3] * r2, 0.35, 1.6)
        return colours[i] * mod[:, None].astype(np.float32)


def _index_map(layer: Layer, x0: int, y0: int, h: int, w: int) -> np.ndarray:
    """1-based shape index per pixel (0: nothing), last shape painted wins."""
    hits = layer.query(x0, y0, x0 + w, y0 + h)
    if not len(hits):
        return np.zeros((h, w), np.int32)
    shapes = ((layer.geoms[k], int(k) + 1) for k in hits)
    return features.rasterize(
        shapes, out_shape=(h, w), transform=Affine.translation(x0, y0), fill=0, dtype="int32"
    )


def _mask(layer: ShadowLayer, x0: int, y0: int, h: int, w: int) -> np.ndarray:
    hits = layer.query(x0, y0, x0 + w, y0 + h)
    if not len(hits):
        return np.zeros((h, w), bool)
    shapes = ((layer.geoms[k], 1) for k in hits)
    return features.rasterize(
        shapes, out_shape=(h, w), transform=Affine.translation(x0, y0), fill=0, dtype="uint8"
    ).astype(bool)


def _paint(img, layer: Layer, tex: Textures, x0, y0, h, w, sun) -> np.ndarray:
    idx = _index_map(layer, x0, y0, h, w)
    mask = idx > 0
    if mask.any():
        shifted = idx - 1
        d = layer.domes.copy()
        d[:, 0] -= x0
        d[:, 1] -= y0
        img[mask] = tex.apply(layer.colours, layer.kinds, layer.angles, d, shifted, sun, mask)
    return mask


def render_window(plan: CityPlan, x0: int, y0: int, w: int, h: int, seed: int,
                  cache: SpriteCache | None = None, piles: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Reflectance (h, w, 4) float32 and visible pile id (h, w) int32 (-1: none)."""
    st = plan.style
    sun = st.shadow_vector.astype(np.float32)
    tex = Textures(x0, y0, h, w, plan.gsd, seed)
    img = np.zeros((h, w, 4), np.float32)
    _paint(img, plan.ground, tex, x0, y0, h, w, sun)
    img *= (1 + 0.07 * tex.broad)[..., None]  # slow brightness drift across the scene
    # Litter, stones, manholes: sparse bright or dark specks on all open ground, so that
    # "speckled" alone never means "debris".
    speck = noise.hash2(*np.meshgrid(np.arange(x0, x0 + w), np.arange(y0, y0 + h)), seed + 17)
    spots = speck > 0.995
    if spots.any():
        gain = noise.hash2(*np.meshgrid(np.arange(x0, x0 + w), np.arange(y0, y0 + h)), seed + 18)[spots]
        img[spots] *= np.where(gain > 0.45, 1.2 + 0.8 * gain, 0.35 + gain)[:, None].astype(np.float32)
    shade = np.float32(st.shadow_brightness) * SHADOW_TINT
    low = _mask(plan.flat_shadows, x0, y0, h, w).astype(np.float32)
    pile_id = np.full((h, w), -1, np.int32)
    sprites = []
    if piles and plan.piles:
        cache = cache or SpriteCache()
        for p in plan.piles:
            bx0, by0, bx1, by1 = p.bbox_px
            if bx0 < x0 + w and bx1 > x0 and by0 < y0 + h and by1 > y0:
                sprites.append((p.id, cache.get(p, plan)))
        for _, s in sprites:
            sl_img, sl_spr = _overlap(s, x0, y0, w, h)
            if sl_img is not None:
                low[sl_img] = np.maximum(low[sl_img], s.shadow[sl_spr])
    img *= (1 - low[..., None] * (1 - shade))
    _paint(img, plan.objects, tex, x0, y0, h, w, sun)
    for pid, s in sprites:
        sl_img, sl_spr = _overlap(s, x0, y0, w, h)
        if sl_img is None:
            continue
        a = s.alpha[sl_spr][..., None]
        img[sl_img] = img[sl_img] * (1 - a) + s.rgbn[sl_spr] * a
        body = s.alpha[sl_spr] >= BODY_ALPHA
        pile_id[sl_img][body] = pid
    tall = _mask(plan.tall_shadows, x0, y0, h, w)
    img[tall] *= shade
    covered = _paint(img, plan.buildings, tex, x0, y0, h, w, sun)
    roof_shadow = _mask(plan.roof_shadows, x0, y0, h, w) & covered
    img[roof_shadow] *= shade
    covered |= _paint(img, plan.roof_objects, tex, x0, y0, h, w, sun)
    covered |= _paint(img, plan.canopy, tex, x0, y0, h, w, sun)
    pile_id[covered] = -1
    return img, pile_id


def _overlap(s: PileSprite, x0, y0, w, h):
    """Slices of the window and of the sprite where they overlap (None if they do not)."""
    sh, sw = s.alpha.shape
    ax0, ay0 = max(x0, s.x0), max(y0, s.y0)
    ax1, ay1 = min(x0 + w, s.x0 + sw), min(y0 + h, s.y0 + sh)
    if ax0 >= ax1 or ay0 >= ay1:
        return None, None
    return (
        (slice(ay0 - y0, ay1 - y0), slice(ax0 - x0, ax1 - x0)),
        (slice(ay0 - s.y0, ay1 - s.y0), slice(ax0 - s.x0, ax1 - s.x0)),
    )
