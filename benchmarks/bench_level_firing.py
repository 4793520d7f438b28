"""Which detection levels (strides) of a split-head model produce the piles it finds.

Runs an fp32 or int8 format_version 2 file (per-level outputs) over a chip dataset's val split,
decodes every level at the model's score threshold (or --score), applies detect's per-chip NMS,
matches the kept boxes to the labels (IoU 0.5 and 0.3, greedy by score as `evaluate` does) and
counts, per stride, the kept boxes and the true positives:

    uv run python benchmarks/bench_level_firing.py models/debrismap-default.onnx --data datasets/default

A level whose true positives are ~0 costs compute at detect time (its head, and the
bottom-up path that feeds it) for nothing; `--arch yolov8-p23` trains without the two coarsest.
Torch-free: the same code path as detect (ModelSession, split_candidates, detect.nms).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from debrismap.detect.nms import nms
from debrismap.detect.preprocess import Preprocessor
from debrismap.detect.session import ModelSession
from debrismap.export.validation import match_to_truth, val_batches
from debrismap.model.split_head import split_candidates

IOUS = (0.5, 0.3)


def level_firing(model: Path, data: Path, score: float | None = None, batch_size: int = 16,
                 max_images: int | None = None) -> dict:
    session = ModelSession(model, device="cpu")
    meta, size = session.metadata, session.input_size
    if meta.head is None:
        raise SystemExit(f"{model}: not a split-head (format_version 2) file: levels cannot be told apart")
    threshold = meta.score_threshold if score is None else score
    strides = list(meta.head.strides)
    # anchor index -> level: levels are concatenated in stride order, (size / stride)^2 each
    bounds = np.cumsum([(size // s) ** 2 for s in strides])
    images = sorted(p for p in (data / "images" / "val").glob("*.png"))[:max_images]
    if not images:
        raise SystemExit(f"{data}: no val chips (images/val/*.png)")
    prep = Preprocessor(meta)
    kept = np.zeros(len(strides), int)
    tp = {iou: np.zeros(len(strides), int) for iou in IOUS}
    n_true = 0
    for batch, truths in val_batches(images, data, prep, size, batch_size):
        slot, anchor, _, scores, boxes = split_candidates(session.run(batch), meta.head, threshold)
        keep = nms(boxes, scores, meta.nms_iou, groups=slot)
        slot, anchor, scores, boxes = slot[keep], anchor[keep], scores[keep], boxes[keep]
        level = np.searchsorted(bounds, anchor, side="right")
        for i, truth in enumerate(truths):
            n_true += len(truth)
            mine = slot == i
            np.add.at(kept, level[mine], 1)
            for iou in IOUS:
                matched = match_to_truth(boxes[mine], scores[mine], truth, iou) >= 0
                np.add.at(tp[iou], level[mine][matched], 1)
    return {
        "model": str(model), "data": str(data), "images": len(images), "true_piles": n_true,
        "score_threshold": threshold, "strides": strides, "kept": kept.tolist(),
        **{f"true_positives_iou{iou}": tp[iou].tolist() for iou in IOUS},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--data", type=Path, required=True, help="chip dataset with images/val, labels/val")
    parser.add_argument("--score", type=float, help="score threshold (default: the model's)")
    parser.add_argument("--max-images", type=int)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = level_firing(args.model, args.data, args.score, max_images=args.max_images)
    print(json.dumps(result))
    for i, stride in enumerate(result["strides"]):
        shares = " ".join(
            f"TP@{iou} {result[f'true_positives_iou{iou}'][i]} "
            f"({result[f'true_positives_iou{iou}'][i] / max(1, sum(result[f'true_positives_iou{iou}'])):.1%})"
            for iou in IOUS)
        print(f"stride {stride:>2}: kept {result['kept'][i]:>5}  {shares}")
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}", file=sys.stderr)
    import _common  # benchmarks/: results/<name>.json with the machine, versions and command

    name = "bench_level_firing" + ("" if args.score is None else f"_score{args.score:g}")
    _common.write_result(name, {"rows": result, "loadavg": list(os.getloadavg())})
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
