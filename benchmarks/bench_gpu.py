"""GPU throughput: training images/s (CUDA, fp16 autocast) and inference tiles/s (ONNX Runtime
CUDA and TensorRT execution providers, fp32 and fp16).

Runs only where a CUDA GPU exists; elsewhere it prints "no GPU: skipped" and writes a result
file that says so (exit 0), so a CPU-only run is never mistaken for a measurement.

    uv run python benchmarks/bench_gpu.py --model models/debrismap-default.onnx

Training throughput is the bare training step of the same network the LightningModule trains
(ultralytics DetectionModel + its loss, AdamW, fp16 autocast with a GradScaler) on random
images with random boxes held on the GPU, so it measures the GPU, not the data loader: it is an
upper bound for `debrismap train`. Inference feeds random tiles already in host memory, so it is
the model's throughput, not detect's end-to-end rate (raster decoding is on the CPU).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common


def gpu_available() -> tuple[bool, str]:
    try:
        import torch
    except ImportError:
        return False, "torch not installed"
    if not torch.cuda.is_available():
        return False, "torch.cuda.is_available() is False"
    return True, torch.cuda.get_device_name(0)


def training_throughput(imgsz: int, batch: int, steps: int, warmup: int, scale: str, device: str = "cuda") -> dict:
    import torch

    from debrismap.train.model import build_detection_model

    cuda = device == "cuda"
    device = torch.device(device)
    torch.manual_seed(0)
    model = build_detection_model("yolov8", scale, 1).to(device).train()
    criterion = model.init_criterion()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    n_boxes = 20  # per image: a busy chip
    images = torch.rand(batch, 3, imgsz, imgsz, device=device)
    xy = torch.rand(batch * n_boxes, 2, device=device) * 0.8 + 0.1
    wh = torch.rand(batch * n_boxes, 2, device=device) * 0.08 + 0.02
    targets = {
        "batch_idx": torch.arange(batch, device=device).repeat_interleave(n_boxes).float(),
        "cls": torch.zeros(batch * n_boxes, 1, device=device),
        "bboxes": torch.cat([xy, wh], 1),
    }

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.float16, enabled=cuda):
            preds = model(images)
        loss, _ = criterion(preds, targets)
        scaler.scale(loss.sum()).backward()
        scaler.step(optimizer)
        scaler.update()

    for _ in range(warmup):
        step()
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    seconds = time.perf_counter() - start
    return {
        "model": f"yolov8{scale}", "imgsz": imgsz, "batch": batch, "steps": steps,
        "precision": "fp16 autocast", "images_per_s": batch * steps / seconds,
        "peak_gpu_mem_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
    }


def fp16_copy(model: Path, folder: Path) -> Path:
    """An fp16 copy of the ONNX (inputs/outputs stay float32), via onnxruntime's converter."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    proto = convert_float_to_float16(onnx.load(str(model)), keep_io_types=True)
    out = folder / (model.stem + ".fp16.onnx")
    onnx.save(proto, str(out))
    return out


def inference_throughput(model: Path, provider: str, options: dict, batch: int, iters: int, warmup: int) -> dict:
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=[(provider, options), "CPUExecutionProvider"])
    used = session.get_providers()[0]
    inp = session.get_inputs()[0]
    size = inp.shape[-1] if isinstance(inp.shape[-1], int) else 256
    tiles = np.random.default_rng(0).random((batch, 3, size, size), dtype=np.float32)
    # Host-resident input and output, as detect uses them: the copies are part of the rate.
    for _ in range(warmup):  # TensorRT builds its engine during the first runs
        session.run(None, {inp.name: tiles})
    start = time.perf_counter()
    for _ in range(iters):
        session.run(None, {inp.name: tiles})
    seconds = time.perf_counter() - start
    return {"provider_requested": provider, "provider_used": used, "batch": batch, "tile": size,
            "tiles_per_s": batch * iters / seconds}


def detect_end_to_end(model: Path, size: int) -> dict:
    """`debrismap detect --device cuda` on a synthetic city: the rate a user gets, reading included."""
    city = _common.CACHE / "gpu" / f"city_s9004_{size}px.tif"
    if not city.exists():
        city.parent.mkdir(parents=True, exist_ok=True)
        _common.run([*_common.DEBRISMAP, "synth", "--size", str(size), "--gsd", "0.5", "--seed", "9004",
                     "--out", str(city), "--quiet"])
    run_dir = _common.CACHE / "gpu" / "runs" / "detect_cuda"
    wall = _common.detect(city, run_dir, model, ["--device", "cuda", "--quiet", "--no-heatmap"])
    run = _common.read_run(run_dir)
    tiles = run.get("timings", {}).get("tiles_run") or run.get("tiling", {}).get("tiles_total")
    total = run.get("timings", {}).get("total")
    return {"raster_px": size, "tiles": tiles, "wall_s": wall, "run_total_s": total,
            "tiles_per_s": tiles / total if tiles and total else None, "mpx_per_s": size * size / 1e6 / wall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=_common.REPO / "models" / "debrismap-default.onnx")
    parser.add_argument("--imgsz", type=int, default=256, help="training image size (default 256)")
    parser.add_argument("--scale", default="n", help="yolov8 scale for the training step (default n)")
    parser.add_argument("--train-batch", type=int, default=64)
    parser.add_argument("--train-steps", type=int, default=50)
    parser.add_argument("--batches", default="8,32", help="inference batch sizes (default 8,32)")
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--detect-size", type=int, default=8192,
                        help="synthetic city side for the end-to-end detect --device cuda run (0: skip)")
    parser.add_argument("--cpu-dry-run", action="store_true",
                        help="exercise the code paths on the CPU at toy sizes; prints, writes no result")
    args = parser.parse_args(argv)

    if args.cpu_dry_run:
        print(training_throughput(64, 2, 2, 1, args.scale, device="cpu"))
        model = _common.check_model(args.model)
        print(inference_throughput(model, "CPUExecutionProvider", {}, 2, 2, 1))
        with tempfile.TemporaryDirectory() as tmp:
            print(inference_throughput(fp16_copy(model, Path(tmp)), "CPUExecutionProvider", {}, 2, 2, 1))
        print("dry run only: these are not measurements")
        return 0

    ok, why = gpu_available()
    if not ok:
        print(f"no GPU: skipped ({why})")
        _common.write_result("bench_gpu", {"skipped": True, "reason": why})
        return 0

    import onnxruntime as ort

    results = {"skipped": False, "gpu": why, "training": [], "inference": []}
    results["training"].append(training_throughput(args.imgsz, args.train_batch, args.train_steps, 10, args.scale))
    model = _common.check_model(args.model)
    available = ort.get_available_providers()
    with tempfile.TemporaryDirectory() as tmp:
        half = fp16_copy(model, Path(tmp))
        trt_cache = Path(tmp) / "trt"
        configs = []
        if "CUDAExecutionProvider" in available:
            configs += [("CUDA fp32", model, "CUDAExecutionProvider", {}),
                        ("CUDA fp16", half, "CUDAExecutionProvider", {})]
        if "TensorrtExecutionProvider" in available:
            base = {"trt_engine_cache_enable": True, "trt_engine_cache_path": str(trt_cache)}
            configs += [("TensorRT fp32", model, "TensorrtExecutionProvider", base),
                        ("TensorRT fp16", model, "TensorrtExecutionProvider", {**base, "trt_fp16_enable": True})]
        if not configs:
            results["inference_note"] = f"onnxruntime has no GPU provider (available: {available})"
        for label, path, provider, options in configs:
            for batch in [int(b) for b in args.batches.split(",")]:
                try:
                    row = inference_throughput(path, provider, options, batch, args.iters, warmup=10)
                except Exception as exc:  # noqa: BLE001 - a provider that fails to initialise is a result too
                    row = {"provider_requested": provider, "batch": batch, "error": f"{type(exc).__name__}: {exc}"}
                row["config"] = label
                if row.get("provider_used") and row["provider_used"] != provider:
                    row["note"] = f"fell back to {row['provider_used']}"
                results["inference"].append(row)

    if args.detect_size:
        try:
            results["detect_cuda"] = detect_end_to_end(model, args.detect_size)
        except SystemExit as exc:  # detect failing on this GPU box is worth recording, not fatal
            results["detect_cuda"] = {"error": str(exc)}

    print(_common.table(results["training"], [("model", "training", ""), ("batch", "batch", ""),
                                              ("precision", "precision", ""), ("images_per_s", "images/s", "{:.1f}")]))
    print()
    print(_common.table(results["inference"], [("config", "inference", ""), ("batch", "batch", ""),
                                               ("provider_used", "provider used", ""),
                                               ("tiles_per_s", "tiles/s", "{:.1f}")]))
    if "detect_cuda" in results:
        print(f"\ndetect --device cuda end to end: {results['detect_cuda']}")
    _common.write_result("bench_gpu", results, extra_versions=("torch", "onnxruntime-gpu", "ultralytics"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
