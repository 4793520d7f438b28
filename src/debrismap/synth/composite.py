"""composite_piles: draw synthetic debris piles onto a real raster, with labels.

Piles are sized in metres from the raster's own GSD, placed on plausible ground (valid,
textured, neither blown out nor black: not nodata, water or deep shadow), lit to match
their surroundings and the image's tone curve, cast shadows in the direction the image's
own shadows fall (estimated, or given), and get the image's blur and noise. The output
keeps the input's grid, CRS and data type; it is written strip by strip.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import rasterio
from pyproj import Geod
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.io import MemoryFile
from rasterio.transform import Affine
from rasterio.warp import transform as warp_transform
from rasterio.windows import Window
from scipy import ndimage

from debrismap.atomic import atomic_target
from debrismap.errors import ConfigError, RasterError
from debrismap.progress import progress_bar
from debrismap.synth import noise
from debrismap.synth.city import SynthResult
from debrismap.synth.labels import (
    BoxAccumulator,
    label_paths,
    write_labels_geojson,
    write_labels_txt,
)
from debrismap.synth.piles import BODY_ALPHA, make_pile
from debrismap.synth.render import SpriteCache, _overlap
from debrismap.synth.style import CityStyle

MIN_GSD, MAX_GSD = 0.2, 1.2
DEFAULT_GSD = 0.5
REFERENCE_REFLECTANCE = (0.16, 0.45)  # assumed reflectance of the image's median and 98th percentile
STRIP = 512


def raster_gsd(ds, given: float | None, path) -> float:
    """Metres per pixel on the ground: `given`, else measured geodesically at the raster's
    centre (right for degrees, UTM, and Web/World Mercator whose map metres are not ground
    metres), else 0.5 m with a warning for rasters without georeferencing."""

    if given is not None:
        return float(given)
    if ds.crs is None or ds.transform == Affine.identity():
        warnings.warn(f"{path}: not georeferenced; assuming {DEFAULT_GSD} m per pixel (set --background-gsd)",
                      stacklevel=2)
        return DEFAULT_GSD
    t = ds.transform
    cx, cy = ds.width / 2, ds.height / 2
    xs, ys = zip(*[t @ p for p in ((cx, cy), (cx + 1, cy), (cx, cy + 1))])
    try:
        lon, lat = warp_transform(ds.crs, "EPSG:4326", list(xs), list(ys))
    except Exception as exc:
        raise RasterError(f"cannot convert its CRS to degrees ({str(exc).splitlines()[0]})", path=path) from exc
    geod = Geod(ellps="WGS84")
    _, _, dx = geod.inv(lon[0], lat[0], lon[1], lat[1])
    _, _, dy = geod.inv(lon[0], lat[0], lon[2], lat[2])
    return float((abs(dx) + abs(dy)) / 2)


def estimate_sun_azimuth(lum: np.ndarray) -> float:
    """Direction towards the sun (deg, clockwise from image up), from where shadows sit.

    A shadow pixel has the object that casts it on its sun side: look a few pixels away
    from dark pixels in each direction, and pick the direction where bright things are.
    """

    lum = ndimage.uniform_filter(lum.astype(np.float32), 2)
    # thin dark lines (walls, road edges) are not shadows: open them away
    dark = ndimage.binary_opening(lum < np.percentile(lum, 15))
    bright = (lum > np.percentile(lum, 70)).astype(np.float32)
    best, best_score = 0.0, -np.inf
    ys, xs = np.nonzero(dark)
    if len(ys) > 200000:
        pick = np.random.default_rng(0).choice(len(ys), 200000, replace=False)
        ys, xs = ys[pick], xs[pick]
    h, w = lum.shape
    for az in np.arange(0, 360, 15.0):
        dx, dy = np.sin(np.deg2rad(az)), -np.cos(np.deg2rad(az))
        score = 0.0
        for d in (3, 5, 8):
            fx = np.clip((xs + dx * d).round().astype(int), 0, w - 1)
            fy = np.clip((ys + dy * d).round().astype(int), 0, h - 1)
            bx = np.clip((xs - dx * d).round().astype(int), 0, w - 1)
            by = np.clip((ys - dy * d).round().astype(int), 0, h - 1)
            score += bright[fy, fx].mean() - bright[by, bx].mean()
        if score > best_score:
            best, best_score = float(az), score
    return best


class ToneModel:
    """Per band: DN = scale * (reflectance * k) ** (1 / g), fitted to the image's percentiles."""

    def __init__(self, p50: np.ndarray, p98: np.ndarray, scale: float):
        r50, r98 = REFERENCE_REFLECTANCE
        v50 = np.clip(p50 / scale, 1e-3, 0.99)
        v98 = np.clip(np.maximum(p98 / scale, v50 * 1.05), 1e-3, 0.999)
        self.g = np.clip((np.log(r98) - np.log(r50)) / (np.log(v98) - np.log(v50)), 0.7, 3.5)
        self.logk = self.g * np.log(v50) - np.log(r50)
        self.scale = scale

    def to_dn(self, refl: np.ndarray) -> np.ndarray:
        r = np.clip(refl, 1e-4, None)
        return self.scale * np.clip(np.exp((np.log(r) + self.logk) / self.g), 0, 1)

    def to_refl(self, dn: np.ndarray) -> np.ndarray:
        v = np.clip(dn / self.scale, 1e-4, 1)
        return np.exp(self.g * np.log(v) - self.logk)


def composite_piles(
    background_raster,
    out_path,
    seed: int = 0,
    n_piles: int | None = None,
    gsd: float | None = None,
    sun_azimuth: float | None = None,
    sun_elevation: float = 45.0,
    pile_density: float = 1.0,
    progress: bool = True,
    background_gsd: float | None = None,
    resample_fine_to: float | None = 0.5,
) -> SynthResult:
    """Write `out_path`: the background with synthetic piles drawn in, plus label files.

    gsd (alias background_gsd): metres per pixel, overriding the raster's own (needed for
    rasters without georeferencing; 0.5 m is assumed otherwise, with a warning).
    resample_fine_to: a raster finer than 0.2 m (drone, aerial) is resampled to this GSD
    (pixel averaging) and the output is written at that GSD; None refuses it instead.
    """
    if gsd is None:
        gsd = background_gsd


    src_path = Path(background_raster)
    out_path = Path(out_path)
    if out_path.suffix.lower() not in (".tif", ".tiff"):
        raise ConfigError("output must be a GeoTIFF (.tif)", path=out_path)
    if out_path.resolve() == src_path.resolve():
        raise ConfigError("output would overwrite the background raster", path=out_path)
    if not src_path.exists():
        raise RasterError("file not found", path=src_path)
    if n_piles is not None and n_piles < 0:
        raise ConfigError(f"number of piles must be >= 0, got {n_piles}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        try:
            src = rasterio.open(src_path)
        except RasterioIOError as exc:
            raise RasterError(f"not a readable raster ({str(exc).splitlines()[0]})", path=src_path) from exc
    with src:
        if src.count < 3:
            raise RasterError(f"needs at least 3 bands (RGB), has {src.count}", path=src_path)
        gsd_m = raster_gsd(src, gsd, src_path)
        if gsd_m < MIN_GSD:
            if resample_fine_to is None:
                raise RasterError(
                    f"GSD {gsd_m:.2f} m is finer than {MIN_GSD} m: resample it to 0.3-0.7 m first "
                    "(e.g. gdalwarp -tr 0.5 0.5 -r average)", path=src_path)
            src, gsd_m = _resampled(src, gsd_m, float(resample_fine_to), src_path)
        if gsd_m > MAX_GSD:
            raise RasterError(f"GSD {gsd_m:.2f} m is too coarse for debris piles (max {MAX_GSD} m)", path=src_path)
        W, H = src.width, src.height
        dtype = np.dtype(src.dtypes[0])
        scale = 255.0 if dtype == np.uint8 else (4095.0 if dtype == np.uint16 else None)
        # Overview of the whole raster: tone, validity, texture, shadow direction.
        dec = max(1, int(np.ceil(max(W, H) / 1024)))
        ov_shape = (3, max(1, H // dec), max(1, W // dec))
        try:
            ov = src.read([1, 2, 3], out_shape=ov_shape).astype(np.float32)
            ov_mask = src.dataset_mask(out_shape=ov_shape[1:]) > 0
        except Exception as exc:
            raise RasterError(f"cannot read pixels ({str(exc).splitlines()[0]})", path=src_path) from exc
        valid = ov_mask & (ov.sum(axis=0) > 0)
        if scale is None:
            scale = float(np.percentile(ov[:, valid], 99.9)) if valid.any() else 1.0
        elif dtype == np.uint16 and valid.any() and np.percentile(ov[:, valid], 99.9) > 4095:
            scale = 65535.0
        if valid.sum() < 100:
            raise RasterError("has no valid pixels to place piles on", path=src_path)
        px = ov[:, valid]
        tone = ToneModel(np.percentile(px, 50, axis=1), np.percentile(px, 98, axis=1), scale)
        lum = ov.mean(axis=0)
        lum_valid = lum[valid]
        shadow_ratio = float(np.clip(np.percentile(lum_valid, 4) / max(np.percentile(lum_valid, 50), 1e-6), 0.2, 0.6))
        shadow_b = float(np.clip(tone.to_refl(np.array([shadow_ratio]) * np.median(lum_valid))[0]
                                 / tone.to_refl(np.array([np.median(lum_valid)]))[0], 0.2, 0.55))
        if sun_azimuth is None:
            sun_azimuth = estimate_sun_azimuth(np.where(valid, lum, np.median(lum_valid)))
        hp = lum - ndimage.uniform_filter(lum, 3)
        noise_dn = float(1.4826 * np.median(np.abs(hp[valid] - np.median(hp[valid])))) * (dec ** 0.5) * 0.5
        # Where piles may go: valid, textured but not chaotic, not black or blown out.
        local_std = np.sqrt(np.clip(ndimage.uniform_filter(lum**2, 5) - ndimage.uniform_filter(lum, 5) ** 2, 0, None))
        lo, hi = np.percentile(lum_valid, [8, 97])
        ok = ndimage.binary_erosion(valid, iterations=3) & (lum > lo) & (lum < hi) & (local_std > 0.01 * scale)
        if not ok.any():
            ok = ndimage.binary_erosion(valid, iterations=1)
        if not ok.any():
            raise RasterError("has no plausible ground to place piles on", path=src_path)
        area_km2 = W * H * gsd_m**2 / 1e6
        if n_piles is None:
            n_piles = int(np.clip(round(area_km2 * 90 * pile_density), 1, 5000))
        # plan piles (metres on the raster's pixel grid scaled by gsd)
        cand_y, cand_x = np.nonzero(ok)
        order = rng.permutation(len(cand_y))
        piles, placed = [], np.zeros((0, 3))
        for k in order:
            if len(piles) >= n_piles:
                break
            x = (cand_x[k] + rng.random()) * dec * gsd_m
            y = (cand_y[k] + rng.random()) * dec * gsd_m
            p = make_pile(len(piles), x, y, rng)
            b = p.footprint.bounds
            outer = max(b[2] - b[0], b[3] - b[1]) / 2
            if b[0] < 0 or b[1] < 0 or b[2] > W * gsd_m or b[3] > H * gsd_m:
                continue
            if len(placed) and np.any(np.hypot(placed[:, 0] - x, placed[:, 1] - y) < placed[:, 2] + outer + 2.0):
                continue
            placed = np.vstack([placed, [x, y, outer]])
            piles.append(p)
        for p in piles:
            p.finalize(gsd_m)
        # what a sprite needs of a plan (synth.plan.SpritePlan): the GSD and the sun
        sprite_plan = SimpleNamespace(gsd=gsd_m, style=_Sun(float(sun_azimuth), float(sun_elevation)))
        cache = SpriteCache()
        profile = src.profile.copy()
        profile.update(driver="GTiff", tiled=True, blockxsize=256, blockysize=256, compress="deflate",
                       predictor=2, BIGTIFF="IF_SAFER")
        for key in ("photometric", "jpeg_quality", "jpegtablesmode"):
            profile.pop(key, None)
        if src.count == 3 and dtype == np.uint8:
            profile["photometric"] = "RGB"
        acc = BoxAccumulator(len(piles))
        local_gain = {}
        for p in piles:  # local light, from a window around the pile (strip-independent)
            x0, y0, x1, y1 = p.bbox_px
            m = max(8, (x1 - x0))
            win = Window(max(0, x0 - m), max(0, y0 - m), min(W, x1 + m) - max(0, x0 - m), min(H, y1 + m) - max(0, y0 - m))
            around = src.read([1, 2, 3], window=win).astype(np.float32)
            med = np.median(around.reshape(3, -1), axis=1)
            ratio = tone.to_refl(med) / tone.to_refl(np.percentile(px, 50, axis=1))
            local_gain[p.id] = np.clip(ratio, 0.5, 2.0) ** 0.35
        with warnings.catch_warnings(), atomic_target(out_path) as tmp:
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(tmp, "w", **profile) as dst:
                dst.colorinterp = src.colorinterp
                bar = progress_bar((H + STRIP - 1) // STRIP, f"composite {out_path.name}", "strip",
                                   enabled=progress)
                for y in range(0, H, STRIP):
                    h = min(STRIP, H - y)
                    win = Window(0, y, W, h)
                    data = src.read(window=win)
                    mask = src.dataset_mask(window=win) > 0
                    out = data.astype(np.float32)
                    pid_map = np.full((h, W), -1, np.int32)
                    for p in piles:
                        _, by0, _, by1 = p.bbox_px
                        if by1 <= y or by0 >= y + h:
                            continue
                        s = cache.get(p, sprite_plan)
                        sl_img, sl_spr = _overlap(s, 0, y, W, h)
                        if sl_img is None:
                            continue
                        _blend(out, s, sl_img, sl_spr, tone, local_gain[p.id], shadow_b, noise_dn,
                               p.seed, pid_map, p.id, mask)
                    acc.add(pid_map, 0, y)
                    lim = np.iinfo(dtype).max if dtype.kind in "ui" else None
                    if lim is not None:
                        out = np.clip(np.round(out), 0, lim)
                    dst.write(out.astype(dtype), window=win)
                    bar.update(1)
                bar.close()
        transform, crs = src.transform, src.crs
    src.close()  # the resampled in-memory copy, if one replaced the file
    ids, boxes = acc.boxes(body=cache.body)
    props = [{"pile_id": int(piles[i].id), "kind": piles[i].kind, "site": "composite",
              "width_m": round(float(b[2] - b[0]) * gsd_m, 2), "height_m": round(float(b[3] - b[1]) * gsd_m, 2),
              "diameter_m": round(float(2 * piles[i].radius), 2), "visible_px": acc.count(int(i))}
             for i, b in zip(ids, boxes)]
    gj, txt = label_paths(out_path)
    write_labels_geojson(gj, boxes, transform, crs, props)
    write_labels_txt(txt, boxes)
    return SynthResult(out_path, gj, txt, len(boxes))


@dataclass(frozen=True)
class _Sun:
    """A background raster's sun: all of a city style that drawing a pile sprite needs
    (synth.plan.SpriteStyle), with the same shadow formulas as a city's."""

    sun_azimuth_deg: float
    sun_elevation_deg: float
    pile_palette_shift: float = 0.0
    shadow_vector = CityStyle.shadow_vector
    shadow_length_per_m = CityStyle.shadow_length_per_m


def _blend(out, s, sl_img, sl_spr, tone, gain, shadow_b, noise_dn, seed, pid_map, pid, mask) -> None:
    """Shadow the ground, then lay the pile over it, in the image's own tone curve."""


    # soften like the image's optics: blur coverage and premultiplied colour together
    alpha = ndimage.gaussian_filter(s.alpha, 0.6)
    pre = np.stack([ndimage.gaussian_filter(s.rgbn[..., b] * s.alpha, 0.6) for b in range(3)], axis=-1)
    shadow = ndimage.gaussian_filter(s.shadow, 0.6)
    a = alpha[sl_spr]
    region = out[(slice(None),) + sl_img]  # (bands, h, w) view
    rgb = region[:3].transpose(1, 2, 0)
    sh = shadow[sl_spr][..., None] * (1 - a[..., None])
    # shadow: reflectance scaled by the sky-light fraction, through the tone curve
    rgb_sh = tone.to_dn(tone.to_refl(rgb) * shadow_b)
    rgb = rgb * (1 - sh) + rgb_sh * sh
    with np.errstate(invalid="ignore", divide="ignore"):
        col = np.where(a[..., None] > 1e-3, pre[sl_spr] / np.maximum(a, 1e-3)[..., None], 0)
    # Pan-sharpened products carry colour at a coarser resolution than brightness, so
    # small items' colours are washed out: mute the chroma, more for smaller items.
    lum = col.mean(axis=-1, keepdims=True)
    col = lum + (col - lum) * 0.5
    pile_dn = tone.to_dn(col * gain)
    hgt, wid = a.shape
    n = noise.gaussian(0, 0, hgt, wid, seed & 0xFFFFFF)[..., None] * noise_dn
    rgb = rgb * (1 - a[..., None]) + (pile_dn + n) * a[..., None]
    ok = mask[sl_img]
    region[:3] = np.where(ok[None], rgb.transpose(2, 0, 1), region[:3])
    body = (s.alpha[sl_spr] >= BODY_ALPHA) & ok
    pid_map[sl_img][body] = pid


def _resampled(src, gsd_m: float, target: float, path):
    """An in-memory copy of `src` averaged down to `target` metres per pixel."""

    factor = target / gsd_m
    width0 = src.width
    w, h = max(16, round(src.width / factor)), max(16, round(src.height / factor))
    warnings.warn(f"{path}: GSD {gsd_m:.2f} m resampled to {target} m ({src.width}x{src.height} -> {w}x{h})",
                  stacklevel=2)
    try:
        data = src.read(out_shape=(src.count, h, w), resampling=Resampling.average)
        mask = src.dataset_mask(out_shape=(h, w), resampling=Resampling.nearest)
    except Exception as exc:
        raise RasterError(f"cannot read pixels ({str(exc).splitlines()[0]})", path=path) from exc
    profile = src.profile.copy()
    profile.update(driver="GTiff", width=w, height=h, tiled=False, compress=None,
                   transform=src.transform @ Affine.scale(src.width / w, src.height / h))
    for key in ("blockxsize", "blockysize", "photometric", "jpeg_quality", "jpegtablesmode", "interleave"):
        profile.pop(key, None)
    src.close()
    mem = MemoryFile()
    with mem.open(**profile) as tmp:
        tmp.write(data)
        tmp.write_mask(mask)
    out = mem.open()
    out._debrismap_memfile = mem  # keep the buffer alive as long as the dataset
    return out, gsd_m * width0 / w
