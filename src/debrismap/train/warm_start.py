"""Warm start: put the weights of an fp32 ONNX file from `debrismap export` back into a trainable network.

Only the ONNX files are shipped, not the checkpoints, so a training run that should continue
where the bundled model ended starts from the file. Export folds BatchNorm into the
convolutions (`DetectionModel.fuse()`) and keeps the state-dict names for the initializers, so
each fused convolution (W, b) is unfolded into conv.weight = W and a BatchNorm that adds b.
That BatchNorm is exact in eval mode for any running statistics (gamma = sqrt(var + eps),
beta = mean + b), so the statistics are then measured on training chips: in train mode the
batch statistics are close to them and the network starts out computing what the file does,
instead of having every activation renormalised to unit variance.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnx.numpy_helper as nh
import torch
from torch import nn

from debrismap.errors import ModelError
from debrismap.model.metadata import PREFIX

HISTORY_KEY = PREFIX + "training_history"
# the Detect head's DFL convolution holds the fixed bin values 0..reg_max-1: never trained,
# and the exporter constant-folds it under another name
FIXED_SUFFIX = "dfl.conv.weight"


def onnx_weights(onnx_path: str | Path) -> dict[str, np.ndarray]:
    """Initializers of an fp32 ONNX file by their torch names; ModelError for an int8 file."""
    try:
        proto = onnx.load(str(onnx_path))
    except Exception as exc:  # onnx raises DecodeError, OSError, ... for a bad file
        raise ModelError(f"cannot be read as an ONNX model ({exc})", path=onnx_path) from exc
    if any(node.op_type in ("QuantizeLinear", "DequantizeLinear") for node in proto.graph.node):
        raise ModelError("is a quantised model; pass its fp32 twin (the weights must be exact)",
                         path=onnx_path)
    weights = {init.name: nh.to_array(init) for init in proto.graph.initializer}
    # the exporter stores equal tensors once and names the others through Identity nodes
    for node in proto.graph.node:
        if node.op_type == "Identity" and node.input[0] in weights:
            weights[node.output[0]] = weights[node.input[0]]
    return weights


def onnx_activation(onnx_path: str | Path) -> str:
    """relu if the graph has Relu nodes (train --act relu), else silu."""
    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    return "relu" if any(node.op_type == "Relu" for node in graph.node) else "silu"


def read_training_history(onnx_path: str | Path) -> list[dict]:
    """The runs that trained this file's weights (oldest first); [] for a file without them."""
    props = {p.key: p.value for p in onnx.load(str(onnx_path), load_external_data=False).metadata_props}
    try:
        history = json.loads(props.get(HISTORY_KEY, "[]"))
    except ValueError as exc:
        raise ModelError(f"has a malformed {HISTORY_KEY} ({exc})", path=onnx_path) from exc
    return history if isinstance(history, list) else []


def _conv_bn_pairs(model: nn.Module) -> dict[str, tuple[nn.Conv2d, nn.BatchNorm2d]]:
    """Module name -> (conv, bn) for every convolution that fuse() folds a BatchNorm into."""
    return {
        name: (module.conv, module.bn)
        for name, module in model.named_modules()
        if isinstance(getattr(module, "conv", None), nn.Conv2d)
        and isinstance(getattr(module, "bn", None), nn.BatchNorm2d)
    }


def load_fused_weights(model: nn.Module, weights: dict[str, np.ndarray], source: str | Path) -> int:
    """Unfold the fused ONNX weights into an unfused network in place; returns tensors set.

    ModelError naming the first tensor the file lacks or has in another shape: the network
    built from the config must be the one the file was exported from.
    """
    rename = _head_rename(model, weights)

    def take(name: str, like: torch.Tensor) -> torch.Tensor:
        name = rename(name)
        if name not in weights:
            raise ModelError(f"has no weight {name!r}: it is not this network (check arch, model, "
                             "width, depth and act)", path=source)
        value = torch.from_numpy(np.array(weights[name], dtype=np.float32))
        if tuple(value.shape) != tuple(like.shape):
            raise ModelError(f"weight {name!r} is {tuple(value.shape)}, the network wants "
                             f"{tuple(like.shape)}: it is not this network", path=source)
        return value

    pairs = _conv_bn_pairs(model)
    covered: set[str] = set()
    with torch.no_grad():
        for name, (conv, bn) in pairs.items():
            conv.weight.copy_(take(f"{name}.conv.weight", conv.weight))
            bias = take(f"{name}.conv.bias", bn.bias)
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0)
            bn.weight.fill_(float(np.sqrt(1.0 + bn.eps)))
            bn.bias.copy_(bias)
            covered.update(f"{name}.{part}" for part in (
                "conv.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
                "bn.num_batches_tracked"))
        state = model.state_dict()
        count = 2 * len(pairs)
        for key, tensor in state.items():  # the rest (head output convolutions) keep their names
            if key in covered or key.endswith(FIXED_SUFFIX):
                continue
            tensor.copy_(take(key, tensor))
            count += 1
    return count


def _head_rename(model: nn.Module, weights: dict):
    """Target name -> file name: the Detect head is the last layer, so a network with fewer
    layers (yolov8-p23 from a yolov8-p2 file) finds its head's levels under the file's index."""
    def index_of_head(names) -> int | None:
        found = {int(n.split(".")[1]) for n in names if n.startswith("model.") and ".cv2." in n}
        return max(found) if found else None

    mine, theirs = index_of_head(model.state_dict()), index_of_head(weights)
    if mine is None or theirs is None or mine == theirs:
        return lambda name: name
    prefix = f"model.{mine}."
    return lambda name: f"model.{theirs}." + name[len(prefix):] if name.startswith(prefix) else name


@torch.no_grad()
def calibrate_batchnorm(model: nn.Module, batches) -> int:
    """Set each unfolded BatchNorm's running statistics to those of its input on `batches`
    (float NCHW in [0, 1]) and its affine part so the eval-mode output does not change."""
    pairs = _conv_bn_pairs(model)
    sums: dict[str, list] = {}
    hooks = []
    for name, (conv, _) in pairs.items():
        def hook(module, inputs, output, name=name):
            y = output.detach().double()
            acc = sums.setdefault(name, [0.0, 0.0, 0])
            acc[0] = acc[0] + y.sum((0, 2, 3))
            acc[1] = acc[1] + (y * y).sum((0, 2, 3))
            acc[2] += y.numel() // y.shape[1]
        hooks.append(conv.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        for x in batches:
            model(x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    for name, (_, bn) in pairs.items():
        if name not in sums:
            continue
        total, squares, n = sums[name]
        mean = total / n
        var = (squares / n - mean * mean).clamp_min(0)
        # eval mode computes z * scale + shift; keep exactly that map with the new statistics
        scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
        shift = bn.bias.double() - bn.running_mean.double() * scale
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn.weight.copy_(scale * torch.sqrt(var + bn.eps))
        bn.bias.copy_(shift + mean * scale)
    return len(sums)
