"""benchmarks/torch_twin.py: the bundled ONNX model's network, rebuilt in PyTorch for the SAHI benchmark."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("ultralytics")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import torch_twin


def _metadata(path: Path):
    import onnx

    from debrismap.model.metadata import ModelMetadata

    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    return ModelMetadata.from_props(props, source=str(path))


def test_rebuilds_the_bundled_network_exactly(tmp_path):
    onnx_path = REPO / "models" / "debrismap-default.onnx"
    meta = _metadata(onnx_path)
    model, arch = torch_twin.rebuild(onnx_path, len(meta.classes))
    assert arch == "yolov8-p2 n relu"  # the model card's architecture, found from the weights alone
    assert torch_twin.max_relative_difference(model, onnx_path, meta.input_size) < 1e-4

    pt = torch_twin.write_ultralytics_pt(onnx_path, tmp_path / "twin.pt", meta)
    from ultralytics import YOLO

    loaded = YOLO(str(pt))  # ultralytics loads it offline, as SAHI does
    assert loaded.names == {0: "debris"}


def test_refuses_a_quantised_model():
    with pytest.raises(SystemExit, match="quantised"):
        torch_twin.onnx_weights(REPO / "models" / "debrismap-default-int8.onnx")
