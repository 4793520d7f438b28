"""Checkpoint -> ONNX detector with debrismap metadata, verified against torch before it is kept.

The ONNX contract (docs/contracts.md): input `images` float32 (N, 3, S, S) RGB scaled to [0, 1],
no NMS in the graph, and every `debrismap.*` metadata key. The graph is exported and checked in
ultralytics' layout, output `output0` float32 (N, 4 + nc, A) = cx, cy, w, h in input pixels +
class probabilities; then, by default, its box decoding is moved out of the graph
(format_version 2: per-level head outputs, decoded by detect; see debrismap.model.split_head). The
file is written under a temp name and renamed only after the ONNX model reproduces the torch
(EMA, fused) model's boxes, and the split file the graph's own decoding.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

from debrismap.errors import ConfigError, DatasetError, ModelError, OutputError
from debrismap.export.checkpoint import load_torch_model
from debrismap.export.parity import FP16_TOLERANCE, FP32_TOLERANCE, check_parity
from debrismap.export.quantize import int8_agreement, quantize_int8
from debrismap.export.samples import list_images_in, load_chip_batch, parity_images
from debrismap.export.sidecar import ExportReport, write_sidecar
from debrismap.export.split_check import split_checked
from debrismap.export.stamping import finish_onnx, metadata_for, set_props
from debrismap.export.to_onnx import torch_to_onnx
from debrismap.export.validation import best_f1_threshold, validate_onnx
from debrismap.model.metadata import PREFIX

DEFAULT_OPSET = 17


def _f1_threshold(path: Path, hp) -> float:
    val = Path(hp.dataset) / "images" / "val" if getattr(hp, "dataset", None) else None
    if val is None or not val.is_dir():
        raise DatasetError("--score-threshold auto needs the training dataset's val split on disk", path=val)
    threshold, _ = best_f1_threshold(path, hp.dataset)
    return threshold


def _validate(path: Path, hp, half: bool) -> dict | None:
    """Precision/recall of the ONNX file itself on the dataset's val split, stored in the model.

    Users and the heatmap's precision-corrected count then know how good exactly this file is.
    Skipped (None) when the val chips are gone or the graph is fp16 (CPU onnxruntime may not run it).
    """
    val = Path(hp.dataset) / "images" / "val" if getattr(hp, "dataset", None) else None
    if half or val is None or not val.is_dir():
        return None
    result = validate_onnx(path, hp.dataset)
    set_props(path, {PREFIX + "validation": json.dumps(result)})
    return result


def export_onnx(
    checkpoint: str | Path,
    out: str | Path,
    *,
    half: bool = False,
    int8: bool = False,
    calib: str | Path | None = None,
    opset: int = DEFAULT_OPSET,
    imgsz: int | None = None,
    max_calib: int = 64,
    score_threshold: float | str | None = None,
    decoded_output: bool = False,
) -> ExportReport:
    """Export a debrismap checkpoint to ONNX; the file appears only if parity passes.

    The box decoding is checked inside the graph, then moved out of it (format_version 2, see
    debrismap.model.split_head) unless `decoded_output` or `half` (a GPU model), which keep
    ultralytics' (N, 4 + nc, A) layout.
    """
    if half and int8:
        raise ConfigError("--half and --int8 are exclusive")
    if int8 and not calib:
        raise ConfigError("--int8 needs --calib DIR (chips representative of the imagery)")
    if opset < 17:
        raise ConfigError(f"opset must be >= 17, got {opset}")
    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise ConfigError("output file must end in .onnx", path=out)
    if not out.parent.exists():
        raise OutputError("output folder does not exist", path=out.parent)
    calib_paths: list[Path] = []
    if int8:
        calib = Path(calib)
        if not calib.is_dir():
            raise DatasetError("calibration folder not found", path=calib)
        calib_paths = list_images_in(calib)[:max_calib]
        if not calib_paths:
            raise DatasetError("no images (png, jpg, tif) in the calibration folder", path=calib)

    model, hp = load_torch_model(checkpoint)
    imgsz = int(imgsz or hp.imgsz)
    if imgsz % 32:
        raise ConfigError(f"imgsz must be a multiple of 32, got {imgsz}")
    meta = metadata_for(hp, imgsz, json.loads(hp.history))
    if score_threshold not in (None, "auto"):
        meta = dataclasses.replace(meta, score_threshold=float(score_threshold))
    precision = "fp16" if half else "int8" if int8 else "fp32"

    with tempfile.TemporaryDirectory(prefix=".debrismap-export-", dir=out.parent) as tmp:
        tmp = Path(tmp)
        fp32 = tmp / "fp32.onnx"
        torch_to_onnx(model, imgsz, opset, fp32, half=False)
        finish_onnx(fp32, meta)
        if score_threshold == "auto":  # the operating point users get: best F1 on the val split
            meta = dataclasses.replace(meta, score_threshold=_f1_threshold(fp32, hp))
            set_props(fp32, meta.to_props())
        batch, source = parity_images(hp, imgsz)
        parity = check_parity(model, fp32, batch, hp, FP32_TOLERANCE, source)
        final = fp32
        quant = None
        if half:
            final = tmp / "fp16.onnx"
            torch_to_onnx(model, imgsz, opset, final, half=True)
            finish_onnx(final, meta, {PREFIX + "precision": "fp16"})
            try:
                parity = check_parity(model, final, batch, hp, FP16_TOLERANCE, source)
            except ModelError as exc:
                if "cannot run" not in str(exc):
                    raise
                # CPU onnxruntime lacks some fp16 kernels: fp32 parity above still vouches for the graph
                parity = {
                    **parity,
                    "fp16": "not run: onnxruntime CPU cannot execute this fp16 graph",
                }
        if int8:
            calib_batch = load_chip_batch(calib_paths, imgsz)
            final = tmp / "int8.onnx"
            quantize_int8(fp32, final, calib_batch)
            quant = int8_agreement(fp32, final, calib_batch, hp)
            quant["calibration"] = str(Path(calib).resolve())
            if score_threshold == "auto":  # int8 scores shift a little: its own best F1
                meta = dataclasses.replace(meta, score_threshold=_f1_threshold(final, hp))
            finish_onnx(
                final,
                meta,
                {PREFIX + "precision": "int8", PREFIX + "quantization": json.dumps(quant)},
            )
        split = None
        if not decoded_output and not half:  # fp16 is for GPUs, where the in-graph decoding is cheap
            final, meta, split = split_checked(final, tmp / "split.onnx", meta, batch)
        validation = _validate(final, hp, half)
        os.replace(final, out)  # atomic: a failed export leaves no file behind
    report = ExportReport(
        path=str(out),
        precision=precision,
        opset=opset,
        input_size=imgsz,
        metadata=meta.to_props(),
        parity=parity,
        quantization=quant,
        validation=validation,
        split=split,
    )
    write_sidecar(out, asdict(report))
    return report
