"""Compare two runs of the same place: which debris piles are new, gone or persisting.

Piles are matched one-to-one between the dates within --match-distance metres, only on
ground both runs analysed. Writes change.gpkg (one feature per pile with a `status`:
persisting, new or gone), change_counts.gpkg / .csv (before, after, new, gone, net per
grid cell), change_density.tif (new minus gone per km², COG), change.png and
change_summary.json.

example:
  debrismap compare runs/city-2023-01-25 runs/city-2023-02-10 --out change/ --match-distance 5
"""

from __future__ import annotations

import argparse

HELP = "new, gone and persisting piles between two runs, per pile and per cell"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_before", metavar="RUN_BEFORE", help="run folder of the earlier date")
    parser.add_argument("run_after", metavar="RUN_AFTER", help="run folder of the later date")
    parser.add_argument("--out", metavar="DIR", required=True, help="output folder")
    parser.add_argument("--match-distance", type=float, default=5.0,
                        help="largest distance in metres between one pile on both dates (default 5)")
    parser.add_argument("--cell", type=float, default=100.0, help="grid cell size in metres (default 100)")
    parser.add_argument("--bandwidth", type=float, default=75.0,
                        help="Gaussian kernel bandwidth in metres for the change map (default 75)")
    parser.add_argument("--title", help="figure title")
    parser.add_argument("--credit", help="imagery credit")


def run(args: argparse.Namespace) -> int:
    import json

    from debrismap.aggregate.compare import run_compare

    outputs = run_compare(args.run_before, args.run_after, args.out, match_distance=args.match_distance,
                          cell=args.cell, bandwidth=args.bandwidth, title=args.title, credit=args.credit)
    totals = json.loads(outputs.change_summary_json.read_text(encoding="utf-8"))["totals"]
    print(", ".join(f"{k}: {v:,}" for k, v in totals.items()))
    print(f"wrote change.gpkg, change_counts.gpkg/.csv, change_density.tif and change.png to {outputs.out_dir}")
    return 0
