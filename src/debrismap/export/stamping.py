"""Stamp an exported ONNX file: its debrismap metadata, fixed output dims and metadata_props edits."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import onnx

from debrismap.model.cpu_runner import run_on_cpu
from debrismap.model.metadata import ModelMetadata


def metadata_for(hp, imgsz: int, training_history: list | tuple = ()) -> ModelMetadata:
    return ModelMetadata(
        training_history=tuple(training_history),
        classes=tuple(hp.classes),
        input_size=int(imgsz),
        gsd_m=float(hp.gsd_m),
        score_threshold=float(hp.score_threshold),
        nms_iou=float(hp.nms_iou),
        training_data=hp.training_data or "unknown",
        created=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
    )


def finish_onnx(path: Path, meta: ModelMetadata, extra_props: dict | None = None) -> None:
    """Static output dims, onnx.checker, metadata_props; in place."""
    model = onnx.load(str(path))
    n_out = run_on_cpu(path, np.zeros((1, 3, meta.input_size, meta.input_size), np.float32))[0].shape
    dims = model.graph.output[0].type.tensor_type.shape.dim
    dims[0].dim_param = "batch"
    for dim, size in zip(
        list(dims)[1:], n_out[1:]
    ):  # (4 + nc, anchors) are fixed for a fixed input
        dim.dim_value = int(size)
    onnx.checker.check_model(model, full_check=True)
    replace_props(model, {**meta.to_props(), **(extra_props or {})})
    model.producer_name = "debrismap"
    onnx.save(model, str(path))


def set_props(path: Path, props: dict[str, str]) -> None:
    """Add or replace metadata_props of a finished ONNX file, in place; the graph is untouched."""
    model = onnx.load(str(path))
    replace_props(model, {**{p.key: p.value for p in model.metadata_props}, **props})
    onnx.save(model, str(path))


def replace_props(model, props: dict[str, str]) -> None:
    del model.metadata_props[:]
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
