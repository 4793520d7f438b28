"""Build the training set of the bundled default model: synthetic cities + piles on real scenes.

    uv run python training/build_default_dataset.py --out datasets/default --cities 24

Synthetic cities vary GSD (0.3-0.7 m), bit depth, band count and how ransacked they are; all
are chipped at the model's 0.5 m GSD, so GSD variety becomes scale augmentation. Piles are also
composited onto real *pre-event* scenes of ../shared/realdata, which gives the model real
roofs, cars and yards as negatives. Post-event scenes are never used as backgrounds: their real,
unlabelled debris would be taught as background. Scenes held out for evaluation (see
benchmarks/) are listed in HELD_OUT and never used here.

Seeds used for training cities: 0 .. cities-1 (< 1000). Evaluation uses seeds >= 9000.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"

# (path relative to realdata, GSD in metres to assume when the file has no georeferencing)
TRAIN_BACKGROUNDS = [
    ("planet_turkey_eq2023/mimar_sinan_antakya_hatay_turkey_20220807_ssc10_rgb_flat_50cm_2880px_logo_wm_pre.jpg", 0.5),
    ("planet_turkey_eq2023/detail_1_pre_earthquake_adiyaman_turkey_s3_20220817T080818Z_rgb_flat_50cm_3840px_logo_wm_pre.jpg", 0.5),
    ("xview2deploy_joplin/pre_tile_337-10160.tif", None),
    ("xbd_samples/hurricane-matthew_00000351_pre_disaster.png", 0.5),
    ("deepforest/5b90f92da0d7280005fab355_4310.tif", None),
    ("deepforest/test_tiled.tif", None),
]
# Never trained on: the accuracy benchmark composites piles onto these.
HELD_OUT = [
    "planet_turkey_eq2023/ekinci_mahallesi_antakya_hatay_turkey_20221222_ssc17_rgb_flat_50cm_1280px_logo_wm_pre.jpg",
    "planet_turkey_eq2023/earthquake_turkoglu_turkey_s111_20180708T104958Z_rgb_1920px_logo_wm_pre.jpg",
    "xview2deploy_joplin/pre_tile_1361-10160.tif",
]


def _city(job: tuple[int, int, Path]) -> tuple[str, str]:
    seed, size, work = job
    from debrismap.synth import generate_city

    # Cheap, deterministic variety per seed: GSD, bit depth, bands, how ransacked.
    gsd = 0.3 + 0.4 * ((seed * 0.618034) % 1.0)
    bit_depth = 12 if seed % 4 == 3 else 8
    bands = 4 if seed % 5 == 4 else 3
    density = [0.4, 1.0, 1.8, 3.0][seed % 4]
    out = work / f"city_{seed:03d}.tif"
    labels = out.with_name(out.stem + ".labels.geojson")
    if out.exists() and labels.exists():  # reuse scenes from an earlier, interrupted build
        return str(out), str(labels)
    res = generate_city(out, size=size, gsd=round(gsd, 3), seed=seed, bands=bands,
                        bit_depth=bit_depth, pile_density=density, progress=False)
    return str(res.raster), str(res.labels_geojson)


def _composite(job: tuple[str, float | None, int, Path]) -> tuple[str, str]:
    rel, assumed_gsd, seed, work = job
    from debrismap.synth import composite_piles

    out = work / f"real_{Path(rel).stem[:40]}_{seed}.tif"
    labels = out.with_name(out.stem + ".labels.geojson")
    if not (out.exists() and labels.exists()):
        kwargs = {"background_gsd": assumed_gsd} if assumed_gsd else {}
        composite_piles(REALDATA / rel, out, seed=seed, progress=False, **kwargs)
    # A background without georeferencing gives pixel labels only: chips takes the .txt boxes.
    if assumed_gsd:
        return str(out), str(out.with_name(out.stem + ".labels.txt"))
    return str(out), str(labels)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="datasets/default", help="chip dataset folder")
    ap.add_argument("--work", default=None, help="folder for the generated scenes (default OUT.scenes)")
    ap.add_argument("--cities", type=int, default=24, help="synthetic cities (seeds 0..N-1)")
    ap.add_argument("--city-size", type=int, default=1536, help="city side in pixels")
    ap.add_argument("--composites-per-scene", type=int, default=3, help="seeds per real background")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--gsd", type=float, default=0.5, help="chip GSD = the model's GSD")
    args = ap.parse_args()

    out = Path(args.out)
    work = Path(args.work) if args.work else out.with_name(out.name + ".scenes")
    work.mkdir(parents=True, exist_ok=True)
    city_jobs = [(s, args.city_size, work) for s in range(args.cities)]
    real_jobs = []
    if REALDATA.is_dir():
        real_jobs = [(rel, gsd, 100 + k, work) for rel, gsd in TRAIN_BACKGROUNDS
                     for k in range(args.composites_per_scene)]
    else:
        print(f"note: {REALDATA} not found: synthetic cities only", file=sys.stderr)

    pairs = []
    with ProcessPoolExecutor(args.workers) as pool:
        for i, pair in enumerate(pool.map(_city, city_jobs), 1):
            pairs.append(pair)
            print(f"city {i}/{len(city_jobs)}: {pair[0]}", flush=True)
        for i, pair in enumerate(pool.map(_composite, real_jobs), 1):
            pairs.append(pair)
            print(f"composite {i}/{len(real_jobs)}: {pair[0]}", flush=True)

    from debrismap.chips import ChipOptions, build_chips

    if out.exists():
        shutil.rmtree(out)
    options = ChipOptions(size=256, overlap=32, gsd_m=args.gsd, empty_fraction=0.3,
                          val_fraction=0.15, seed=0)
    summary = build_chips(pairs, out, options, progress=True)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
