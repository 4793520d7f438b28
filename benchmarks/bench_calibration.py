"""Count calibration: build the table on some held-out composite scenes, measure it on others.

    uv run python benchmarks/bench_calibration.py --model models/debrismap-default-int8.onnx --write

Scenes: synthetic piles composited (`debrismap synth --background`) onto the six real scenes of
../shared/heldout (evaluation only; no training set has seen them). The backgrounds are split
in two fixed halves, so the table and the measurement never share a scene or a pile:

  calibration  xbd santa-rosa (0.45 m), spacenet Paris (0.30 m), LEVIR-CD Texas (0.5 m)
  measurement  xbd harvey (0.47 m), spacenet Shanghai (0.30 m), WHU-CD Christchurch (0.30 m)

Each background gets several pile seeds (different piles, different numbers of piles: 20 to
80 per scene, drawn per seed). Every scene: `debrismap detect` (model defaults, candidates
down to 0.05), then every candidate is matched one-to-one to the truth (IoU >= 0.3, by
descending score, as `debrismap evaluate` does).

(a) The calibration scenes give the table (precision per score bin, recall per threshold);
    --write stores it beside the model as <model stem>.calibration.json, where detect finds it.
(b) On each measurement scene the calibrated estimate is computed from its candidates' scores
    alone, and compared with the true number of piles: is the central figure within +-15%, and
    does the 95% interval cover the truth?

The PNG backgrounds (no CRS) get a projected georeference at their documented pixel size in
the benchmark cache, as ../shared/heldout/README.md allows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

from debrismap.calibration import CountCalibration, calibration_path, input_dtype, tally_scene
from debrismap.evaluate.matching import greedy_match
from debrismap.geometry.boxes import overlapping_pairs
from debrismap.vector_io import read_vector

HELDOUT = _common.REPO.parent / "shared" / "heldout"
# (file, pixel size in metres for files without a CRS, CRS to give them)
CALIBRATION_BACKGROUNDS = [
    ("xbd_santa-rosa-wildfire_00000007_post.tif", None, None),
    ("spacenet_AOI_3_Paris_img522_rgb8.tif", None, None),
    ("levircd_test_7_B.png", 0.5, "EPSG:32614"),
]
MEASUREMENT_BACKGROUNDS = [
    ("xbd_hurricane-harvey_00000220_post.tif", None, None),
    ("spacenet_AOI_4_Shanghai_img6917_rgb8.tif", None, None),
    ("whucd_000241_2016_0p3m.png", 0.3, "EPSG:32759"),
]
EDGES = [0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 1.0]


def georeferenced(name: str, gsd: float | None, crs: str | None) -> Path:
    """The held-out file itself, or (PNG without a CRS) a GeoTIFF copy with a projected grid at its pixel size."""
    path = HELDOUT / name
    if gsd is None:
        return path
    import rasterio
    from affine import Affine

    out = _common.CACHE / "calibration" / "georef" / (path.stem + ".tif")
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        with rasterio.open(path) as src:
            pixels = src.read()
        profile = dict(driver="GTiff", width=pixels.shape[2], height=pixels.shape[1], count=pixels.shape[0],
                       dtype=pixels.dtype, crs=crs, transform=Affine(gsd, 0, 500000.0, 0, -gsd, 5000000.0),
                       compress="deflate")
        with rasterio.open(out, "w", **profile) as dst:
            dst.write(pixels)
    return out


def scene_piles(seed: int) -> int:
    """How many piles a scene gets: 20..80, fixed by its seed (so counts vary across scenes)."""
    return int(np.random.default_rng(seed).integers(20, 81))


def make_scene(background: Path, seed: int) -> Path:
    scene = _common.CACHE / "calibration" / "scenes" / f"{background.stem}_s{seed}.tif"
    if not scene.exists():
        scene.parent.mkdir(parents=True, exist_ok=True)
        _common.run([*_common.DEBRISMAP, "synth", "--background", str(background), "--seed", str(seed),
                     "--n-piles", str(scene_piles(seed)), "--out", str(scene), "--quiet"])
    return scene


def bounds(geoms) -> np.ndarray:
    import shapely

    return shapely.bounds(geoms).reshape(-1, 4) if len(geoms) else np.zeros((0, 4))


def run_scene(scene: Path, model: Path, tag: str, iou: float, reuse: bool = False) -> dict:
    """Detect on one scene (or, with `reuse`, take a complete run of the same model) and match
    its candidates to the truth."""
    run_dir = _common.CACHE / "calibration" / f"runs_{tag}" / scene.stem
    seconds = None
    if not (reuse and _complete_run_of(run_dir, model)):
        seconds = _common.detect(scene, run_dir, model, ["--quiet", "--no-heatmap"])
    manifest = _common.read_run(run_dir)
    cands = read_vector(run_dir / "candidates.gpkg")
    truth = read_vector(scene.with_suffix(".labels.geojson"))
    scores = np.asarray(cands.fields["score"], float) if len(cands) else np.zeros(0)
    boxes, truth_boxes = bounds(cands.geometries), bounds(truth.geometries)
    d, t, overlap = overlapping_pairs(boxes, truth_boxes)
    matched_truth = greedy_match(scores, len(truth_boxes), d, t, overlap, iou)
    best = np.full(len(truth_boxes), -1.0)
    for det, tr in zip(np.nonzero(matched_truth >= 0)[0], matched_truth[matched_truth >= 0]):
        best[tr] = max(best[tr], scores[det])
    return {"scene": scene.stem, "scores": scores, "matched": matched_truth >= 0, "truth_best": best[best >= 0],
            "n_truth": len(truth_boxes), "inputs": manifest["inputs"], "detect_seconds": seconds,
            "operating_threshold": manifest["thresholds"]["score"]}


def _complete_run_of(run_dir: Path, model: Path) -> bool:
    try:
        manifest = _common.read_run(run_dir)
    except (OSError, ValueError):
        return False
    return manifest.get("status") == "complete" and manifest["model"]["sha256"] == _common.file_sha256(model)


def background_of(scene: dict) -> str:
    return scene["scene"].rsplit("_s", 1)[0]


def leave_one_background_out(calibration: list[dict], edges: np.ndarray, count_threshold: float) -> dict:
    """On the calibration scenes alone: each background's scenes estimated with a table made from
    the other backgrounds. A check of the interval that never looks at the measurement scenes."""
    backgrounds = sorted({background_of(s) for s in calibration})
    covered = within = n = 0
    for held in backgrounds:
        rest = [tally_scene(s["scene"], s["scores"], s["matched"], s["truth_best"], s["n_truth"], edges,
                            background_of(s))
                for s in calibration if background_of(s) != held]
        table = CountCalibration(edges, rest, count_threshold)
        for s in calibration:
            if background_of(s) == held:
                est = table.estimate(s["scores"])
                n += 1
                covered += est["low"] is not None and est["low"] <= s["n_truth"] <= est["high"]
                within += est["central"] is not None and abs(est["central"] - s["n_truth"]) <= 0.15 * s["n_truth"]
    return {"scenes": n, "covered": covered, "within_15pct": within}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=_common.REPO / "models" / "debrismap-default-int8.onnx")
    parser.add_argument("--tag", default="", help="results go to results/bench_calibration_TAG.json")
    parser.add_argument("--calibration-seeds", type=int, default=6, help="pile seeds per calibration background")
    parser.add_argument("--measurement-seeds", type=int, default=4, help="pile seeds per measurement background")
    parser.add_argument("--count-threshold", type=float, default=0.05,
                        help="boxes at or above this score are counted by the estimate (default: the candidate floor)")
    parser.add_argument("--iou", type=float, default=0.3)
    parser.add_argument("--write", action="store_true", help="store the table beside the model")
    parser.add_argument("--reuse-runs", action="store_true",
                        help="take complete detect runs of the same model from the cache instead of rerunning")
    args = parser.parse_args(argv)
    model = _common.check_model(args.model)
    tag = args.tag or model.stem

    # Seeds: calibration 20000+, measurement 30000+: no pile is in both halves.
    calibration = []
    for b, (name, gsd, crs) in enumerate(CALIBRATION_BACKGROUNDS):
        for k in range(args.calibration_seeds):
            calibration.append(run_scene(make_scene(georeferenced(name, gsd, crs), 20000 + 100 * b + k), model, tag,
                                         args.iou, args.reuse_runs))
            print(f"calibration scene {len(calibration)}: {calibration[-1]['scene']}", flush=True)
    edges = np.asarray(EDGES)
    tallies = [tally_scene(s["scene"], s["scores"], s["matched"], s["truth_best"], s["n_truth"], edges,
                           background_of(s))
               for s in calibration]
    gsds = [float(i["gsd_m"]) for s in calibration for i in s["inputs"] if i.get("gsd_m")]
    imagery = {"gsd_m_min": round(min(gsds), 3), "gsd_m_max": round(max(gsds), 3), "bands": 3,
               "dtypes": sorted({input_dtype(i) for s in calibration for i in s["inputs"]} - {None}),
               "kind": "3 real VHR RGB backgrounds (xBD GeoEye-1 Santa Rosa, SpaceNet WorldView-3 Paris, "
                       "LEVIR-CD aerial Texas) with synthetic piles composited in; season and sensor not controlled"}
    table = CountCalibration(edges, tallies, args.count_threshold, args.iou, imagery, {
        "model_sha256": _common.file_sha256(model), "model": model.name,
        "scenes": [s["scene"] for s in calibration], "made_by": "benchmarks/bench_calibration.py",
        "operating_threshold": calibration[0]["operating_threshold"] if calibration else None})

    rows = []
    for b, (name, gsd, crs) in enumerate(MEASUREMENT_BACKGROUNDS):
        for k in range(args.measurement_seeds):
            s = run_scene(make_scene(georeferenced(name, gsd, crs), 30000 + 100 * b + k), model, tag, args.iou,
                          args.reuse_runs)
            est = table.estimate(s["scores"])
            detected = int(np.count_nonzero(s["scores"] >= s["operating_threshold"]))
            truth = s["n_truth"]
            rows.append({
                "scene": s["scene"], "truth": truth, "detected": detected, "estimate": est["central"],
                "low": est["low"], "high": est["high"],
                "rel_error": (est["central"] - truth) / truth if est["central"] is not None else None,
                "detected_rel_error": (detected - truth) / truth,
                "within_15pct": est["central"] is not None and abs(est["central"] - truth) <= 0.15 * truth,
                "covered": est["low"] is not None and est["low"] <= truth <= est["high"],
                "outside_calibration": table.outside(s["inputs"]),
            })
            print(f"measurement scene {len(rows)}: {s['scene']}", flush=True)
    truth_total = sum(r["truth"] for r in rows)
    est_total = sum(r["estimate"] or 0 for r in rows)
    det_total = sum(r["detected"] for r in rows)
    pooled = {"scene": "all measurement scenes", "truth": truth_total, "detected": det_total,
              "estimate": round(est_total, 1), "rel_error": (est_total - truth_total) / truth_total,
              "detected_rel_error": (det_total - truth_total) / truth_total}
    print(_common.table([*rows, pooled], [
        ("scene", "scene", ""), ("truth", "true", ""), ("detected", "detected", ""),
        ("detected_rel_error", "det err", "{:+.0%}"), ("estimate", "estimate", "{:.1f}"),
        ("low", "low", ""), ("high", "high", ""), ("rel_error", "est err", "{:+.0%}"),
        ("within_15pct", "±15%", ""), ("covered", "covered", ""),
    ]))
    within = sum(r["within_15pct"] for r in rows)
    covered = sum(r["covered"] for r in rows)
    recall = table.recall(args.count_threshold)
    print(f"\ncalibration: {len(calibration)} scenes, {sum(t.n_truth for t in tallies)} piles; recall at "
          f"{args.count_threshold:g}: {recall:.3f}; precision per bin {np.round(table.precision(), 3).tolist()}")
    print(f"measurement: {len(rows)} scenes; central within ±15%: {within}/{len(rows)}; "
          f"95% interval covers the truth: {covered}/{len(rows)}; pooled total error {pooled['rel_error']:+.1%} "
          f"(detections at the operating threshold: {pooled['detected_rel_error']:+.1%})")
    loo = leave_one_background_out(calibration, edges, args.count_threshold)
    print(f"calibration scenes, leave one background out: interval covers {loo['covered']}/{loo['scenes']}, "
          f"central within ±15% {loo['within_15pct']}/{loo['scenes']}")
    if args.write:
        from debrismap.atomic import write_json

        path = write_json(calibration_path(model), table.to_dict(), indent=None)  # one line: data, not prose
        print(f"wrote {path}")
    _common.write_result("bench_calibration" + (f"_{args.tag}" if args.tag else ""), {
        "model": str(model), "model_sha256": _common.file_sha256(model), "iou": args.iou,
        "count_threshold": args.count_threshold, "edges": EDGES,
        "calibration_scenes": [s["scene"] for s in calibration], "recall_at_count_threshold": recall,
        "precision_per_bin": table.precision().tolist(), "measurement": rows, "pooled": pooled,
        "within_15pct": within, "covered": covered, "scenes_measured": len(rows),
        "leave_one_background_out": loo,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
