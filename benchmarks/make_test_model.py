"""Make an UNTRAINED debrismap model (ONNX + training checkpoint) to smoke-test the benchmarks.

Its numbers mean nothing: it exists so that every benchmark script can be run end to end
before a trained model is available. Never report results obtained with it.

    uv run python benchmarks/make_test_model.py --out ~/.cache/debrismap-bench/untrained
writes untrained.onnx (with debrismap metadata) and untrained.ckpt (debrismap checkpoint layout).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path.home() / ".cache" / "debrismap-bench" / "untrained")
    parser.add_argument("--imgsz", type=int, default=256)
    parser.add_argument("--gsd", type=float, default=0.5)
    parser.add_argument("--score-threshold", type=float, default=0.01, help="low: an untrained model scores low")
    args = parser.parse_args(argv)

    import onnx
    import torch

    from debrismap.model.metadata import ModelMetadata
    from debrismap.train.model import build_detection_model, set_export_mode

    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = build_detection_model("yolov8", "n", 1).eval()
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    hparams = {"arch": "yolov8", "scale": "n", "classes": ["debris"], "imgsz": args.imgsz, "gsd_m": args.gsd}
    torch.save(
        {"state_dict": state, "debrismap": {"format": 1, "software_version": "untrained", "hparams": hparams}},
        args.out / "untrained.ckpt",
    )
    set_export_mode(model)
    onnx_path = args.out / "untrained.onnx"
    dummy = torch.zeros(1, 3, args.imgsz, args.imgsz)
    torch.onnx.export(
        model, dummy, str(onnx_path), input_names=["images"], output_names=["output0"],
        dynamic_axes={"images": {0: "batch"}, "output0": {0: "batch"}}, opset_version=17, dynamo=False,
    )
    proto = onnx.load(str(onnx_path))
    meta = ModelMetadata(
        classes=("debris",), input_size=args.imgsz, gsd_m=args.gsd, score_threshold=args.score_threshold,
        training_data="UNTRAINED: random weights, for smoke tests only", created="untrained",
    )
    for key, value in meta.to_props().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(onnx_path))
    print(f"wrote {onnx_path} and {args.out / 'untrained.ckpt'} (UNTRAINED: numbers from it mean nothing)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
