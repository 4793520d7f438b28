"""Detection and counting accuracy on imagery the model never saw in training.

    uv run python benchmarks/bench_accuracy.py --model models/debrismap-default.onnx

1. A held-out synthetic city: `debrismap synth --seed 9001` (training/build_default_dataset.py
   makes its cities with seeds 0 .. N-1, < 1000).
2. Real backgrounds with synthetic piles composited in (`debrismap synth --background`): the
   scenes the training recipe lists as HELD_OUT (Joplin pre tile 1361-10160, the Ekinci and
   Türkoğlu *pre*-earthquake Planet JPEGs, georeferenced through VRTs). Pre-event scenes are
   used because post-event ones hold real, unlabelled debris that would count as false
   positives. Real clutter may still look like piles: precision here is a lower bound.
   The script reads the recipe's TRAIN_BACKGROUNDS and refuses any overlap.

Each scene: `debrismap detect` (model defaults) then `debrismap evaluate` (IoU 0.3 for P/R/F1,
100 m counting cells, 2000 bootstrap resamples, seed 0). The table prints per scene, plus the
pooled composite scenes (TP/FP/FN summed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
import scenes


def composite_backgrounds() -> list[tuple[str, Path]]:
    """The scenes the training recipe holds out for evaluation (its HELD_OUT list).

    Türkiye JPEGs are used through our georeferencing VRTs, so that the evaluation runs in
    metres like a real acquisition would; the others as they are.
    """
    recipe = scenes.training_recipe()
    held_out = recipe["held_out"] or [
        # No recipe in this checkout: the scenes the default recipe holds out.
        "planet_turkey_eq2023/ekinci_mahallesi_antakya_hatay_turkey_20221222_ssc17_rgb_flat_50cm_1280px_logo_wm_pre.jpg",
        "planet_turkey_eq2023/earthquake_turkoglu_turkey_s111_20180708T104958Z_rgb_1920px_logo_wm_pre.jpg",
        "xview2deploy_joplin/pre_tile_1361-10160.tif",
    ]
    out = []
    for rel in held_out:
        path = _common.REALDATA / rel
        site = next((s for s, prefix in scenes.TURKEY_PREFIX.items() if path.name.startswith(prefix)), None)
        if path.parent.name == scenes.TURKEY.name and site is not None:
            when = "pre" if path.stem.endswith("_pre") else "post"
            out.append((f"turkey_{site}_{when}", scenes.georeferenced_turkey(site, when)))
        else:
            out.append((path.stem, path))
    return out


def training_overlap(seed: int, backgrounds: list[tuple[str, Path]]) -> list[str]:
    """Seeds or background files of this benchmark that the training recipe also uses."""
    problems = []
    if seed < 1000:  # the recipe's cities use seeds 0 .. cities-1 (< 1000)
        problems.append(f"city seed {seed} (training cities use seeds < 1000)")
    for _, path in backgrounds:
        if scenes.used_in_training(path):
            problems.append(scenes.original_of(path).name)
    return problems


def summarize(name: str, kind: str, ev: dict, seconds: float) -> dict:
    m = ev["metrics"]
    op, c = m["operating_point"], m["counting"]
    row = {
        "scene": name, "kind": kind, "truths": op["truths"], "detections": op["detections"],
        "tp": op["tp"], "fp": op["fp"], "fn": op["fn"],
        "precision": op["precision"], "recall": op["recall"], "f1": op["f1"],
        "ap50": m["ap50"], "ap50_95": m["ap50_95"], "detect_seconds": seconds,
        "area_km2": ev["area"]["area_km2"],
    }
    if c.get("cells"):
        row.update(
            cells=c["cells"], count_mae=c["mae"]["value"], count_mae_ci95=c["mae"]["ci95"],
            count_bias=c["bias"]["value"], count_bias_ci95=c["bias"]["ci95"],
            count_rel_error=c["relative_error"]["value"], count_rel_error_ci95=c["relative_error"]["ci95"],
            total_true=c["total"]["true"], total_predicted=c["total"]["predicted"],
            total_rel_error=c["total"]["relative_error"],
        )
    for b in m["sizes"].get("bins", []):
        row[f"recall_{b['name']}"] = b["recall"]
        row[f"truths_{b['name']}"] = b["truths"]
    return row


def pooled(rows: list[dict], name: str) -> dict:
    tp, fp, fn = (sum(r[k] for r in rows) for k in ("tp", "fp", "fn"))
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    defined = p is not None and r is not None
    f1 = (2 * p * r / (p + r) if p + r > 0 else 0.0) if defined else None
    true = sum(r_.get("total_true", 0) for r_ in rows)
    pred = sum(r_.get("total_predicted", 0) for r_ in rows)
    return {"scene": name, "kind": "pooled", "truths": tp + fn, "detections": tp + fp, "tp": tp, "fp": fp, "fn": fn,
            "precision": p, "recall": r, "f1": f1, "total_true": true, "total_predicted": pred,
            "total_rel_error": (pred - true) / true if true else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=_common.REPO / "models" / "debrismap-default.onnx")
    parser.add_argument("--tag", default="", help="results go to results/bench_accuracy_TAG.json (e.g. int8)")
    parser.add_argument("--seed", type=int, default=9001, help="synthetic city seed (default 9001, held out)")
    parser.add_argument("--size", type=int, default=4096, help="synthetic city side in pixels (default 4096)")
    parser.add_argument("--gsd", type=float, default=0.5, help="synthetic city GSD in metres (default 0.5)")
    parser.add_argument("--composite-seed", type=int, default=9100, help="first seed for composited piles")
    parser.add_argument("--iou", type=float, default=0.3)
    parser.add_argument("--cell", type=float, default=100.0)
    parser.add_argument("--no-composite", action="store_true", help="only the synthetic city")
    parser.add_argument("--allow-training-overlap", action="store_true")
    args = parser.parse_args(argv)
    model = _common.check_model(args.model)

    backgrounds = [] if args.no_composite else composite_backgrounds()
    overlap = training_overlap(args.seed, backgrounds)
    if overlap and not args.allow_training_overlap:
        raise SystemExit(f"{scenes.TRAINING_RECIPE}: the training recipe also uses {', '.join(overlap)}: "
                         "choose other scenes/seeds (or --allow-training-overlap, and say so)")

    work = _common.CACHE / "accuracy"
    eval_args = ["--iou", str(args.iou), "--cell", str(args.cell), "--bootstrap", "2000", "--seed", "0"]
    rows = []
    city = work / f"city_s{args.seed}_{args.size}px_{args.gsd:g}m.tif"
    if not city.exists():
        city.parent.mkdir(parents=True, exist_ok=True)
        _common.run([*_common.DEBRISMAP, "synth", "--size", str(args.size), "--gsd", str(args.gsd),
                     "--seed", str(args.seed), "--out", str(city), "--quiet"])
    run_dir = work / "runs" / city.stem
    seconds = _common.detect(city, run_dir, model, ["--quiet", "--no-heatmap"])
    ev = _common.evaluate(run_dir, city.with_suffix(".labels.txt"), run_dir / "evaluation",
                          [*eval_args, "--raster", str(city)])
    rows.append(summarize(f"synthetic city seed {args.seed} ({args.size} px, {args.gsd:g} m)", "synthetic", ev, seconds))

    composite_rows = []
    for i, (name, background) in enumerate(backgrounds):
        scene = work / "composite" / f"{name}_s{args.composite_seed + i}.tif"
        if not scene.exists():
            scene.parent.mkdir(parents=True, exist_ok=True)
            _common.run([*_common.DEBRISMAP, "synth", "--background", str(background),
                         "--seed", str(args.composite_seed + i), "--out", str(scene), "--quiet"])
        run_dir = work / "runs" / scene.stem
        seconds = _common.detect(scene, run_dir, model, ["--quiet", "--no-heatmap"])
        # Pixel-box truth placed with the scene's own transform: exact whatever the scene's CRS
        # (a GeoJSON in EPSG:4326 is only as exact as its coordinate precision).
        ev = _common.evaluate(run_dir, scene.with_suffix(".labels.txt"), run_dir / "evaluation",
                              [*eval_args, "--raster", str(scene)])
        composite_rows.append(summarize(f"{name} + piles", "composite", ev, seconds))
    rows += composite_rows
    if composite_rows:
        rows.append(pooled(composite_rows, "all composites (pooled)"))

    print(_common.table(rows, [
        ("scene", "scene", ""), ("truths", "truths", ""), ("precision", "P", "{:.3f}"), ("recall", "R", "{:.3f}"),
        ("f1", "F1", "{:.3f}"), ("ap50", "AP50", "{:.3f}"), ("ap50_95", "AP50-95", "{:.3f}"),
        ("count_mae", "cell MAE", "{:.2f}"), ("count_bias", "cell bias", "{:+.2f}"),
        ("total_rel_error", "total err", "{:+.1%}"),
    ]))
    print(f"\nP/R/F1 at IoU {args.iou} and the model's score threshold; cells {args.cell:g} m; "
          "cell MAE/bias in piles per cell (95% bootstrap CIs in the JSON).")
    _common.write_result("bench_accuracy" + (f"_{args.tag}" if args.tag else ""), {
        "model": str(model), "model_sha256": _common.file_sha256(model), "seed": args.seed, "size_px": args.size,
        "gsd_m": args.gsd, "composite_seed": args.composite_seed, "iou": args.iou, "cell_m": args.cell,
        "training_recipe": scenes.training_recipe(), "training_overlap": overlap,
        "backgrounds": [[n, str(p)] for n, p in backgrounds], "scenes": rows,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
