"""benchmarks/ablation_train.py: an unfused training network warm-started from the bundled ONNX
model computes what the file computes (batch norm folded back in as an identity)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("ultralytics")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import ablation_train
import torch_twin


def test_warm_start_reproduces_the_bundled_model():
    from debrismap.train.model import build_detection_model

    onnx_path = REPO / "models" / "debrismap-default.onnx"
    model = build_detection_model("yolov8-p2", "n", 1, act="relu")
    state = ablation_train.warm_start_state(onnx_path, model.state_dict())
    model.load_state_dict(state, strict=False)
    model.eval()  # frozen batch norm, as the ablation trains it
    assert torch_twin.max_relative_difference(model, onnx_path, 256) < 1e-4


def test_warm_start_refuses_another_architecture():
    from debrismap.train.model import build_detection_model

    model = build_detection_model("yolov8", "n", 1, act="relu")  # no stride-4 head
    with pytest.raises(SystemExit):
        ablation_train.warm_start_state(REPO / "models" / "debrismap-default.onnx", model.state_dict())
