"""generate_city: plan a synthetic city, render it block by block into a GeoTIFF, write labels.

Memory stays bounded for any size up to 16384 px square: the plan is vectors, each block
is rendered with a small halo and written straight to the tiled GeoTIFF, and only the
running min/max of each pile's box is kept between blocks. Same seed, same bytes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from pyproj import CRS as PCRS
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.enums import ColorInterp, Resampling
from rasterio.transform import Affine

from debrismap.atomic import atomic_target
from debrismap.errors import ConfigError, OutputError
from debrismap.progress import progress_bar
from debrismap.synth.labels import (
    BoxAccumulator,
    label_paths,
    write_labels_geojson,
    write_labels_txt,
)
from debrismap.synth.layout import CityPlanner
from debrismap.synth.piles import place_piles
from debrismap.synth.render import SpriteCache, render_window
from debrismap.synth.sensor import HALO, apply_sensor
from debrismap.synth.style import make_style
from debrismap.synth.tiles import TiledCity, default_tile_px

GSD_RANGE = (0.3, 0.7)
MAX_SIZE = 16384
RENDER_TILE = 256  # internal render unit; output does not depend on the write block size


@dataclass(frozen=True)
class SynthResult:
    raster: Path
    labels_geojson: Path
    labels_txt: Path
    n_piles: int


def check_params(size, gsd, bands, bit_depth, pile_density, out_path) -> tuple[int, int]:
    """Validate user parameters; return (width, height). Raises ConfigError with one line."""
    if isinstance(size, (tuple, list)):
        width, height = (int(v) for v in size)
    else:
        width = height = int(size)
    if not (16 <= width <= MAX_SIZE and 16 <= height <= MAX_SIZE):
        raise ConfigError(f"size must be between 16 and {MAX_SIZE} pixels, got {size}")
    if not (GSD_RANGE[0] <= float(gsd) <= GSD_RANGE[1]):
        raise ConfigError(f"gsd must be between {GSD_RANGE[0]} and {GSD_RANGE[1]} m, got {gsd}")
    if int(bands) not in (3, 4):
        raise ConfigError(f"bands must be 3 (RGB) or 4 (RGB+NIR), got {bands}")
    if int(bit_depth) not in (8, 12):
        raise ConfigError(f"bit depth must be 8 or 12, got {bit_depth}")
    if not (0 <= float(pile_density) <= 20):
        raise ConfigError(f"pile density must be between 0 and 20, got {pile_density}")
    out_path = Path(out_path)
    if out_path.suffix.lower() not in (".tif", ".tiff"):
        raise ConfigError("output must be a GeoTIFF (.tif)", path=out_path)
    if not out_path.parent.is_dir():
        raise OutputError("output folder does not exist", path=out_path.parent)
    if not os.access(out_path.parent, os.W_OK | os.X_OK):
        raise OutputError("output folder is not writable", path=out_path.parent)
    return width, height


def city_crs_and_transform(gsd: float, width: int, height: int, rng, crs=None, origin=None):
    """UTM zone of the origin (lon, lat of the top-left corner), or the CRS given."""

    if origin is None:
        lon, lat = float(rng.uniform(-170, 170)), float(rng.uniform(-45, 60))
    else:
        lon, lat = (float(v) for v in origin)
        if not (-180 <= lon <= 180 and -80 <= lat <= 84):
            raise ConfigError(f"origin must be (lon, lat) in degrees within UTM's range, got {origin}")
    if crs is None:
        zone = int((lon + 180) // 6) % 60 + 1
        epsg = (32600 if lat >= 0 else 32700) + zone
        pcrs = PCRS.from_epsg(epsg)
    else:
        try:
            pcrs = PCRS.from_user_input(crs)
        except Exception as exc:
            raise ConfigError(f"unrecognised CRS: {crs!r}") from exc
        if not pcrs.is_projected:
            raise ConfigError(f"CRS must be projected in metres (e.g. UTM), got {pcrs.name}")
    e, n = Transformer.from_crs("EPSG:4326", pcrs, always_xy=True).transform(lon, lat)
    e, n = round(e / gsd) * gsd, round(n / gsd) * gsd
    transform = Affine(gsd, 0.0, e, 0.0, -gsd, n)
    return CRS.from_wkt(pcrs.to_wkt()) if pcrs.to_epsg() is None else CRS.from_epsg(pcrs.to_epsg()), transform


def plan_city(width: int, height: int, gsd: float, seed: int, bands: int = 3, bit_depth: int = 8,
              pile_density: float = 1.0):
    """The whole-city vector plan (pixel coordinates) and its per-city style."""

    ss = np.random.SeedSequence(int(seed))
    style_seq, layout_seq, pile_seq, _geo_seq = ss.spawn(4)
    style = make_style(np.random.default_rng(style_seq), bands, bit_depth)
    planner = CityPlanner(width * gsd, height * gsd, style, np.random.default_rng(layout_seq))
    plan = planner.build(gsd, width, height)
    # Piles come from their own stream, after everything else: a pile-free render of the
    # same seed is the same city (used by tests to see exactly which pixels a pile changed).
    plan.piles = place_piles(planner, np.random.default_rng(pile_seq), float(pile_density))
    plan.finalize()
    return plan


def render_block(plan, x0: int, y0: int, w: int, h: int, seed: int, bit_depth: int, bands: int,
                 cache=None, piles: bool = True, sensor: bool = True):
    """Final pixels (bands, h, w) of one window and its visible pile ids (h, w)."""

    halo = HALO if sensor else 0
    refl, pid = render_window(plan, x0 - halo, y0 - halo, w + 2 * halo, h + 2 * halo, _tex_seed(seed),
                              cache, piles=piles)
    if sensor:
        dn = apply_sensor(refl, x0 - halo, y0 - halo, plan.style, _tex_seed(seed) + 7, bit_depth)
    else:
        scale = 255.0 if bit_depth == 8 else 4095.0
        dn = np.clip(np.round(refl * scale), 0, scale)
    dn = dn[halo : halo + h, halo : halo + w, :bands]
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    return np.ascontiguousarray(dn.transpose(2, 0, 1)).astype(dtype), pid[halo : halo + h, halo : halo + w]


def _tex_seed(seed: int) -> int:
    return int(np.random.SeedSequence([int(seed), 99]).generate_state(1)[0] & 0x3FFFFFFF)


def generate_city(
    out_path,
    size=2048,
    gsd: float = 0.5,
    seed: int = 0,
    bands: int = 3,
    bit_depth: int = 8,
    pile_density: float = 1.0,
    crs=None,
    origin=None,
    block_size: int = 512,
    overviews: bool = False,
    progress: bool = True,
    piles: bool = True,
    plan_tile: int | None = None,
) -> SynthResult:
    """Write a synthetic city GeoTIFF and its debris-pile labels. See datasets/synthetic.md.

    block_size: render/write unit (a multiple of 16; capped at 256): the output does not
    depend on it. plan_tile: side in pixels of the independently planned tiles of a large
    city (default about 1 km); a city no larger than one tile is planned in one piece.
    piles=False renders the same city without its piles (for tests and ablations).
    """


    out_path = Path(out_path)
    width, height = check_params(size, gsd, bands, bit_depth, pile_density, out_path)
    bands, bit_depth, gsd = int(bands), int(bit_depth), float(gsd)
    if block_size <= 0 or block_size % 16:
        raise ConfigError(f"block size must be a positive multiple of 16, got {block_size}")

    tile_px = int(plan_tile or default_tile_px(gsd))
    if width <= tile_px and height <= tile_px:
        plan = plan_city(width, height, gsd, seed, bands, bit_depth, pile_density)
        style, plan_for, pile_info = plan.style, (lambda *window: plan), {p.id: p for p in plan.piles}
        tile_px = max(width, height)
    else:  # bounded memory: plan ~1 km tiles on demand
        from debrismap.synth.style import make_style

        style_seq = np.random.SeedSequence(int(seed)).spawn(4)[0]
        style = make_style(np.random.default_rng(style_seq), bands, bit_depth)
        n_cols = -(-width // tile_px)
        # Keep a band of tile plans (the row above, this row, the row below) when it fits.
        tiled = TiledCity(width, height, gsd, seed, style, pile_density, tile_px, max_tiles=min(2 * n_cols + 3, 12))
        plan_for, pile_info = tiled.plan_for, tiled.piles
    crs_, transform = city_crs_and_transform(
        gsd, width, height, np.random.default_rng(np.random.SeedSequence(int(seed)).spawn(4)[3]), crs, origin
    )
    profile = dict(
        driver="GTiff", width=width, height=height, count=bands,
        dtype="uint8" if bit_depth == 8 else "uint16", crs=crs_, transform=transform,
        tiled=True, blockxsize=256, blockysize=256, compress="deflate", predictor=2,
        interleave="pixel", BIGTIFF="IF_SAFER",
    )
    if bands == 3:
        profile["photometric"] = "RGB"
    acc = BoxAccumulator()
    cache = SpriteCache()
    unit = min(block_size, RENDER_TILE)
    # Render units in plan-tile order (row-major within each tile) so few tile plans are
    # needed at once; the pixels do not depend on the order or on the unit size.
    units = []
    for ty0 in range(0, height, tile_px):
        for tx0 in range(0, width, tile_px):
            for y in range(ty0, min(ty0 + tile_px, height), unit):
                for x in range(tx0, min(tx0 + tile_px, width), unit):
                    units.append((x, y, min(unit, tx0 + tile_px - x, width - x), min(unit, ty0 + tile_px - y, height - y)))
    with atomic_target(out_path) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            if bands == 4:
                dst.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue, ColorInterp.undefined]
            dst.descriptions = ("red", "green", "blue", "nir")[:bands]
            dst.update_tags(
                DEBRISMAP_SYNTH_SEED=str(seed), DEBRISMAP_SYNTH_GSD=str(gsd),
                DEBRISMAP_SYNTH_BIT_DEPTH=str(bit_depth), DEBRISMAP_SYNTH_REGION=style.region,
                DEBRISMAP_SYNTH_SUN_AZIMUTH=f"{style.sun_azimuth_deg:.1f}",
                DEBRISMAP_SYNTH_SUN_ELEVATION=f"{style.sun_elevation_deg:.1f}",
            )
            bar = progress_bar(len(units), f"synth {out_path.name}", "block", enabled=progress)
            for x, y, w, h in units:
                data, pid = render_block(plan_for(x, y, w, h), x, y, w, h, seed, bit_depth, bands, cache, piles)
                acc.add(pid, x, y)
                dst.write(data, window=rasterio.windows.Window(x, y, w, h))
                bar.update(1)
            bar.close()
            if overviews:
                factors = [f for f in (2, 4, 8, 16, 32) if min(width, height) // f >= 128]
                if factors:
                    dst.build_overviews(factors, Resampling.average)
    ids, boxes = acc.boxes(body=cache.body)
    props = []
    for i, b in zip(ids, boxes):
        p = pile_info[int(i)]
        props.append({
            "pile_id": int(p.id), "kind": p.kind, "site": p.site,
            "width_m": round(float(b[2] - b[0]) * gsd, 2), "height_m": round(float(b[3] - b[1]) * gsd, 2),
            "diameter_m": round(float(2 * p.radius), 2), "mound_height_m": round(float(p.height), 2),
            "visible_px": acc.count(int(i)),
        })
    gj, txt = label_paths(out_path)
    write_labels_geojson(gj, boxes, transform, crs_, props)
    write_labels_txt(txt, boxes)
    return SynthResult(out_path, gj, txt, len(boxes))
