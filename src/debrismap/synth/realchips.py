"""Composite piles from any renderer onto a measured real scene, and cut training chips.

`composite` draws sprites (synth.renderers) into a scene's pixels the way the scene's camera
would have seen them: through its tone curve, lit like the ground around them (darker in a
building's shadow), blurred by its optics, with its noise, colour muted as pan-sharpening
does, sometimes hazed to low contrast, sometimes without a shadow (overcast or high sun),
and partly hidden where a tree crown covers them. Piles go to the scene's placement sites
(next to buildings and roads), hard negatives to any valid ground. Boxes are the visible
body (coverage >= BODY_ALPHA after occlusion); a pile less than 30 % visible gets no box.

`write_chips` cuts CHIP-pixel chips around placed piles plus real chips with no piles in a
YOLO layout (`debrismap train` reads it); `composite_scene` returns a whole scene with boxes
(the leave-one-renderer-out benchmark writes it as a GeoTIFF).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from debrismap.synth.realscene import RealScene
from debrismap.synth.renderers import RENDERERS, Light, Sprite
from debrismap.synth.renderers.negatives import NEGATIVES, render_negative

MIN_VISIBLE = 0.3  # share of a pile's body that must show for it to be labelled
MIN_BODY_PX = 6
# A label teaches the model to fire there. A pile drawn so faint (haze, deep shadow, colours
# like the ground) that it changes its pixels by less than a couple of noise levels would teach
# it to fire on any faint clutter by a building, the false alarms real untouched streets raise.
DEFAULT_MIN_CONTRAST = 2.5  # RMS change over the pile's body, in units of the scene's noise
SITE_CENTRED_EMPTY = 0.7  # share of empty / negative-only chips centred on a placement site
# Share of empty / negative-only chips centred on a spot where a previous model raised a false
# alarm, when the dataset was mined (synth.hard_negatives); the rest follow SITE_CENTRED_EMPTY.
MINED_CENTRED_EMPTY = 0.5


@dataclass
class Placed:
    """What `composite` drew: pile boxes (x0, y0, x1, y1, scene pixels) and their renderers."""

    boxes: list = field(default_factory=list)
    kinds: list = field(default_factory=list)
    negatives: list = field(default_factory=list)
    too_faint: int = 0  # piles not drawn because they would not have shown (min_contrast)


def pile_size_m(rng: np.random.Generator) -> float:
    """2-15 m, log-uniform: small piles are the common ones."""
    return float(2.0 * 7.5 ** rng.random())


def composite(scene: RealScene, image: np.ndarray, window: tuple[int, int], piles: list[tuple],
              negatives: list[tuple], rng: np.random.Generator, occupied: np.ndarray | None = None,
              min_contrast: float = 0.0) -> Placed:
    """Draw into `image` (float32 DN, a crop of the scene starting at window=(x0, y0)).

    piles: (renderer name, seed, x, y, size_m, along) in scene pixels; negatives: (name, seed, x, y).
    min_contrast > 0: a pile whose noise-free RMS change over its body is under min_contrast
    noise levels is not drawn at all (and gets no box): see DEFAULT_MIN_CONTRAST.
    """
    x0, y0 = window
    h, w = image.shape[:2]
    occ = np.zeros((h, w), bool) if occupied is None else occupied
    out = Placed()
    elevation = rng.uniform(30, 70)
    light = Light(scene.sun_azimuth, elevation)
    for name, seed, x, y in negatives:
        sprite = render_negative(name, seed, scene.gsd, light)
        _draw(scene, image, sprite, x - x0, y - y0, rng, occ, occlude=False, label=False)
        out.negatives.append(name)
    for name, seed, x, y, size_m, along in piles:
        sprite = RENDERERS[name].render(seed, scene.gsd, light, size_m, along)
        box = _draw(scene, image, sprite, x - x0, y - y0, rng, occ, occlude=True, label=True,
                    min_contrast=min_contrast)
        if box == "faint":
            out.too_faint += 1
        elif box is not None:
            out.boxes.append((box[0] + x0, box[1] + y0, box[2] + x0, box[3] + y0))
            out.kinds.append(name)
    return out


def _draw(scene, image, sprite: Sprite, cx, cy, rng, occ, occlude: bool, label: bool, min_contrast: float = 0.0):
    """Blend one sprite centred at (cx, cy) of `image`; returns its visible box, None, or "faint"
    (under min_contrast: nothing drawn)."""
    sh, sw = sprite.alpha.shape
    ox, oy = round(cx - sprite.centre[0]), round(cy - sprite.centre[1])
    h, w = image.shape[:2]
    ix0, iy0, ix1, iy1 = max(ox, 0), max(oy, 0), min(ox + sw, w), min(oy + sh, h)
    if ix1 - ix0 < 2 or iy1 - iy0 < 2:
        return None
    ss = (slice(iy0 - oy, iy1 - oy), slice(ix0 - ox, ix1 - ox))
    si = (slice(iy0, iy1), slice(ix0, ix1))
    body_full = sprite.footprint
    if label and (occ[si] & body_full[ss]).any():
        return None  # piles do not overlap each other
    sigma = max(0.2, scene.blur_sigma * rng.uniform(0.8, 1.2))
    alpha = ndimage.gaussian_filter(sprite.alpha, sigma)
    pre = np.stack([ndimage.gaussian_filter(sprite.rgb[..., b] * sprite.alpha, sigma) for b in range(3)], -1)
    shadow = ndimage.gaussian_filter(sprite.shadow, sigma)
    if rng.random() < 0.2:  # overcast or sun overhead: no cast shadow
        shadow[:] = 0
    a, pre, shadow, body = alpha[ss], pre[ss], shadow[ss], body_full[ss]
    region = image[si]
    if occlude:  # a tree crown over part of the pile: the crown stays, the pile under it does not show
        veg = scene_veg(scene, image, si)
        hide = np.clip(veg * 1.5, 0, 1) if rng.random() < 0.7 else 0.0
        a = a * (1 - hide)
        body = body & (np.asarray(hide) < 0.5) if np.ndim(hide) else body
        shadow = shadow * (1 - hide)
    visible = int(body.sum())
    if label and (visible < MIN_BODY_PX or visible < MIN_VISIBLE * max(int(body_full.sum()), 1)):
        return None
    tone = scene.tone
    before = region.copy() if min_contrast > 0 else None
    # ground shadow, in the image's own tone curve
    shd = (shadow * (1 - a))[..., None]
    region[:] = region * (1 - shd) + tone.to_dn(tone.to_refl(region) * scene.shadow_b) * shd
    with np.errstate(invalid="ignore", divide="ignore"):
        col = np.where(a[..., None] > 1e-3, pre / np.maximum(alpha[ss], 1e-3)[..., None], 0)
    # light: the pile is lit like the ground around it (darker in a building's shadow)
    around = region.reshape(-1, 3)
    local = tone.to_refl(np.median(around, axis=0)) / scene.median_refl
    col = col * np.clip(local, 0.25, 2.0) ** rng.uniform(0.4, 0.9)
    tone_pick = rng.random()
    if tone_pick < 0.15:  # wet, burnt or dark goods: dark on bright sand or concrete
        col = col * rng.uniform(0.35, 0.7)
    elif tone_pick < 0.3:  # fresh breaks, white goods, dust: bright on dark asphalt
        col = col * rng.uniform(1.2, 1.6)
    lum = col.mean(axis=-1, keepdims=True)
    col = lum + (col - lum) * rng.uniform(0.45, 1.0)  # pan-sharpened colour is washed out
    if rng.random() < 0.2:  # haze / low contrast: the pile fades towards its surroundings
        col = col + (tone.to_refl(np.median(around, axis=0)) - col) * rng.uniform(0.2, 0.6)
    clean = tone.to_dn(np.clip(col, 1e-4, None))
    dn = clean + rng.normal(0, scene.noise_dn, col.shape)
    if before is not None:
        drawn = region * (1 - a[..., None]) + clean * a[..., None]
        change = np.sqrt(np.mean((drawn - before)[body] ** 2))
        if change < min_contrast * max(scene.noise_dn, 1.0):
            region[:] = before
            return "faint"
    region[:] = region * (1 - a[..., None]) + dn * a[..., None]
    if not label:
        return None
    occ[si] |= ndimage.binary_dilation(body, iterations=2)
    ys, xs = np.nonzero(body)
    return int(xs.min()) + ix0, int(ys.min()) + iy0, int(xs.max()) + 1 + ix0, int(ys.max()) + 1 + iy0


def scene_veg(scene: RealScene, image: np.ndarray, si) -> np.ndarray:
    """Vegetation under the sprite; `image` is the scene itself or a crop cut with _crop_veg."""
    veg = getattr(image, "_veg", None)
    return (veg if veg is not None else scene.vegetation)[si]


class _Crop(np.ndarray):
    """A float32 image crop that carries its own vegetation crop (for occlusion)."""


def crop(scene: RealScene, x0: int, y0: int, size: int) -> np.ndarray:
    img = scene.rgb[y0:y0 + size, x0:x0 + size].copy().view(_Crop)
    img._veg = scene.vegetation[y0:y0 + size, x0:x0 + size]
    return img


def plan_piles(scene: RealScene, rng, renderers: list[str], n: int, window=None, seed_base: int = 0) -> list[tuple]:
    """n piles at the scene's sites (inside window=(x0, y0, x1, y1) when given), random renderers."""
    sites = scene.sites
    if window is not None:
        x0, y0, x1, y1 = window
        m = (sites[:, 0] >= x0 + 4) & (sites[:, 0] < x1 - 4) & (sites[:, 1] >= y0 + 4) & (sites[:, 1] < y1 - 4)
        sites = sites[m]
    if len(sites) == 0:
        return []
    out = []
    for k in rng.choice(len(sites), size=min(n, len(sites)), replace=False):
        x, y, along = sites[k]
        name = renderers[rng.integers(len(renderers))]
        stretched = rng.random() < 0.5  # along the wall or fence, or any way
        out.append((name, int(seed_base + rng.integers(2**31)), float(x), float(y), pile_size_m(rng),
                    float(along) if stretched else None))
    return out


def plan_negatives(scene: RealScene, rng, n: int, window) -> list[tuple]:
    x0, y0, x1, y1 = window
    names = list(NEGATIVES)
    out = []
    for _ in range(n):
        x, y = rng.uniform(x0 + 4, x1 - 4), rng.uniform(y0 + 4, y1 - 4)
        if scene.valid[int(y), int(x)]:
            out.append((names[rng.integers(len(names))], int(rng.integers(2**31)), x, y))
    return out


def write_chips(scene: RealScene, out_dir: Path, split: str, renderers: list[str], n_chips: int,
                size: int, seed: int, empty_share: float = 0.3, negative_share: float = 0.15,
                negatives: bool = True, min_contrast: float = DEFAULT_MIN_CONTRAST,
                mined: np.ndarray | None = None) -> dict:
    """Chips of `scene` into out_dir/{images,labels}/split. Returns counts by chip type and renderer.

    mined: (N, 2+) x, y of false alarms a model raised on this (pile-free) scene; a share
    MINED_CENTRED_EMPTY of the chips without piles is centred on them (hard-negative mining).
    """
    from PIL import Image

    rng = np.random.default_rng(np.random.SeedSequence([seed, 505]))
    H, W = scene.shape
    if size > H or size > W:
        return {"chips": 0}
    img_dir, lab_dir = out_dir / "images" / split, out_dir / "labels" / split
    img_dir.mkdir(parents=True, exist_ok=True)
    lab_dir.mkdir(parents=True, exist_ok=True)
    counts = {"chips": 0, "pile_chips": 0, "empty_real_chips": 0, "negative_only_chips": 0, "boxes": 0,
              "by_renderer": {r: 0 for r in renderers}, "negatives": 0, "too_faint": 0, "mined_chips": 0}
    has_mined = mined is not None and len(mined) > 0
    for i in range(n_chips):
        u = rng.random()
        kind = "empty" if u < empty_share else ("negative" if u < empty_share + negative_share else "piles")
        # Empty and negative-only chips are centred on placement sites too, mostly: an untouched
        # yard or pavement by a building must look as familiar to the model as one with a pile,
        # or it learns "clutter by a building = pile" (real false alarms, BENCHMARKS.md issue 14).
        on_mined = kind != "piles" and has_mined and rng.random() < MINED_CENTRED_EMPTY
        by_site = kind == "piles" or rng.random() < SITE_CENTRED_EMPTY
        if on_mined:
            x0, y0 = _chip_around(mined[rng.integers(len(mined))], size, W, H, rng)
        elif by_site and len(scene.sites):
            x0, y0 = _chip_around(scene.sites[rng.integers(len(scene.sites))], size, W, H, rng)
        else:
            x0, y0 = int(rng.integers(0, W - size + 1)), int(rng.integers(0, H - size + 1))
        if scene.valid[y0:y0 + size, x0:x0 + size].mean() < 0.7:
            continue
        image = crop(scene, x0, y0, size)
        window = (x0, y0, x0 + size, y0 + size)
        piles = plan_piles(scene, rng, renderers, int(rng.integers(1, 5)), window) if kind == "piles" else []
        negs = plan_negatives(scene, rng, int(rng.integers(1, 4)), window) if (
            negatives and (kind == "negative" or (kind == "piles" and rng.random() < 0.5))) else []
        placed = composite(scene, image, (x0, y0), piles, negs, rng, min_contrast=min_contrast)
        stem = f"{scene.name[:48]}_{seed}_{i:05d}"
        Image.fromarray(np.clip(np.round(np.asarray(image)), 0, 255).astype(np.uint8)).save(img_dir / f"{stem}.png")
        lines = [f"0 {((b[0] + b[2]) / 2 - x0) / size:.6f} {((b[1] + b[3]) / 2 - y0) / size:.6f} "
                 f"{(b[2] - b[0]) / size:.6f} {(b[3] - b[1]) / size:.6f}" for b in placed.boxes]
        (lab_dir / f"{stem}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
        counts["chips"] += 1
        counts["boxes"] += len(placed.boxes)
        counts["negatives"] += len(placed.negatives)
        counts["too_faint"] += placed.too_faint
        for k in placed.kinds:
            counts["by_renderer"][k] += 1
        key = {"empty": "empty_real_chips", "negative": "negative_only_chips", "piles": "pile_chips"}[kind]
        counts[key] += 1
        counts["mined_chips"] += int(on_mined)
    return counts


def _chip_around(point, size: int, W: int, H: int, rng) -> tuple[int, int]:
    """Top-left of a chip holding point (x, y, ...) anywhere but its outer fifth."""
    x0 = int(np.clip(point[0] - rng.uniform(0.2, 0.8) * size, 0, W - size))
    y0 = int(np.clip(point[1] - rng.uniform(0.2, 0.8) * size, 0, H - size))
    return x0, y0


def composite_scene(scene: RealScene, renderers: list[str], n_piles: int, seed: int,
                    negatives: int = 0) -> tuple[np.ndarray, Placed]:
    """The whole scene with n_piles piles (and hard negatives) drawn in: (uint8 image, what was placed)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 606]))
    H, W = scene.shape
    image = crop(scene, 0, 0, max(H, W))
    piles = plan_piles(scene, rng, renderers, n_piles, seed_base=seed)
    negs = plan_negatives(scene, rng, negatives, (0, 0, W, H))
    placed = composite(scene, image, (0, 0), piles, negs, rng)
    return np.clip(np.round(np.asarray(image)), 0, 255).astype(np.uint8), placed
