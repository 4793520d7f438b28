"""Run an ONNX model once on the CPU: the one helper export, layout conversion and tests share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort


def run_on_cpu(model, batch: np.ndarray) -> list[np.ndarray]:
    """Every output of an ONNX model (a path or a ModelProto) on `batch`, once, on the CPU."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    source = str(model) if isinstance(model, (str, Path)) else model.SerializeToString()
    session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: batch})
