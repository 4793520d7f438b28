"""Map the density of detected debris piles for one detect run.

Writes, into the run folder (or --out): counts.gpkg / counts.csv (piles per grid cell,
cells aligned to multiples of --cell metres, partly imaged cells normalised by their
imaged area and flagged), density.tif and density_rgba.tif (Cloud-Optimized GeoTIFFs),
heatmap.png (print-ready, one newspaper column wide at 300 dpi; --format adds svg/pdf),
sensitivity.csv / sensitivity.png (count against score threshold) and summary.json /
summary.txt (a low / central / high count with what each means). With --zones, also
zones.gpkg / zones.csv.

examples:
  debrismap heatmap runs/city-2023-02-10
  debrismap heatmap runs/city --credit "© Airbus DS 2023" --title "Debris piles, 10 Feb" --format png,pdf
  debrismap heatmap runs/city --zones districts.gpkg --cell 250 --bandwidth 150 --out maps/
  debrismap heatmap runs/city --review review.json
  debrismap heatmap runs/city --review review.json --draw reviewed

With --review, summary.txt / summary.json add the total estimated from a person's review
(`debrismap review`) with its 95% interval. With --draw reviewed as well, the map, density
COGs and a `calibrated` column of counts.csv show the review-calibrated counts (the line the
review fitted, piles = a + b x detector count per cell) instead of the detector's.
"""

from __future__ import annotations

import argparse

HELP = "map pile density for a run: grid counts, density COG, article figure, summary"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by `debrismap detect`")
    parser.add_argument("--cell", type=float, default=100.0, help="grid cell size in metres (default 100)")
    parser.add_argument("--bandwidth", type=float, default=75.0,
                        help="Gaussian kernel bandwidth in metres (default 75)")
    parser.add_argument("--zones", metavar="FILE", help="polygons (districts, neighbourhoods) in any CRS")
    parser.add_argument("--zone-field", metavar="NAME", help="field naming each zone (auto-detected)")
    parser.add_argument("--basemap", metavar="RASTER", help="imagery under the map (default: the run's input)")
    parser.add_argument("--title", help="figure title")
    parser.add_argument("--credit", help="imagery credit, e.g. '© Airbus DS 2023'")
    parser.add_argument("--date", help="acquisition date shown on the figure (default: from run.json)")
    parser.add_argument("--dots", action="store_true", help="draw each detected pile as a dot")
    parser.add_argument("--edge-correction", action="store_true",
                        help="weight piles near the edge of the imaged area by 1 / (share of their "
                        "kernel on imaged ground), so density there is not under-read")
    parser.add_argument("--format", default="png", metavar="LIST",
                        help="figure formats, comma separated: png,svg,pdf (png always written)")
    parser.add_argument("--out", metavar="DIR", help="output folder (default: RUN_DIR)")
    parser.add_argument("--review", metavar="FILE",
                        help="review.json exported from `debrismap review`'s page: adds the total "
                        "estimated from the reviewed sample (95%% interval) and precision by score")
    add_draw_option(parser)


def add_draw_option(parser: argparse.ArgumentParser) -> None:
    """--draw, shared with `debrismap report` so the two maps mean the same."""
    parser.add_argument("--draw", choices=("detected", "reviewed"), default="detected",
                        help="what the map shows: the detector's counts (default) or, with --review, "
                        "the review-calibrated counts")


def run(args: argparse.Namespace) -> int:
    from debrismap.aggregate.heatmap import run_heatmap
    from debrismap.review.summary import review_for_map

    formats = tuple(f.strip().lower() for f in args.format.split(",") if f.strip())
    # checked before anything is written: a wrong review file changes nothing
    review, model = review_for_map(args.review, args.run_dir, args.draw)
    sections = {"review": review} if review is not None else {}
    outputs = run_heatmap(
        args.run_dir, cell=args.cell, bandwidth=args.bandwidth, zones=args.zones,
        basemap=args.basemap, title=args.title, credit=args.credit, out_dir=args.out,
        date=args.date, dots=args.dots, formats=formats, zone_field=args.zone_field,
        edge_correction=args.edge_correction, extra_sections=sections,
        draw=model,
    )
    print(outputs.summary_txt.read_text(encoding="utf-8"), end="")
    print(f"wrote {', '.join(p.name for p in outputs.figures)}, counts, density and summary to {outputs.out_dir}")
    return 0
