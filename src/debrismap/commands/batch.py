"""Run detect over many acquisitions on a Dask cluster: embedded by default, a real one when given.

INPUT is any mix of rasters, folders, globs, text lists (one path a line, optionally followed
by its acquisition date) and STAC files on disk (an Item, ItemCollection or Catalog; quadkey
tiles of one acquisition are mosaicked into one VRT). Each acquisition gets its own run folder
DIR/<name>/ (exactly what `detect` writes, heatmap included); DIR/batch.json and batch.csv
record every acquisition's date, status, detections, analysed area, timings and error.

A large raster is split into bands of tile rows that run on different workers and merge
into exactly the detections plain `detect` finds. With no cluster option, an embedded
LocalCluster of --workers processes (default: one per core, each model with its share of the
cores; --threads sets a worker's model threads). A killed worker's task reruns elsewhere; an
acquisition that fails is recorded and the rest go on (exit status 1); --resume continues a
killed batch, skipping finished acquisitions and bands.

Examples:
  debrismap batch scenes/ --out runs
  debrismap batch 'maxar/*.tif' dates.txt --out runs --workers 4
  debrismap batch maxar-collection.json --out runs --scheduler tcp://10.0.0.5:8786
  debrismap batch scenes.txt --out runs --cluster slurm --cluster-config slurm.yaml
  debrismap batch scenes/ --out runs --resume
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from debrismap.commands.detect import add_detect_options

HELP = "detect over many acquisitions on a Dask cluster (local by default); one run folder each"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="rasters, folders, globs, text lists (path [date] per line) or STAC JSON files")
    parser.add_argument("--out", required=True, type=Path, help="folder for the run folders, batch.json and batch.csv")
    engine = parser.add_argument_group("where it runs")
    engine.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="a running Dask scheduler, e.g. tcp://host:8786 (`dask scheduler` + `dask worker`)")
    engine.add_argument("--cluster", choices=("local", "slurm"), default="local",
                        help="local: an embedded LocalCluster (default); slurm: dask-jobqueue (needs --cluster-config)")
    engine.add_argument("--cluster-config", type=Path, default=None, metavar="YAML",
                        help="SLURMCluster settings for --cluster slurm (see docs/batch.md)")
    engine.add_argument("--workers", type=int, default=None,
                        help="local worker processes (default: one per core); SLURM jobs for --cluster slurm")
    engine.add_argument("--band-tiles", type=int, default=None,
                        help="tiles per task when a raster is split into bands of tile rows (default 256)")
    add_detect_options(parser)


def run(args: argparse.Namespace) -> int:
    from debrismap.batch import BatchOptions, collect_acquisitions, run_batch, start_engine
    from debrismap.batch.run import DEFAULT_BAND_TILES, check_out_dir
    from debrismap.commands.detect import settings_from_args
    from debrismap.errors import ConfigError

    settings = settings_from_args(args)
    band_tiles = args.band_tiles or DEFAULT_BAND_TILES
    if band_tiles < 1:
        raise ConfigError(f"--band-tiles must be at least 1, got {band_tiles}")
    acquisitions = collect_acquisitions(args.inputs)  # bad arguments fail here, before a cluster starts
    check_out_dir(args.out, args.resume, args.force)
    engine = start_engine(args.scheduler, args.cluster, args.workers, args.cluster_config)
    try:
        info = engine.info
        where = {"local": "an embedded LocalCluster", "scheduler": f"the scheduler at {args.scheduler}",
                 "slurm": "SLURM"}[engine.kind]
        workers = info.get("workers", info.get("jobs"))
        print(f"batch: {len(acquisitions)} acquisition(s) on {where} ({workers} worker(s))", file=sys.stderr)
        if engine.dashboard:
            print(f"batch: dashboard {engine.dashboard}", file=sys.stderr)
        options = BatchOptions(settings, band_tiles=band_tiles, heatmap=not args.no_heatmap, resume=args.resume,
                               force=args.force, progress=not args.quiet)
        result = run_batch(acquisitions, args.out, options, engine)
    finally:
        engine.close()
    done = [r for r in result.records if r.status == "complete"]
    detections = sum(r.detections or 0 for r in done)
    print(f"{len(done)} of {len(result.records)} acquisition(s) complete, {detections} detections "
          f"in {result.wall_s:.1f} s -> {result.out} (batch.json, batch.csv)")
    if result.failed:
        for record in result.failed:
            print(f"debrismap batch: failed: {record.name}: {record.error}", file=sys.stderr)
        print(f"debrismap batch: error: {len(result.failed)} acquisition(s) failed: "
              f"{', '.join(r.name for r in result.failed)}", file=sys.stderr)
        return 1
    return 0
