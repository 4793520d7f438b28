"""Turn the model's outputs (decoded boxes, or a split head's per-level maps) into scored boxes per tile."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from debrismap.detect.nms import nms
from debrismap.model.split_head import SplitHead, decode_split_head


@dataclass
class Detections:
    """Boxes in some pixel space (x0, y0, x1, y1), with score, class and the batch slot they came from."""

    boxes: np.ndarray  # (M, 4) float64
    scores: np.ndarray  # (M,) float32
    classes: np.ndarray  # (M,) int32
    slot: np.ndarray  # (M,) int32, index of the tile within the batch

    def __len__(self) -> int:
        return len(self.scores)

    def take(self, index) -> Detections:
        return Detections(self.boxes[index], self.scores[index], self.classes[index], self.slot[index])


# Like ultralytics' max_nms / max_det: a low --score on a busy scene must not make NMS quadratic.
MAX_CANDIDATES_PER_TILE = 3000
MAX_DETECTIONS_PER_TILE = 1000
# Candidates (boxes down to the candidate floor, for counts) enter NMS at most this many per
# tile, best first. A real detector passes a few anchors per tile at 0.05 (the bundled int8
# model: 7 on a synthetic city); a model firing everywhere would otherwise make the floor's NMS
# cost seconds per batch (dense clusters: most pairs overlap).
MAX_CANDIDATE_ANCHORS_PER_TILE = 300


def top_k_per_slot(slot: np.ndarray, score: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best scores within each slot (all of them where a slot has fewer)."""
    order = np.lexsort((-score, slot))
    sorted_slot = slot[order]
    first = np.searchsorted(sorted_slot, sorted_slot, side="left")
    rank = np.arange(len(order)) - first
    return np.sort(order[rank < k])


def decode_batch(
    outputs: np.ndarray | list[np.ndarray], score_threshold: float, nms_iou: float, head: SplitHead | None = None,
    max_candidates: int = MAX_CANDIDATES_PER_TILE,
) -> Detections:
    """Threshold, make corner boxes, and run class-aware NMS within each tile.

    `outputs` is what ModelSession.run returns: one (N, 4 + nc, A) array of decoded boxes
    (cx, cy, w, h) and probabilities, or, with `head`, a split-head model's per-level
    convolution outputs, of which only the anchors above the threshold are decoded.
    Coordinates stay in model-input pixels of each tile; the caller shifts them to the raster.
    At most `max_candidates` boxes per tile enter NMS and MAX_DETECTIONS_PER_TILE leave it.
    """
    if head is not None:
        slot, cls, score, boxes = decode_split_head(list(outputs), head, score_threshold)
        nc = int(np.shape(outputs[len(head.strides)])[1])
    else:
        slot, cls, score, boxes, nc = _decoded_candidates(outputs, score_threshold)
    if len(slot) > max_candidates and np.bincount(slot).max() > max_candidates:
        pick = top_k_per_slot(slot, score, max_candidates)
        slot, cls, score, boxes = slot[pick], cls[pick], score[pick], boxes[pick]
    dets = Detections(boxes, score, cls, slot.astype(np.int32))
    if len(dets) == 0:
        return dets
    keep = np.sort(nms(boxes, score, nms_iou, groups=slot.astype(np.int64) * nc + cls))
    if len(keep) > MAX_DETECTIONS_PER_TILE:
        keep = keep[top_k_per_slot(dets.slot[keep], dets.scores[keep], MAX_DETECTIONS_PER_TILE)]
    return dets.take(keep)


def _decoded_candidates(outputs, score_threshold: float):
    """(slot, class, score, xyxy boxes, nc) above the threshold of a (N, 4 + nc, A) output."""
    output = np.asarray(outputs[0] if isinstance(outputs, (list, tuple)) else outputs)
    if output.ndim != 3 or output.shape[1] < 5:
        raise ValueError(f"model output has shape {output.shape}, expected (N, 4 + classes, anchors)")
    nc = output.shape[1] - 4
    class_scores = output[:, 4:, :]
    if nc == 1:
        best_score = class_scores[:, 0, :]
        slot, anchor = np.nonzero(best_score >= score_threshold)
        cls = np.zeros(len(slot), np.int32)
    else:
        best_score = class_scores.max(axis=1)
        slot, anchor = np.nonzero(best_score >= score_threshold)
        cls = class_scores[slot, :, anchor].argmax(axis=1).astype(np.int32)
    score = best_score[slot, anchor].astype(np.float32)
    cx, cy, w, h = (output[slot, k, anchor].astype(np.float64) for k in range(4))
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return slot, cls, score, boxes, nc
