"""Greedy one-to-one matching by score, and COCO-style average precision.

Matching follows pycocotools: detections are visited in descending score; each takes the
unmatched truth it overlaps most, if that IoU reaches the threshold. A second detection on an
already-taken truth is a false positive. Visiting *candidate pairs* sorted by
(score desc, detection, IoU desc) and taking a pair when both ends are still free gives the
same result, and the loop then runs over the few pairs that overlap, never over all N x M.
"""

from __future__ import annotations

import numpy as np

# COCO's 101 recall points and the IoU thresholds of AP50-95.
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
COCO_IOUS = np.round(np.arange(0.5, 0.951, 0.05), 2)


def detection_order(scores: np.ndarray) -> np.ndarray:
    """Indices by descending score; ties keep file order (stable), as pycocotools does."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")


def sort_pairs(
    scores: np.ndarray, det_idx: np.ndarray, truth_idx: np.ndarray, iou: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pairs in visiting order: detection by descending score, then best IoU first.

    Sorting once serves every IoU threshold: a threshold only removes pairs, never reorders.
    """
    rank = np.empty(len(scores), dtype=np.int64)
    rank[detection_order(scores)] = np.arange(len(scores))
    order = np.lexsort((-iou, rank[det_idx]))
    return det_idx[order], truth_idx[order], iou[order]


def greedy_match(
    scores: np.ndarray,
    n_truths: int,
    det_idx: np.ndarray,
    truth_idx: np.ndarray,
    iou: np.ndarray,
    threshold: float,
    presorted: bool = False,
) -> np.ndarray:
    """For each detection, the index of the truth it matched, or -1 (a false positive)."""
    matched = np.full(len(scores), -1, dtype=np.int64)
    if not presorted:
        det_idx, truth_idx, iou = sort_pairs(scores, det_idx, truth_idx, iou)
    ok = iou >= threshold - 1e-12  # tolerate float noise exactly at the threshold
    d, t = det_idx[ok], truth_idx[ok]
    if len(d) == 0:
        return matched
    # A pair whose detection and truth each have no other candidate cannot be contested:
    # match those at once and walk only the rest (crowded spots) in Python.
    alone = (np.bincount(d, minlength=len(scores))[d] == 1) & (np.bincount(t, minlength=n_truths)[t] == 1)
    matched[d[alone]] = t[alone]
    truth_taken = bytearray(n_truths)
    det_done = bytearray(len(scores))
    for di, ti in zip(d[~alone].tolist(), t[~alone].tolist()):
        if det_done[di] or truth_taken[ti]:
            continue
        det_done[di] = 1
        truth_taken[ti] = 1
        matched[di] = ti
    return matched


def precision_recall(
    scores: np.ndarray, is_tp: np.ndarray, n_truths: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative (precision, recall, score) as the threshold sweeps down through the detections."""
    order = detection_order(scores)
    tp = np.cumsum(is_tp[order].astype(np.int64))
    fp = np.cumsum(~is_tp[order].astype(bool))
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / n_truths if n_truths else np.zeros(len(tp))
    return precision, recall, np.asarray(scores, dtype=np.float64)[order]


def average_precision(scores: np.ndarray, is_tp: np.ndarray, n_truths: int) -> float | None:
    """COCO 101-point interpolated AP; None when there is no truth to recall."""
    if n_truths == 0:
        return None
    if len(scores) == 0:
        return 0.0
    precision, recall, _ = precision_recall(scores, is_tp, n_truths)
    # Interpolate: precision at recall r is the best precision at any recall >= r.
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    idx = np.searchsorted(recall, RECALL_POINTS, side="left")
    sampled = np.where(idx < len(envelope), envelope[np.minimum(idx, len(envelope) - 1)], 0.0)
    return float(sampled.mean())


def prf(tp: int, n_dets: int, n_truths: int) -> dict:
    """Precision, recall, F1 with None where undefined (no detections / no truths)."""
    precision = tp / n_dets if n_dets else None
    recall = tp / n_truths if n_truths else None
    if precision is None or recall is None:
        f1 = 0.0 if (n_dets or n_truths) and tp == 0 else None
    else:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {
        "tp": int(tp),
        "fp": int(n_dets - tp),
        "fn": int(n_truths - tp),
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }
