"""Put one training run together: datamodule, task, Lightning Trainer, callbacks and loggers."""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import pytorch_lightning as pl
import torch
import yaml
from pytorch_lightning.callbacks import LearningRateMonitor, ModelCheckpoint, TQDMProgressBar
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

from debrismap.atomic import write_text
from debrismap.errors import ConfigError, OutputError
from debrismap.train.checkpoint import load_checkpoint
from debrismap.train.config import TrainConfig, parse_max_time
from debrismap.train.datamodule import ChipDataModule
from debrismap.train.task import DebrisDetectionTask, DetectionHParams

MONITOR = "val/mAP50"
WARM_START_CHIPS = 64  # training chips whose statistics the unfolded BatchNorms start from


def default_precision(accelerator: str) -> str:
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def _devices(text: str):
    text = str(text).strip()
    if text == "auto" or text == "-1":
        return text if text == "auto" else -1
    if "," in text:
        return [int(t) for t in text.split(",") if t.strip()]
    try:
        return int(text)
    except ValueError as exc:
        raise ConfigError(
            f"devices must be 'auto', a count or a list like 0,1; got {text!r}"
        ) from exc


def hparams_from(cfg: TrainConfig, dm: ChipDataModule) -> DetectionHParams:
    """The module's hyper-parameters: the config's fields of the same name, plus what the
    dataset decides (classes, GSD, provenance) and the scale, which the CLI calls --model."""
    return DetectionHParams.from_dict({
        **asdict(cfg),
        "scale": cfg.model,
        "classes": list(dm.info.names),
        "gsd_m": dm.info.gsd_m,
        "training_data": dm.info.description,
        "dataset": str(dm.info.root),
    })


def warm_start(task: DebrisDetectionTask, cfg: TrainConfig, dm: ChipDataModule) -> None:
    """Load an exported fp32 ONNX file's weights into the task's network, BatchNorm statistics
    measured on a few un-augmented training chips, and restart the EMA from them."""
    from debrismap.train.augment import ValTransform
    from debrismap.train.dataset import ChipDataset, collate
    from debrismap.train.ema import EMA
    from debrismap.train.warm_start import (
        calibrate_batchnorm,
        load_fused_weights,
        onnx_weights,
        read_training_history,
    )

    path = Path(cfg.init_onnx).expanduser()
    if not path.is_file():
        raise ConfigError("--init-onnx file not found", path=path)
    load_fused_weights(task.model, onnx_weights(path), path)
    chips = ChipDataset(dm.info.train_images, len(dm.info.names), ValTransform(dm.val_size))
    count = min(len(chips), WARM_START_CHIPS)
    batches = [
        collate([chips[i] for i in range(start, min(start + cfg.batch, count))])["img"].float() / 255.0
        for start in range(0, count, cfg.batch)
    ]
    calibrate_batchnorm(task.model, batches)
    task.ema = EMA(task.model, task.hp.ema_decay, task.hp.ema_tau)
    task.hp.init_onnx = str(path.resolve())
    history = read_training_history(path)
    if not history:  # a file exported before histories were recorded (the first bundled pair)
        history = [{"run": 1, "init": "unrecorded", "steps": 0, "epochs": 0,
                    "note": f"{path.name} was exported without a training history: "
                    "its steps are in its model card, not in these totals"}]
    task.hp.history = json.dumps(history)
    task.save_hyperparameters(asdict(task.hp))


def build_trainer(cfg: TrainConfig, out: Path, extra_callbacks: list | None = None) -> pl.Trainer:
    devices = _devices(cfg.devices)
    multi = (
        cfg.num_nodes > 1
        or (isinstance(devices, int) and devices > 1)
        or (isinstance(devices, list) and len(devices) > 1)
    )
    strategy = cfg.strategy or ("ddp" if multi else "auto")
    best = ModelCheckpoint(
        dirpath=out,
        filename="best",
        monitor=MONITOR,
        mode="max",
        save_top_k=1,
        auto_insert_metric_name=False,
        enable_version_counter=False,  # always best.ckpt, also after a resume
    )
    # Lightning's save_last only refreshes last.ckpt when a new best was saved; resume needs
    # the latest state every epoch (and every `checkpoint_minutes` within long epochs)
    last = ModelCheckpoint(
        dirpath=out,
        filename="last",
        monitor=None,
        save_top_k=1,
        enable_version_counter=False,
        save_on_train_epoch_end=True,
    )
    callbacks = [best, last]
    if cfg.checkpoint_minutes > 0:  # a second writer of last.ckpt, on a clock
        callbacks.append(
            ModelCheckpoint(
                dirpath=out,
                filename="last",
                monitor=None,
                save_top_k=1,
                enable_version_counter=False,
                train_time_interval=timedelta(minutes=cfg.checkpoint_minutes),
            )
        )
    callbacks += [LearningRateMonitor(logging_interval="step"), TQDMProgressBar(refresh_rate=10)]
    loggers = [
        TensorBoardLogger(save_dir=str(out), name="tensorboard", version=""),
        CSVLogger(save_dir=str(out), name="csv", version=""),
    ]
    return pl.Trainer(
        default_root_dir=str(out),
        accelerator=cfg.accelerator,
        devices=devices,
        num_nodes=cfg.num_nodes,
        strategy=strategy,
        sync_batchnorm=cfg.sync_bn,
        precision=cfg.precision or default_precision(cfg.accelerator),
        max_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        max_time=parse_max_time(cfg.max_time) if cfg.max_time else None,
        check_val_every_n_epoch=cfg.val_every,
        log_every_n_steps=cfg.log_every,
        gradient_clip_val=cfg.grad_clip or None,
        num_sanity_val_steps=0,  # the first real validation comes soon enough
        callbacks=callbacks + list(extra_callbacks or []),
        logger=loggers,
        enable_model_summary=False,
    )


def train(cfg: TrainConfig, extra_callbacks: list | None = None) -> dict:
    """Run (or resume) training; returns {'best', 'last', 'out', 'best_score', 'global_step'}."""
    out = Path(cfg.out).expanduser().resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the run folder ({exc.strerror})", path=out) from exc

    resume_hp = None
    if cfg.resume:
        # checked with weights_only before Lightning touches it (and Lightning reloads it that way too)
        resume_hp = DetectionHParams.from_dict(load_checkpoint(cfg.resume)["debrismap"]["hparams"])
        if not cfg.data:
            cfg.data = resume_hp.dataset
    if not cfg.data:
        raise ConfigError("no dataset: pass --data DIR (a chip dataset from `debrismap chips`)")

    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    dm = ChipDataModule(
        cfg.data,
        imgsz=cfg.imgsz,
        batch_size=cfg.batch,
        num_workers=cfg.workers,
        augment=cfg.augment,
        mosaic=cfg.mosaic,
        scale_jitter=cfg.scale_jitter,
        crop=cfg.crop,
        crop_background=cfg.crop_background,
    )
    hp = hparams_from(cfg, dm)
    if resume_hp is not None:
        # the network must be the one in the checkpoint; run-level flags (epochs, time) may change
        hp = resume_hp
        dm.imgsz = hp.imgsz
    task = DebrisDetectionTask(hp)
    if cfg.init_onnx and resume_hp is None:
        warm_start(task, cfg, dm)
    if cfg.channels_last:
        task.to(memory_format=torch.channels_last)
        task.channels_last = True

    write_text(out / "config.yaml", yaml.safe_dump({**cfg.to_dict(), "hparams": asdict(hp)}, sort_keys=False))
    trainer = build_trainer(cfg, out, extra_callbacks)
    with warnings.catch_warnings():
        # Lightning's advice to raise num_workers on tiny CPU runs is noise here
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*Trying to infer the `batch_size`.*")
        warnings.filterwarnings(
            "ignore", message=".*exists and is not empty.*"
        )  # config.yaml, resume
        # val metrics are computed from matches gathered from every rank: already global
        warnings.filterwarnings("ignore", message=".*sync_dist=True.*")
        # the EMA copy is in eval mode on purpose
        warnings.filterwarnings("ignore", message=".*module\\(s\\) in eval mode.*")
        trainer.fit(task, datamodule=dm, ckpt_path=cfg.resume or None, weights_only=True)

    cb = trainer.checkpoint_callback  # the first ModelCheckpoint: best by val mAP50
    best = Path(cb.best_model_path) if cb.best_model_path else None
    last = out / "last.ckpt"
    score = cb.best_model_score
    return {
        "out": str(out),
        "best": str(best) if best and best.exists() else None,
        "last": str(last) if last.exists() else None,
        "best_score": float(score) if score is not None else None,
        "global_step": int(trainer.global_step),
        "epoch": int(trainer.current_epoch),
        "rank": int(os.environ.get("RANK", trainer.global_rank)),
    }
