"""Score a detection run against ground truth: detection metrics and counting metrics.

DETECTIONS is a run folder from `debrismap detect` (or a detections .gpkg/.geojson with a
`score` field); TRUTH is a GeoJSON / GeoPackage / Shapefile of boxes, or pixel boxes: a YOLO
txt (the synthetic city's `class x0 y0 x1 y1`, or normalised `class cx cy w h`) or a COCO
json, which need --raster to be placed on the map. Boxes are matched in metres (truth reprojected to the
detections' CRS, UTM when that is geographic), or in pixels when the detections have no CRS.

Reports precision / recall / F1 at the operating threshold (run.json or --score) and IoU
(--iou), AP50 and AP50-95 (COCO 101-point), a breakdown by box side (< 4 m, 4-8 m, >= 8 m),
and the counting errors an article depends on: per-cell MAE, bias and relative error with
bootstrap 95% intervals, and the total count error, on --cell metre cells inside the run's
coverage (else the raster or truth extent).

Writes OUT/evaluation.json and OUT/pr_curve.png (OUT defaults to RUN/evaluation).

example:
  debrismap evaluate runs/city9001 city.labels.geojson --iou 0.3 --cell 100
  debrismap evaluate runs/city9001 city.labels.txt --raster city.tif
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "score detections against ground truth (P/R/F1, AP, per-cell count errors)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("detections", metavar="DETECTIONS", help="run folder, or detections .gpkg/.geojson")
    parser.add_argument("truth", metavar="TRUTH", help="truth boxes: .geojson/.gpkg/.shp, YOLO .txt or COCO .json")
    parser.add_argument("--iou", type=float, default=0.3, help="IoU for a match at the operating point (default 0.3)")
    parser.add_argument("--cell", type=float, default=100.0, help="counting cell side in metres (default 100)")
    parser.add_argument(
        "--score", type=float, default=None, help="operating score threshold (default: the run's, from run.json)"
    )
    parser.add_argument("--out", type=Path, default=None, help="output folder (default RUN/evaluation)")
    parser.add_argument(
        "--truth-crs", default=None,
        help="CRS of the truth file when it states none or states a wrong one (e.g. EPSG:32615, or 'pixel')",
    )
    parser.add_argument("--raster", type=Path, default=None, help="raster the truth belongs to (needed for YOLO/COCO pixel boxes)")
    parser.add_argument("--gsd", type=float, default=None, help="metres per pixel when matching in pixels")
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples of cells (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--json", action="store_true", help="print evaluation.json instead of the table")


def run(args: argparse.Namespace) -> int:
    import json

    from debrismap.errors import ConfigError
    from debrismap.evaluate import evaluate_paths
    from debrismap.evaluate.report import format_table, plot_pr_curve, write_json

    if args.bootstrap < 0:
        raise ConfigError(f"--bootstrap must be >= 0, got {args.bootstrap}")
    result = evaluate_paths(
        args.detections,
        args.truth,
        raster=args.raster,
        truth_crs=args.truth_crs,
        iou=args.iou,
        cell_m=args.cell,
        score=args.score,
        resamples=args.bootstrap,
        seed=args.seed,
        pixel_gsd_m=args.gsd,
    )
    out = args.out
    if out is None:
        det = Path(args.detections)
        out = (det if det.is_dir() else det.parent) / "evaluation"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from debrismap.errors import OutputError

        raise OutputError(f"cannot create output folder ({exc.strerror})", path=out) from exc
    write_json(result, out / "evaluation.json")
    plot_pr_curve(result, out / "pr_curve.png")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_table(result))
        for note in result["notes"]:
            print(f"note: {note}")
        print(f"\nwrote {out / 'evaluation.json'} and {out / 'pr_curve.png'}")
    return 0
