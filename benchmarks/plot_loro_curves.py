"""Accuracy against training steps and data size, from bench_loro results (issue 15's curves).

    uv run python benchmarks/plot_loro_curves.py --out benchmarks/results/loro_curves.png \
        bench_loro_scatter_abl4k_1000 bench_loro_scatter_abl4k_2000 ... bench_loro_scatter_c1k

Models labelled RUN-STEP (benchmarks/ablation_eval.sh's labels; `last` counts as the run's
final step, given with --final RUN=STEPS) become one line per run: F1 at the model's own
threshold, false detections per km² on real empty scenes at that threshold, and recall at
most 20 false detections per km² (equal false-alarm rate).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common


def points(names: list[str], finals: dict[str, int]) -> dict[str, list[tuple]]:
    """run -> [(step, F1, false/km², recall at <= 20/km²)] sorted by step."""
    from bench_loro import recall_at_false_rates

    runs = defaultdict(list)
    for name in names:
        doc = json.loads((_common.RESULTS / f"{name}.json").read_text())["results"]
        for m in doc["models"]:
            run, _, step = m["label"].rpartition("-")
            if not run:
                continue
            step = finals.get(run) if step == "last" else int(step) if step.isdigit() else None
            if step is None:
                continue
            at = m.get("recall_at_false_per_km2") or recall_at_false_rates(m["sweep"])
            runs[run].append((step, m["pooled"]["f1"], m["false_per_km2"], at["20"]))
    return {r: sorted(v) for r, v in runs.items()}


def main(argv: list[str] | None = None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", help="result names under benchmarks/results (without .json)")
    ap.add_argument("--final", action="append", default=[], metavar="RUN=STEPS", help="step of RUN's `last`")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    finals = {k: int(v) for k, v in (f.split("=", 1) for f in args.final)}
    runs = points(args.results, finals)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for run, pts in runs.items():
        steps = [p[0] for p in pts]
        for ax, k in zip(axes, (1, 2, 3)):
            ax.plot(steps, [p[k] for p in pts], "o-", label=run)
    for ax, title in zip(axes, ("F1 at IoU 0.3, threshold 0.10", "false detections / km² (real, empty), threshold 0.10",
                                "recall at ≤ 20 false / km² (best threshold)")):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("training steps (batch 16, 128 px crops)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Leave-one-renderer-out (scatter piles on 5 held-out towns): accuracy against training steps", fontsize=10)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    for run, pts in runs.items():
        print(run, [(s, round(f1, 3), round(fa, 1), None if r is None else round(r, 3)) for s, f1, fa, r in pts])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
