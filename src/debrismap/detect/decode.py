"""Turn the model's raw output (N, 4 + nc, A) into scored boxes per tile, vectorised over the batch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from debrismap.detect.nms import nms


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


def top_k_per_slot(slot: np.ndarray, score: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best scores within each slot (all of them where a slot has fewer)."""
    order = np.lexsort((-score, slot))
    sorted_slot = slot[order]
    first = np.searchsorted(sorted_slot, sorted_slot, side="left")
    rank = np.arange(len(order)) - first
    return np.sort(order[rank < k])


def decode_batch(output: np.ndarray, score_threshold: float, nms_iou: float) -> Detections:
    """Threshold, convert cx/cy/w/h to corners, and run class-aware NMS within each tile.

    Coordinates stay in model-input pixels of each tile; the caller shifts them to the raster.
    At most MAX_CANDIDATES_PER_TILE boxes per tile enter NMS and MAX_DETECTIONS_PER_TILE leave it.
    """
    output = np.asarray(output)
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
    if len(slot) > MAX_CANDIDATES_PER_TILE and np.bincount(slot).max() > MAX_CANDIDATES_PER_TILE:
        pick = top_k_per_slot(slot, score, MAX_CANDIDATES_PER_TILE)
        slot, anchor, cls, score = slot[pick], anchor[pick], cls[pick], score[pick]
    cx, cy, w, h = (output[slot, k, anchor].astype(np.float64) for k in range(4))
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    dets = Detections(boxes, score, cls, slot.astype(np.int32))
    if len(dets) == 0:
        return dets
    keep = np.sort(nms(boxes, score, nms_iou, groups=slot.astype(np.int64) * nc + cls))
    if len(keep) > MAX_DETECTIONS_PER_TILE:
        keep = keep[top_k_per_slot(dets.slot[keep], dets.scores[keep], MAX_DETECTIONS_PER_TILE)]
    return dets.take(keep)
