"""Speed of the bundled network without its stride-16/32 levels (yolov8-p23), no retraining.

bench_level_firing.py shows those levels produce no matched pile. Here both networks get the
bundled fp32 file's weights (train.warm_start: yolov8-p23 takes layers 0-21 and the P2/P3 head),
are exported by `debrismap export` (fp32 and int8, same calibration chips) and then timed in
ONNX Runtime on the CPU as detect runs them (ModelSession), on a synthetic batch of tiles,
interleaved so both see the same machine load:

    uv run python benchmarks/bench_level_speed.py --data datasets/default --work /tmp/levels

Export validates each file on the dataset's val split, so F1 is printed next to the speed.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

os.environ.setdefault("YOLO_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]


def checkpoint_with_bundled_weights(arch: str, onnx_path: Path, data: Path, out: Path) -> Path:
    """A debrismap checkpoint of `arch` (scale n, ReLU) carrying the fp32 file's weights."""
    import torch

    from debrismap import __version__
    from debrismap.train.dataset import read_dataset_info
    from debrismap.train.task import CHECKPOINT_FORMAT, DebrisDetectionTask, DetectionHParams
    from debrismap.train.warm_start import load_fused_weights, onnx_weights, read_training_history

    info = read_dataset_info(data)
    hp = DetectionHParams(arch=arch, scale="n", act="relu", classes=list(info.names), imgsz=256,
                          gsd_m=info.gsd_m, training_data=f"weights of {onnx_path.name}",
                          dataset=str(info.root), score_threshold=0.1, init_onnx=str(onnx_path))
    task = DebrisDetectionTask(hp)
    load_fused_weights(task.model, onnx_weights(onnx_path), onnx_path)
    task.ema.module.load_state_dict(task.model.state_dict())
    torch.save({"state_dict": task.state_dict(), "global_step": 0, "epoch": 0,
                "debrismap": {"format": CHECKPOINT_FORMAT, "software_version": __version__,
                              "hparams": asdict(hp), "training_history": read_training_history(onnx_path)}},
               out)
    return out


def time_sessions(paths: dict[str, Path], batch: int, rounds: int) -> tuple[dict, dict]:
    """Median wall and CPU seconds (all of onnxruntime's threads) per batch of `batch` random
    256 px tiles, the models taking turns. CPU seconds are what a shared machine disturbs least."""
    from debrismap.detect.session import ModelSession

    sessions = {name: ModelSession(path, device="cpu") for name, path in paths.items()}
    x = np.random.default_rng(0).random((batch, 3, 256, 256), dtype=np.float32)
    times: dict[str, list[float]] = {name: [] for name in paths}
    cpu: dict[str, list[float]] = {name: [] for name in paths}
    for session in sessions.values():
        session.run(x)  # warm-up
    for _ in range(rounds):
        for name, session in sessions.items():
            start, cpu_start = time.perf_counter(), time.process_time()
            session.run(x)
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - cpu_start)
    return ({name: float(np.median(t)) for name, t in times.items()},
            {name: float(np.median(t)) for name, t in cpu.items()})


def main(argv: list[str] | None = None) -> int:
    from debrismap.export.pipeline import export_onnx

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=REPO / "models" / "debrismap-default.onnx")
    parser.add_argument("--data", type=Path, required=True, help="chip dataset (val split: parity, F1, calibration)")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--reuse", action="store_true", help="time the files an earlier run exported to --work")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    paths, f1 = {}, {}
    for arch in ("yolov8-p2", "yolov8-p23"):
        ckpt = args.work / f"{arch}.ckpt"
        if not (args.reuse and ckpt.is_file()):
            checkpoint_with_bundled_weights(arch, args.model, args.data, ckpt)
        for precision in ("fp32", "int8"):
            out = args.work / f"{arch}-{precision}.onnx"
            if args.reuse and out.is_file():  # exported by an earlier run: time it again
                paths[f"{arch} {precision}"] = out
                sidecar = json.loads(out.with_suffix(".export.json").read_text())
                f1[f"{arch} {precision}"] = (sidecar.get("validation") or {}).get("f1")
                continue
            report = export_onnx(ckpt, out, int8=precision == "int8",
                                 calib=args.data / "images" / "val" if precision == "int8" else None)
            paths[f"{arch} {precision}"] = out
            f1[f"{arch} {precision}"] = (report.validation or {}).get("f1")
            print(f"exported {out.name}: val F1 {f1[f'{arch} {precision}']}", flush=True)
    seconds, cpu = time_sessions(paths, args.batch, args.rounds)
    mpx = args.batch * 256 * 256 / 1e6
    rows = [{"model": name, "s_per_batch": round(s, 4), "mpx_per_s": round(mpx / s, 2),
             "cpu_s_per_batch": round(cpu[name], 4), "mpx_per_cpu_s": round(mpx / cpu[name], 2),
             "val_f1": f1[name]} for name, s in seconds.items()]
    for row in rows:
        print(json.dumps(row))
    for precision in ("fp32", "int8"):
        gain = seconds[f"yolov8-p2 {precision}"] / seconds[f"yolov8-p23 {precision}"]
        cpu_gain = cpu[f"yolov8-p2 {precision}"] / cpu[f"yolov8-p23 {precision}"]
        print(f"{precision}: yolov8-p23 runs {gain:.2f}x the speed of yolov8-p2 "
              f"(wall clock), {cpu_gain:.2f}x per CPU-second")
    print(f"cpus {os.cpu_count()}, load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    import _common  # benchmarks/: results/<name>.json with the machine, versions and command

    _common.write_result("bench_level_speed", {"rows": rows, "loadavg": list(os.getloadavg())})
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
