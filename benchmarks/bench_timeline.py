"""How well `debrismap timeline` dates piles: a 5-date synthetic series with known appearance dates.

    uv run python benchmarks/bench_timeline.py                        # the bundled model (int8 on a CPU)
    uv run python benchmarks/bench_timeline.py --detector oracle      # a perfect detector: the timeline's own error
    uv run python benchmarks/bench_timeline.py --demo-figures docs/img   # also copy the figures for the README

One synthetic city (held-out seed 9101, 2048² px at 0.5 m) imaged on 5 dates; 30% of its
piles are there from the first date, the rest appear on later dates; each acquisition is
lit differently and misregistered by 0.5–2 m in a random direction. `debrismap detect`
runs on each date, then `debrismap timeline` on the five run folders.

Measured: offsets recovered against the true ones; the share of tracked piles that match a
true pile and are dated right (first_seen = the true first date), and whose true date lies
in their bracket (appeared_after, first_seen]; per-date error of the present count against
the truth. With `--detector oracle` the piles are bright squares that the tests' oracle
detector finds exactly, so what remains is the timeline's own error.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

DATES = ["2023-02-08", "2023-03-05", "2023-04-02", "2023-05-01", "2023-05-29"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detector", choices=("model", "oracle"), default="model")
    parser.add_argument("--model", type=Path, default=_common.REPO / "models" / "debrismap-default-int8.onnx")
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=9101)
    parser.add_argument("--max-offset", type=float, default=2.0, help="largest misregistration, metres")
    parser.add_argument("--match-distance", type=float, default=4.0)
    parser.add_argument("--demo-figures", type=Path, help="copy timeline.png and first_seen.png here")
    args = parser.parse_args(argv)

    import numpy as np

    from debrismap.aggregate.matching import match_piles
    from debrismap.timeline.synth_series import build_series
    from debrismap.vector_io import read_vector

    work = _common.CACHE / f"timeline-{args.detector}-{args.seed}-{args.size}"
    if work.exists():
        shutil.rmtree(work)
    if args.detector == "oracle":
        sys.path.insert(0, str(_common.REPO / "tests"))
        from test_detect_oracle import build_oracle

        work.mkdir(parents=True)
        model = build_oracle(work / "oracle.onnx")
    else:
        model = _common.check_model(args.model)
    piles = "squares" if args.detector == "oracle" else "synth"
    print(f"building the series ({args.size}² px, {len(DATES)} dates) ...", flush=True)
    series = build_series(work / "images", DATES, size=args.size, seed=args.seed, piles=piles,
                          offset_range_m=(0.5, args.max_offset))
    detect_s = 0.0
    runs = []
    for acq in series.acquisitions:
        run = work / "batch" / acq.raster.stem
        detect_s += _common.detect(acq.raster, run, model, ["--no-heatmap", "--quiet"])
        runs.append(run)
    out = work / "timeline"
    timeline_s = _common.run([*_common.DEBRISMAP, "timeline", str(work / "batch"), "--out", str(out),
                              "--match-distance", str(args.match_distance)])
    record = json.loads((out / "timeline.json").read_text())

    ref = next(a for a in series.acquisitions if a.date.isoformat() == record["reference"]["date"])
    offset_errors = []
    for run, acq in zip(record["runs"], series.acquisitions):
        true = np.subtract(acq.offset_m, ref.offset_m)
        offset_errors.append(float(np.hypot(run["offset"]["east_m"] - true[0], run["offset"]["north_m"] - true[1])))

    fields = read_vector(out / "piles.gpkg").fields
    found = np.column_stack([fields["centre_x"], fields["centre_y"]])
    truth = series.centres() + np.asarray(ref.offset_m)
    m = match_piles(found, truth, args.match_distance)
    first = np.array([DATES.index(d) for d in fields["first_seen"]])
    after = np.array([DATES.index(d) if d else -1 for d in fields["appeared_after"]])
    true_date = series.appears[m.after_index]
    dated_right = first[m.before_index] == true_date
    in_bracket = (after[m.before_index] < true_date) & (true_date <= first[m.before_index])

    per_date = []
    with (out / "timeline.csv").open() as fh:
        import csv

        for k, row in enumerate(csv.DictReader(fh)):
            truth_k = int(np.count_nonzero(series.appears <= k))
            # the truth the detector could have reached: true piles it tracked at all
            tracked_k = int(np.count_nonzero(true_date <= k))
            per_date.append({"date": row["date"], "truth": truth_k, "count": int(row["count"]),
                             "detected": int(row["detected"]), "tracked_truth": tracked_k,
                             "count_error": abs(int(row["count"]) - truth_k) / max(truth_k, 1)})
    results = {
        "detector": args.detector,
        "model": str(model) if args.detector == "model" else "tests oracle (bright squares)",
        "model_sha256": _common.file_sha256(model) if args.detector == "model" else None,
        "size_px": args.size, "seed": args.seed, "dates": DATES, "max_offset_m": args.max_offset,
        "match_distance_m": args.match_distance,
        "true_piles": len(series.boxes), "tracked_piles": len(found), "tracked_matching_truth": len(m.before_index),
        "false_tracks": len(found) - len(m.before_index),
        "recall_of_tracking": len(m.before_index) / max(len(series.boxes), 1),
        "dated_right_share": float(dated_right.mean()) if len(dated_right) else None,
        "true_date_in_bracket_share": float(in_bracket.mean()) if len(in_bracket) else None,
        "offset_error_m": {"max": max(offset_errors), "mean": float(np.mean(offset_errors))},
        "true_offsets_m": [float(np.hypot(*a.offset_m)) for a in series.acquisitions],
        "per_date": per_date,
        "count_error": {"mean": float(np.mean([r["count_error"] for r in per_date])),
                        "max": float(np.max([r["count_error"] for r in per_date]))},
        "seconds": {"detect_total": detect_s, "timeline": timeline_s,
                    "note": "wall time on a shared 2-core machine: indicative only"},
    }
    print()
    print(_common.table(per_date, [("date", "date", ""), ("truth", "true piles", ""), ("count", "present", ""),
                                   ("detected", "detected", ""), ("count_error", "count error", "{:.0%}")]))
    print(f"\ntracked {len(found)} piles, {len(m.before_index)} match one of {len(series.boxes)} true piles; "
          f"dated right {results['dated_right_share']:.1%}, true date within bracket "
          f"{results['true_date_in_bracket_share']:.1%}; offsets within {max(offset_errors):.2f} m; "
          f"per-date count error mean {results['count_error']['mean']:.1%}, max {results['count_error']['max']:.1%}")
    tag = "" if args.detector == "model" else "_oracle"
    _common.write_result("bench_timeline" + tag, results)
    if args.demo_figures:
        args.demo_figures.mkdir(parents=True, exist_ok=True)
        for name in ("timeline.png", "first_seen.png"):
            _small_png(out / name, args.demo_figures / f"timeline_demo_{name}")
        print(f"copied the figures to {args.demo_figures}")
    return 0


def _small_png(src: Path, dst: Path) -> None:
    """A 760 px wide, 256-colour copy for the README (the 300 dpi original is several MB)."""
    from PIL import Image

    with Image.open(src) as im:
        im = im.convert("RGB")
        im = im.resize((760, round(im.height * 760 / im.width)), Image.Resampling.LANCZOS)
        im.quantize(256, dither=Image.Dither.NONE).save(dst, optimize=True)


if __name__ == "__main__":
    raise SystemExit(main())
