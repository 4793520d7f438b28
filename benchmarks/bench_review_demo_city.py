"""The review's interval on a city the bundled model really ran on, against its known truth.

`debrismap demo` makes a synthetic city (0.5 m, known piles) and detects it with the bundled
model; each 100 m cell's true count and the detector's count then go through many random
oracle reviews (debrismap.review.simulate.oracle_reviews: the same stratified design and GREG
estimator as `debrismap review` / `heatmap --review`). Reports coverage of the 95% interval,
bias and median half-width for several sample sizes.

    uv run python benchmarks/bench_review_demo_city.py [--size 1536] [--reps 20000]
"""

from __future__ import annotations

import argparse
import sys

import _common
import numpy as np
import shapely

from debrismap.aggregate.heatmap import analyse_run
from debrismap.geometry.crs import transform_points
from debrismap.review.simulate import City, oracle_reviews
from debrismap.vector_io import read_vector

SAMPLES = (10, 20, 30, 40)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1536, help="city side in pixels")
    parser.add_argument("--reps", type=int, default=20000)
    args = parser.parse_args(argv)
    out = _common.CACHE / f"review-demo-{args.size}"
    if not (out / "run" / "run.json").exists():
        _common.run([*_common.DEBRISMAP, "demo", "--out", str(out), "--size", str(args.size), "--quiet"])
    analysis = analyse_run(out / "run", cell=100.0)
    truth = read_vector(out / "city.labels.geojson")
    b = shapely.bounds(truth.geometries)
    centres = transform_points(np.column_stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2]),
                               truth.crs, analysis.metric_crs)
    city = City(analysis.grid.count_points(centres), analysis.grid.count.copy())
    rows = []
    for n in SAMPLES:
        r = oracle_reviews(city, n, args.reps, np.random.default_rng(n))
        err = (r["total"] - r["true_total"]) / r["true_total"]
        rows.append({"cells": n, "coverage": float(((r["low"] <= r["true_total"]) & (r["true_total"] <= r["high"])).mean()),
                     "mean_relative_error": float(err.mean()),
                     "mean_error_mcse": float(err.std() / np.sqrt(len(err))),
                     "median_half_width": float(np.median((r["high"] - r["low"]) / 2 / r["true_total"]))})
        print(rows[-1], flush=True)
    _common.write_result("bench_review_demo_city", {
        "city_px": args.size, "cells": len(city.truth), "true_piles": int(city.truth.sum()),
        "detector_count": int(city.detected.sum()), "reviews": args.reps, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
