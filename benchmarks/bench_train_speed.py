"""Training throughput on this machine: images/s and pixels/s of a few optimiser steps.

Runs the trainer's own pieces (ChipDataModule, DebrisDetectionTask, its loss and optimiser)
in a plain loop so the number is the step itself, data loading included, without Lightning's
logging and checkpoints. Compare variants back to back, on the same machine state:

    uv run python benchmarks/bench_train_speed.py --config training/default_cpu.yaml \
        --data datasets/default --steps 12 --variant full --variant crop128 \
        --variant crop128-bf16 --variant crop128-cl

Variants: full (imgsz windows), cropN (N-px windows around piles), and the suffixes -bf16
(CPU autocast to bfloat16), -cl (channels-last) and -bN (batch N instead of the config's, e.g.
crop128-b64: the pixels of a batch of 16 full chips). The first `--warmup` steps are not timed.
Prints one line per variant: wall-clock images/s and Mpx/s, and the CPU-seconds spent (this
process and its dataloader workers) per image, which a shared machine disturbs far less; and
the load average, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import time
from pathlib import Path

import psutil

os.environ.setdefault("YOLO_OFFLINE", "1")


def cpu_seconds() -> float:
    """CPU time of this process and its live children (the dataloader workers), user + system.

    On a shared machine wall-clock rates depend on the neighbours; CPU-seconds per image do not
    (much), and they are what a CPU-bound training run spends.
    """
    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            total += t.user + t.system
    return total


def as_float(preds):
    """The head's raw outputs in fp32 (bf16 under autocast), whatever container they come in."""
    if isinstance(preds, dict):
        return {k: as_float(v) for k, v in preds.items()}
    if isinstance(preds, (list, tuple)):
        return type(preds)(as_float(v) for v in preds)
    return preds.float() if hasattr(preds, "float") else preds


def measure(cfg, variant: str, steps: int, warmup: int) -> dict:
    import torch

    from debrismap.train.datamodule import ChipDataModule
    from debrismap.train.fit import hparams_from
    from debrismap.train.task import DebrisDetectionTask

    crop = int(m.group(1)) if (m := re.match(r"crop(\d+)", variant)) else 0
    bf16, channels_last = "-bf16" in variant, "-cl" in variant
    batch_size = int(m.group(1)) if (m := re.search(r"-b(\d+)", variant)) else cfg.batch
    torch.manual_seed(0)
    dm = ChipDataModule(cfg.data, imgsz=cfg.imgsz, batch_size=batch_size, num_workers=cfg.workers,
                        augment=cfg.augment, mosaic=cfg.mosaic, scale_jitter=cfg.scale_jitter,
                        crop=crop, crop_background=cfg.crop_background)
    dm.setup("fit")
    task = DebrisDetectionTask(hparams_from(cfg, dm))
    model = task.model.train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    done, images, pixels, start, cpu_start = 0, 0, 0, None, 0.0
    while done < steps + warmup:
        for batch in dm.train_dataloader():
            if done == warmup:
                start, cpu_start = time.perf_counter(), cpu_seconds()
            x = batch["img"].float() / 255.0
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast:
                preds = model(x)
            loss, _ = task._loss(as_float(preds), batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            task.ema.update(model)
            if done >= warmup:
                images += x.shape[0]
                pixels += x.shape[0] * x.shape[2] * x.shape[3]
            done += 1
            if done >= steps + warmup:
                cpu = cpu_seconds() - cpu_start  # before the loader's workers go away
                break
    seconds = time.perf_counter() - start
    return {"variant": variant, "side": int(x.shape[2]), "steps": steps, "seconds": round(seconds, 2),
            "images_per_s": round(images / seconds, 2), "mpx_per_s": round(pixels / seconds / 1e6, 3),
            "s_per_step": round(seconds / steps, 3), "cpu_s": round(cpu, 1),
            "images_per_cpu_s": round(images / cpu, 3), "mpx_per_cpu_s": round(pixels / cpu / 1e6, 4)}


def main(argv: list[str] | None = None) -> int:
    from debrismap.train.config import make_config

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="training/default_cpu.yaml")
    parser.add_argument("--data", help="chip dataset (overrides the config's)")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--variant", action="append", help="full, cropN, with -bf16 / -cl suffixes")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    cfg = make_config(args.config, {"data": args.data})
    results = []
    for variant in args.variant or ["full", "crop128"]:
        result = measure(cfg, variant, args.steps, args.warmup)
        result["loadavg_1min"] = round(os.getloadavg()[0], 2)
        print(json.dumps(result), flush=True)
        results.append(result)
    print(f"cpus {os.cpu_count()}, load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    import _common  # benchmarks/: results/<name>.json with the machine, versions and command

    _common.write_result("bench_train_speed", {"rows": results, "loadavg": list(os.getloadavg())})
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
