"""Train a debris detector on a chip dataset (from `debrismap chips`).

Builds an ultralytics YOLO network from its config (no pretrained weights, nothing
downloaded) and trains it with PyTorch Lightning: albumentations augmentation, AdamW or SGD
with warm-up and cosine decay, EMA weights, validation mAP50 / mAP50-95. The run folder gets
best.ckpt (best val mAP50, EMA weights), last.ckpt (for --resume), config.yaml, TensorBoard
logs (tensorboard/) and CSV metrics (csv/metrics.csv).

Options can come from a YAML file (--config; keys are the option names); flags override it.
Several GPUs or nodes use Lightning DDP (--devices, --num-nodes); see training/*.sh.

examples:
  debrismap train --data chips/ --model n --epochs 100 --imgsz 256 --out runs/n256
  debrismap train --config training/default.yaml --devices 4
  debrismap train --resume runs/n256/last.ckpt --epochs 150
  debrismap train --config training/default_cpu.yaml --crop 128 --init-onnx models/debrismap-default.onnx
  debrismap export runs/n256/best.ckpt --out debris.onnx
"""

from __future__ import annotations

import argparse

HELP = "train a debris detector (needs debrismap[train]: torch, ultralytics, lightning)"

# flag -> TrainConfig field; defaults live in TrainConfig, None here means "not given"
_FLAGS = [
    ("--data", "data", str, "DIR", "chip dataset folder (images/, labels/, dataset.yaml)"),
    ("--model", "model", str, "SCALE", "model scale n, s or m (default n)"),
    ("--arch", "arch", str, "NAME", "model family yolov8-p2 (yolov8 with an extra stride-4 head for piles "
     "of a few pixels), yolov8 or yolo11 (default yolov8-p2)"),
    ("--act", "act", str, "NAME", "activation after each convolution: relu (folds into int8 convolutions: "
     "a faster CPU model) or silu (ultralytics' own) (default relu)"),
    ("--epochs", "epochs", int, "N", "epochs (default 100)"),
    ("--imgsz", "imgsz", int, "PX", "input size, a multiple of 32 (default 256)"),
    ("--crop", "crop", int, "PX", "train on PX-px windows around piles (and background, see "
     "--crop-background), a multiple of 32; validation and export keep --imgsz (default 0: off)"),
    ("--crop-background", "crop_background", float, "SHARE", "share of --crop windows placed anywhere "
     "rather than around a pile (default 0.25)"),
    ("--init-onnx", "init_onnx", str, "FILE", "start from the weights of an fp32 ONNX file from "
     "`debrismap export` (warm start; the next export extends its training history)"),
    ("--batch", "batch", int, "N", "batch size per device (default 16)"),
    ("--workers", "workers", int, "N", "dataloader workers per device (default 4)"),
    ("--devices", "devices", str, "N", "devices: auto, a count, or a list like 0,1 (default auto)"),
    ("--num-nodes", "num_nodes", int, "N", "nodes for multi-node DDP (default 1)"),
    ("--accelerator", "accelerator", str, "KIND", "auto, gpu or cpu (default auto)"),
    (
        "--precision",
        "precision",
        str,
        "P",
        "e.g. bf16-mixed, 16-mixed, 32 (default: bf16-mixed on GPU, 32 on CPU)",
    ),
    ("--strategy", "strategy", str, "S", "Lightning strategy (default ddp with several devices)"),
    ("--out", "out", str, "RUN_DIR", "run folder (default runs/train)"),
    ("--resume", "resume", str, "CKPT", "continue from a checkpoint, e.g. RUN_DIR/last.ckpt"),
    (
        "--max-time",
        "max_time",
        str,
        "HH:MM:SS",
        "stop after this wall-clock time (DD:HH:MM:SS also)",
    ),
    ("--max-steps", "max_steps", int, "N", "stop after N optimiser steps"),
    ("--seed", "seed", int, "S", "random seed (default 0)"),
    (
        "--checkpoint-minutes",
        "checkpoint_minutes",
        float,
        "MIN",
        "also refresh last.ckpt every MIN minutes inside long epochs (default: once per epoch)",
    ),
    ("--optimizer", "optimizer", str, "NAME", "adamw or sgd (default adamw)"),
    ("--lr", "lr", float, "LR", "peak learning rate (default 0.002)"),
    ("--warmup-epochs", "warmup_epochs", float, "E", "linear warm-up length (default 3)"),
    ("--mosaic", "mosaic", float, "P", "probability of a 4-chip mosaic (default 0)"),
    (
        "--score-threshold",
        "score_threshold",
        float,
        "S",
        "operating score threshold stored in the model (0.25)",
    ),
    ("--nms-iou", "nms_iou", float, "IOU", "NMS IoU stored in the model (default 0.5)"),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="FILE", help="YAML file of options (keys = option names)"
    )
    for flag, dest, kind, metavar, text in _FLAGS:
        parser.add_argument(flag, dest=dest, type=kind, metavar=metavar, default=None, help=text)
    parser.add_argument(
        "--sync-bn",
        dest="sync_bn",
        action="store_const",
        const=True,
        default=None,
        help="synchronise BatchNorm across DDP processes",
    )
    parser.add_argument(
        "--channels-last",
        dest="channels_last",
        action="store_const",
        const=True,
        default=None,
        help="NHWC activations (see docs/training.md for when it helps)",
    )
    parser.add_argument(
        "--no-augment",
        dest="augment",
        action="store_const",
        const=False,
        default=None,
        help="train without augmentation (debugging)",
    )


def run(args: argparse.Namespace) -> int:
    from debrismap.errors import ConfigError
    from debrismap.train.config import TrainConfig, make_config

    overrides = {k: getattr(args, k, None) for k in TrainConfig.__dataclass_fields__}
    cfg = make_config(args.config, overrides)
    import os

    os.environ.setdefault("YOLO_OFFLINE", "1")  # set before ultralytics is first imported
    try:
        import pytorch_lightning  # noqa: F401
        import torch  # noqa: F401
        import ultralytics  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"training needs the torch stack ({exc.name} is missing): pip install 'debrismap[train]'"
        ) from exc
    from debrismap.train.fit import train

    result = train(cfg)
    if result["rank"] == 0:
        score = result["best_score"]
        best = f"best val mAP50 {score:.4f}" if score is not None else "no validation yet"
        print(f"trained to step {result['global_step']} (epoch {result['epoch']}); {best}")
        print(f"best: {result['best']}\nlast: {result['last']}\nrun:  {result['out']}")
    return 0
