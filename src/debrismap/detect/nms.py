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

DENSE_LIMIT = 1500  # up to this many boxes an N x N IoU matrix is cheaper than a tree


def rank_order(scores: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Indices by descending score; ties broken by position so the result never depends on input order."""
    return np.lexsort((boxes[:, 1], boxes[:, 0], -scores))


def _pair_iou(boxes: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    a, b = boxes[i], boxes[j]
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def overlapping_pairs(boxes: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j), i < j, of boxes in the same group whose rectangles intersect."""
    n = len(boxes)
    if n < 2:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    if n <= DENSE_LIMIT:
        i, j = np.triu_indices(n, k=1)
        ok = (
            (groups[i] == groups[j])
            & (boxes[i, 0] < boxes[j, 2]) & (boxes[j, 0] < boxes[i, 2])
            & (boxes[i, 1] < boxes[j, 3]) & (boxes[j, 1] < boxes[i, 3])
        )
        return i[ok], j[ok]
    import shapely

    rects = shapely.box(boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3])
    tree = shapely.STRtree(rects)
    i, j = tree.query(rects, predicate="intersects")
    ok = (i < j) & (groups[i] == groups[j])
    return i[ok], j[ok]


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
    i, j = overlapping_pairs(boxes, groups)  # in rank space: i outranks j
    hit = _pair_iou(boxes, i, j) > iou
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
