"""Cut rasters and their labels into a YOLO chip dataset, split into train/val by area.

Give one raster and its labels as `RASTER LABELS`, several as `RASTER LABELS RASTER LABELS
...` or with `--pair RASTER LABELS` (repeatable), or list rasters with `--labels` holding
one label file per raster, in the same order. Labels: GeoJSON, GeoPackage, Shapefile (box
polygons or points), YOLO .txt (pixel boxes of the whole raster, or normalised), COCO .json.
See datasets/label_schema.md for how to draw them.

Chips are --size pixels with --overlap, PNG (8-bit RGB after the raster's stretch) with YOLO
labels. Train/val are split by --block-size metre blocks, never by chip, so no pixel is in
both. dataset.yaml (written last) feeds `debrismap train`; chips.csv maps every chip back to
its raster and place.

examples:
  debrismap chips city.tif city.labels.geojson --out datasets/city
  debrismap chips a.tif b.tif --labels a.gpkg b.gpkg --out ds --gsd 0.5
  debrismap chips c.tif c.labels.txt --out ds --append
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "cut rasters + labels into a YOLO chip dataset (train/val split by area)"

RASTER_SUFFIXES = {".tif", ".tiff", ".vrt", ".jp2", ".img", ".ntf", ".png", ".jpg"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs", nargs="*", metavar="RASTER LABELS",
        help="raster and label file pairs (or only rasters, with --labels)",
    )  # fmt: skip
    parser.add_argument(
        "--labels", nargs="+", metavar="LABELS", help="label files, one per RASTER, in order"
    )
    parser.add_argument(
        "--pair", nargs=2, action="append", metavar=("RASTER", "LABELS"), default=[],
        help="one raster and its labels (repeatable)",
    )  # fmt: skip
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="dataset folder")
    parser.add_argument("--size", type=int, default=256, help="chip side in pixels (default 256)")
    parser.add_argument("--overlap", type=int, default=32, help="chip overlap in pixels (default 32)")
    parser.add_argument("--gsd", type=float, default=None, help="resample to this many metres/pixel")
    parser.add_argument("--bands", default=None, help="bands used as R,G,B, e.g. 1,2,3 (default: colour interpretation)")
    parser.add_argument(
        "--class-field", default=None,
        help="attribute holding the class name (default class_name if present, else all 'debris')",
    )  # fmt: skip
    parser.add_argument(
        "--labels-crs", default=None,
        help="CRS of the label coordinates when the file has none (or a wrong one), e.g. EPSG:32636",
    )  # fmt: skip
    parser.add_argument("--point-size", type=float, default=6.0, help="box side in metres for point labels (default 6)")
    parser.add_argument("--min-valid", type=float, default=0.5, help="skip chips with less valid data (default 0.5)")
    parser.add_argument(
        "--empty-fraction", type=float, default=0.2,
        help="share of each raster's chips that may be empty (no label) (default 0.2)",
    )  # fmt: skip
    parser.add_argument(
        "--min-visible", type=float, default=0.4,
        help="drop a box cut by a chip edge when less than this share of it is inside (default 0.4)",
    )  # fmt: skip
    parser.add_argument(
        "--block-size", type=float, default=None,
        help="train/val split block side in metres (default 256, or twice the chip footprint if larger)",
    )  # fmt: skip
    parser.add_argument(
        "--val-fraction", type=float, default=0.2,
        help="share of labelled chips for validation, taken a whole block at a time (default 0.2)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed for the split and the empty-chip choice (default 0)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--append", action="store_true", help="add to an existing dataset in --out")
    mode.add_argument("--overwrite", action="store_true", help="replace an existing dataset in --out")
    parser.add_argument(
        "--workers", type=int, default=None,
        help="threads writing chips (default: CPUs, at most 4)",
    )  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def pairs_from_args(args: argparse.Namespace) -> list[tuple[Path, Path]]:
    """The (raster, labels) pairs the flags describe; ConfigError for an ambiguous set."""
    from debrismap.errors import ConfigError

    inputs = [Path(p) for p in args.inputs]
    pairs: list[tuple[Path, Path]] = []
    if args.labels:
        if len(args.labels) != len(inputs):
            raise ConfigError(
                f"{len(inputs)} raster(s) but {len(args.labels)} --labels file(s): give one per raster"
            )
        pairs += list(zip(inputs, (Path(p) for p in args.labels)))
    else:
        if len(inputs) % 2:
            raise ConfigError(
                "give RASTER LABELS pairs (or rasters with --labels); got an odd number of paths"
            )
        pairs += [(inputs[i], inputs[i + 1]) for i in range(0, len(inputs), 2)]
    pairs += [(Path(r), Path(lab)) for r, lab in args.pair]
    if not pairs:
        raise ConfigError("no input: give RASTER LABELS, or --pair RASTER LABELS")
    for _raster, labels in pairs:
        if labels.suffix.lower() in RASTER_SUFFIXES:
            raise ConfigError(
                f"{labels} looks like a raster where a label file was expected "
                "(pairs are RASTER LABELS; for several rasters use --labels or --pair)"
            )
    return pairs


def run(args: argparse.Namespace) -> int:
    import sys
    import warnings

    from debrismap.chips import ChipOptions, build_chips
    from debrismap.errors import ConfigError
    from debrismap.raster import parse_bands

    pairs = pairs_from_args(args)
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")

    def one_line_warning(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        print(f"debrismap chips: warning: {text}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = one_line_warning
        options = ChipOptions(
            size=args.size,
            overlap=args.overlap,
            gsd_m=args.gsd,
            bands=parse_bands(args.bands),
            class_field=args.class_field,
            labels_crs=args.labels_crs,
            point_size_m=args.point_size,
            min_valid=args.min_valid,
            empty_fraction=args.empty_fraction,
            min_visible=args.min_visible,
            block_size_m=args.block_size,
            val_fraction=args.val_fraction,
            seed=args.seed,
        )
        summary = build_chips(
            pairs,
            args.out,
            options,
            append=args.append,
            overwrite=args.overwrite,
            progress=not args.quiet,
            workers=args.workers,
        )
    c = summary.counts
    added = len(summary.chips)
    print(
        f"wrote {added} chips to {summary.out_dir} "
        f"(dataset: train {c['train']['images']} chips / {c['train']['boxes']} boxes, "
        f"val {c['val']['images']} chips / {c['val']['boxes']} boxes; "
        f"classes {', '.join(summary.names)}; gsd {summary.gsd_m} m)"
    )
    skipped = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in summary.skipped.items() if v)
    if skipped:
        print(f"skipped: {skipped}")
    return 0
