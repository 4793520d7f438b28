"""Compare two runs of the same place: which debris piles are new, gone or persisting.

Piles are matched one-to-one between the dates within --match-distance metres, only on
ground both runs analysed. Writes change.gpkg (one feature per pile with a `status`:
persisting, new or gone), change_counts.gpkg / .csv (before, after, new, gone, net per
grid cell), change_density.tif (new minus gone per km², COG), change.png and
change_summary.json / change_summary.txt.

With --review-before and/or --review-after (review.json from `debrismap review` of that run),
the summary adds, for each reviewed run, the total estimated from the person's review on the
ground both runs imaged (95% interval) beside the detector's count, and, when both are
reviewed, the change between the dates with its 95% interval. See docs/review.md.

examples:
  debrismap compare runs/city-2023-01-25 runs/city-2023-02-10 --out change/ --match-distance 5
  debrismap compare runs/city-2023-01-25 runs/city-2023-02-10 --out change/ \
      --review-before runs/city-2023-01-25/review.json --review-after runs/city-2023-02-10/review.json
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
    parser.add_argument("--review-before", metavar="FILE",
                        help="review.json of RUN_BEFORE from `debrismap review`: its reviewed total "
                        "(95%% interval) on the common ground")
    parser.add_argument("--review-after", metavar="FILE",
                        help="review.json of RUN_AFTER: as --review-before; with both, the change "
                        "between the dates gets a 95%% interval")


def run(args: argparse.Namespace) -> int:
    import json

    from debrismap.aggregate.compare import analyse_change, check_bandwidth, write_compare

    check_bandwidth(args.bandwidth)
    reviews = {}
    if args.review_before or args.review_after:  # checked before anything is written
        from debrismap.aggregate.run_folder import load_run
        from debrismap.review.file import load_review

        for when, path, run_dir in (("before", args.review_before, args.run_before),
                                    ("after", args.review_after, args.run_after)):
            reviews[when] = load_review(path, load_run(run_dir)) if path else None
    change = analyse_change(args.run_before, args.run_after, args.match_distance, args.cell)
    sections = {}
    if reviews:
        from debrismap.review.change import compare_review_section

        sections["review"] = compare_review_section(reviews, change.coverage, change.metric_crs,
                                                    change.totals(), change.coverage.area / 1e6)
    outputs = write_compare(change, args.out, bandwidth=args.bandwidth, title=args.title, credit=args.credit,
                            extra_sections=sections)
    totals = json.loads(outputs.change_summary_json.read_text(encoding="utf-8"))["totals"]
    print(", ".join(f"{k}: {v:,}" for k, v in totals.items()))
    if reviews:
        print(sections["review"][1].strip("\n"))
    print(f"wrote change.gpkg, change_counts.gpkg/.csv, change_density.tif, change.png and change_summary to "
          f"{outputs.out_dir}")
    return 0
