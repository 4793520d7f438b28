"""Write one self-contained HTML report for a run (works offline, no external files).

The page shows the low / central / high count with what each means, the density over the
imagery with a detections on/off toggle, the count against score threshold, the cells
(and zones) with the most piles, and the run's provenance from run.json.

example:
  debrismap report runs/city-2023-02-10 --zones districts.gpkg --out city-report.html
  debrismap report timeline/                  # a timeline folder: the timeline page alone
  debrismap report runs/city-2023-02-10 --timeline timeline/
  debrismap report runs/city-2023-02-10 --review review.json --draw reviewed

With --review, the page adds the total estimated from a person's review (`debrismap review`)
with its 95% interval; with --draw reviewed as well, its map, colour scale and caption show
the review-calibrated counts, as `debrismap heatmap --draw reviewed` draws them.
"""

from __future__ import annotations

import argparse

from debrismap.commands.heatmap import add_draw_option

HELP = "one self-contained offline HTML report for a run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR",
                        help="a folder written by `debrismap detect` (or by `debrismap timeline`)")
    parser.add_argument("--out", metavar="FILE", help="HTML file to write (default: RUN_DIR/report.html)")
    parser.add_argument("--cell", type=float, default=100.0, help="grid cell size in metres (default 100)")
    parser.add_argument("--bandwidth", type=float, default=75.0,
                        help="Gaussian kernel bandwidth in metres (default 75)")
    parser.add_argument("--zones", metavar="FILE", help="polygons to tabulate counts by")
    parser.add_argument("--zone-field", metavar="NAME", help="field naming each zone (auto-detected)")
    parser.add_argument("--basemap", metavar="RASTER", help="imagery under the map (default: the run's input)")
    parser.add_argument("--title", help="page title")
    parser.add_argument("--timeline", metavar="DIR",
                        help="a folder written by `debrismap timeline`: adds its section (chart, map, dates)")
    parser.add_argument("--review", metavar="FILE",
                        help="review.json from `debrismap review`: adds the estimate from the "
                        "person's review (total with a 95%% interval, precision by score)")
    add_draw_option(parser)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from debrismap.aggregate.report import write_report
    from debrismap.atomic import ensure_dir, write_text
    from debrismap.errors import ConfigError
    from debrismap.timeline.report_section import (
        is_timeline_folder,
        timeline_page,
        timeline_section,
    )

    if is_timeline_folder(args.run_dir):  # a timeline folder: its page alone
        run_only = [flag for flag, value in (("--timeline", args.timeline), ("--review", args.review),
                                             ("--zones", args.zones), ("--zone-field", args.zone_field),
                                             ("--basemap", args.basemap),
                                             ("--draw reviewed", args.draw == "reviewed"))
                    if value]
        if run_only:
            raise ConfigError(f"{args.run_dir} is a timeline folder: {', '.join(run_only)} apply to a run folder")
        out = Path(args.out) if args.out else Path(args.run_dir) / "report.html"
        ensure_dir(out.parent)
        print(f"wrote {write_text(out, timeline_page(args.run_dir, args.title))}")
        return 0
    from debrismap.review.summary import review_for_map, review_html

    # checked before anything is written
    reviewed, model = review_for_map(args.review, args.run_dir, args.draw)
    review = review_html(reviewed[1]) if reviewed is not None else ""
    section = timeline_section(args.timeline) if args.timeline else ""
    path = write_report(args.run_dir, args.out, cell=args.cell, bandwidth=args.bandwidth,
                        zones=args.zones, basemap=args.basemap, title=args.title,
                        zone_field=args.zone_field, review=review, extra_section=section, draw=model)
    print(f"wrote {path}")
    return 0
