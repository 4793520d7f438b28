"""Rebuild the PyTorch network of an fp32 debrismap ONNX file, for benchmarks that need both.

The weights are read by debrismap.train.warm_start (which `debrismap train --init-onnx` uses to
continue training from a file); this script rebuilds the fused network for inference.
The SAHI comparison runs the same network through ultralytics' PyTorch predictor. The training
checkpoint a model came from is not shipped (only the ONNX file is), but the fp32 ONNX file
holds every trained weight under its torch name: export folds BatchNorm into the convolutions
(`DetectionModel.fuse()`) and the TorchScript exporter keeps the state-dict names for the
initializers. So a freshly built, fused ultralytics DetectionModel of the right architecture
takes them back exactly. The architecture is found by trying the families and scales debrismap
trains (the one whose fused state dict has exactly these names and shapes), with ReLU where the
graph has Relu nodes and SiLU otherwise; the DFL
convolution's fixed 0..15 weights are the one tensor the exporter renames (constant-folded into
a MatMul), and they are not trained.

    uv run python benchmarks/torch_twin.py models/debrismap-default.onnx out.pt

checks that the rebuilt network reproduces the ONNX file's raw output on random input before
it writes the .pt (ultralytics' checkpoint layout, so `YOLO(out.pt)` loads it offline).
"""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")

SCALES = ("n", "s", "m")


def onnx_weights(onnx_path: Path) -> dict:
    """The fp32 file's weights by torch name (debrismap.train.warm_start), SystemExit otherwise."""
    from debrismap.errors import ModelError
    from debrismap.train.warm_start import onnx_weights as read_weights

    try:
        return read_weights(onnx_path)
    except ModelError as exc:
        raise SystemExit(str(exc)) from exc


def activation(onnx_path: Path) -> str:
    """relu if the graph's convolutions are followed by Relu (train --act relu), else silu."""
    from debrismap.train.warm_start import onnx_activation

    return onnx_activation(onnx_path)


def rebuild(onnx_path: Path, classes: int):
    """(fused eval DetectionModel carrying the ONNX file's weights, 'arch scale act') or SystemExit."""
    import torch

    from debrismap.train.config import ARCHS
    from debrismap.train.model import build_detection_model

    weights = onnx_weights(onnx_path)
    act = activation(onnx_path)
    for arch in ARCHS:
        for scale in SCALES:
            model = build_detection_model(arch, scale, classes, act=act).eval()
            model.fuse(verbose=False)
            state = model.state_dict()
            trained = {k: v for k, v in state.items() if not k.endswith("dfl.conv.weight")}
            if set(trained) - set(weights) or any(tuple(v.shape) != weights[k].shape for k, v in trained.items()):
                continue
            model.load_state_dict({k: torch.from_numpy(weights[k].copy()) for k in trained}, strict=False)
            return model, f"{arch} {scale} {act}"
    raise SystemExit(f"{onnx_path}: no debrismap architecture ({', '.join(ARCHS)} x {'/'.join(SCALES)}) has these weights")


def max_relative_difference(model, onnx_path: Path, size: int) -> float:
    """Largest |torch - onnx| / max|onnx| over the raw (N, 4 + nc, A) output of 2 random tiles."""
    import numpy as np
    import onnxruntime as ort
    import torch

    from debrismap.train.model import set_export_mode

    rng = np.random.default_rng(0)
    x = rng.random((2, 3, size, size), dtype=np.float32)
    session = ort.InferenceSession(decoded_layout(onnx_path).SerializeToString(), providers=["CPUExecutionProvider"])
    want = session.run(None, {session.get_inputs()[0].name: x})[0]
    with torch.inference_mode():  # on a copy: export mode patches methods that would not pickle
        got = set_export_mode(copy.deepcopy(model))(torch.from_numpy(x))
    got = (got[0] if isinstance(got, (tuple, list)) else got).numpy()
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-9))


def decoded_layout(onnx_path: Path):
    """The file's ModelProto with its box decoding in the graph (ultralytics' output layout)."""
    import onnx

    from debrismap.model.graph_surgery import join_box_decoding
    from debrismap.model.metadata import ModelMetadata

    proto = onnx.load(str(onnx_path))
    meta = ModelMetadata.from_props({p.key: p.value for p in proto.metadata_props}, source=str(onnx_path))
    if meta.head is not None:
        proto = join_box_decoding(proto, meta.head, meta.input_size)
    return proto


def write_ultralytics_pt(onnx_path: Path, out: Path, meta) -> Path:
    """The fp32 ONNX file's network as an ultralytics .pt; refuses if it does not reproduce it."""
    model, arch = rebuild(onnx_path, len(meta.classes))
    diff = max_relative_difference(model, onnx_path, meta.input_size)
    if diff > 1e-4:
        raise SystemExit(f"{onnx_path}: the rebuilt {arch} network differs from the ONNX file (max rel diff {diff:.2g})")
    print(f"rebuilt {arch} from {onnx_path.name}: output matches ONNX Runtime (max rel diff {diff:.1g})")
    return save_ultralytics_pt(model, meta.classes, meta.input_size, out,
                               f"weights of {onnx_path} (debrismap benchmarks/torch_twin.py)")


def save_ultralytics_pt(model, classes, imgsz: int, out: Path, source: str) -> Path:
    """`model` in ultralytics' checkpoint layout, so that `YOLO(out)` (and SAHI) load it offline."""
    import torch
    import ultralytics

    model.names = {i: n for i, n in enumerate(classes)}
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({
        "model": model.eval(), "ema": None, "train_args": {"imgsz": imgsz, "task": "detect"},
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"), "version": ultralytics.__version__, "source": source,
    }, out)
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    import onnx

    from debrismap.model.metadata import ModelMetadata

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("onnx", type=Path, help="an fp32 ONNX file written by debrismap export")
    parser.add_argument("out", type=Path, help="the .pt to write")
    args = parser.parse_args(argv)
    props = {p.key: p.value for p in onnx.load(str(args.onnx), load_external_data=False).metadata_props}
    write_ultralytics_pt(args.onnx, args.out, ModelMetadata.from_props(props, source=str(args.onnx)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
