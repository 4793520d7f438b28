"""Export: ONNX contract, metadata, parity (and failing parity leaves nothing), fp16, int8."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("YOLO_OFFLINE", "1")
torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from debrismap.cli import main
from debrismap.errors import ModelError
from debrismap.model.metadata import PREFIX, REQUIRED_KEYS, ModelMetadata
from debrismap.train.toy import make_toy_dataset


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A briefly trained tiny detector (1 epoch x 3 steps)."""
    from debrismap.train.config import make_config
    from debrismap.train.fit import train

    root = tmp_path_factory.mktemp("export")
    data = make_toy_dataset(root / "chips", n_train=12, n_val=4, size=128, gsd_m=0.4)
    cfg = make_config(
        None,
        {
            "data": str(data),
            "out": str(root / "run"),
            "model": "n",
            "width": 0.0625,
            "imgsz": 128,
            "batch": 4,
            "workers": 0,
            "accelerator": "cpu",
            "devices": "1",
            "epochs": 1,
            "lr": 0.01,
            "warmup_epochs": 0.0,
        },
    )
    result = train(cfg)
    return {"ckpt": Path(result["best"]), "data": data, "root": root}


def test_export_writes_contract_model(checkpoint, tmp_path, capsys):
    out = tmp_path / "model.onnx"
    assert main(["export", str(checkpoint["ckpt"]), "--out", str(out), "--decoded-output"]) == 0
    assert "parity on 4 val images" in capsys.readouterr().out
    model = onnx.load(str(out))
    props = {p.key: p.value for p in model.metadata_props}
    assert all(PREFIX + k in props for k in REQUIRED_KEYS)
    meta = ModelMetadata.from_props(props, str(out))
    assert meta.classes == ("debris",) and meta.input_size == 128 and meta.gsd_m == 0.4
    assert "chips" in meta.training_data and meta.created
    assert model.opset_import[0].version >= 17
    assert not any(n.op_type == "BatchNormalization" for n in model.graph.node)  # fused

    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (inp,), (outp,) = session.get_inputs(), session.get_outputs()
    assert inp.name == "images" and inp.type == "tensor(float)" and inp.shape[1:] == [3, 128, 128]
    assert outp.name == "output0" and isinstance(inp.shape[0], str)  # dynamic batch
    y = session.run(None, {"images": np.random.rand(3, 3, 128, 128).astype(np.float32)})[0]
    anchors = (128 // 4) ** 2 + (128 // 8) ** 2 + (128 // 16) ** 2 + (128 // 32) ** 2  # yolov8-p2, train's default
    assert y.shape == (3, 5, anchors)
    assert y[:, 4].min() >= 0 and y[:, 4].max() <= 1  # probabilities, after sigmoid
    report = json.loads(out.with_suffix(".export.json").read_text())
    assert report["parity"]["max_rel_diff"] <= 1e-3 and report["parity"]["min_iou"] >= 0.99
    # the file's own val precision/recall travel with it, for detect's run.json and the heatmap
    validation = json.loads(props[PREFIX + "validation"])
    assert validation == report["validation"]
    assert validation["images"] > 0 and 0 <= validation["precision"] <= 1 and 0 <= validation["recall"] <= 1


def test_export_moves_box_decoding_out_of_the_graph(checkpoint, tmp_path, capsys):
    """By default the graph stops at the head's convolutions; detect decodes what the graph did."""
    from debrismap.detect.decode import decode_batch
    from debrismap.detect.session import ModelSession

    split, decoded = tmp_path / "split.onnx", tmp_path / "decoded.onnx"
    assert main(["export", str(checkpoint["ckpt"]), "--out", str(split)]) == 0
    assert "box decoding in debrismap" in capsys.readouterr().out
    assert main(["export", str(checkpoint["ckpt"]), "--out", str(decoded), "--decoded-output"]) == 0
    props = {p.key: p.value for p in onnx.load(str(split)).metadata_props}
    meta = ModelMetadata.from_props(props, str(split))
    assert meta.format_version == "2" and meta.head.strides == (4, 8, 16, 32) and meta.head.reg_max == 16
    report = json.loads(split.with_suffix(".export.json").read_text())
    assert report["split"]["same_anchors"] and report["split"]["anchors"] > 0
    assert report["split"]["max_box_diff_px"] <= 1e-3

    session = ort.InferenceSession(str(split), providers=["CPUExecutionProvider"])
    shapes = {o.name: o.shape for o in session.get_outputs()}
    assert shapes == {f"{kind}{i}": ["batch", channels, 32 >> i, 32 >> i]
                      for kind, channels in (("box", 64), ("cls", 1)) for i in range(4)}
    batch = np.random.default_rng(1).random((3, 3, 128, 128), dtype=np.float32)
    a, b = ModelSession(split), ModelSession(decoded)
    # a barely trained head: compare many low-scoring boxes, at a floor no score sits next to
    # (float rounding may put a score equal to the floor on either side)
    from debrismap.export.split_check import comparison_floor

    floor = comparison_floor(b.run(batch)[0][:, 4:, :].max(axis=1), 0.01)
    # NMS at IoU 0.999 keeps every distinct box: with near-equal scores, which of two
    # overlapping boxes a real NMS keeps is a coin toss between the decodings
    got = decode_batch(a.run(batch), floor, 0.999, a.metadata.head)
    want = decode_batch(b.run(batch), floor, 0.999, b.metadata.head)
    assert len(got) == len(want) > 0
    # pair each box with the nearest one of the same tile: one to one, and within 1e-3 px
    distance = np.abs(got.boxes[:, None] - want.boxes[None]).max(axis=2)
    distance[got.slot[:, None] != want.slot[None]] = np.inf
    pair = distance.argmin(axis=1)
    assert len(set(pair.tolist())) == len(got) and distance[np.arange(len(got)), pair].max() <= 1e-3
    np.testing.assert_allclose(got.scores, want.scores[pair], atol=1e-5)
    assert props[PREFIX + "validation"]  # measured on the split file itself


def test_export_converts_an_onnx_file_both_ways(checkpoint, tmp_path):
    split, joined, again = tmp_path / "s.onnx", tmp_path / "j.onnx", tmp_path / "s2.onnx"
    assert main(["export", str(checkpoint["ckpt"]), "--out", str(split)]) == 0
    assert main(["export", str(split), "--out", str(joined), "--decoded-output"]) == 0
    assert main(["export", str(joined), "--out", str(again)]) == 0
    batch = np.random.default_rng(2).random((2, 3, 128, 128), dtype=np.float32)
    def run(p):
        return ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"images": batch})

    assert [o.shape for o in run(joined)] == [(2, 5, 32 * 32 + 16 * 16 + 8 * 8 + 4 * 4)]
    for x, y in zip(run(split), run(again)):  # split -> joined -> split: the same graph outputs
        np.testing.assert_array_equal(x, y)
    meta = ModelMetadata.from_props({p.key: p.value for p in onnx.load(str(joined)).metadata_props})
    assert meta.head is None and meta.format_version == "1"
    assert main(["export", str(split), "--out", str(tmp_path / "x.onnx"), "--int8"]) == 2  # needs a checkpoint


def test_failed_parity_leaves_no_file(checkpoint, tmp_path, monkeypatch):
    from debrismap.export import pipeline
    from debrismap.export.parity import Tolerance

    monkeypatch.setattr(pipeline, "FP32_TOLERANCE", Tolerance(raw_rel=-1.0, box_iou=0.99, score_abs=1e-3))
    out = tmp_path / "model.onnx"
    with pytest.raises(ModelError, match="parity check failed"):
        pipeline.export_onnx(checkpoint["ckpt"], out)
    assert list(tmp_path.iterdir()) == []  # neither the model nor a temp folder is left


def test_parity_detects_a_different_model(checkpoint, tmp_path):
    """check_parity itself fails when the ONNX graph is not the torch model."""
    from debrismap.export.checkpoint import load_torch_model
    from debrismap.export.parity import FP32_TOLERANCE, check_parity
    from debrismap.export.samples import parity_images
    from debrismap.export.to_onnx import torch_to_onnx

    model, hp = load_torch_model(checkpoint["ckpt"])
    path = tmp_path / "m.onnx"
    torch_to_onnx(model, 128, 17, path, half=False)
    batch, source = parity_images(hp, 128)
    check_parity(model, path, batch, hp, FP32_TOLERANCE, source)
    with torch.no_grad():  # perturb the torch side after export
        for layer in (model.model[-1].cv2[0][-1], model.model[-1].cv3[0][-1]):
            layer.weight.normal_(0, 1)  # a different finest-level head: boxes and scores move
            layer.bias.normal_(0, 1)
    with pytest.raises(ModelError, match="parity check failed"):
        check_parity(model, path, batch, hp, FP32_TOLERANCE, source)


def test_export_int8_measures_agreement(checkpoint, tmp_path):
    from debrismap.export.pipeline import export_onnx

    out = tmp_path / "int8.onnx"
    report = export_onnx(checkpoint["ckpt"], out, int8=True, calib=checkpoint["data"] / "images")
    q = report.quantization
    assert q["images"] == 16 and 0 <= q["matched_recall"] <= 1 and 0 <= q["map50_vs_fp32"] <= 1
    model = onnx.load(str(out))
    assert any(n.op_type == "QuantizeLinear" for n in model.graph.node)
    props = {p.key: p.value for p in model.metadata_props}
    ModelMetadata.from_props(props, str(out))
    assert json.loads(props[PREFIX + "quantization"])["images"] == 16
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {"images": np.zeros((2, 3, 128, 128), np.float32)})
    assert [o.shape[:2] for o in outputs] == [(2, 64)] * 4 + [(2, 1)] * 4  # split head, int8 inside
    assert report.split["same_anchors"]


def test_export_half_keeps_float32_io(checkpoint, tmp_path):
    from debrismap.export.pipeline import export_onnx

    out = tmp_path / "fp16.onnx"
    report = export_onnx(checkpoint["ckpt"], out, half=True)
    model = onnx.load(str(out))
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in model.graph.initializer), (
        "weights should be fp16"
    )
    assert report.precision == "fp16" and "max_rel_diff" in report.parity


def test_export_errors(checkpoint, tmp_path, capsys):
    assert main(["export", str(tmp_path / "missing.ckpt"), "--out", str(tmp_path / "m.onnx")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    assert (
        main(["export", str(checkpoint["ckpt"]), "--out", str(tmp_path / "m.onnx"), "--int8"]) == 2
    )
    assert "--calib" in capsys.readouterr().err
