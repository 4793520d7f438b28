"""torch -> ONNX: the TorchScript exporter run on the fused network, fp32 or fp16 with float32 I/O."""

from __future__ import annotations

import copy
from pathlib import Path


def _fp16_io(model):
    """An fp16 copy of `model` that keeps the contract's float32 input and output."""
    import torch

    class Fp16IO(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = copy.deepcopy(inner).half()  # the fp32 model stays the reference

        def forward(self, images):
            return self.inner(images.half()).float()

    return Fp16IO(model)


def torch_to_onnx(model, imgsz: int, opset: int, path: Path, half: bool) -> None:
    """Write `model` to `path` in ultralytics' layout: input `images`, output `output0`, dynamic batch."""
    import torch

    module = _fp16_io(model) if half else model
    dummy = torch.zeros(1, 3, imgsz, imgsz)
    with torch.no_grad():
        torch.onnx.export(
            module,
            (dummy,),
            str(path),
            input_names=["images"],
            output_names=["output0"],
            dynamic_axes={"images": {0: "batch"}, "output0": {0: "batch"}},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,  # the TorchScript exporter: mature for conv nets, plain dynamic_axes
        )
