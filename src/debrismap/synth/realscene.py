"""A real background scene, measured for compositing: tone, sun, blur, noise, where piles go.

`load_scene` reads an RGB raster at the model's GSD (averaged down from finer imagery,
interpolated up from coarser) and measures what a composited pile must match: the tone curve
(synth.composite.ToneModel), the direction shadows fall (synth.composite.estimate_sun_azimuth),
the optics blur (steepness of the strongest edges), the pixel noise, how dark shadows are, and
vegetation (tree crowns may hide part of a pile). Placement sites are next to buildings and
along roads: just outside real building footprints where the data has them, else near strong
straight edges on flat, valid ground (image cues).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
import shapely
from pyproj import Transformer
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning
from rasterio.transform import Affine
from scipy import ndimage

from debrismap.errors import RasterError
from debrismap.synth.composite import ToneModel, estimate_sun_azimuth, raster_gsd
from debrismap.vector_io import read_vector


@dataclass
class RealScene:
    """An RGB scene at `gsd`, with what compositing needs to match it."""

    name: str
    rgb: np.ndarray  # (H, W, 3) float32 DN on a 0-255 scale
    valid: np.ndarray  # (H, W) bool
    gsd: float
    tone: ToneModel
    sun_azimuth: float
    blur_sigma: float  # pixels
    noise_dn: float
    shadow_b: float  # reflectance share left in a shadow
    vegetation: np.ndarray  # (H, W) float32 0..1, tree crowns and shrubs
    sites: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # x, y (px), along (rad)
    site_source: str = "image cues"
    transform: object = None  # affine of the resampled grid, when the source is georeferenced
    crs: object = None

    @property
    def median_refl(self) -> np.ndarray:
        """Reflectance of the scene's median pixel (what 'normally lit ground' means here)."""
        if getattr(self, "_median_refl", None) is None:
            self._median_refl = self.tone.to_refl(np.median(self.rgb[self.valid], axis=0))
        return self._median_refl

    @property
    def shape(self) -> tuple[int, int]:
        return self.rgb.shape[:2]


def load_scene(path, gsd: float = 0.5, source_gsd: float | None = None, footprints=None,
               name: str | None = None, seed: int = 0) -> RealScene:
    """Read and measure `path` at `gsd` m/px. footprints: building polygons in the source
    raster's pixel coordinates (shapely), or None for image cues."""

    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        warnings.simplefilter("ignore", UserWarning)
        try:
            src = rasterio.open(path)
        except rasterio.errors.RasterioIOError as exc:
            raise RasterError(f"not a readable raster ({str(exc).splitlines()[0]})", path=path) from exc
        with src:
            if src.count < 3:
                raise RasterError(f"needs 3 bands (RGB), has {src.count}", path=path)
            native = raster_gsd(src, source_gsd, path)
            factor = native / gsd
            h, w = max(16, round(src.height * factor)), max(16, round(src.width * factor))
            resampling = Resampling.average if factor < 1 else Resampling.bilinear
            data = src.read([1, 2, 3], out_shape=(3, h, w), resampling=resampling).astype(np.float32)
            mask = src.dataset_mask(out_shape=(h, w)) > 0
            georef = src.crs is not None and src.transform != Affine.identity()
            transform = src.transform * Affine.scale(src.width / w, src.height / h) if georef else None
            crs = src.crs if georef else None
    if data.max() > 255:  # 11/12/16-bit: stretch to 8-bit like a delivered product
        hi = np.percentile(data[:, mask], 99.5) if mask.any() else data.max()
        data = np.clip(data / max(hi, 1) * 245, 0, 255)
    rgb = data.transpose(1, 2, 0)
    valid = mask & (rgb.sum(axis=2) > 3) & (rgb.min(axis=2) < 252)
    if valid.sum() < 1000:
        raise RasterError("has too few valid pixels to composite on", path=path)
    px = rgb[valid]
    tone = ToneModel(np.percentile(px, 50, axis=0), np.percentile(px, 98, axis=0), 255.0)
    lum = rgb.mean(axis=2)
    med = float(np.median(lum[valid]))
    sun = estimate_sun_azimuth(np.where(valid, lum, med))
    shadow_ratio = float(np.clip(np.percentile(lum[valid], 4) / max(med, 1e-6), 0.2, 0.6))
    shadow_b = float(np.clip(tone.to_refl(np.array([shadow_ratio * med]))[0] / tone.to_refl(np.array([med]))[0], 0.2, 0.55))
    scene = RealScene(name or path.stem, rgb, valid, gsd, tone, sun, measure_blur(lum, valid),
                      measure_noise(lum, valid), shadow_b, vegetation(rgb), transform=transform, crs=crs)
    rng = np.random.default_rng(seed)
    if footprints:
        scale = np.array([w / src.width, h / src.height])
        scene.sites = sites_from_footprints(footprints, scale, gsd, rng, valid)
        scene.site_source = f"{len(footprints)} building footprints"
    if len(scene.sites) < 50:
        scene.sites = sites_from_image(lum, valid, scene.vegetation, gsd, rng)
        scene.site_source = "image cues"
    return scene


def measure_blur(lum: np.ndarray, valid: np.ndarray) -> float:
    """Optics blur sigma (px): from how steep the strongest edges are for their contrast.

    A step of contrast C blurred by a Gaussian of sigma s has a peak slope C / (s * sqrt(2 pi));
    the sharpest edges of a scene are nearly steps, so the top slopes give s.
    """
    gy, gx = np.gradient(ndimage.gaussian_filter(lum, 0.3))
    slope = np.hypot(gx, gy)
    contrast = ndimage.maximum_filter(lum, 7) - ndimage.minimum_filter(lum, 7)
    strong = valid & (contrast > np.percentile(contrast[valid], 95))
    if strong.sum() < 50:
        return 0.8
    ratio = np.percentile(slope[strong] / np.maximum(contrast[strong], 1), 90)
    return float(np.clip(1 / (np.sqrt(2 * np.pi) * max(ratio, 1e-3)) - 0.5, 0.3, 1.6))


def measure_noise(lum: np.ndarray, valid: np.ndarray) -> float:
    """Pixel noise (DN): robust spread of the high-pass residual on flat ground."""
    hp = lum - ndimage.uniform_filter(lum, 3)
    flat = valid & (ndimage.uniform_filter(np.abs(hp), 7) < np.percentile(np.abs(hp[valid]), 40))
    v = hp[flat] if flat.sum() > 100 else hp[valid]
    return float(np.clip(1.4826 * np.median(np.abs(v - np.median(v))) * 1.5, 0.3, 8.0))


def vegetation(rgb: np.ndarray) -> np.ndarray:
    """Tree crowns and shrubs (0..1): green excess on textured pixels, smoothed a little."""
    s = rgb.sum(axis=2) + 1e-3
    exg = (2 * rgb[..., 1] - rgb[..., 0] - rgb[..., 2]) / s
    tex = ndimage.uniform_filter(np.abs(rgb.mean(axis=2) - ndimage.uniform_filter(rgb.mean(axis=2), 3)), 5)
    veg = np.clip((exg - 0.04) / 0.08, 0, 1) * np.clip(tex / 2.0, 0, 1)
    return ndimage.gaussian_filter(veg, 0.7).astype(np.float32)


def sites_from_footprints(polys, scale, gsd, rng, valid, per_building: int = 4) -> np.ndarray:
    """Points 0.5-4 m outside building outlines, with the wall's direction (pixels of the scene)."""
    out = []
    for poly in polys:
        ring = np.asarray(poly.exterior.coords) * scale
        if len(ring) < 3:
            continue
        seg = np.diff(ring, axis=0)
        length = np.hypot(seg[:, 0], seg[:, 1])
        if length.sum() < 2:
            continue
        centre = ring[:-1].mean(axis=0)
        for k in rng.choice(len(seg), size=per_building, p=length / length.sum()):
            t = rng.random()
            p = ring[k] + t * seg[k]
            normal = np.array([seg[k, 1], -seg[k, 0]]) / max(length[k], 1e-6)
            if np.dot(normal, p - centre) < 0:
                normal = -normal
            q = p + normal * rng.uniform(0.5, 4.0) / gsd
            out.append((q[0], q[1], float(np.arctan2(seg[k, 1], seg[k, 0]))))
    sites = np.array(out) if out else np.zeros((0, 3))
    if len(sites):  # not on a neighbour's roof: dense blocks leave little ground between buildings
        import shapely
        from shapely import affinity

        scaled = [affinity.scale(p, scale[0], scale[1], origin=(0, 0)) for p in polys]
        on_roof = np.zeros(len(sites), bool)
        tree = shapely.STRtree(scaled)
        hit_pts, _ = tree.query(shapely.points(sites[:, :2]), predicate="within")
        on_roof[hit_pts] = True
        sites = sites[~on_roof]
    if len(sites):
        h, w = valid.shape
        xi, yi = sites[:, 0].astype(int), sites[:, 1].astype(int)
        inside = (xi >= 0) & (yi >= 0) & (xi < w) & (yi < h)
        sites = sites[inside]
        sites = sites[valid[sites[:, 1].astype(int), sites[:, 0].astype(int)]]
    return sites


def sites_from_image(lum, valid, veg, gsd, rng, n: int = 4000) -> np.ndarray:
    """Flat, valid, unvegetated ground 1-6 m from a strong edge (walls, kerbs, fences)."""
    from skimage.feature import canny

    edges = canny(lum / 255.0, sigma=1.5, low_threshold=0.05, high_threshold=0.12) & valid
    dist = ndimage.distance_transform_edt(~edges)
    local_std = np.sqrt(np.clip(ndimage.uniform_filter(lum ** 2, 5) - ndimage.uniform_filter(lum, 5) ** 2, 0, None))
    lo, hi = np.percentile(lum[valid], [6, 98])
    ok = (ndimage.binary_erosion(valid, iterations=4) & (dist * gsd > 1.0) & (dist * gsd < 6.0)
          & (veg < 0.3) & (lum > lo) & (lum < hi) & (local_std < np.percentile(local_std[valid], 70)))
    ys, xs = np.nonzero(ok)
    if len(xs) == 0:
        ys, xs = np.nonzero(valid)
    pick = rng.choice(len(xs), size=min(n, len(xs)), replace=False)
    xs, ys = xs[pick], ys[pick]
    # along the nearest edge: perpendicular to the gradient of the distance to it
    gy, gx = np.gradient(ndimage.gaussian_filter(dist, 1.0))
    along = np.arctan2(gy[ys, xs], gx[ys, xs]) + np.pi / 2
    return np.column_stack([xs + rng.random(len(xs)), ys + rng.random(len(ys)), along])


def footprints_from_vector(vector_path, raster_path) -> list:
    """Building polygons of a vector file in the pixel coordinates of `raster_path`."""


    layer = read_vector(vector_path)
    with rasterio.open(raster_path) as src:
        inv, crs, bounds = ~src.transform, src.crs, src.bounds
    tr = Transformer.from_crs(layer.crs or "OGC:CRS84", crs, always_xy=True)
    box = shapely.box(*bounds)
    out = []
    for g in layer.geometries:
        if g is None or g.is_empty:
            continue
        g = shapely.transform(g, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
        if not g.intersects(box):
            continue
        for part in getattr(g, "geoms", [g]):
            out.append(shapely.transform(part, lambda xy: np.column_stack(inv * (xy[:, 0], xy[:, 1]))))
    return out


def footprints_from_chooch(json_path, min_score: float = 0.5) -> list:
    """Building boxes predicted on the pre-event image (`raw_results.A`) of a chooch-ai result file."""

    doc = json.loads(Path(json_path).read_text())
    out = []
    for p in doc["raw_results"]["A"]["predictions"]:
        c = p["coordinates"]
        if p.get("score", 1) >= min_score:
            out.append(shapely.box(c["xmin"], c["ymin"], c["xmax"], c["ymax"]))
    return out
