"""How `debrismap evaluate`'s metric step scales: N detections x N truths, up to 100k x 100k.

    uv run python benchmarks/bench_evaluate.py

Random boxes (2-10 m) spread over a square scene at ~250 piles per km², detections = truths
jittered by 0.4 m with random scores; the whole metric step (candidate pairs from an STR-tree,
11 greedy matchings for P/R and AP50-95, size bins, per-cell counts on 100 m cells and 2000
bootstrap resamples) is timed. File reading is not included. No model needed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    args = parser.parse_args(argv)

    import numpy as np
    import psutil
    import shapely

    from debrismap.evaluate import EvaluationOptions, evaluate_boxes

    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        rng = np.random.default_rng(0)
        side = (n / 250.0) ** 0.5 * 1000.0  # metres, for ~250 piles per km²
        xy = rng.uniform(0, side, (n, 2))
        truths = np.column_stack([xy, xy + rng.uniform(2, 10, (n, 2))])
        dets = truths + rng.normal(0, 0.4, (n, 4))
        scores = rng.uniform(0.2, 1.0, n)
        area = shapely.box(0, 0, side, side)
        start = time.perf_counter()
        m = evaluate_boxes(dets, scores, truths, area, EvaluationOptions(cell=100.0, resamples=2000))
        seconds = time.perf_counter() - start
        rows.append({"n": n, "area_km2": side**2 / 1e6, "cells": m["counting"]["cells"], "seconds": seconds,
                     "recall": m["operating_point"]["recall"],
                     "rss_mib": psutil.Process().memory_info().rss / 2**20})
        print(f"  {n} x {n}: {seconds:.2f} s", flush=True)
    print()
    print(_common.table(rows, [("n", "detections x truths", ""), ("area_km2", "km2", "{:.0f}"),
                               ("cells", "cells", ""), ("seconds", "seconds", "{:.2f}"),
                               ("rss_mib", "RSS MiB", "{:.0f}")]))
    _common.write_result("bench_evaluate", {"runs": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
