"""Training throughput on this machine: images/s and pixels/s of a few optimiser steps.

Runs the trainer's own pieces (ChipDataModule, DebrisDetectionTask, its loss and optimiser)
in a plain loop so the number is the step itself, data loading included, without Lightning's
logging and checkpoints. Compare variants back to back, on the same machine state:

    uv run python benchmarks/bench_train_speed.py --config training/default_cpu.yaml \
        --data datasets/default --rounds 3 --steps 3 --variant full --variant crop128 \
        --variant full-bf16 --variant crop128-bf16 --variant full-cl

Variants: full (imgsz windows), cropN (N-px windows around piles), and the suffixes -bf16
(CPU autocast to bfloat16), -cl (channels-last) and -bN (batch N instead of the config's, e.g.
crop128-b64: the pixels of a batch of 16 full chips). The first `--warmup` steps are not timed;
then the variants take turns, `--steps` steps each, for `--rounds` rounds.
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


class Variant:
    """One training setup (its own datamodule, network, AdamW and dataloader workers)."""

    def __init__(self, cfg, name: str):
        import torch

        from debrismap.train.datamodule import ChipDataModule
        from debrismap.train.fit import hparams_from
        from debrismap.train.task import DebrisDetectionTask

        self.name = name
        crop = int(m.group(1)) if (m := re.match(r"crop(\d+)", name)) else 0
        self.bf16, self.channels_last = "-bf16" in name, "-cl" in name
        batch_size = int(m.group(1)) if (m := re.search(r"-b(\d+)", name)) else cfg.batch
        torch.manual_seed(0)
        self.dm = ChipDataModule(cfg.data, imgsz=cfg.imgsz, batch_size=batch_size, num_workers=cfg.workers,
                                 augment=cfg.augment, mosaic=cfg.mosaic, scale_jitter=cfg.scale_jitter,
                                 crop=crop, crop_background=cfg.crop_background)
        self.dm.setup("fit")
        self.task = DebrisDetectionTask(hparams_from(cfg, self.dm))
        self.model = self.task.model.train()
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr)
        self.batches = self._forever()
        self.side = 0
        self.seconds = self.cpu = 0.0
        self.images = self.pixels = self.steps = 0

    def _forever(self):
        while True:
            yield from self.dm.train_dataloader()

    def step(self) -> tuple[int, int]:
        import torch

        batch = next(self.batches)
        x = batch["img"].float() / 255.0
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if self.bf16 else contextlib.nullcontext()
        with autocast:
            preds = self.model(x)
        loss, _ = self.task._loss(as_float(preds), batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.task.ema.update(self.model)
        self.side = int(x.shape[2])
        return x.shape[0], x.shape[0] * x.shape[2] * x.shape[3]

    def timed(self, steps: int) -> None:
        start, cpu_start = time.perf_counter(), cpu_seconds()
        for _ in range(steps):
            images, pixels = self.step()
            self.images += images
            self.pixels += pixels
        self.seconds += time.perf_counter() - start
        self.cpu += cpu_seconds() - cpu_start
        self.steps += steps

    def result(self) -> dict:
        return {"variant": self.name, "side": self.side, "steps": self.steps, "seconds": round(self.seconds, 2),
                "images_per_s": round(self.images / self.seconds, 2),
                "mpx_per_s": round(self.pixels / self.seconds / 1e6, 3),
                "s_per_step": round(self.seconds / self.steps, 3), "cpu_s": round(self.cpu, 1),
                "images_per_cpu_s": round(self.images / self.cpu, 3),
                "mpx_per_cpu_s": round(self.pixels / self.cpu / 1e6, 4)}


def measure(cfg, names: list[str], steps: int, warmup: int, rounds: int) -> list[dict]:
    """Every variant warmed up, then `rounds` rounds of `steps` steps each, the variants taking
    turns, so a change in the machine's load hits all of them alike."""
    variants = [Variant(cfg, name) for name in names]
    for variant in variants:
        for _ in range(warmup):
            variant.step()
    for r in range(rounds):
        for variant in variants:
            variant.timed(steps)
        print(f"round {r + 1}/{rounds} done, load average {os.getloadavg()[0]:.2f}", flush=True)
    return [variant.result() for variant in variants]


def main(argv: list[str] | None = None) -> int:
    from debrismap.train.config import make_config

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="training/default_cpu.yaml")
    parser.add_argument("--data", help="chip dataset (overrides the config's)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per variant per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=0,
                        help="dataloader workers (default 0: loading runs inside the timed steps, so each "
                        "variant's CPU-seconds are its own, not another variant's workers refilling)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--variant", action="append", help="full, cropN, with -bf16 / -cl suffixes")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    cfg = make_config(args.config, {"data": args.data, "workers": args.workers})
    results = measure(cfg, args.variant or ["full", "crop128"], args.steps, args.warmup, args.rounds)
    for result in results:
        print(json.dumps(result), flush=True)
    print(f"cpus {os.cpu_count()}, load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    import _common  # benchmarks/: results/<name>.json with the machine, versions and command

    _common.write_result("bench_train_speed", {"rows": results, "loadavg": list(os.getloadavg())})
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
