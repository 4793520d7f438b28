"""Build an ultralytics YOLO detection network from its YAML config: no download, no weights."""

from __future__ import annotations

import os
import types

os.environ.setdefault(
    "YOLO_OFFLINE", "1"
)  # before ultralytics is imported: no hub or version checks

from pathlib import Path

import torch
import yaml
from ultralytics.cfg import get_cfg
from ultralytics.nn.modules.block import DFL
from ultralytics.nn.modules.conv import Conv
from ultralytics.nn.tasks import DetectionModel, yaml_model_load
from ultralytics.utils import IterableSimpleNamespace

ARCH_DIR = Path(__file__).with_name("archs")  # network YAMLs of debrismap's own (yolov8-p23)

# The activation after every convolution. SiLU is ultralytics' own; with ReLU an int8 ONNX
# Runtime graph folds the activation into the convolution's requantisation, whereas SiLU
# costs a sigmoid and a multiply per activation (a quarter of the int8 model's CPU time).
ACTIVATIONS = {"silu": "nn.SiLU()", "relu": "nn.ReLU()"}


def build_detection_model(
    arch: str,
    scale: str,
    nc: int,
    box: float = 7.5,
    cls: float = 0.5,
    dfl: float = 1.5,
    width: float = 0.0,
    depth: float = 0.0,
    act: str = "silu",
) -> DetectionModel:
    """A randomly initialised DetectionModel, e.g. arch 'yolov8', scale 'n' -> yolov8n.yaml.

    width/depth (0 = the scale's own) shrink or grow the network, e.g. for fast tests; act is
    the activation after each convolution (silu or relu).
    """
    own = ARCH_DIR / f"{arch}.yaml"
    if own.is_file():  # debrismap's own variants (archs/): the scale is picked below
        cfg = yaml.safe_load(own.read_text())
        cfg["scale"] = scale
    else:
        # ultralytics reads the scale letter from the file name and loads the family's YAML
        family, _, variant = arch.partition("-")  # "yolov8-p2" -> yolov8n-p2.yaml
        cfg = yaml_model_load(f"{family}{scale}{'-' + variant if variant else ''}.yaml")
    if width or depth:
        d, w, max_channels = cfg["scales"][scale]
        cfg["scales"][scale] = [depth or d, width or w, max_channels]
    if act not in ACTIVATIONS:
        raise ValueError(f"act must be one of {', '.join(ACTIVATIONS)}, got {act!r}")
    cfg["activation"] = ACTIVATIONS[act]  # ultralytics' own YAML key
    default_act = Conv.default_act
    try:
        model = DetectionModel(cfg, ch=3, nc=nc, verbose=False)
    finally:
        Conv.default_act = default_act  # parse_model sets it class-wide: do not leak into the next model
    # the loss reads its gains from model.args (ultralytics' default cfg + ours)
    hyp = vars(get_cfg())
    hyp.update(box=box, cls=cls, dfl=dfl)
    model.args = IterableSimpleNamespace(**hyp)
    return model


def set_export_mode(model: DetectionModel) -> DetectionModel:
    """Make the Detect head return only (N, 4 + nc, A) decoded boxes and class probabilities."""
    for m in model.modules():
        if hasattr(m, "export") and hasattr(m, "format") and hasattr(m, "stride"):
            m.export = True
            m.format = "onnx"
            m.dynamic = False  # the input side is fixed; only the batch axis varies
        if isinstance(m, DFL):
            m.forward = types.MethodType(_dfl_softmax_last_axis, m)
    return model


def _dfl_softmax_last_axis(self: DFL, x: torch.Tensor) -> torch.Tensor:
    """DFL.forward with the same result, laid out for ONNX Runtime.

    ultralytics takes the softmax over the bins on axis 1 of (B, bins, 4, A); onnxruntime's CPU
    Softmax on a non-last axis transposes internally and cost a quarter of the whole network's
    time. Putting the bins last makes it a contiguous softmax and the integral a small MatMul.
    """
    b, _, a = x.shape
    probs = x.view(b, 4, self.c1, a).transpose(2, 3).softmax(-1)  # (B, 4, A, bins)
    return (probs @ self.conv.weight.view(self.c1, 1)).view(b, 4, a)
