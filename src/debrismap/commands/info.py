"""Describe a raster as debrismap will read it.

Shows size, CRS, ground sample distance, bands and pixel type (with colour
interpretation and which bands become R, G, B), nodata and masks, overviews, the
acquisition date when the file records one, the radiometric stretch, and how many
tiles a detection run will read at the given tile size and overlap.

Examples:
  debrismap info city.tif
  debrismap info city.tif --bands 3,2,1 --tile 512 --overlap 64
  debrismap info city.tif --gsd 0.5 --json
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from typing import Any

HELP = "describe a raster: size, CRS, GSD, bands, masks, overviews, tiling"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("raster", help="raster file (GeoTIFF, COG, JPEG2000, VRT, PNG/JPEG...)")
    parser.add_argument("--tile", type=int, default=256, help="tile size in pixels (default 256)")
    parser.add_argument(
        "--overlap", type=int, default=32, help="tile overlap in pixels (default 32)"
    )
    parser.add_argument(
        "--bands", default=None, help="1-based bands to use as R,G,B, e.g. 3,2,1 (default: auto)"
    )
    parser.add_argument(
        "--gsd",
        type=float,
        default=None,
        help="also count tiles after resampling to this GSD in metres (e.g. the model's)",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def run(args: argparse.Namespace) -> int:
    from debrismap.errors import ConfigError
    from debrismap.raster import TileGrid, open_raster, parse_bands

    if args.tile < 1:
        raise ConfigError(f"--tile must be a positive number of pixels, got {args.tile}")
    if not 0 <= args.overlap < args.tile:
        raise ConfigError(f"--overlap must be >= 0 and smaller than --tile, got {args.overlap}")
    if args.gsd is not None and not args.gsd > 0:
        raise ConfigError(f"--gsd must be a positive number of metres, got {args.gsd}")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_raster(args.raster, bands=parse_bands(args.bands)) as src:
            info = src.describe()
            grid = TileGrid(src.width, src.height, args.tile, args.overlap)
            info["tiling"] = _tiling(grid)
            if args.gsd is not None:
                view = src.at_gsd(args.gsd)
                info["tiling_at_gsd"] = {
                    "gsd_m": args.gsd,
                    "width": view.width,
                    "height": view.height,
                    **_tiling(TileGrid(view.width, view.height, args.tile, args.overlap)),
                }
    # only warnings meant for the user (ours and GDAL's), not library deprecations
    info["warnings"] = [
        str(w.message)
        for w in caught
        if issubclass(w.category, UserWarning) and not issubclass(w.category, DeprecationWarning)
    ]

    if args.json:
        json.dump(info, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_info(info))
        for message in info["warnings"]:
            print(f"debrismap info: warning: {message}", file=sys.stderr)
    return 0


def _tiling(grid: Any) -> dict[str, int]:
    return {
        "tile_size": grid.tile,
        "overlap": grid.overlap,
        "rows": grid.n_rows,
        "cols": grid.n_cols,
        "tiles": len(grid),
    }


def format_info(info: dict[str, Any]) -> str:
    """Human-readable text for `debrismap info`."""
    rows: list[tuple[str, str]] = []
    rows.append(("file", info["path"]))
    layout = f"blocks {info['block_shape'][1]} x {info['block_shape'][0]} px"
    if info.get("compression"):
        layout += f", {info['compression']} compression"
    rows.append(("format", f"{info['driver']} ({layout})"))
    dtype = info["dtype"] + (f" ({info['nbits']}-bit)" if info.get("nbits") else "")
    rows.append(
        ("size", f"{info['width']} x {info['height']} px, {info['count']} band(s), {dtype}")
    )
    names = ", ".join(f"{i + 1}:{name}" for i, name in enumerate(info["colorinterp"]))
    rows.append(("bands", names))
    r, g, b = info["bands"]
    rgb = f"bands {r},{g},{b}" + (" (grey replicated)" if r == g == b else "")
    rows.append(("used as RGB", rgb))
    if info["georeferenced"]:
        rows.append(("crs", info["crs_name"] or "none (geotransform only)"))
        if info["georeference_source"] != "geotransform":
            rows.append(("georeference", info["georeference_source"]))
        bounds = info["bounds"]
        # degrees need decimals that metres don't
        digits = 6 if all(abs(v) <= 360 for v in bounds) else 2
        rows.append(
            (
                "bounds",
                ", ".join(f"{v:.{digits}f}" for v in bounds) + "  (left, bottom, right, top)",
            )
        )
    else:
        rows.append(("crs", "none: not georeferenced, pixel coordinates"))
    if info["gsd_m"] is not None:
        px, py = info["pixel_size_m"]
        gsd = f"{info['gsd_m']:.3f} m"
        if abs(px - py) > 1e-3 * max(px, py):
            gsd += f" (x {px:.3f} m, y {py:.3f} m: non-square pixels)"
        rows.append(("gsd", gsd))
    else:
        rows.append(("gsd", "unknown"))
    rows.append(("nodata / mask", info["mask"]))
    ovr = info["overviews"]
    rows.append(("overviews", ", ".join(str(o) for o in ovr) if ovr else "none"))
    acquired = info["acquisition_date"] or "unknown"
    if info.get("acquisition_date_source") == "file name":
        acquired += " (from the file name)"
    rows.append(("acquired", acquired))
    stretch = info["stretch"]
    if stretch["low"]:
        ranges = "; ".join(
            f"{c} {lo:.6g}..{hi:.6g}" for c, lo, hi in zip("RGB", stretch["low"], stretch["high"])
        )
        p0, p1 = stretch["percentiles"] or ("?", "?")
        rows.append(("stretch", f"{stretch['method']} {p0:g}-{p1:g}%: {ranges}"))
    else:
        rows.append(("stretch", "none (8-bit pass-through)"))
    t = info["tiling"]
    rows.append(
        (
            "tiles",
            f"{t['tiles']} of {t['tile_size']} px, overlap {t['overlap']} "
            f"({t['rows']} rows x {t['cols']} cols)",
        )
    )
    if "tiling_at_gsd" in info:
        t = info["tiling_at_gsd"]
        rows.append(
            (
                f"tiles at {t['gsd_m']:g} m",
                f"{t['tiles']} ({t['width']} x {t['height']} px after resampling)",
            )
        )
    rows.append(("header sha256", info["header_sha256"]))
    width = max(len(k) for k, _ in rows)
    lines = [f"{k + ':':<{width + 1}} {v}" for k, v in rows]
    return "\n".join(lines) + "\n"
