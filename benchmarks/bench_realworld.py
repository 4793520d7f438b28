"""Detected debris piles per km² on real imagery before and after a disaster.

    uv run python benchmarks/bench_realworld.py --model models/debrismap-default.onnx

Sites (../shared/realdata, see benchmarks/README.md): Joplin, MO after the 2011 tornado (6 post
tiles EPSG:4326, 2 pre tiles EPSG:26915 that overlap part of the post mosaic) and four places
hit by the 2023 Türkiye earthquake (Planet SkySat JPEG pairs, same pixel grid before and after,
georeferenced through VRTs with the affines fitted in realdata/README.md).

For each site `debrismap detect` runs on the pre and the post imagery; density is detections
per km² of the run's coverage (the imagery actually analysed), computed in a metric CRS. Where
pre and post cover different ground (Joplin) densities are also computed over the overlap
only, which is the fair comparison. There are no human labels of debris in these scenes, so
this measures how much *more* the detector fires after the event, not accuracy.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
import scenes


def load_run(run_dir: Path, score: float | None):
    """(centres (N, 2) in the run CRS, coverage geometry in the run CRS, run CRS)."""
    import numpy as np
    import shapely
    from pyproj import CRS

    from debrismap.vector_io import read_vector

    dets = read_vector(run_dir / "detections.gpkg", layer="detections")
    cov = read_vector(run_dir / "coverage.gpkg")
    crs = dets.crs or cov.crs or CRS.from_wkt(_common.read_run(run_dir)["crs"])
    geoms = dets.geometries
    if score is not None and len(geoms):
        geoms = geoms[np.asarray(dets.fields["score"], float) >= score]
    centres = shapely.get_coordinates(shapely.centroid(geoms)) if len(geoms) else np.empty((0, 2))
    return centres, shapely.union_all(cov.geometries), crs


def density(centres, area, metric, crs) -> tuple[int, float]:
    """(count of centres inside `area` (metric CRS), area in km²)."""
    import shapely

    from debrismap.geometry.crs import transform_points

    xy = transform_points(centres, crs, metric)
    inside = shapely.contains_xy(area, xy[:, 0], xy[:, 1]) if len(xy) else []
    return int(sum(inside)), area.area / 1e6


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=_common.REPO / "models" / "debrismap-default.onnx")
    parser.add_argument("--tag", default="", help="results go to results/bench_realworld_TAG.json (e.g. int8)")
    parser.add_argument("--score", type=float, default=None, help="score threshold (default: the model's)")
    parser.add_argument("--sites", default=None, help="comma-separated substrings of site names to run")
    parser.add_argument("--reuse", action="store_true", help="reuse finished runs in the cache")
    args = parser.parse_args(argv)
    model = _common.check_model(args.model)
    if not _common.REALDATA.is_dir():
        raise SystemExit(f"{_common.REALDATA}: real imagery not found (set DEBRISMAP_REALDATA)")

    from debrismap.geometry.crs import metric_crs_for, reproject

    rows = []
    for site in scenes.sites():
        if args.sites and not any(s.lower() in site.name.lower() for s in args.sites.split(",")):
            continue
        runs = {}
        for when, rasters in (("pre", site.pre), ("post", site.post)):
            run_dir = _common.CACHE / "realworld" / slug(site.name) / when
            finished = (run_dir / "run.json").exists() and _common.read_run(run_dir).get("status") == "complete"
            seconds = None
            if not (args.reuse and finished):
                extra = ["--quiet", "--no-heatmap"] + (["--score", str(args.score)] if args.score is not None else [])
                seconds = _common.detect(rasters, run_dir, model, extra)
            runs[when] = (*load_run(run_dir, args.score), seconds, run_dir)

        post_centres, post_cov, post_crs, post_s, _ = runs["post"]
        pre_centres, pre_cov, pre_crs, pre_s, _ = runs["pre"]
        metric = metric_crs_for(post_crs, post_cov)
        post_area = reproject(post_cov, post_crs, metric, densify=True)
        pre_area = reproject(pre_cov, pre_crs, metric, densify=True)
        n_pre, km2_pre = density(pre_centres, pre_area, metric, pre_crs)
        n_post, km2_post = density(post_centres, post_area, metric, post_crs)
        overlap = pre_area.intersection(post_area)
        row = {
            "site": site.name, "event": site.event, "note": site.note,
            "pre_rasters": [str(p) for p in site.pre], "post_rasters": [str(p) for p in site.post],
            "metric_crs": metric.to_string(),
            "pre_detections": n_pre, "pre_km2": km2_pre, "pre_per_km2": n_pre / km2_pre if km2_pre else None,
            "post_detections": n_post, "post_km2": km2_post, "post_per_km2": n_post / km2_post if km2_post else None,
            "detect_seconds_pre": pre_s, "detect_seconds_post": post_s,
            # A scene the default model saw in training (as a background for composited piles)
            # may have its own clutter learned as negatives: its density is flattered.
            "pre_used_in_training": [scenes.original_of(p).name for p in site.pre if scenes.used_in_training(p)],
            "post_used_in_training": [scenes.original_of(p).name for p in site.post if scenes.used_in_training(p)],
        }
        row["ratio_overall"] = (row["post_per_km2"] / row["pre_per_km2"]) if row["pre_per_km2"] else None
        # Same ground on both dates: the comparison that does not mix neighbourhoods.
        if overlap.area > 0.02 * min(pre_area.area, post_area.area):
            n_pre_o, km2_o = density(pre_centres, overlap, metric, pre_crs)
            n_post_o, _ = density(post_centres, overlap, metric, post_crs)
            row.update(overlap_km2=km2_o, pre_overlap_detections=n_pre_o, post_overlap_detections=n_post_o,
                       pre_overlap_per_km2=n_pre_o / km2_o, post_overlap_per_km2=n_post_o / km2_o,
                       ratio_overlap=(n_post_o / n_pre_o) if n_pre_o else None)
        else:
            row.update(overlap_km2=overlap.area / 1e6, ratio_overlap=None)
        rows.append(row)

    print(_common.table(rows, [
        ("site", "site", ""), ("pre_km2", "pre km2", "{:.3f}"), ("pre_per_km2", "pre /km2", "{:.0f}"),
        ("post_km2", "post km2", "{:.3f}"), ("post_per_km2", "post /km2", "{:.0f}"),
        ("ratio_overall", "post/pre", "{:.2f}"), ("overlap_km2", "overlap km2", "{:.3f}"),
        ("ratio_overlap", "post/pre (overlap)", "{:.2f}"),
    ]))
    print("\npost/pre is the ratio of detections per km2; n/a where the pre scene has no detection.")
    for r in rows:
        if r["pre_used_in_training"] or r["post_used_in_training"]:
            print(f"note: {r['site']}: used as a training background: "
                  f"{', '.join(r['pre_used_in_training'] + r['post_used_in_training'])}")
    _common.write_result("bench_realworld" + (f"_{args.tag}" if args.tag else ""), {
        "model": str(model), "model_sha256": _common.file_sha256(model),
        "score": args.score, "sites": rows,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
