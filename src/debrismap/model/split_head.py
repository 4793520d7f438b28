"""The split head: how a format_version 2 file's per-level outputs become boxes, in numpy.

A YOLOv8-style Detect head ends, per pyramid level i, in two convolutions: `cv2.i` gives each
anchor a distribution over 16 distance bins for each box side (DFL), `cv3.i` its class
logits. ultralytics' export then decodes every anchor in the graph (softmax over the bins,
expected distances, anchor grid, strides, sigmoid) into (N, 4 + nc, A). On a CPU that
decoding was a seventh of the int8 model's time, spent on thousands of anchors per tile of
which a handful clear the score threshold.

A *split* file (metadata format_version 2, key `head`) stops at the convolutions: its outputs
are `box{i}` (N, 4 * reg_max, H_i, W_i) and `cls{i}` (N, nc, H_i, W_i) for every level, and
`decode_split_head` decodes only the anchors whose class logit clears the threshold, with the
same arithmetic as ultralytics (`make_anchors` with 0.5 offsets, `dist2bbox`, strides).
Runtime code: numpy only. Cutting and re-joining the graph is `debrismap.model.graph_surgery`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from debrismap.errors import ModelError


@dataclass(frozen=True)
class SplitHead:
    """How to decode a split file's outputs (stored as JSON under the `head` metadata key)."""

    strides: tuple[int, ...]  # one per level, in output order (box0/cls0 first)
    reg_max: int = 16  # distance bins per box side

    def to_json(self) -> str:
        return json.dumps({"type": "dfl", "strides": list(self.strides), "reg_max": self.reg_max})

    @classmethod
    def from_json(cls, text: str, source: str = "model") -> SplitHead:
        try:
            value = json.loads(text)
            if value.get("type") != "dfl":
                raise ValueError(f"head type {value.get('type')!r} is not 'dfl'")
            head = cls(strides=tuple(int(s) for s in value["strides"]), reg_max=int(value.get("reg_max", 16)))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ModelError(f"has a malformed 'head' metadata entry ({exc})", path=source) from exc
        if not head.strides or min(head.strides) <= 0 or head.reg_max < 1:
            raise ModelError("has an invalid 'head' metadata entry (strides, reg_max)", path=source)
        return head

    def output_names(self) -> list[str]:
        return [f"box{i}" for i in range(len(self.strides))] + [f"cls{i}" for i in range(len(self.strides))]


# -- decoding in numpy -----------------------------------------------------------------------
def decode_split_head(
    outputs: list[np.ndarray], head: SplitHead, score_threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(slot, class, score, boxes xyxy in input pixels) of every anchor scoring >= the threshold.

    `outputs` in the file's order: box0..boxL-1, cls0..clsL-1. The threshold is applied to the
    logits (sigmoid is monotonic), so only the candidates pay for sigmoid and DFL.
    """
    slot, _, cls, score, boxes = split_candidates(outputs, head, score_threshold)
    return slot, cls, score, boxes


def split_candidates(outputs, head: SplitHead, score_threshold: float):
    """decode_split_head plus each candidate's anchor index in ultralytics' (level, row, col) order."""
    levels = len(head.strides)
    if len(outputs) != 2 * levels:
        raise ValueError(f"a split head with {levels} levels has {2 * levels} outputs, got {len(outputs)}")
    threshold = float(np.clip(score_threshold, 1e-7, 1 - 1e-7))
    logit_floor = np.log(threshold / (1 - threshold))
    bins = np.arange(head.reg_max, dtype=np.float64)
    slots, anchors, classes, scores, boxes = [], [], [], [], []
    offset = 0
    for level, stride in enumerate(head.strides):
        box, cls = outputs[level], outputs[levels + level]
        h, w = cls.shape[2:]
        # one class per anchor, its best (as ultralytics' NMS without multi_label)
        best = cls[:, 0] if cls.shape[1] == 1 else cls.max(axis=1)  # (N, H, W)
        slot, y, x = np.nonzero(best >= logit_floor)
        if len(slot):
            logit = best[slot, y, x].astype(np.float64)
            c = np.zeros(len(slot), np.int64) if cls.shape[1] == 1 else cls[slot, :, y, x].argmax(axis=1)
            dist = box[slot, :, y, x].astype(np.float64).reshape(-1, 4, head.reg_max)  # (k, side, bin)
            dist = np.exp(dist - dist.max(axis=2, keepdims=True))
            ltrb = (dist / dist.sum(axis=2, keepdims=True)) @ bins  # expected distance per side, in cells
            ax, ay = x + 0.5, y + 0.5  # ultralytics' make_anchors: cell centres
            corners = np.stack([ax - ltrb[:, 0], ay - ltrb[:, 1], ax + ltrb[:, 2], ay + ltrb[:, 3]], axis=1)
            slots.append(slot)
            anchors.append(offset + y * w + x)
            classes.append(c)
            scores.append(1.0 / (1.0 + np.exp(-logit)))
            boxes.append(corners * stride)
        offset += h * w
    if not slots:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0, np.int32), np.zeros(0, np.float32), np.zeros((0, 4))
    # a box is kept only if its score is >= the threshold after the sigmoid too (float edge cases)
    score = np.concatenate(scores)
    keep = score >= score_threshold
    return (np.concatenate(slots)[keep], np.concatenate(anchors)[keep], np.concatenate(classes)[keep].astype(np.int32),
            score[keep].astype(np.float32), np.concatenate(boxes)[keep])
