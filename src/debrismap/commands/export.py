"""Export a trained checkpoint (from `debrismap train`) to an ONNX model for `debrismap detect`.

Uses the EMA weights with Conv+BN fused; input `images` float32 (N, 3, S, S) with a dynamic
batch axis; all debrismap.* metadata (classes, input size, training GSD, bands, normalisation,
thresholds, ...). Before the file is kept, onnxruntime and torch must give the same boxes on
sample chips (the training dataset's val split when it is still on disk); otherwise nothing is
written. A report goes to OUT.export.json.

The box decoding (DFL softmax, anchors, strides, sigmoid) is moved out of the graph: detect
decodes only the anchors that clear the score threshold, which makes the model a seventh
faster on a CPU. --decoded-output keeps ultralytics' layout instead, one output `output0`
(N, 4 + nc, A), for other tools (SAHI, ultralytics); detect runs both.

  --half            fp16 weights and compute (for CUDA), float32 input/output kept
  --int8 --calib D  static int8 quantisation (QDQ, per-channel) for CPU, calibrated on the
                    images under D; its agreement with fp32 is measured and stored

Given an .onnx file instead of a checkpoint, only the layout changes (no torch needed): the
same weights and quantisation, with the box decoding moved out of the graph, or put back in
with --decoded-output.

examples:
  debrismap export runs/n256/best.ckpt --out debris.onnx
  debrismap export runs/n256/best.ckpt --out debris-int8.onnx --int8 --calib chips/images/val
  debrismap export debris.onnx --out debris-ultralytics.onnx --decoded-output
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from debrismap.errors import ConfigError, ModelError

HELP = "export a training checkpoint to ONNX with metadata and a parity check"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoint", metavar="CHECKPOINT", help="a debrismap checkpoint (best.ckpt), or an .onnx file to convert"
    )
    parser.add_argument("--out", required=True, metavar="FILE.onnx", help="ONNX file to write")
    parser.add_argument("--half", action="store_true", help="fp16 model (for CUDA execution)")
    parser.add_argument("--int8", action="store_true", help="int8 static quantisation (for CPU)")
    parser.add_argument("--calib", metavar="DIR", help="images to calibrate --int8 on")
    parser.add_argument(
        "--score-threshold", metavar="S|auto", default=None,
        help="operating score threshold stored in the model (default: the training config's); "
        "'auto' picks the best F1 on the dataset's val split",
    )
    parser.add_argument(
        "--decoded-output", action="store_true",
        help="keep the box decoding in the graph: ultralytics' (N, 4 + nc, A) output, for other tools",
    )
    parser.add_argument(
        "--opset", type=int, default=17, metavar="N", help="ONNX opset (>= 17, default 17)"
    )
    parser.add_argument(
        "--imgsz",
        type=int,
        default=None,
        metavar="PX",
        help="input size (default: the training input size)",
    )


def run(args: argparse.Namespace) -> int:
    if args.checkpoint.lower().endswith(".onnx"):
        return _convert(args)
    threshold = _threshold(args.score_threshold)  # a bad value is refused before torch loads
    os.environ.setdefault("YOLO_OFFLINE", "1")  # set before ultralytics is first imported
    try:
        import torch  # noqa: F401
        import ultralytics  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"export needs the torch stack ({exc.name} is missing): pip install 'debrismap[train]'"
        ) from exc
    from debrismap.export.pipeline import export_onnx

    report = export_onnx(
        args.checkpoint,
        args.out,
        half=args.half,
        int8=args.int8,
        calib=args.calib,
        opset=args.opset,
        imgsz=args.imgsz,
        score_threshold=threshold,
        decoded_output=args.decoded_output,
    )
    print(report.summary())
    return 0


def _convert(args: argparse.Namespace) -> int:
    """An ONNX file in, the same model in the other output layout out (no torch)."""
    from debrismap.export.layout import convert_layout

    given = [flag for flag, on in (("--half", args.half), ("--int8", args.int8), ("--calib", args.calib),
                                   ("--score-threshold", args.score_threshold), ("--imgsz", args.imgsz)) if on]
    if given:
        raise ConfigError(f"{', '.join(given)}: only for a checkpoint; an .onnx input only changes the output layout")
    if not Path(args.checkpoint).is_file():
        raise ModelError("model file not found", path=args.checkpoint)
    print(convert_layout(args.checkpoint, args.out, decoded_output=args.decoded_output).summary())
    return 0


def _threshold(value: str | None) -> float | str | None:
    if value is None or value == "auto":
        return value
    try:
        threshold = float(value)
    except ValueError:
        threshold = -1.0
    if not 0.0 < threshold < 1.0:
        raise ConfigError(f"--score-threshold must be 'auto' or a number between 0 and 1, got {value!r}")
    return threshold
