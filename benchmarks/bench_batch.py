"""`debrismap batch` on Dask against sequential `detect` over the same acquisitions (not run by CI).

Acquisitions: --acquisitions VRT mosaics (--repeat x --repeat copies of one synthetic 2048²
city each; distinct files, so each is its own run). Three ways over the same set, alternated
round by round so that the ratios are measured back to back on a machine that others share:

  sequential   one `debrismap detect` process per acquisition, one after another (a shell loop)
  batch, 1     `debrismap batch --workers 1` (embedded LocalCluster, cluster start included)
  batch, 2     `debrismap batch --workers 2`

From the batch runs' batch.json: tiles/s per worker (tiles over the workers' busy seconds),
and the fixed costs of a task (plan per acquisition, set-up per band, finish per acquisition).
Scheduler overhead per task: --noop-tasks empty tasks through a 2-worker LocalCluster.

    uv run python benchmarks/bench_batch.py --rounds 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
from bench_detect_speed import base_city, mosaic_vrt


def acquisitions(cache: Path, n: int, repeat: int) -> list[Path]:
    base = base_city(cache)
    mosaic, _ = mosaic_vrt(base, repeat * repeat * 2048 * 2048 / 1e6 - 0.1, cache)
    out = []
    for k in range(n):  # distinct files: batch runs each once, in its own run folder
        path = cache / f"batch_acq{k}_{repeat}x{repeat}.vrt"
        path.write_text(mosaic.read_text())
        out.append(path)
    return out


def run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=_common.subprocess_env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - t0


def sequential(rasters: list[Path], out: Path, model: list[str]) -> float:
    t0 = time.perf_counter()
    for raster in rasters:
        run([*_common.DEBRISMAP, "detect", str(raster), "--out", str(out / raster.stem), "--force", "--no-heatmap",
             "--quiet", *model])
    return time.perf_counter() - t0


def batch(rasters: list[Path], out: Path, workers: int, band_tiles: int, model: list[str]) -> tuple[float, dict]:
    wall = run([*_common.DEBRISMAP, "batch", *map(str, rasters), "--out", str(out), "--workers", str(workers),
                "--band-tiles", str(band_tiles), "--force", "--no-heatmap", "--quiet", *model])
    return wall, json.loads((out / "batch.json").read_text())


def costs(doc: dict) -> dict:
    """Per-worker speed and fixed per-task costs from one batch.json."""
    recs = doc["acquisitions"]
    tiles = sum(r["tiles_run"] for r in recs)
    bands = sum(r["bands"] for r in recs)
    worker_s = sum(r["timings"]["worker_s"] for r in recs)
    return {
        "tiles": tiles, "bands": bands, "acquisitions": len(recs), "batch_wall_s": doc["wall_s"],
        "worker_busy_s": worker_s, "model_s": sum(r["timings"]["model_s"] for r in recs),
        "tiles_per_s_per_worker": tiles / worker_s,
        "plan_s_per_acquisition": statistics.median(r["timings"]["plan_s"] for r in recs),
        "band_setup_s_per_band": sum(r["timings"]["band_setup_s"] for r in recs) / bands,
        "finish_s_per_acquisition": statistics.median(r["timings"]["finish_s"] for r in recs),
    }


def scheduler_overhead(n: int) -> dict:
    """Seconds per empty task, submitted at once and gathered, through a 2-worker LocalCluster."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.gather(client.map(abs, range(50), pure=False))  # warm up
        t0 = time.perf_counter()
        client.gather(client.map(abs, range(n), pure=False))
        batch_s = (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        for k in range(min(n, 200)):  # one at a time: the latency a lone task pays
            client.submit(abs, k, pure=False).result()
        serial_s = (time.perf_counter() - t0) / min(n, 200)
    return {"tasks": n, "s_per_task_in_bulk": batch_s, "s_per_task_round_trip": serial_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--acquisitions", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2, help="each acquisition is repeat x repeat 2048² cities")
    parser.add_argument("--band-tiles", type=int, default=64, help="tiles per band task (default 64)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--noop-tasks", type=int, default=1000)
    parser.add_argument("--model", type=Path, default=None, help="ONNX model (default: the bundled one)")
    parser.add_argument("--cache", type=Path, default=_common.CACHE)
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    rasters = acquisitions(args.cache, args.acquisitions, args.repeat)
    model = ["--model", str(args.model)] if args.model else []
    work = args.cache / "bench_batch"
    rounds = []
    for r in range(args.rounds):
        seq = sequential(rasters, work / "seq", model)
        b1, doc1 = batch(rasters, work / "w1", 1, args.band_tiles, model)
        b2, doc2 = batch(rasters, work / "w2", 2, args.band_tiles, model)
        rounds.append({"sequential_s": seq, "batch_1_worker_s": b1, "batch_2_workers_s": b2,
                       "costs_1_worker": costs(doc1), "costs_2_workers": costs(doc2)})
        print(f"round {r + 1}: sequential {seq:.1f} s, batch 1 worker {b1:.1f} s, 2 workers {b2:.1f} s "
              f"({rounds[-1]['costs_2_workers']['tiles']} tiles)", flush=True)
    def ratio(key):
        return statistics.median(x[key] / x["sequential_s"] for x in rounds)

    results = {
        "acquisitions": args.acquisitions, "mosaic": f"{args.repeat}x{args.repeat} x 2048²", "band_tiles": args.band_tiles,
        "rounds": rounds,
        "median_ratio_batch1_over_sequential": ratio("batch_1_worker_s"),
        "median_ratio_batch2_over_sequential": ratio("batch_2_workers_s"),
        "scheduler": scheduler_overhead(args.noop_tasks),
        "note": "shared machine (other agents running): absolute seconds are contended; ratios are back to back",
    }
    print(json.dumps({k: v for k, v in results.items() if k != "rounds"}, indent=2))
    _common.write_result("bench_batch", results)


if __name__ == "__main__":
    main()
