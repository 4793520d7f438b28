"""How many cells and detections a person must review for a ±15% interval.

Synthetic cities (debrismap.review.simulate: clustered truth, a detector with recall 0.7
and false alarms at 20% of the true density, an oracle reviewer), 2,500 cells of 100 m
(25 km²), at the densities debrismap's runs show (25-250 piles per km²; BENCHMARKS.md's
real scenes hold 24-99 detections per km² before an event and more after). For each
sample size: the 95% interval's coverage of the true total, and its median half-width as
a share of the total. Precision: the half-width of the per-score-band Wilson interval and
of the overall stratified precision, for a number of checked detections spread over 5
score bands.

    uv run python benchmarks/bench_review_sample_size.py [--cities 20] [--reps 200]
"""

from __future__ import annotations

import argparse
import sys
import time

import _common
import numpy as np

from debrismap.review.estimate import stratified_precision, wilson_interval
from debrismap.review.simulate import oracle_reviews, synthetic_city

DENSITIES_PER_KM2 = (25, 50, 100, 250)
CELL_SAMPLES = (20, 30, 40, 60, 80, 100, 150, 200, 300)
DETECTION_SAMPLES = (50, 100, 150, 200, 250, 300)
TARGET = 0.15


def cells_table(cities: int, reps: int) -> list[dict]:
    rows = []
    for density in DENSITIES_PER_KM2:
        per_cell = density / 100.0  # 100 m cells: 100 per km²
        for n in CELL_SAMPLES:
            covered, half = [], []
            for seed in range(cities):
                rng = np.random.default_rng([seed, density, n])
                city = synthetic_city(rng, 2500, per_cell, recall=0.7, false_per_cell=0.2 * per_cell)
                r = oracle_reviews(city, n, reps, rng)
                covered.append((r["low"] <= r["true_total"]) & (r["true_total"] <= r["high"]))
                half.append((r["high"] - r["low"]) / 2 / r["true_total"])
            half = np.concatenate(half)
            rows.append({"piles_per_km2": density, "cells": n, "coverage": float(np.concatenate(covered).mean()),
                         "median_half_width": float(np.median(half)),
                         "share_within_target": float((half <= TARGET).mean())})
            print(f"{density:>4}/km²  {n:>3} cells  coverage {rows[-1]['coverage']:.3f}  "
                  f"median ±{rows[-1]['median_half_width']:.1%}", flush=True)
    return rows


def detections_table(reps: int) -> list[dict]:
    """Precision per score band (5 bands, true precision 0.3-0.95) from n checked detections."""
    rng = np.random.default_rng(0)
    truth = np.array([0.3, 0.55, 0.75, 0.88, 0.95])
    population = np.array([4000, 2500, 1500, 1000, 600])
    rows = []
    for n in DETECTION_SAMPLES:
        per_band = np.full(5, n // 5)
        yes = rng.binomial(per_band, truth, size=(reps, 5))
        lo, hi = wilson_interval(yes, np.broadcast_to(per_band, yes.shape))
        overall = np.array([stratified_precision(y, per_band, population)["overall_se"] for y in yes])
        rows.append({"detections": n, "per_band": int(per_band[0]),
                     "median_band_half_width": float(np.median((hi - lo) / 2)),
                     "worst_band_half_width": float(np.median(((hi - lo) / 2).max(1))),
                     "overall_half_width": float(np.median(1.96 * overall))})
        print(f"{n:>3} detections  band ±{rows[-1]['median_band_half_width']:.3f}  worst band "
              f"±{rows[-1]['worst_band_half_width']:.3f}  overall ±{rows[-1]['overall_half_width']:.3f}",
              flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cities", type=int, default=20)
    parser.add_argument("--reps", type=int, default=200)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    cells = cells_table(args.cities, args.reps)
    detections = detections_table(args.reps)
    needed = {}
    for density in DENSITIES_PER_KM2:
        ok = [r["cells"] for r in cells if r["piles_per_km2"] == density and r["median_half_width"] <= TARGET]
        needed[str(density)] = min(ok) if ok else None
    _common.write_result("bench_review_sample_size", {
        "cities": args.cities, "reviews_per_city": args.reps, "cells_of_100m": 2500,
        "detector": {"recall": 0.7, "false_alarms": "20% of the true density"},
        "cells": cells, "detections": detections, "cells_for_15pct_median": needed,
        "seconds": round(time.perf_counter() - start, 1),
    })
    print("cells for a median ±15% interval:", needed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
