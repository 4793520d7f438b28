"""Leave-one-renderer-out: how a model does on piles drawn unlike anything it trained on.

    uv run python benchmarks/bench_loro.py --holdout scatter --model runs/new/model.onnx --tag new

A model trained on every renderer but one (training/build_transfer_dataset.py --holdout NAME) is
tested on piles of the held-out renderer composited (synth.realchips, seeds >= 9000) onto the
real scenes of ../shared/heldout, which no training set may use. Reported, pooled over scenes:
F1 at IoU 0.3 at the model's operating threshold, recall by box side in pixels (8-12, 12-18,
18-30, > 30; at the model's 0.5 m), total count error, and false detections per km² on real
pre-event scenes with nothing added (the held-out towns plus the realdata scenes every recipe
holds out). Several --model flags evaluate several models on the same scenes (an ablation).

Scenes are resampled to 0.5 m (the model's GSD) before compositing and written as GeoTIFFs
in a local projected CRS, so detect runs at its own GSD without resampling. The Santa Rosa
tile is left out: it shows real burned-out houses, whose debris has no labels.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

HELDOUT = _common.REALDATA.parent / "heldout"
GSD = 0.5
# (file in ../shared/heldout, pixel size in metres when the file has no CRS)
COMPOSITE_SCENES = [
    ("xbd_hurricane-harvey_00000220_post.tif", None),
    ("spacenet_AOI_3_Paris_img522_rgb8.tif", None),
    ("spacenet_AOI_4_Shanghai_img6917_rgb8.tif", None),
    ("levircd_test_7_B.png", 0.5),
    ("whucd_000241_2016_0p3m.png", 0.3),
]
# Real scenes with nothing added, for false alarms per km²: the untouched held-out towns, and
# the realdata pre-event scenes that every training recipe of this project holds out.
EMPTY_SCENES = [
    (HELDOUT / "spacenet_AOI_3_Paris_img522_rgb8.tif", None),
    (HELDOUT / "spacenet_AOI_4_Shanghai_img6917_rgb8.tif", None),
    (HELDOUT / "levircd_test_7_B.png", 0.5),
    (HELDOUT / "whucd_000241_2016_0p3m.png", 0.3),
    (_common.REALDATA / "planet_turkey_eq2023" /
     "ekinci_mahallesi_antakya_hatay_turkey_20221222_ssc17_rgb_flat_50cm_1280px_logo_wm_pre.jpg", 0.5),
    (_common.REALDATA / "planet_turkey_eq2023" /
     "earthquake_turkoglu_turkey_s111_20180708T104958Z_rgb_1920px_logo_wm_pre.jpg", 0.5),
    (_common.REALDATA / "xview2deploy_joplin" / "pre_tile_1361-10160.tif", None),
]
SIZE_BINS_PX = (("8-12", 8, 12), ("12-18", 12, 18), ("18-30", 18, 30), (">30", 30, np.inf))
# Thresholds of the sweep (from the exported model's own upwards): recall against false alarms
# per km² at each, so that models are compared at equal false-alarm rates, not only each at its own.
SWEEP = (0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40, 0.50, 0.60)
FALSE_RATES = (5, 10, 20, 40)  # false detections per km² at which recall is read off the sweep
PILES_PER_MPX = 250  # composited piles per megapixel at 0.5 m (~1000 per km²: a dense, ransacked town)


def rel(path) -> str:
    """A path relative to the repository or ../shared, never absolute (results are committed)."""
    path = Path(path).resolve()
    for base, prefix in ((_common.REPO, ""), (_common.REALDATA.parent, "../shared/")):
        try:
            return prefix + str(path.relative_to(base.resolve()))
        except ValueError:
            continue
    return path.name


def write_geotiff(path: Path, image: np.ndarray) -> None:
    """uint8 RGB at GSD in a local UTM grid: detect reads it at its own GSD."""
    import rasterio
    from rasterio.transform import Affine

    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=image.shape[1], height=image.shape[0], count=3,
                       dtype="uint8", crs="EPSG:32631", transform=Affine(GSD, 0, 500000, 0, -GSD, 5000000),
                       tiled=True, blockxsize=256, blockysize=256, compress="deflate", photometric="RGB") as dst:
        dst.write(image.transpose(2, 0, 1))


def build_scenes(holdout: str, seed: int, work: Path) -> tuple[list[dict], list[dict]]:
    """(composite scenes with truth, empty scenes): GeoTIFFs in `work`, made once and reused."""
    from debrismap.synth.realchips import composite_scene
    from debrismap.synth.realscene import load_scene

    composites, empties = [], []
    for k, (name, gsd) in enumerate(COMPOSITE_SCENES):
        src = HELDOUT / name
        out = work / f"{holdout}_s{seed + k}" / f"{Path(name).stem}.tif"
        truth = out.with_suffix(".labels.txt")
        if not (out.exists() and truth.exists()):
            scene = load_scene(src, gsd=GSD, source_gsd=gsd, seed=seed + k)
            n = max(10, round(scene.shape[0] * scene.shape[1] / 1e6 * PILES_PER_MPX))
            image, placed = composite_scene(scene, [holdout], n, seed + k, negatives=n // 4)
            write_geotiff(out, image)
            truth.write_text("".join(f"0 {x0} {y0} {x1} {y1}\n" for x0, y0, x1, y1 in placed.boxes))
            print(f"{out.name}: {len(placed.boxes)} {holdout} piles ({scene.site_source})", flush=True)
        composites.append({"name": Path(name).stem, "source": rel(src), "raster": out, "truth": truth})
    for src, gsd in EMPTY_SCENES:
        out = work / "empty" / f"{src.stem[:60]}.tif"
        if not out.exists():
            scene = load_scene(src, gsd=GSD, source_gsd=gsd)
            write_geotiff(out, np.clip(np.round(scene.rgb), 0, 255).astype(np.uint8))
        empties.append({"name": src.stem[:60], "source": rel(src), "raster": out})
    return composites, empties


def score_scene(run_dir: Path, raster: Path, truth: Path, iou: float) -> dict:
    """Matches at the run's threshold (debrismap.evaluate), plus recall by box side in pixels."""
    from debrismap.evaluate import EvaluationOptions, evaluate_boxes, inputs
    from debrismap.evaluate.matching import greedy_match, sort_pairs
    from debrismap.geometry.boxes import overlapping_pairs

    dets = inputs.load_detections(run_dir)
    truth_layer = inputs.load_truth(truth, inputs.raster_info(raster))
    frame = inputs.choose_frame(dets, truth_layer)
    db, tb = inputs.boxes_in(dets.layer, frame), inputs.boxes_in(truth_layer, frame)
    scores = np.asarray(dets.layer.scores, float)
    score = dets.run_score or 0.0
    m = evaluate_boxes(db, scores, tb, None, EvaluationOptions(iou=iou, score=score, unit_m=frame.unit_m,
                                                               resamples=0))
    keep = scores >= score
    d_idx, t_idx, ious = sort_pairs(scores[keep], *overlapping_pairs(db[keep], tb))
    match = greedy_match(scores[keep], len(tb), d_idx, t_idx, ious, iou, presorted=True)
    hit = np.zeros(len(tb), bool)
    hit[match[match >= 0]] = True
    side_px = np.sqrt((tb[:, 2] - tb[:, 0]) * (tb[:, 3] - tb[:, 1])) * frame.unit_m / GSD if len(tb) else np.zeros(0)
    op = m["operating_point"]
    sweep = {}
    for t in SWEEP:
        if t < score:
            continue
        at = evaluate_boxes(db, scores, tb, None, EvaluationOptions(iou=iou, score=t, unit_m=frame.unit_m,
                                                                     resamples=0))["operating_point"]
        sweep[f"{t:.2f}"] = {k: at[k] for k in ("tp", "fp", "fn")}
    return {"sweep": sweep, "truths": op["truths"], "detections": op["detections"], "tp": op["tp"], "fp": op["fp"], "fn": op["fn"],
            "precision": op["precision"], "recall": op["recall"], "f1": op["f1"], "ap50": m["ap50"],
            "side_px": side_px.round(1).tolist(), "hit": hit.tolist()}


def pooled(rows: list[dict]) -> dict:
    tp, fp, fn = (sum(r[k] for r in rows) for k in ("tp", "fp", "fn"))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    side = np.concatenate([np.asarray(x["side_px"]) for x in rows]) if rows else np.zeros(0)
    hit = np.concatenate([np.asarray(x["hit"], bool) for x in rows]) if rows else np.zeros(0, bool)
    by_size = {}
    for name, lo, hi in SIZE_BINS_PX:
        m = (side >= lo) & (side < hi)
        by_size[name] = {"truths": int(m.sum()), "recall": float(hit[m].mean()) if m.any() else None}
    truths, dets = tp + fn, tp + fp
    return {"truths": truths, "detections": dets, "tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r,
            "f1": 2 * p * r / (p + r) if p + r else 0.0, "count_error": (dets - truths) / truths if truths else None,
            "recall_by_side_px": by_size, "truths_under_8px": int((side < 8).sum())}


def sweep_table(rows: list[dict], empty_rows: list[dict], km2: float) -> dict:
    """Pooled recall, precision, F1, count error and false detections per km² at each threshold."""
    out = {}
    for t in rows[0]["sweep"] if rows else []:
        tp, fp, fn = (sum(r["sweep"][t][k] for r in rows) for k in ("tp", "fp", "fn"))
        false = sum(r["sweep"][t] for r in empty_rows)
        out[t] = {"recall": tp / (tp + fn) if tp + fn else 0.0, "precision": tp / (tp + fp) if tp + fp else 0.0,
                  "f1": 2 * tp / (2 * tp + fp + fn) if tp else 0.0,
                  "count_error": (fp - fn) / (tp + fn) if tp + fn else None,
                  "false_per_km2": false / km2 if km2 else None}
    return out


def recall_at_false_rates(sweep: dict) -> dict:
    """Best recall among the sweep's thresholds that raise at most R false detections per km²
    (no interpolation between thresholds; None when even the highest threshold raises more)."""
    out = {}
    for rate in FALSE_RATES:
        ok = [v["recall"] for v in sweep.values() if v["false_per_km2"] is not None and v["false_per_km2"] <= rate]
        out[str(rate)] = max(ok) if ok else None
    return out


def main(argv: list[str] | None = None) -> int:
    from debrismap.synth.renderers import RENDERERS

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--holdout", required=True, choices=list(RENDERERS), help="the renderer left out of training")
    ap.add_argument("--model", type=Path, action="append", required=True, help="ONNX model (repeat to compare)")
    ap.add_argument("--label", action="append", default=None, help="a name per --model (default: file stem)")
    ap.add_argument("--tag", default="", help="results go to results/bench_loro_HOLDOUT[_TAG].json")
    ap.add_argument("--seed", type=int, default=9300, help="first seed of the test piles (>= 9000: never trained)")
    ap.add_argument("--iou", type=float, default=0.3)
    args = ap.parse_args(argv)
    if not HELDOUT.is_dir():
        raise SystemExit(f"{HELDOUT}: held-out scenes not found")
    if args.seed < 9000:
        raise SystemExit("--seed must be >= 9000: lower seeds are training seeds")
    models = [_common.check_model(m) for m in args.model]
    labels = args.label or [m.stem for m in models]
    if len(labels) != len(models):
        raise SystemExit("give one --label per --model")
    work = _common.CACHE / "loro"
    composites, empties = build_scenes(args.holdout, args.seed, work)

    results = []
    for label, model in zip(labels, models):
        rows, empty_rows = [], []
        for sc in composites:
            run_dir = work / "runs" / label / sc["raster"].parent.name / sc["name"]
            _common.detect(sc["raster"], run_dir, model, ["--quiet", "--no-heatmap"])
            rows.append({"scene": sc["name"], "source": sc["source"], **score_scene(run_dir, sc["raster"], sc["truth"], args.iou)})
        for sc in empties:
            run_dir = work / "runs" / label / "empty" / sc["name"]
            _common.detect(sc["raster"], run_dir, model, ["--quiet", "--no-heatmap"])
            from debrismap.evaluate import inputs

            dets = inputs.load_detections(run_dir)
            info = inputs.raster_info(sc["raster"])
            km2 = info.width * info.height * GSD**2 / 1e6
            scores = np.asarray(dets.layer.scores, float)
            n = int((scores >= (dets.run_score or 0.0)).sum())
            empty_rows.append({"scene": sc["name"], "source": sc["source"], "km2": km2, "detections": n,
                               "per_km2": n / km2,
                               "sweep": {f"{t:.2f}": int((scores >= t).sum()) for t in SWEEP
                                         if t >= (dets.run_score or 0.0)}})
        total_km2 = sum(r["km2"] for r in empty_rows)
        total_fp = sum(r["detections"] for r in empty_rows)
        res = {"label": label, "model": rel(model), "model_sha256": _common.file_sha256(model),
               "pooled": pooled(rows), "false_per_km2": total_fp / total_km2, "empty_km2": total_km2,
               "sweep": sweep_table(rows, empty_rows, total_km2), "scenes": rows, "empty_scenes": empty_rows}
        res["recall_at_false_per_km2"] = recall_at_false_rates(res["sweep"])
        results.append(res)

    print(f"\nheld-out renderer: {args.holdout}; IoU {args.iou}; test piles seeds {args.seed}+")
    table = []
    for r in results:
        p = r["pooled"]
        row = {"label": r["label"], "truths": p["truths"], "P": p["precision"], "R": p["recall"], "F1": p["f1"],
               "count": p["count_error"], "fp_km2": r["false_per_km2"]}
        for name, _, _ in SIZE_BINS_PX:
            row[f"R {name}"] = p["recall_by_side_px"][name]["recall"]
        table.append(row)
    cols = [("label", "model", ""), ("truths", "truths", ""), ("P", "P", "{:.3f}"), ("R", "R", "{:.3f}"),
            ("F1", "F1", "{:.3f}"), ("count", "count err", "{:+.1%}"), ("fp_km2", "false /km2 (empty)", "{:.1f}")]
    cols += [(f"R {n}", f"R {n}px", "{:.2f}") for n, _, _ in SIZE_BINS_PX]
    print(_common.table(table, cols))
    print("\nrecall on the held-out renderer against false detections per km² on real empty scenes, by threshold:")
    sweep_rows = [{"label": r["label"], "t": t, **v} for r in results for t, v in r["sweep"].items()]
    print(_common.table(sweep_rows, [("label", "model", ""), ("t", "threshold", ""), ("recall", "R", "{:.3f}"),
                                     ("precision", "P", "{:.3f}"), ("f1", "F1", "{:.3f}"),
                                     ("count_error", "count err", "{:+.1%}"), ("false_per_km2", "false /km2", "{:.1f}")]))
    print("\nrecall on the held-out renderer at most N false detections per km² (best threshold of the sweep):")
    at_rows = [{"label": r["label"], **{f"r{k}": v for k, v in r["recall_at_false_per_km2"].items()}} for r in results]
    print(_common.table(at_rows, [("label", "model", "")] + [(f"r{k}", f"<= {k} /km2", "{:.3f}") for k in FALSE_RATES]))
    name = f"bench_loro_{args.holdout}" + (f"_{args.tag}" if args.tag else "")
    _common.write_result(name, {"holdout": args.holdout, "iou": args.iou, "seed": args.seed, "gsd_m": GSD,
                                "piles_per_mpx": PILES_PER_MPX, "composite_scenes": [c["source"] for c in composites],
                                "empty_scenes": [e["source"] for e in empties], "models": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
