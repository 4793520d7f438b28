"""Peak memory of `debrismap detect` on 100 Mpx and 500 Mpx mosaics.

    uv run python benchmarks/bench_memory.py --model models/debrismap-default.onnx

The mosaics are VRTs (in the benchmark cache, outside the repo) that repeat one synthetic
4096 x 4096 city tile (seed 9002) on an n x n grid, so a 500 Mpx raster costs 10 MB of disk.
detect is started as a child process and its resident memory, plus that of every process it
starts, is sampled every 0.1 s with psutil; the peak is reported with the wall time. The
1 Mpx row is the baseline (interpreter, libraries, ONNX Runtime session): the point of the
benchmark is that peak memory stays flat as the raster grows, because detect streams tiles.

Timing on a 2-core machine: about 4 min per 100 Mpx with the default YOLOv8n 256 px model.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
import scenes


def peak_rss(cmd: list[str], interval: float) -> tuple[float, float, int]:
    """(peak RSS in MiB of the process tree, wall seconds, exit code)."""
    import psutil

    print("$ " + " ".join(cmd), flush=True)
    start = time.perf_counter()
    proc = psutil.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        total = 0
        try:
            for p in [proc, *proc.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
        except psutil.NoSuchProcess:
            break
        peak = max(peak, total)
        time.sleep(interval)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = proc.stderr.read().decode(errors="replace").strip().splitlines()[-10:]
        raise SystemExit(f"detect failed (exit {proc.returncode}):\n" + "\n".join(tail))
    return peak / 2**20, seconds, proc.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=_common.REPO / "models" / "debrismap-default.onnx")
    parser.add_argument("--sizes", default="1,100,500", help="mosaic sizes in megapixels (default 1,100,500)")
    parser.add_argument("--tile-size", type=int, default=4096, help="synthetic tile side in pixels (default 4096)")
    parser.add_argument("--interval", type=float, default=0.1, help="sampling interval in seconds")
    parser.add_argument("--detect-args", default="", help="extra arguments for detect, e.g. '--batch 16'")
    args = parser.parse_args(argv)
    model = _common.check_model(args.model)

    work = _common.CACHE / "memory"
    tile = work / f"tile_s9002_{args.tile_size}px.tif"
    if not tile.exists():
        work.mkdir(parents=True, exist_ok=True)
        _common.run([*_common.DEBRISMAP, "synth", "--size", str(args.tile_size), "--gsd", "0.5",
                     "--seed", "9002", "--out", str(tile), "--quiet"])
    rows = []
    for mpx in [float(s) for s in args.sizes.split(",")]:
        if mpx <= args.tile_size**2 / 1e6:
            # Smaller than one tile: a window of the tile, as a VRT too (same reader path).
            side = max(256, int((mpx * 1e6) ** 0.5))
            import rasterio

            with rasterio.open(tile) as src:
                t, crs = src.transform, src.crs
            raster = scenes.write_vrt(work / f"mosaic_{mpx:g}mpx.vrt", side, side, 3, crs.to_wkt(),
                                      (t.c, t.a, t.b, t.f, t.d, t.e), [(tile, 0, 0, args.tile_size, args.tile_size)])
            width = height = side
        else:
            raster, width, height = scenes.repeated_mosaic(tile, mpx, work / f"mosaic_{mpx:g}mpx.vrt")
        run_dir = work / "runs" / raster.stem
        if run_dir.exists():
            shutil.rmtree(run_dir)
        cmd = [*_common.DEBRISMAP, "detect", str(raster), "--out", str(run_dir), "--model", str(model),
               "--quiet", "--no-heatmap", *args.detect_args.split()]
        peak, seconds, _ = peak_rss(cmd, args.interval)
        run = _common.read_run(run_dir)
        rows.append({
            "target_mpx": mpx, "width": width, "height": height, "mpx": width * height / 1e6,
            "peak_rss_mib": peak, "wall_s": seconds, "tiles": run.get("tiling", {}).get("tiles_total"),
            "detections": run.get("counts", {}).get("detections"),
            "mpx_per_s": width * height / 1e6 / seconds, "timings": run.get("timings"),
            "tiling": run.get("tiling"),
        })
        print(f"  {width}x{height} ({width * height / 1e6:.0f} Mpx): peak RSS {peak:.0f} MiB, {seconds:.0f} s")

    print()
    print(_common.table(rows, [("mpx", "Mpx", "{:.1f}"), ("width", "width", ""), ("height", "height", ""),
                               ("tiles", "tiles", ""), ("peak_rss_mib", "peak RSS MiB", "{:.0f}"),
                               ("wall_s", "wall s", "{:.0f}"), ("mpx_per_s", "Mpx/s", "{:.2f}")]))
    _common.write_result("bench_memory", {
        "model": str(model), "model_sha256": _common.file_sha256(model), "tile": str(tile),
        "detect_args": args.detect_args, "sampling_interval_s": args.interval, "runs": rows,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
