"""Typed training configuration: one dataclass whose fields are the `debrismap train` flags.

A YAML config file uses the same keys; flags given on the command line override it.
No torch import here, so the CLI can parse and validate a config without the training stack.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from debrismap.errors import ConfigError

SCALES = ("n", "s", "m", "l", "x")
# yolov8-p2 adds a stride-4 head: piles of 3-8 px (2-4 m at 0.5 m) get anchors inside them.
# yolov8-p23 is yolov8-p2 without the stride-16/32 heads, which never fire for piles (train/archs/).
ARCHS = ("yolov8", "yolov8-p2", "yolov8-p23", "yolo11")
ACTS = ("silu", "relu")  # train.model.ACTIVATIONS (not imported: this module stays torch-free)
OPTIMIZERS = ("adamw", "sgd")


@dataclass
class TrainConfig:
    """Everything one training run needs; defaults are those of the default model."""

    data: str = ""  # chip dataset folder (YOLO layout with dataset.yaml)
    out: str = "runs/train"  # run folder: checkpoints, logs, config.yaml
    model: str = "n"  # model scale
    # The defaults are the bundled model's: the stride-4 head for piles of a few pixels (plain
    # yolov8 stalled at mAP50 ~ 0 on them) and ReLU, which int8 CPU inference gets for free.
    arch: str = "yolov8-p2"  # ultralytics model family (config YAML, built from scratch)
    act: str = "relu"  # activation after each convolution: relu, or silu (ultralytics' own)
    width: float = 0.0  # width multiple override, 0 = the scale's own (tests use tiny nets)
    depth: float = 0.0  # depth multiple override, 0 = the scale's own
    epochs: int = 100
    imgsz: int = 256  # network input side in pixels; chips are cropped, never resized (GSD)
    # Train on crop x crop windows (0 = on imgsz windows): around piles, and for a share
    # crop_background of them anywhere in the chip. Validation and the exported model keep
    # imgsz: the network is fully convolutional, so fewer pixels per step teach the same weights.
    crop: int = 0
    crop_background: float = 0.25
    # an fp32 ONNX file from `debrismap export` to start from (warm start: its weights, and its
    # training_history, which the next export extends); "" = random initialisation
    init_onnx: str = ""
    channels_last: bool = False  # NHWC activations (measure before use: see docs/training.md)
    batch: int = 16  # per device
    workers: int = 4  # dataloader processes per device
    devices: str = "auto"  # Lightning devices: "auto", a count, or a list such as "0,1"
    num_nodes: int = 1
    accelerator: str = "auto"
    precision: str = ""  # "" = bf16-mixed on a GPU that supports it, else 32-true
    strategy: str = ""  # "" = ddp when several devices or nodes, else Lightning's auto
    sync_bn: bool = False
    resume: str = ""  # checkpoint to continue from (RUN_DIR/last.ckpt)
    max_time: str = ""  # wall-clock limit "DD:HH:MM:SS" or "HH:MM:SS"
    max_steps: int = -1
    seed: int = 0
    # optimisation
    optimizer: str = "adamw"
    lr: float = 0.002
    lrf: float = 0.01  # final lr = lr * lrf (cosine decay)
    momentum: float = 0.937  # SGD momentum / AdamW beta1
    weight_decay: float = 0.0005
    warmup_epochs: float = 3.0
    grad_clip: float = 10.0
    ema_decay: float = 0.9999
    ema_tau: float = 2000.0
    # detection loss gains (ultralytics defaults)
    box: float = 7.5
    cls: float = 0.5
    dfl: float = 1.5
    # operating point stored in the exported model's metadata
    score_threshold: float = 0.25
    nms_iou: float = 0.5
    # augmentation
    augment: bool = True
    mosaic: float = 0.0  # probability of a 4-chip mosaic (scale-preserving)
    scale_jitter: float = 0.2  # +-fraction of random zoom; small because the model is GSD-pinned
    val_every: int = 1  # validate every N epochs
    checkpoint_minutes: float = (
        0.0  # also refresh last.ckpt this often within an epoch (0 = per epoch)
    )
    log_every: int = 10  # log training scalars every N steps

    def validate(self, source: str | None = None) -> TrainConfig:
        """Raise ConfigError naming the first bad value."""
        checks = [
            (self.model in SCALES, f"model must be one of {', '.join(SCALES)}, got {self.model!r}"),
            (self.arch in ARCHS, f"arch must be one of {', '.join(ARCHS)}, got {self.arch!r}"),
            (self.act in ACTS, f"act must be one of {', '.join(ACTS)}, got {self.act!r}"),
            (
                self.optimizer in OPTIMIZERS,
                f"optimizer must be adamw or sgd, got {self.optimizer!r}",
            ),
            (
                self.imgsz >= 32 and self.imgsz % 32 == 0,
                f"imgsz must be a multiple of 32, got {self.imgsz}",
            ),
            (
                self.crop == 0 or (self.crop >= 32 and self.crop % 32 == 0),
                f"crop must be 0 (off) or a multiple of 32, got {self.crop}",
            ),
            (
                0 <= self.crop_background <= 1,
                f"crop_background is a share in [0, 1], got {self.crop_background}",
            ),
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.batch >= 1, f"batch must be >= 1, got {self.batch}"),
            (self.workers >= 0, f"workers must be >= 0, got {self.workers}"),
            (self.num_nodes >= 1, f"num_nodes must be >= 1, got {self.num_nodes}"),
            (self.lr > 0, f"lr must be > 0, got {self.lr}"),
            (0 <= self.mosaic <= 1, f"mosaic is a probability in [0, 1], got {self.mosaic}"),
            (
                0 <= self.scale_jitter < 1,
                f"scale_jitter must be in [0, 1), got {self.scale_jitter}",
            ),
            (
                0 < self.score_threshold < 1,
                f"score_threshold must be in (0, 1), got {self.score_threshold}",
            ),
            (0 < self.nms_iou < 1, f"nms_iou must be in (0, 1), got {self.nms_iou}"),
            (
                not self.max_time or parse_max_time(self.max_time) is not None,
                f"max_time must be HH:MM:SS or DD:HH:MM:SS, got {self.max_time!r}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message, path=source)
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_FIELD_TYPES = {f.name: f.type for f in fields(TrainConfig)}


def parse_max_time(text: str) -> dict[str, int] | None:
    """'HH:MM:SS' or 'DD:HH:MM:SS' -> Lightning's max_time dict, None when malformed."""
    if not re.fullmatch(r"\d+(:\d+){2,3}", str(text).strip()):
        return None
    parts = [int(p) for p in str(text).strip().split(":")]
    if len(parts) == 3:
        parts = [0, *parts]
    days, hours, minutes, seconds = parts
    return {"days": days, "hours": hours, "minutes": minutes, "seconds": seconds}


def _coerce(key: str, value: Any, source: str | None) -> Any:
    kind = _FIELD_TYPES[key]
    try:
        if kind == "bool":
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if kind == "float":
            return float(value)
        return "" if value is None else str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: expected {kind}, got {value!r}", path=source) from exc


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML config; keys must be TrainConfig fields (dashes allowed for underscores)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("config file not found", path=path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"is not valid YAML ({str(exc).splitlines()[0]})", path=path) from exc
    if not isinstance(raw, dict):
        raise ConfigError("must be a YAML mapping of option: value", path=path)
    out = {}
    for key, value in raw.items():
        name = str(key).replace("-", "_")
        if name not in _FIELD_TYPES:
            raise ConfigError(f"unknown option {key!r}", path=path)
        out[name] = _coerce(name, value, str(path))
    return out


def make_config(
    file: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> TrainConfig:
    """Defaults <- config file <- overrides (flags that were given; None means not given)."""
    values: dict[str, Any] = {}
    if file:
        values.update(load_config_file(file))
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _coerce(key, value, None)
    return TrainConfig(**values).validate(str(file) if file else None)
