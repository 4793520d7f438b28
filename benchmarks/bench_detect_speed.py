"""Speed and memory of `debrismap detect` against the bare model (not run by CI).

Targets (docs/detect.md): on a 2-core CPU the whole detect run over a >= 100 Mpx city
costs at most 1.10x the bare model time — the same number of batches pushed through the same
ONNX Runtime sessions with no I/O — and detect's peak RSS stays under 1.5 GB at any raster size.

The city is a VRT mosaic repeating one synthetic 2048 x 2048 city (generated once into the
cache folder), so 100 or 500 Mpx cost no disk. The model is --model, else the bundled model,
else a YOLOv8n with random weights exported here with ultralytics (benchmark only: needs the
[train] extra). Detect runs in a subprocess; its peak RSS is the kernel's high-water mark for it
(/proc/PID/status VmHWM, read every 0.1 s while it runs).

    uv run python benchmarks/bench_detect_speed.py --mpx 100 --cache ~/.cache/debrismap-bench
    uv run python benchmarks/bench_detect_speed.py --mpx 500 --skip-bare   # memory only
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

BASE_SIZE = 2048


def base_city(cache: Path) -> Path:
    path = cache / "city2048.tif"
    if not path.exists():
        from debrismap.synth import generate_city

        generate_city(path, size=BASE_SIZE, gsd=0.5, seed=1, progress=True)
    return path


def mosaic_vrt(base: Path, mpx: float, cache: Path) -> tuple[Path, int]:
    """A VRT repeating `base` n x n times, n chosen so the mosaic holds at least `mpx` megapixels."""
    import rasterio

    with rasterio.open(base) as src:
        w, h, crs, t = src.width, src.height, src.crs, src.transform
        block = src.block_shapes[0]
    n = max(1, math.ceil(math.sqrt(mpx * 1e6 / (w * h))))
    path = cache / f"mosaic_{n}x{n}.vrt"
    srs = crs.to_wkt().replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    bands = []
    for b, colour in zip((1, 2, 3), ("Red", "Green", "Blue")):
        sources = "".join(
            f'<SimpleSource><SourceFilename relativeToVRT="0">{base}</SourceFilename><SourceBand>{b}</SourceBand>'
            f'<SourceProperties RasterXSize="{w}" RasterYSize="{h}" DataType="Byte" BlockXSize="{block[1]}" BlockYSize="{block[0]}"/>'
            f'<SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/><DstRect xOff="{i * w}" yOff="{j * h}" xSize="{w}" ySize="{h}"/>'
            "</SimpleSource>"
            for j in range(n) for i in range(n)
        )
        bands.append(f'<VRTRasterBand dataType="Byte" band="{b}"><ColorInterp>{colour}</ColorInterp>{sources}</VRTRasterBand>')
    gt = f"{t.c}, {t.a}, {t.b}, {t.f}, {t.d}, {t.e}"
    path.write_text(f'<VRTDataset rasterXSize="{n * w}" rasterYSize="{n * h}"><SRS>{srs}</SRS>'
                    f"<GeoTransform>{gt}</GeoTransform>{''.join(bands)}</VRTDataset>\n")
    return path, n


def benchmark_model(cache: Path, given: Path | None, cheap: bool = False) -> Path:
    if given:
        return given
    if cheap:  # memory runs on huge mosaics: the tests' mean-filter oracle at 640 px, near-free to run
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from test_detect_oracle import build_oracle

        path = cache / "blind-oracle-640.onnx"  # blind: a city's bright roofs would all be "piles"
        if not path.exists():
            build_oracle(path, size=640, blind=True)
        return path
    from debrismap.detect.model_file import find_default_model

    bundled = find_default_model()
    if bundled:
        return bundled
    path = cache / "yolov8n-random-640.onnx"
    if not path.exists():
        export_random_yolov8n(path)
    return path


def export_random_yolov8n(path: Path) -> None:
    """A YOLOv8n of realistic cost (random weights) with debrismap metadata. Benchmark only."""
    import onnx
    import torch
    from ultralytics.nn.tasks import DetectionModel

    from debrismap.model.metadata import ModelMetadata

    model = DetectionModel("yolov8n.yaml", nc=1, verbose=False).eval()
    for module in model.modules():
        if module.__class__.__name__ == "Detect":
            module.export, module.format = True, "onnx"
    tmp = path.with_suffix(".tmp.onnx")
    torch.onnx.export(model, torch.zeros(1, 3, 640, 640), str(tmp), input_names=["images"], output_names=["output0"],
                      dynamic_axes={"images": {0: "N"}, "output0": {0: "N"}}, opset_version=17, dynamo=False)
    proto = onnx.load(str(tmp))
    meta = ModelMetadata(classes=("debris",), input_size=640, gsd_m=0.5, training_data="random weights: benchmark only")
    onnx.helper.set_model_props(proto, meta.to_props())
    onnx.save(proto, str(path))
    tmp.unlink()


def run_detect_subprocess(raster: Path, out: Path, model: Path, batch: int, threads: int | None) -> dict:
    cmd = [sys.executable, "-m", "debrismap", "detect", str(raster), "--out", str(out), "--model", str(model),
           "--batch", str(batch), "--force", "--no-heatmap"]
    if threads:
        cmd += ["--threads", str(threads)]
    import psutil

    before = resource.getrusage(resource.RUSAGE_CHILDREN)  # cumulative over all children waited for
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=_common.subprocess_env())  # bytecode cached, as installed
    ps = psutil.Process(proc.pid)
    peak_polled = peak_hwm = 0
    # Not the children's ru_maxrss: a child forked from this process starts with this process's
    # memory counted (the bare runs' sessions), which once reported 3 GB for a 370 MB detect.
    # The kernel's high-water mark of the detect process itself (VmHWM, Linux) is exact; RSS
    # polled every 0.1 s is the fallback elsewhere.
    while proc.poll() is None:
        try:
            peak_polled = max(peak_polled, ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(True)))
            peak_hwm = max(peak_hwm, _vm_hwm(proc.pid))
        except psutil.Error:
            pass
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"detect failed with exit code {proc.returncode}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = json.loads((out / "run.json").read_text())
    cpu = (usage.ru_utime + usage.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss_bytes": max(peak_hwm, peak_polled),
            "peak_rss_polled_bytes": peak_polled, "run": run}


def _vm_hwm(pid: int) -> int:
    """Peak resident memory of a live process since it started (Linux /proc), else 0."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def bare_model_seconds(model: Path, n_tiles: int, batch: int, threads: int | None) -> tuple[float, float]:
    """The same tiles, in the same batches, through the same sessions as detect, with no I/O.

    detect runs two sessions side by side on a CPU (SessionPool's default); so does the bare
    run, with as many batches in flight as sessions. Returns (wall seconds, CPU seconds of this
    process: every ORT thread included)."""
    from concurrent.futures import ThreadPoolExecutor

    from debrismap.detect.session import SessionPool

    pool = SessionPool(model, "cpu", threads)
    pool.wait_ready()
    size = pool.input_size
    x = np.random.default_rng(0).random((batch, 3, size, size), dtype=np.float32)
    for session in pool.sessions:
        session.run(x)  # warm-up, as detect's first batches are not free either
    full, rest = divmod(n_tiles, batch)
    batches = [x] * full + ([x[:rest]] if rest else [])
    c0, t0 = _cpu_self(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=pool.count) as workers:
        for _ in workers.map(pool.run, batches):  # drop each output, as detect's post thread does
            pass
    return time.perf_counter() - t0, _cpu_self() - c0


def _cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def plan_size(raster: Path, model: Path, batch: int) -> int:
    """How many tiles detect will analyse (its planning step, without running anything)."""
    from debrismap.detect.plan import RasterJob, plan_tiles
    from debrismap.detect.session import ModelSession
    from debrismap.raster import TileGrid, open_raster

    meta = ModelSession(model, "cpu", 1).metadata
    with open_raster(raster) as src:
        view = src.at_gsd(meta.gsd_m)
        grid = TileGrid(view.width, view.height, meta.input_size, round(meta.input_size * 0.1))
        plan, _ = plan_tiles([RasterJob(0, raster, src, view, grid, None, None)])
    return len(plan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mpx", type=float, default=100.0, help="mosaic size in megapixels (default 100)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "debrismap-bench")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--skip-bare", action="store_true", help="memory only: do not time the bare model")
    parser.add_argument("--repeats", type=int, default=3,
                        help="detect runs, each between two bare runs; the median ratio is reported (default 3)")
    parser.add_argument("--cheap-model", action="store_true",
                        help="memory only: a near-free 640 px model instead of a realistic one (huge mosaics)")
    parser.add_argument("--json", type=Path, default=None, help="where to write the results (default: cache)")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)

    base = base_city(args.cache)
    raster, n = mosaic_vrt(base, args.mpx, args.cache)
    model = benchmark_model(args.cache, args.model, args.cheap_model)
    out = args.cache / f"run_{n}x{n}"
    print(f"raster {raster} ({n * BASE_SIZE} x {n * BASE_SIZE} = {(n * BASE_SIZE) ** 2 / 1e6:.0f} Mpx), model {model}",
          flush=True)

    # bare, detect, bare, detect, bare...: on a shared machine the load drifts (bare runs of the
    # same work were seen 20 s apart), so each detect run is compared with the mean of the bare
    # runs just before and just after it, and the median of those ratios is reported.
    tiles = plan_size(raster, model, args.batch)
    repeats = 1 if args.skip_bare else max(1, args.repeats)
    bares = [] if args.skip_bare else [bare_model_seconds(model, tiles, args.batch, args.threads)]
    detects = []
    for _ in range(repeats):
        detects.append(run_detect_subprocess(raster, out, model, args.batch, args.threads))
        assert detects[-1]["run"]["tiling"]["tiles_analysed"] == tiles
        if not args.skip_bare:
            bares.append(bare_model_seconds(model, tiles, args.batch, args.threads))
    n_batches = math.ceil(tiles / args.batch)
    rounds = [
        {"detect_total_s": d["run"]["timings"]["total"], "detect_cpu_s": round(d["cpu_s"], 3),
         "bare_s": round((bares[i][0] + bares[i + 1][0]) / 2, 3),
         "bare_cpu_s": round((bares[i][1] + bares[i + 1][1]) / 2, 3)}
        for i, d in enumerate(detects)
    ] if bares else []
    for r in rounds:
        r["ratio"] = round(r["detect_total_s"] / r["bare_s"], 3)
        r["ratio_cpu"] = round(r["detect_cpu_s"] / r["bare_cpu_s"], 3)
    median = sorted(rounds, key=lambda r: r["ratio"])[len(rounds) // 2] if rounds else None
    detect = next(d for d in detects if median is None or d["run"]["timings"]["total"] == median["detect_total_s"])
    run = detect["run"]
    bare = median["bare_s"] if median else None
    bare_cpu = median["bare_cpu_s"] if median else None
    timings = run["timings"]
    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "git_commit": _common.git_commit(),
        "machine": _common.machine(),
        "versions": _common.versions(),
        "load_avg_at_end": os.getloadavg(),
        "raster": str(raster), "megapixels": (n * BASE_SIZE) ** 2 / 1e6, "model": str(model),
        "tiles": tiles, "batch": args.batch, "batches": n_batches, "sessions": run["model"].get("sessions", 1),
        "detect_total_s": timings["total"], "detect_process_wall_s": round(detect["wall_s"], 3),
        "detect_timings": timings,
        "bare_model_s": bare,
        "bare_model_runs_s": [round(b[0], 3) for b in bares],
        "rounds": rounds,
        "ratio_total_over_bare": median["ratio"] if median else None,
        "detect_process_cpu_s": round(detect["cpu_s"], 3),
        "bare_model_cpu_s": bare_cpu,
        "ratio_cpu_detect_over_bare": median["ratio_cpu"] if median else None,
        "peak_rss_mb": round(max(d["peak_rss_bytes"] for d in detects) / 2**20, 1),
        "peak_rss_polled_mb": round(max(d["peak_rss_polled_bytes"] for d in detects) / 2**20, 1),
    }
    rows = [
        ("raster", f"{result['megapixels']:.0f} Mpx, {tiles} tiles of {run['tiling']['tile_size']}, batch {args.batch}"),
        ("detect total (run.json)", f"{timings['total']:.1f} s"),
        ("  model inside detect", f"{timings['inference']:.1f} s"),
        ("  main thread waiting for tiles", f"{timings['wait_for_tiles']:.1f} s"),
        ("  read / preprocess (thread-busy)", f"{timings['read']:.1f} / {timings['preprocess']:.1f} s"),
        ("  decode+merge / write", f"{timings['decode_merge']:.1f} / {timings['write']:.1f} s"),
        ("  CPU: readers / post thread", f"{timings.get('reader_cpu', 0):.1f} / {timings.get('post_cpu', 0):.1f} s"),
        ("  setup / finalize", f"{timings.get('setup', 0):.1f} / {timings.get('finalize', 0):.1f} s"),
        ("bare model, same batches (around it)", "skipped" if bare is None else f"{bare:.1f} s"),
        ("bare runs, in order", "-" if not bares else " / ".join(f"{b[0]:.1f}" for b in bares) + " s"),
        ("ratio per detect run", "-" if not rounds else " / ".join(f"{r['ratio']:.3f}" for r in rounds)),
        ("median ratio detect / bare (target <= 1.10)", "-" if bare is None else f"{result['ratio_total_over_bare']:.3f}"),
        ("CPU seconds detect / bare", "-" if bare is None else
         f"{detect['cpu_s']:.1f} / {bare_cpu:.1f} = {result['ratio_cpu_detect_over_bare']:.3f}"),
        ("peak RSS of detect, max over runs (target <= 1536 MB)", f"{result['peak_rss_mb']:.0f} MB"),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    path = args.json or args.cache / f"bench_detect_{n}x{n}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
