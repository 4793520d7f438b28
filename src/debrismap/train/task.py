"""The debris detection task: a LightningModule around an ultralytics DetectionModel.

Lightning owns the loop; this module says what one training step, one validation step and
the optimiser are. The EMA of the weights is what gets validated, checkpointed as best
and exported.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from ultralytics.utils.nms import non_max_suppression

from debrismap import __version__
from debrismap.train.ema import EMA
from debrismap.train.metrics import DetectionStats, summarize
from debrismap.train.model import build_detection_model

CHECKPOINT_FORMAT = 1  # bump when the checkpoint layout changes incompatibly
VAL_CONF = 0.001  # low score floor for AP: the curve needs the low-score tail


@dataclass
class DetectionHParams:
    """The model-side hyper-parameters, saved in every checkpoint as a plain dict."""

    arch: str = "yolov8"
    scale: str = "n"
    act: str = "silu"  # activation after each convolution (checkpoints without it used SiLU)
    width: float = 0.0  # width multiple override (0 = the scale's)
    depth: float = 0.0  # depth multiple override (0 = the scale's)
    classes: list = field(default_factory=lambda: ["debris"])
    imgsz: int = 256
    gsd_m: float = 0.5
    training_data: str = ""
    dataset: str = ""  # absolute path of the chip dataset (export samples its val split)
    optimizer: str = "adamw"
    lr: float = 0.002
    lrf: float = 0.01
    momentum: float = 0.937
    weight_decay: float = 0.0005
    warmup_epochs: float = 3.0
    ema_decay: float = 0.9999
    ema_tau: float = 2000.0
    box: float = 7.5
    cls: float = 0.5
    dfl: float = 1.5
    score_threshold: float = 0.25
    nms_iou: float = 0.5
    # how this run trains (recorded in the model's training_history at export)
    epochs: int = 0  # planned
    batch: int = 0
    crop: int = 0
    init_onnx: str = ""  # the ONNX file the weights started from ("" = random)
    history: str = "[]"  # JSON: the init file's training_history (the runs before this one)

    @classmethod
    def from_dict(cls, values: dict) -> DetectionHParams:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


class DebrisDetectionTask(pl.LightningModule):
    """YOLO-style detector training: ultralytics loss, AdamW/SGD + warm-up + cosine, EMA, mAP."""

    def __init__(self, hparams: DetectionHParams | None = None, **overrides):
        super().__init__()
        hp = DetectionHParams.from_dict({**asdict(hparams or DetectionHParams()), **overrides})
        hp.classes = [str(c) for c in hp.classes]
        self.hp = hp
        # plain primitives only, so checkpoints load with torch.load(weights_only=True)
        self.save_hyperparameters(asdict(hp))
        self.model = build_detection_model(
            hp.arch, hp.scale, len(hp.classes), hp.box, hp.cls, hp.dfl, hp.width, hp.depth, hp.act
        )
        self.criterion = self.model.init_criterion()
        self.ema = EMA(self.model, hp.ema_decay, hp.ema_tau)
        self._val_stats = DetectionStats()

    # -- steps -----------------------------------------------------------------------------
    channels_last = False  # set by fit for --channels-last: NHWC inputs to match the weights

    def _images(self, batch: dict) -> torch.Tensor:
        images = batch["img"].float() / 255.0  # uint8 -> [0, 1], the exported normalisation
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images

    def _loss(self, preds, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        if self.criterion.device != self.device:  # built on CPU before Lightning moved us
            self.criterion = self.model.init_criterion()
        loss, items = self.criterion(preds, batch)
        return loss.sum(), torch.stack(
            list(items.values()) if isinstance(items, dict) else list(items)
        )

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        preds = self.model(self._images(batch))
        loss, items = self._loss(preds, batch)
        bs = batch["img"].shape[0]
        # per-image sum of the three gained terms: comparable across batch sizes
        self.log("train/loss", items.sum(), prog_bar=True, batch_size=bs)
        for name, value in zip(("box", "cls", "dfl"), items):
            self.log(f"train/{name}_loss", value, batch_size=bs)
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        self.ema.update(self.model)

    def on_validation_epoch_start(self) -> None:
        self._val_stats = DetectionStats()

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        images = self._images(batch)
        self.ema.module.eval()
        y, preds = self.ema(images)  # eval mode: (decoded (N, 4+nc, A), raw head outputs)
        _, items = self._loss(preds, batch)
        self.log("val/loss", items.sum(), batch_size=images.shape[0], sync_dist=True)
        detections = non_max_suppression(
            y.float(), conf_thres=VAL_CONF, iou_thres=self.hp.nms_iou, max_det=300
        )
        h, w = images.shape[2:]
        scale = torch.tensor([w, h, w, h], device=images.device, dtype=torch.float32)
        for i, det in enumerate(detections):
            mask = batch["batch_idx"] == i
            xywh = batch["bboxes"][mask] * scale
            xyxy = torch.cat([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2], 1)
            self._val_stats.add(det, xyxy, batch["cls"][mask].view(-1))

    def on_validation_epoch_end(self) -> None:
        correct, conf, pred_cls, target_cls = self._gather(self._val_stats.arrays())
        metrics = summarize(correct, conf, pred_cls, target_cls, self.hp.score_threshold)
        # every rank computed the same numbers from the gathered arrays: no sync needed
        for name, value in metrics.items():
            self.log(f"val/{name}", value, prog_bar=name in ("mAP50", "mAP50-95"))

    def _gather(self, arrays: tuple) -> tuple:
        """Concatenate every rank's validation matches (DDP); identity on one process."""
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return arrays
        gathered: list = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(gathered, arrays)
        return tuple(np.concatenate([g[i] for g in gathered]) for i in range(len(arrays)))

    # -- optimisation ----------------------------------------------------------------------
    def configure_optimizers(self):
        hp = self.hp
        decay, no_decay = [], []
        for _name, p in self.model.named_parameters():
            if not p.requires_grad:
                continue
            # biases and normalisation weights are not decayed (as ultralytics and timm do)
            (no_decay if p.ndim <= 1 else decay).append(p)
        groups = [
            {"params": decay, "weight_decay": hp.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        if hp.optimizer == "sgd":
            optimizer = torch.optim.SGD(groups, lr=hp.lr, momentum=hp.momentum, nesterov=True)
        else:
            optimizer = torch.optim.AdamW(groups, lr=hp.lr, betas=(hp.momentum, 0.999))

        total = max(1, int(self.trainer.estimated_stepping_batches))
        epochs = max(1, self.trainer.max_epochs or 1)
        warmup = min(round(hp.warmup_epochs * total / epochs), total // 2)
        schedule = WarmupCosine(warmup, total, hp.lrf)

        # a plain function, so LambdaLR saves only the step count: a resumed run with more
        # --epochs gets a schedule stretched to its new length instead of the old one's end
        def lr_lambda(step: int) -> float:
            return schedule(step)

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    # -- checkpoints -----------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # the marker export and resume look for before trusting a file
        checkpoint["debrismap"] = {
            "format": CHECKPOINT_FORMAT,
            "software_version": __version__,
            "hparams": asdict(self.hp),
            "training_history": self.training_history(),
        }

    def training_history(self) -> list[dict]:
        """The runs before this one (from the warm-start file) plus this run so far."""
        hp = self.hp
        trainer = self.trainer
        run = {
            "run": len(json.loads(hp.history)) + 1,
            "init": Path(hp.init_onnx).name if hp.init_onnx else "random",
            "steps": int(trainer.global_step),
            # passes over the training chips, from steps: also right for a mid-epoch save
            "epochs": round(trainer.global_step / max(1, int(trainer.num_training_batches)), 2),
            "schedule": f"{hp.optimizer} lr {hp.lr:g}, linear warm-up {hp.warmup_epochs:g} epochs, "
            f"cosine to lr x {hp.lrf:g} at step {int(trainer.estimated_stepping_batches)}",
            "batch": hp.batch,
            "input": f"{hp.crop} px crops" if hp.crop else f"{hp.imgsz} px",
            "data": hp.training_data,
            "software_version": __version__,
            "saved": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        }
        return [*json.loads(hp.history), run]


class WarmupCosine:
    """LR multiplier: linear warm-up from ~0 to 1, then cosine decay from 1 to lrf."""

    def __init__(self, warmup_steps: int, total_steps: int, lrf: float):
        self.warmup_steps = int(warmup_steps)
        self.total_steps = int(total_steps)
        self.lrf = float(lrf)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / (self.warmup_steps + 1)
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.lrf + (1 - self.lrf) * 0.5 * (1 + math.cos(math.pi * progress))
