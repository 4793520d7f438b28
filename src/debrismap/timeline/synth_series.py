"""A synthetic series of one city imaged on several dates, with piles appearing on known dates.

Built from one synth city rendered twice (with and without its piles): each acquisition is
the pile-free city with the piles that have appeared by its date copied in, lit
differently, offset by a known misregistration (its geotransform is moved by metres, as an
orthorectification error moves a real image), and optionally hazy or partly imaged. For
the tests' oracle detector the piles can be drawn as bright squares on a darkened city
instead. The truth (each pile's box in the true frame and the date it appeared) is kept.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio

from debrismap.atomic import atomic_target, write_text
from debrismap.synth import generate_city

# Side in pixels of the bright squares drawn for the oracle detector (tests/test_detect_oracle.K).
SQUARE_PX = 8
SQUARE_GAP_PX = 14  # squares closer than this would merge for the oracle: keep the first
BRIGHT = 255
# Pile pixels are copied from the piled render within this many pixels of a pile's box
# (shadows and the sensor's blur reach a little beyond the box).
PILE_HALO_PX = 4


@dataclass
class SeriesAcquisition:
    raster: Path
    date: dt.date
    offset_m: tuple[float, float]  # east, north: how far this image sits from the true ground
    gain: float
    hazy: bool = False
    partial: bool = False


@dataclass
class SyntheticSeries:
    acquisitions: list[SeriesAcquisition]
    crs: object  # rasterio CRS of every acquisition
    boxes: np.ndarray  # (N, 4) world x0, y0, x1, y1 in the true frame
    appears: np.ndarray  # (N,) index into `acquisitions` of the first date the pile is there
    truth_json: Path
    extra: dict = field(default_factory=dict)

    @property
    def dates(self) -> list[dt.date]:
        return [a.date for a in self.acquisitions]

    def centres(self) -> np.ndarray:
        b = self.boxes
        return np.column_stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2])


def build_series(
    out_dir: str | Path,
    dates: list[str | dt.date],
    size: int = 1024,
    gsd: float = 0.5,
    seed: int = 0,
    offset_range_m: tuple[float, float] = (1.0, 3.0),
    piles: str = "synth",
    present_at_start: float = 0.3,
    pile_density: float = 1.5,
    hazy: tuple[int, ...] = (),
    partial: tuple[int, ...] = (),
    date_in_name: bool = True,
    reference_offset: bool = True,
) -> SyntheticSeries:
    """Write one GeoTIFF per date into `out_dir` (`city_YYYY-MM-DD.tif`) and `truth.json`.

    piles: "synth" (the rendered piles) or "squares" (bright 8 px squares on a darkened city,
    found exactly by the tests' oracle detector). hazy / partial: indexes of dates whose
    image is veiled by haze / covers only the eastern 60% of the city. date_in_name=False
    writes the date into the ACQUISITION_DATE tag instead of the file name.
    reference_offset=False leaves the first acquisition on the true ground.
    """


    if piles not in ("synth", "squares"):
        raise ValueError(f"piles must be 'synth' or 'squares', got {piles!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dates = [d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)) for d in dates]
    base = out / "_city.tif"
    bare = out / "_city_bare.tif"
    with_piles = generate_city(base, size=size, gsd=gsd, seed=seed, pile_density=pile_density, progress=False)
    generate_city(bare, size=size, gsd=gsd, seed=seed, pile_density=pile_density, progress=False, piles=False)
    with rasterio.open(base) as src:
        piled, profile, transform, crs = src.read(), src.profile, src.transform, src.crs
    with rasterio.open(bare) as src:
        empty = src.read()
    pix_boxes = _read_pixel_boxes(with_piles.labels_txt)
    if piles == "squares":
        pix_boxes = _spaced_squares(pix_boxes, size)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 17]))
    appears = _appearance_dates(rng, len(pix_boxes), len(dates), present_at_start)
    changed = np.any(piled != empty, axis=0)
    acquisitions = []
    for k, date in enumerate(dates):
        present = pix_boxes[appears <= k]
        if piles == "synth":
            img = _with_synth_piles(empty, piled, changed, present)
        else:
            img = empty.copy()
        gain = float(rng.uniform(0.8, 1.2)) if piles == "synth" else float(rng.uniform(0.45, 0.6))
        img = _relight(img.astype(np.float64), gain, float(rng.uniform(0.85, 1.15)), rng, k in hazy)
        if piles == "squares":
            _draw_squares(img, present)
        angle = rng.uniform(0, 2 * np.pi)
        radius = rng.uniform(*offset_range_m) if (k > 0 or reference_offset) else 0.0
        offset = (float(radius * np.cos(angle)), float(radius * np.sin(angle)))
        x_start = int(size * 0.4) if k in partial else 0
        img = np.clip(np.round(img[:, :, x_start:]), 0, 255).astype(np.uint8)
        shifted = transform @ rasterio.Affine.translation(x_start, 0)
        shifted = rasterio.Affine(shifted.a, shifted.b, shifted.c + offset[0],
                                  shifted.d, shifted.e, shifted.f + offset[1])
        name = f"city_{date.isoformat()}.tif" if date_in_name else f"city_{k:02d}.tif"
        path = out / name
        prof = dict(profile, width=img.shape[2], height=img.shape[1], transform=shifted)
        with atomic_target(path) as tmp, rasterio.open(tmp, "w", **prof) as dst:
            dst.write(img)
            if not date_in_name:
                dst.update_tags(ACQUISITION_DATE=date.isoformat())
        acquisitions.append(SeriesAcquisition(path, date, offset, gain, k in hazy, k in partial))
    base.unlink()
    bare.unlink()
    for side in (with_piles.labels_geojson, with_piles.labels_txt):
        Path(side).unlink(missing_ok=True)
    world = _to_world(pix_boxes, transform)
    truth = out / "truth.json"
    write_text(truth, json.dumps({
        "crs": crs.to_string(),
        "dates": [d.isoformat() for d in dates],
        "acquisitions": [{"raster": a.raster.name, "date": a.date.isoformat(), "offset_east_m": a.offset_m[0],
                          "offset_north_m": a.offset_m[1], "gain": a.gain, "hazy": a.hazy, "partial": a.partial}
                         for a in acquisitions],
        "piles": [{"box": [round(float(v), 3) for v in b], "appears": dates[int(i)].isoformat()}
                  for b, i in zip(world, appears)],
    }, indent=1))
    return SyntheticSeries(acquisitions, crs, world, appears, truth)


def _read_pixel_boxes(labels_txt: Path) -> np.ndarray:
    rows = [line.split()[1:5] for line in Path(labels_txt).read_text().splitlines() if line.strip()]
    return np.array(rows, dtype=float).reshape(-1, 4)


def _spaced_squares(boxes: np.ndarray, size: int) -> np.ndarray:
    """One SQUARE_PX square at each pile's centre, dropping squares too close to a kept one."""
    centres = np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2])
    kept: list[np.ndarray] = []
    half = SQUARE_PX / 2
    for c in np.round(centres):
        if not (half + 2 <= c[0] <= size - half - 2 and half + 2 <= c[1] <= size - half - 2):
            continue
        if kept and np.min(np.max(np.abs(np.array(kept) - c), axis=1)) < SQUARE_GAP_PX:
            continue
        kept.append(c)
    c = np.array(kept).reshape(-1, 2)
    return np.column_stack([c[:, 0] - half, c[:, 1] - half, c[:, 0] + half, c[:, 1] + half])


def _appearance_dates(rng, n: int, n_dates: int, present_at_start: float) -> np.ndarray:
    """A share of piles is there from the first date; the rest appear on later dates evenly."""
    at_start = rng.random(n) < present_at_start
    later = rng.integers(1, max(n_dates, 2), size=n)
    return np.where(at_start | (n_dates == 1), 0, later)


def _with_synth_piles(empty, piled, changed, boxes) -> np.ndarray:
    img = empty.copy()
    h, w = changed.shape
    for x0, y0, x1, y1 in boxes:
        xa, ya = max(int(x0) - PILE_HALO_PX, 0), max(int(y0) - PILE_HALO_PX, 0)
        xb, yb = min(int(np.ceil(x1)) + PILE_HALO_PX, w), min(int(np.ceil(y1)) + PILE_HALO_PX, h)
        m = changed[ya:yb, xa:xb]
        img[:, ya:yb, xa:xb][:, m] = piled[:, ya:yb, xa:xb][:, m]
    return img


def _relight(img: np.ndarray, gain: float, gamma: float, rng, hazy: bool) -> np.ndarray:
    """Another sun and sensor: gain and gamma, a little noise; haze adds a bright veil."""
    out = 255.0 * (np.clip(img / 255.0, 0, 1) ** gamma) * gain
    out += rng.normal(0, 2.0, size=out.shape)
    if hazy:
        out = 0.45 * out + 0.55 * 200.0
    return out


def _draw_squares(img: np.ndarray, boxes: np.ndarray) -> None:
    for x0, y0, _x1, _y1 in boxes.astype(int):
        img[:, y0 : y0 + SQUARE_PX, x0 : x0 + SQUARE_PX] = BRIGHT


def _to_world(boxes: np.ndarray, transform) -> np.ndarray:
    x0, y0 = transform @ (boxes[:, 0], boxes[:, 1])
    x1, y1 = transform @ (boxes[:, 2], boxes[:, 3])
    return np.column_stack([np.minimum(x0, x1), np.minimum(y0, y1), np.maximum(x0, x1), np.maximum(y0, y1)])
