"""Find debris piles in one or more rasters with an ONNX detector (no torch needed).

Rasters may be files, folders (every raster inside) or a VRT mosaic. All detections land
in one run folder, in the first raster's CRS, each with the raster it came from:

  detections.gpkg     box polygons (score, class, class_name, tile_row, tile_col, source)
  detections.geojson  the same in EPSG:4326 for web maps
  candidates.gpkg     every box down to --candidate-floor (detections included), same fields:
                      the heatmap's "high" count and the calibrated estimate use it
  coverage.gpkg       the area actually analysed (valid pixels, inside --aoi, outside --exclude)
  run.json            provenance: inputs, model + sha256, thresholds, tiling, timings

A killed run continues where it stopped with --resume and ends with exactly the detections
an unbroken run gives. Without --model the bundled default model is used
(models/debrismap-default.onnx; DEBRISMAP_MODEL overrides).

Examples:
  debrismap detect city.tif --out runs/city
  debrismap detect tiles/ --out runs/city --model my.onnx --device cuda --batch 16
  debrismap detect city.tif --out runs/city --aoi district.geojson --exclude parks.gpkg
  debrismap detect city.tif --out runs/city --resume
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HELP = "detect debris piles in rasters with an ONNX model; writes a run folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rasters", nargs="+", metavar="RASTER", help="raster file(s), folder(s) or VRT mosaic")
    parser.add_argument("--out", required=True, type=Path, help="run folder to write")
    add_detect_options(parser)


def add_detect_options(parser: argparse.ArgumentParser) -> None:
    """Every detect option but the inputs and --out (`batch` takes the same ones)."""
    parser.add_argument("--model", type=Path, default=None, help="ONNX model (default: the bundled model)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cpu (default) or cuda (falls back to cpu with a message when unavailable)")
    parser.add_argument("--tile", type=int, default=None, help="tile size in model pixels (default: model input size)")
    parser.add_argument("--overlap", type=int, default=None, help="tile overlap in pixels (default: tile/10)")
    parser.add_argument("--batch", type=int, default=8, help="tiles per model call (default 8)")
    parser.add_argument("--score", type=float, default=None, help="score threshold (default: the model's)")
    parser.add_argument("--candidate-floor", type=float, default=0.05,
                        help="also record boxes down to this score in candidates.gpkg (default 0.05)")
    parser.add_argument("--nms-iou", type=float, default=None, help="NMS IoU threshold (default: the model's)")
    parser.add_argument("--bands", default=None, help="1-based bands used as R,G,B, e.g. 3,2,1 (default: auto)")
    parser.add_argument("--aoi", type=Path, default=None, help="area of interest polygons (any CRS)")
    parser.add_argument("--exclude", type=Path, default=None, help="polygons to leave out (any CRS)")
    parser.add_argument("--assume-gsd", type=float, default=None,
                        help="pixel size in metres for rasters without georeferencing (processed in pixel coordinates)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    parser.add_argument("--force", action="store_true", help="replace a different run already in --out")
    parser.add_argument("--no-heatmap", action="store_true", help="skip the heatmap step at the end")
    parser.add_argument("--threads", type=int, default=None, help="model threads in all (default: physical cores)")
    parser.add_argument(
        "--sessions", type=int, default=None,
        help="model sessions running side by side, sharing --threads (default: 2 on a CPU, 1 on CUDA)",
    )
    parser.add_argument("--readers", type=int, default=2, help="tile reader threads (default 2)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    group = parser.add_argument_group("models without debrismap metadata")
    group.add_argument("--accept-unlabelled-model", action="store_true",
                       help="run an ONNX file that lacks debrismap metadata (needs --input-size and --gsd)")
    group.add_argument("--input-size", type=int, default=None, help="model input side in pixels")
    group.add_argument("--gsd", type=float, default=None, help="model training GSD in metres")
    group.add_argument("--classes", default="debris", help="comma-separated class names (default: debris)")


def settings_from_args(args: argparse.Namespace):
    from debrismap.detect import DetectSettings, UnlabelledModelFlags
    from debrismap.errors import ConfigError

    bands = None
    if args.bands:
        try:
            bands = tuple(int(b) for b in args.bands.split(","))
        except ValueError as exc:
            raise ConfigError(f"--bands must be comma-separated band numbers, got {args.bands!r}") from exc
    unlabelled = None
    if args.accept_unlabelled_model:
        unlabelled = UnlabelledModelFlags(
            input_size=args.input_size, gsd_m=args.gsd,
            classes=tuple(c.strip() for c in args.classes.split(",") if c.strip()),
        )
    elif args.input_size is not None or args.gsd is not None:
        raise ConfigError("--input-size and --gsd only apply with --accept-unlabelled-model")
    if args.assume_gsd is not None and not args.assume_gsd > 0:
        raise ConfigError(f"--assume-gsd must be a positive number of metres, got {args.assume_gsd}")
    return DetectSettings(
        model=args.model, device=args.device, tile=args.tile, overlap=args.overlap, batch=args.batch,
        score=args.score, candidate_floor=args.candidate_floor, nms_iou=args.nms_iou, bands=bands, aoi=args.aoi, exclude=args.exclude,
        assume_gsd=args.assume_gsd, resume=args.resume, force=args.force, threads=args.threads, sessions=args.sessions,
        readers=args.readers, unlabelled=unlabelled, progress=not args.quiet,
    )


def run_heatmap_step(run_dir: Path) -> Path | None:
    """The heatmap at the end of detect/demo; None (with a note) when that part is not installed."""
    try:
        from debrismap.aggregate.heatmap import run_heatmap
    except ImportError:
        print("note: the heatmap step is not available in this install; skipped", file=sys.stderr)
        return None
    manifest = json.loads((run_dir / "run.json").read_text())
    if not manifest.get("crs"):
        # Counts per km² need metres on the ground; a run in pixel coordinates has none.
        print("note: the imagery has no georeferencing, so no heatmap (counts per km² need a CRS); "
              "detections are in pixel coordinates", file=sys.stderr)
        return None
    outputs = run_heatmap(run_dir)
    return getattr(outputs, "heatmap_png", None)


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("GDAL_CACHEMAX", "128")  # bounded block cache: detect's memory must not grow with the raster
    from debrismap.detect import run_detect

    settings = settings_from_args(args)
    result = run_detect(args.rasters, args.out, settings)  # warnings: one line each, via cli.main
    timings = result.timings
    print(
        f"{result.n_detections} detections in {result.manifest['tiling']['tiles_analysed']} tiles "
        f"({result.tiles_run} run now) in {timings.get('total', 0):.1f} s "
        f"(model busy {timings.get('inference', 0):.1f} s over {result.manifest['model'].get('sessions', 1)} "
        f"session(s)) -> {result.run_dir}"
    )
    if not args.no_heatmap:
        png = run_heatmap_step(result.run_dir)
        if png is not None:
            print(f"heatmap: {png}")
    return 0
