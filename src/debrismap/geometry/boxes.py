"""Axis-aligned boxes: IoU, and the overlapping pairs found without an all-pairs matrix.

One home for detect's NMS, evaluation's matching and export's parity check.

Boxes are float arrays of shape (N, 4) holding (x0, y0, x1, y1) with x0 <= x1 and y0 <= y1, in
whatever frame both sides share (metres of a projected CRS, or pixels). A 100k x 100k scene
would need a 10^10-entry IoU matrix; instead an STR-tree (shapely, in C) returns only the pairs
whose boxes intersect, and IoU is computed for those pairs in one vectorised pass.
"""

from __future__ import annotations

import numpy as np
import shapely


def as_boxes(array) -> np.ndarray:
    """Return a float64 (N, 4) array, normalising corner order so x0 <= x1 and y0 <= y1."""
    boxes = np.asarray(array, dtype=np.float64).reshape(-1, 4)
    return np.column_stack(
        [
            np.minimum(boxes[:, 0], boxes[:, 2]),
            np.minimum(boxes[:, 1], boxes[:, 3]),
            np.maximum(boxes[:, 0], boxes[:, 2]),
            np.maximum(boxes[:, 1], boxes[:, 3]),
        ]
    )


def box_area(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def pair_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of row i of `a` with row i of `b` (same length), vectorised."""
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0.0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0.0, None)
    inter = iw * ih
    union = box_area(a) + box_area(b) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense IoU matrix (len(a), len(b)); for small sets and tests only."""
    ai = np.repeat(np.arange(len(a)), len(b))
    bi = np.tile(np.arange(len(b)), len(a))
    return pair_iou(a[ai], b[bi]).reshape(len(a), len(b))


# Up to this many boxes an N x N comparison is cheaper than building a tree.
DENSE_LIMIT = 1500


def intersecting_pairs_within(boxes: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j), i < j, of boxes in the same group whose rectangles intersect (NMS candidates)."""
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
    rects = shapely.box(boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3])
    i, j = shapely.STRtree(rects).query(rects, predicate="intersects")
    ok = (i < j) & (groups[i] == groups[j])
    return i[ok], j[ok]


def box_polygons(boxes: np.ndarray, transform) -> np.ndarray:
    """Pixel-corner boxes (N, 4) as world polygons through a (possibly rotated) Affine.

    Four corners each, in the order GDAL draws a pixel block, so a rotated raster's boxes
    stay rotated rectangles on the map.
    """
    if len(boxes) == 0:
        return np.empty(0, object)
    xs = np.stack([boxes[:, 0], boxes[:, 2], boxes[:, 2], boxes[:, 0]], axis=1)
    ys = np.stack([boxes[:, 1], boxes[:, 1], boxes[:, 3], boxes[:, 3]], axis=1)
    t = transform
    wx, wy = t.a * xs + t.b * ys + t.c, t.d * xs + t.e * ys + t.f
    return shapely.polygons(np.stack([wx, wy], axis=-1))


def overlapping_pairs(dets: np.ndarray, truths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(det_index, truth_index, iou) for every pair with IoU > 0, via an STR-tree on the truths."""
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))
    if len(dets) == 0 or len(truths) == 0:
        return empty
    tree = shapely.STRtree(shapely.box(truths[:, 0], truths[:, 1], truths[:, 2], truths[:, 3]))
    query = shapely.box(dets[:, 0], dets[:, 1], dets[:, 2], dets[:, 3])
    det_idx, truth_idx = tree.query(query, predicate="intersects")
    if len(det_idx) == 0:
        return empty
    iou = pair_iou(dets[det_idx], truths[truth_idx])
    keep = iou > 0  # boxes that only touch along an edge
    return det_idx[keep].astype(np.int64), truth_idx[keep].astype(np.int64), iou[keep]
