"""Build the transfer training set: piles from several renderers on real scenes, plus real empty chips.

    uv run python training/build_transfer_dataset.py --out datasets/default [--holdout scatter]

Every renderer of synth.renderers (or all but --holdout) draws piles composited onto every real
*pre-event* scene of ../shared/realdata listed in TRAIN_BACKGROUNDS, matched to the scene's
GSD, sun direction, blur and noise and placed next to buildings and along roads (real building
footprints where the data has them, image cues elsewhere), plus synthetic cities rendered
without piles as further backgrounds. A measured share of the chips are real scenes with no
piles at all, and some carry only hard negatives, so the model learns what untouched streets
look like. Chips are CHIP px at the model's 0.5 m GSD in the YOLO layout `debrismap train` reads.

Never used: the scenes the benchmarks hold out (HELD_OUT below, the bench_accuracy scenes), any
post-event scene (its real debris is unlabelled), and everything in ../shared/heldout.
Seeds: scenes k use 1000*k + i; cities 0 .. cities-1 with pile_density 0. Evaluation uses >= 9000.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REALDATA = REPO.parent / "shared" / "realdata"
HELDOUT_DIR = REPO.parent / "shared" / "heldout"
TK = "planet_turkey_eq2023/"

# (path in realdata, GSD to assume when not georeferenced, building footprints: (kind, path) or None)
TRAIN_BACKGROUNDS = [
    (TK + "mimar_sinan_antakya_hatay_turkey_20220807_ssc10_rgb_flat_50cm_2880px_logo_wm_pre.jpg", 0.5,
     ("chooch", TK + "mimar_sinan_antakya_hatay_turkey_20220807_ssc10_rgb_flat_50cm_2880px_geo_result.json")),
    (TK + "detail_1_pre_earthquake_adiyaman_turkey_s3_20220817T080818Z_rgb_flat_50cm_3840px_logo_wm_pre.jpg", 0.5,
     ("chooch", TK + "detail_1_pre_earthquake_adiyaman_turkey_s3_20220817T080818Z_rgb_flat_50cm_3840px_geo_result.json")),
    ("xview2deploy_joplin/pre_tile_337-10160.tif", None, ("vector", "xview2deploy_joplin/joplin.geojson")),
    ("xbd_samples/hurricane-matthew_00000351_pre_disaster.png", 0.5, None),
    ("deepforest/5b90f92da0d7280005fab355_4310.tif", None, None),
    ("deepforest/5dded5bc0140b80006d2e565_23.tif", None, None),
    ("deepforest/test_tiled.tif", None, None),
    ("dota_devkit/P1888.png", 0.266, None),  # GSD from the DOTA label header
    # dota_devkit/P0706.png is left out: mostly river and port, where image cues put piles on water
]
# Never trained on: bench_accuracy composites piles onto these; bench_realworld's "pre" scenes.
HELD_OUT = [
    TK + "ekinci_mahallesi_antakya_hatay_turkey_20221222_ssc17_rgb_flat_50cm_1280px_logo_wm_pre.jpg",
    TK + "earthquake_turkoglu_turkey_s111_20180708T104958Z_rgb_1920px_logo_wm_pre.jpg",
    "xview2deploy_joplin/pre_tile_1361-10160.tif",
    "xview2deploy_joplin/staging_tile_1361-10160.tif",  # the same ground, re-warped
]


def check_backgrounds() -> None:
    """Refuse a training list that touches held-out, post-event or ../shared/heldout imagery."""
    for rel, _, _ in TRAIN_BACKGROUNDS:
        name = Path(rel).name.lower()
        if rel in HELD_OUT or "post" in name or "staging" in name:
            raise SystemExit(f"{rel}: held out or post-event, must not be a training background")
        if (HELDOUT_DIR / Path(rel).name).exists():
            raise SystemExit(f"{rel}: in ../shared/heldout, must not be a training background")


def _footprints(spec, raster: Path):
    from debrismap.synth.realscene import footprints_from_chooch, footprints_from_vector

    if spec is None:
        return None
    kind, rel = spec
    if kind == "chooch":
        return footprints_from_chooch(REALDATA / rel)
    return footprints_from_vector(REALDATA / rel, raster)


def _scene_job(job: dict) -> dict:
    """Load and measure one background, then write its chips (one process per scene)."""
    from debrismap.synth.realchips import write_chips
    from debrismap.synth.realscene import load_scene

    path = Path(job["path"])
    t0 = time.time()
    fps = _footprints(job["footprints"], path) if job["footprints"] else None
    scene = load_scene(path, gsd=job["gsd"], source_gsd=job["source_gsd"], footprints=fps,
                       name=job["name"], seed=job["seed"])
    mined = None
    if job.get("mine_with"):  # every detection on a pile-free background is a false alarm
        from debrismap.synth.hard_negatives import mine_false_alarms

        mined = mine_false_alarms(scene.rgb, scene.valid, job["mine_with"], job["gsd"], job["mine_score"])
    n = max(job["min_chips"], round(scene.shape[0] * scene.shape[1] / job["chip"] ** 2 * job["per_area"]))
    n_val = max(2, round(n * job["val_fraction"]))
    counts = {}
    for split, count, seed in (("train", n - n_val, job["seed"]), ("val", n_val, job["seed"] + 500)):
        counts[split] = write_chips(scene, Path(job["out"]), split, job["renderers"], count, job["chip"], seed,
                                    empty_share=job["empty_share"], negative_share=job["negative_share"],
                                    min_contrast=job["min_contrast"], mined=mined)
    return {"name": job["name"], "path": str(job["rel"]), "kind": job["kind"], "size_px": list(scene.shape),
            "sun_azimuth": scene.sun_azimuth, "blur_sigma": round(scene.blur_sigma, 2),
            "noise_dn": round(scene.noise_dn, 2), "sites": scene.site_source, "counts": counts,
            "mined_false_alarms": None if mined is None else len(mined),
            "seconds": round(time.time() - t0, 1)}


def _city(job: dict) -> str:
    from debrismap.synth import generate_city

    seed = job["seed"]
    out = Path(job["work"]) / f"city_{seed:03d}.tif"
    if not out.exists():
        gsd = round(0.3 + 0.4 * ((seed * 0.618034) % 1.0), 3)
        generate_city(out, size=job["size"], gsd=gsd, seed=seed, pile_density=0.0, progress=False)
    return str(out)


def main() -> int:
    from debrismap.synth.realchips import DEFAULT_MIN_CONTRAST
    from debrismap.synth.renderers import RENDERERS

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="datasets/default", help="chip dataset folder")
    ap.add_argument("--holdout", default="", help="renderer(s) to leave out, comma-separated (leave-one-out)")
    ap.add_argument("--cities", type=int, default=8, help="synthetic cities without piles as extra backgrounds")
    ap.add_argument("--city-size", type=int, default=1024)
    ap.add_argument("--chip", type=int, default=160, help="chip side in pixels")
    ap.add_argument("--per-area", type=float, default=1.2, help="chips per chip-area of scene")
    ap.add_argument("--min-chips", type=int, default=60, help="chips of even the smallest scene")
    ap.add_argument("--empty-share", type=float, default=0.4, help="share of real chips with nothing added")
    ap.add_argument("--min-contrast", type=float, default=DEFAULT_MIN_CONTRAST,
                    help="draw no pile that changes its pixels by less than this many noise levels (RMS)")
    ap.add_argument("--negative-share", type=float, default=0.15, help="share with hard negatives only")
    ap.add_argument("--mine-with", type=Path, default=None, metavar="MODEL",
                    help="ONNX model whose false alarms on the (pile-free) backgrounds centre a share of the "
                         "empty chips (hard-negative mining; default: none)")
    ap.add_argument("--mine-score", type=float, default=None,
                    help="lowest score of a mined false alarm (default: the model's operating threshold)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--gsd", type=float, default=0.5, help="chip GSD = the model's GSD")
    args = ap.parse_args()

    check_backgrounds()
    if args.mine_with is not None and not args.mine_with.is_file():
        raise SystemExit(f"--mine-with: {args.mine_with}: no such model file")
    held = {h for h in args.holdout.split(",") if h}
    unknown = held - set(RENDERERS)
    if unknown:
        raise SystemExit(f"--holdout: unknown renderer(s) {', '.join(sorted(unknown))} (have {', '.join(RENDERERS)})")
    renderers = [r for r in RENDERERS if r not in held]
    out = Path(args.out)
    work = out.with_name(out.name + ".scenes")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    work.mkdir(parents=True, exist_ok=True)
    common = {"out": str(out), "gsd": args.gsd, "chip": args.chip, "per_area": args.per_area,
              "min_chips": args.min_chips, "val_fraction": 0.1, "renderers": renderers,
              "empty_share": args.empty_share, "negative_share": args.negative_share,
              "min_contrast": args.min_contrast, "mine_score": args.mine_score,
              "mine_with": str(args.mine_with.resolve()) if args.mine_with else None}
    jobs = []
    if REALDATA.is_dir():
        for k, (rel, gsd, fp) in enumerate(TRAIN_BACKGROUNDS):
            jobs.append({**common, "path": str(REALDATA / rel), "rel": rel, "source_gsd": gsd, "footprints": fp,
                         "name": Path(rel).stem[:40], "seed": 1000 * (k + 1), "kind": "real"})
    else:
        print(f"note: {REALDATA} not found: synthetic backgrounds only", file=sys.stderr)
    t0 = time.time()
    with ProcessPoolExecutor(args.workers) as pool:
        cities = list(pool.map(_city, [{"seed": s, "size": args.city_size, "work": str(work)} for s in range(args.cities)]))
        print(f"{len(cities)} synthetic backgrounds ready ({time.time() - t0:.0f} s)", flush=True)
        for s, path in enumerate(cities):
            jobs.append({**common, "path": path, "rel": Path(path).name, "source_gsd": None, "footprints": None,
                         "name": f"city_{s:03d}", "seed": 100 + s, "kind": "synthetic city, no piles",
                         "per_area": args.per_area * 0.5})
        results = []
        for i, res in enumerate(pool.map(_scene_job, jobs), 1):
            results.append(res)
            c = res["counts"]["train"]
            print(f"scene {i}/{len(jobs)} {res['name']}: {c['chips']} train chips, {c['boxes']} piles "
                  f"({res['sites']}, {res['seconds']} s; {time.time() - t0:.0f} s so far)", flush=True)
    write_yaml(out, args, renderers, sorted(held), results)
    return 0


def write_yaml(out: Path, args, renderers, held, results) -> None:
    import yaml

    totals = {}
    for split in ("train", "val"):
        t = {"images": 0, "boxes": 0, "pile_chips": 0, "empty_real_chips": 0, "negative_only_chips": 0,
             "empty_synthetic_chips": 0, "negatives": 0, "too_faint": 0, "mined_chips": 0,
             "by_renderer": {r: 0 for r in renderers}}
        for res in results:
            c = res["counts"][split]
            t["images"] += c["chips"]
            t["boxes"] += c["boxes"]
            t["pile_chips"] += c.get("pile_chips", 0)
            t["negative_only_chips"] += c.get("negative_only_chips", 0)
            t["negatives"] += c.get("negatives", 0)
            t["too_faint"] += c.get("too_faint", 0)
            t["mined_chips"] += c.get("mined_chips", 0)
            key = "empty_real_chips" if res["kind"] == "real" else "empty_synthetic_chips"
            t[key] += c.get("empty_real_chips", 0)
            for r, v in c.get("by_renderer", {}).items():
                t["by_renderer"][r] += v
        t["empty_share"] = round((t["empty_real_chips"] + t["empty_synthetic_chips"]) / max(t["images"], 1), 3)
        t["real_empty_share"] = round(t["empty_real_chips"] / max(t["images"], 1), 3)
        totals[split] = t
    doc = {
        "path": str(out.resolve()), "train": "images/train", "val": "images/val", "names": ["debris"],
        "gsd_m": args.gsd, "chip_size": args.chip, "recipe": "transfer (training/build_transfer_dataset.py)",
        "options": {"empty_share": args.empty_share, "negative_share": args.negative_share,
                    "min_contrast": args.min_contrast, "per_area": args.per_area, "cities": args.cities,
                    "mine_with": _model_id(args.mine_with), "mine_score": args.mine_score},
        "renderers": renderers, "held_out_renderers": held, "counts": totals,
        "sources": [{"stem": r["name"], "path": r["path"], "kind": r["kind"], "sites": r["sites"],
                     "sun_azimuth": r["sun_azimuth"], "blur_sigma": r["blur_sigma"], "noise_dn": r["noise_dn"],
                     "train_chips": r["counts"]["train"]["chips"], "train_piles": r["counts"]["train"]["boxes"],
                     "mined_false_alarms": r.get("mined_false_alarms")}
                    for r in results],
    }
    (out / "dataset.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    print(json.dumps(totals, indent=1))


def _model_id(path: Path | None) -> dict | None:
    """The mining model by name and content, so a dataset says which model's mistakes it holds."""
    if path is None:
        return None
    from debrismap.detect.model_file import file_sha256

    return {"file": path.name, "sha256": file_sha256(path)}


if __name__ == "__main__":
    sys.exit(main())
