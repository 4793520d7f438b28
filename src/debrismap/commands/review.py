"""Write review.html: an offline page where a person checks a random sample of detections
and counts piles in a random sample of grid cells, so counts can be estimated with an
interval that holds for this imagery (see docs/review.md).

Cells are drawn stratified by the detector's count (cells where it found nothing included),
detections stratified by score. Open the page in any browser (no server, no network),
work through both tasks (about 20-30 minutes at the defaults), export review.json, then:
  debrismap heatmap RUN_DIR --review review.json     (estimate + interval in summary.txt)
  debrismap heatmap RUN_DIR --review review.json --draw reviewed   (map of calibrated counts)
  debrismap compare BEFORE AFTER --out DIR --review-before FILE --review-after FILE
  debrismap timeline RUN_DIRS... --out DIR --review review.json RUN_DIR
  debrismap chips --review review.json --out DIR     (reviewed piles as training labels)

examples:
  debrismap review runs/city
  debrismap review runs/city --cells 60 --detections 200 --seed 7 --out review-city.html
"""

from __future__ import annotations

import argparse

HELP = "write an offline review page: check sampled detections, count piles in sampled cells"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from debrismap.review.design import DEFAULT_CELL_M, DEFAULT_CELLS, DEFAULT_DETECTIONS

    parser.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by `debrismap detect`")
    parser.add_argument("--cells", type=int, default=DEFAULT_CELLS,
                        help=f"grid cells to count (default {DEFAULT_CELLS})")
    parser.add_argument("--detections", type=int, default=DEFAULT_DETECTIONS,
                        help=f"detections to check (default {DEFAULT_DETECTIONS})")
    parser.add_argument("--cell", type=float, default=DEFAULT_CELL_M,
                        help=f"grid cell size in metres (default {DEFAULT_CELL_M:g})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random sample (default 0)")
    parser.add_argument("--out", metavar="FILE", help="page to write (default RUN_DIR/review.html)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from debrismap.aggregate.run_folder import load_run
    from debrismap.review.page import write_review_page
    from debrismap.review.sample import review_population

    run_folder = load_run(args.run_dir)
    pop = review_population(run_folder, args.cells, args.detections, args.seed, args.cell)
    out = write_review_page(pop, Path(args.out) if args.out else run_folder.path / "review.html")
    d, c = pop.design["detections"], pop.design["cells"]
    print(f"sampled {len(d['sample'])} of {d['population']} detections (by score) and "
          f"{len(c['sample'])} of {c['population']} cells of {args.cell:g} m (by detector count)")
    print(f"wrote {out}: open it in a browser, review, then export review.json")
    return 0
