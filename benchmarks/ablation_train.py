"""Train one arm of the fixed-compute data ablation: N steps of `debrismap train`, optionally
warm-started from an exported model's weights.

    uv run python benchmarks/ablation_train.py --data runs/ds_new --out runs/arm_new --steps 300 \
        --init models/debrismap-default.onnx

Both arms of an ablation get the same network (training/default_cpu.yaml: yolov8n-p2, ReLU),
the same optimiser settings, input size, batch and number of steps; only the data differs.
With --init the network starts from the weights of an exported ONNX model
(train/warm_start.load_fused_weights): ONNX files hold convolutions with batch norm folded in,
so each batch norm starts as the identity carrying the folded bias, and is kept in inference
mode (frozen statistics, learnt scale and shift) so that the network computes exactly what the
file did at step 0. No validation runs (it would cost the arms
unequal time); the run's last.ckpt is what gets exported.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    import pytorch_lightning as pl
    from torch import nn

    from debrismap.train.config import make_config
    from debrismap.train.fit import train
    from debrismap.train.warm_start import load_fused_weights, onnx_weights

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--config", default=str(REPO / "training" / "default_cpu.yaml"))
    ap.add_argument("--init", type=Path, default=None, help="exported ONNX model to start from")
    ap.add_argument("--arch", default=None, help="network family (default: the config's); yolov8-p23 takes "
                    "a yolov8-p2 file's weights")
    ap.add_argument("--imgsz", type=int, default=128, help="training crop side (the network is convolutional)")
    ap.add_argument("--lr", type=float, default=None, help="default: the config's (/4 with --init)")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--seed", type=int, default=None,
                    help="training seed (crops, augmentation, order; default: the config's): a second seed "
                         "shows how much of a difference between arms is the run's own noise")
    ap.add_argument("--save-every", type=int, default=0,
                    help="also keep a checkpoint every N steps (steps/stepNNNN.ckpt): accuracy against steps")
    args = ap.parse_args(argv)

    cfg = make_config(args.config, {
        "data": args.data, "out": args.out, "imgsz": args.imgsz, "max_steps": args.steps, "epochs": 100000,
        "workers": args.workers, "val_every": 100000, "max_time": "", "warmup_epochs": 0.0 if args.init else None,
    })
    if args.arch:
        cfg.arch = args.arch
    if args.seed is not None:
        cfg.seed = args.seed
    if args.lr is not None:
        cfg.lr = args.lr
    elif args.init:
        cfg.lr = cfg.lr / 4  # fine-tuning: a gentler step than training from scratch

    class WarmStart(pl.Callback):
        """Load the ONNX weights before the first step; keep batch norm in inference mode."""

        def on_fit_start(self, trainer, task):
            weights = onnx_weights(args.init)
            n = load_fused_weights(task.model, weights, args.init)  # in place: the optimiser keeps its tensors
            load_fused_weights(task.ema.module, weights, args.init)
            print(f"warm start from {args.init}: {n} tensors", flush=True)

        def on_train_batch_start(self, trainer, task, batch, batch_idx):
            for m in task.model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()

    class Clock(pl.Callback):
        def on_train_start(self, trainer, task):
            self.t0 = time.time()

        def on_train_batch_end(self, trainer, task, outputs, batch, batch_idx):
            step = trainer.global_step
            if step % 10 == 0 or step == args.steps:
                dt = time.time() - self.t0
                print(f"step {step}/{args.steps}: {dt:.0f} s, {dt / max(step, 1):.2f} s/step, "
                      f"~{dt / max(step, 1) * (args.steps - step) / 60:.0f} min left", flush=True)

    callbacks = ([WarmStart()] if args.init else []) + [Clock()]
    if args.save_every:
        from pytorch_lightning.callbacks import ModelCheckpoint

        callbacks.append(ModelCheckpoint(dirpath=Path(args.out) / "steps", filename="step{step:05d}",
                                         every_n_train_steps=args.save_every, save_top_k=-1,
                                         auto_insert_metric_name=False, monitor=None))
    result = train(cfg, extra_callbacks=callbacks)
    print(result, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
