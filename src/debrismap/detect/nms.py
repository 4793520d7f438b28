"""Greedy non-maximum suppression, vectorised: no Python loop over boxes.

Greedy NMS keeps the best box, drops everything overlapping it, and repeats. We get the same
answer with whole-array operations: find the overlapping pairs once (dense for small sets, an
STR-tree for large ones), then iterate "a box survives if no surviving higher-ranked box
overlaps it" to its fixed point. The status of a box depends only on higher-ranked boxes, so
each iteration settles at least one more link of the longest suppression chain — a few
iterations in practice.
"""

from __future__ import annotations

import numpy as np

from debrismap.geometry.boxes import intersecting_pairs_within, pair_iou


def rank_order(scores: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Indices by descending score; ties broken by position so the result never depends on input order."""
    return np.lexsort((boxes[:, 1], boxes[:, 0], -scores))


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float, groups: np.ndarray | None = None) -> np.ndarray:
    """Indices of the boxes greedy NMS keeps (within each group), best first.

    boxes: (N, 4) x0, y0, x1, y1. groups: boxes of different groups never suppress each other
    (class-aware NMS, or per-tile NMS over a whole batch at once).
    """
    n = len(boxes)
    if n == 0:
        return np.empty(0, np.intp)
    order = rank_order(scores, boxes)
    boxes = boxes[order]
    groups = np.zeros(n, np.intp) if groups is None else np.asarray(groups)[order]
    i, j = intersecting_pairs_within(boxes, groups)  # in rank space: i outranks j
    hit = pair_iou(boxes[i], boxes[j]) > iou
    i, j = i[hit], j[hit]
    keep = np.ones(n, bool)
    for _ in range(n):  # bounded by the longest chain; usually 2-3 rounds
        suppressed = np.zeros(n, bool)
        suppressed[j[keep[i]]] = True
        new_keep = ~suppressed
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    return order[keep]
