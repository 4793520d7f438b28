"""When did the piles appear: follow debris piles over many acquisitions of one place.

Takes the run folders of several dates (what `debrismap detect --out` writes, or a batch
folder holding one run folder per acquisition), dates each run (run.json, the imagery's
metadata, a date in the file name, or --dates FILE), moves every acquisition onto a
reference by phase correlation of the imagery, and matches piles across dates. Writes
piles.gpkg / piles.geojson (one feature per pile: first_seen, last_absent, last_seen,
n_seen, n_imaged, mean_score, and the bracket its appearance is known within),
timeline.csv (per date: imaged km², piles present, new), cells_timeline.csv (per grid
cell and date), timeline.json (runs, dates, offsets, parameters), timeline.png,
first_seen.png and summary.txt. `debrismap report OUT_DIR` makes an HTML page of it.

With --review REVIEW RUN_DIR (repeatable; review.json from `debrismap review RUN_DIR`), the
dates of the reviewed runs get the total estimated from the person's review with its 95%
interval beside the detector's count (timeline.csv / timeline.json columns reviewed,
reviewed_low, reviewed_high; empty on dates nobody reviewed).

examples:
  debrismap timeline runs/antakya-2023-* --out timeline/
  debrismap timeline batch/ --out timeline/ --reference 2023-02-10 --match-distance 4
  debrismap timeline runs/a runs/b runs/c --dates dates.csv --out timeline/
  debrismap timeline runs/a runs/b runs/c --out timeline/ --review runs/b/review.json runs/b
"""

from __future__ import annotations

import argparse

HELP = "date each pile: track piles over many acquisitions of one place"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", metavar="BATCH_DIR_OR_RUN_DIRS", nargs="+",
                        help="run folders, or batch folders whose sub-folders are run folders")
    parser.add_argument("--out", metavar="DIR", required=True, help="output folder")
    parser.add_argument("--match-distance", type=float, default=4.0, metavar="M",
                        help="largest distance in metres between sightings of one pile (default 4)")
    parser.add_argument("--cell", type=float, default=100.0, metavar="M",
                        help="grid cell size in metres for cells_timeline.csv (default 100)")
    parser.add_argument("--reference", metavar="DATE",
                        help="acquisition (date or run folder name) the others are moved onto "
                             "(default: the one imaging the most ground)")
    parser.add_argument("--dates", metavar="FILE",
                        help="CSV of NAME,YYYY-MM-DD for runs whose date is recorded nowhere "
                             "(NAME: run folder name, or input file name or stem)")
    parser.add_argument("--no-coregister", action="store_true",
                        help="trust the georeferencing as it is (no offsets estimated)")
    parser.add_argument("--title", help="title of timeline.png")
    parser.add_argument("--credit", help="imagery credit for the figures")
    parser.add_argument(
        "--review", nargs=2, action="append", metavar=("REVIEW", "RUN_DIR"), default=[],
        help="a review.json and the run it reviews: that date gets the reviewed total with its 95%% "
        "interval (repeatable, one per run)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from debrismap.errors import ConfigError
    from debrismap.timeline.outputs import run_timeline

    reviews = {}
    if args.review:  # checked before anything is written
        from debrismap.aggregate.run_folder import load_run
        from debrismap.review.file import load_review
        from debrismap.review.summary import review_summary

        for review_file, run_dir in args.review:
            section = review_summary(load_review(review_file, load_run(run_dir)))
            if Path(run_dir).resolve() in reviews:
                raise ConfigError(f"--review: two reviews of {run_dir}; give one per run")
            reviews[Path(run_dir).resolve()] = section
    outputs = run_timeline(args.runs, args.out, match_distance=args.match_distance, cell=args.cell,
                           reference=args.reference, dates_file=args.dates,
                           coregister=not args.no_coregister, title=args.title, credit=args.credit,
                           reviews=reviews or None)
    b = outputs.record["piles"]
    print(f"{b['piles']:,} piles tracked; {b['bracket_within_a_month']:,} dated within a month, "
          f"{b['open_bracket']:,} with an open bracket")
    print(f"wrote piles.gpkg/.geojson, timeline.csv, cells_timeline.csv, timeline.json, timeline.png, "
          f"first_seen.png and summary.txt to {outputs.out_dir}")
    return 0
