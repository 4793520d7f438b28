"""Generate a synthetic VHR city GeoTIFF with ground-truth debris-pile boxes.

Writes CITY.tif (tiled, DEFLATE, UTM) plus CITY.labels.geojson (box polygons in the raster
CRS) and CITY.labels.txt (`0 x0 y0 x1 y1` pixel-corner boxes). Same seed, same bytes.

With --background FILE, piles are composited onto a real raster instead (sized in metres
from its GSD, matched to local brightness, with shadows); the output keeps its grid, CRS
and data type (rasters finer than 0.2 m are first averaged down to 0.5 m).

examples:
  debrismap synth --size 2048 --gsd 0.5 --seed 1 --out city.tif
  debrismap synth --size 4096 --bands 4 --bit-depth 12 --pile-density 2 --out city12.tif
  debrismap synth --background scene.tif --n-piles 40 --out scene_piles.tif
"""

from __future__ import annotations

HELP = "generate a synthetic city (or composite piles onto a real raster) with pile labels"


def add_arguments(parser) -> None:
    parser.add_argument("--out", required=True, help="output GeoTIFF (.tif); labels are written beside it")
    parser.add_argument("--size", type=int, default=2048, help="city width and height in pixels (16-16384)")
    parser.add_argument("--gsd", type=float, default=0.5, help="ground sample distance in metres (0.3-0.7)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed: identical output)")
    parser.add_argument("--bands", type=int, default=3, choices=(3, 4), help="3 = RGB, 4 = RGB + NIR")
    parser.add_argument("--bit-depth", type=int, default=8, choices=(8, 12),
                        help="8-bit uint8, or 12-bit values in uint16")
    parser.add_argument("--pile-density", type=float, default=1.0,
                        help="how ransacked the city is (0 = no piles, 1 = typical, up to 20)")
    parser.add_argument("--overviews", action="store_true", help="build internal overviews")
    parser.add_argument("--background", help="composite piles onto this real raster instead of a city")
    parser.add_argument("--background-gsd", type=float,
                        help="GSD in metres of a background without georeferencing (default 0.5)")
    parser.add_argument("--n-piles", type=int, help="number of piles to composite (default: by area)")
    parser.add_argument("--sun-azimuth", type=float,
                        help="background only: direction towards the sun, degrees clockwise from "
                             "image up (default: estimated from the image's shadows)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from debrismap.synth import composite_piles, generate_city

    # warnings (e.g. "not georeferenced, assuming 0.5 m") reach the user as one line via cli.main
    if args.background:
        result = composite_piles(
            args.background, args.out, seed=args.seed, n_piles=args.n_piles,
            gsd=args.background_gsd, sun_azimuth=args.sun_azimuth,
            pile_density=args.pile_density, progress=not args.quiet,
        )
    else:
        result = generate_city(
            args.out, size=args.size, gsd=args.gsd, seed=args.seed, bands=args.bands,
            bit_depth=args.bit_depth, pile_density=args.pile_density, overviews=args.overviews,
            progress=not args.quiet,
        )
    print(f"{result.raster}: {result.n_piles} piles")
    print(f"labels: {result.labels_geojson}, {result.labels_txt}")
    return 0
