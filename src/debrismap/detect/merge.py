"""Seam handling: keep-by-core inside each batch, then a light class-aware NMS across tiles.

Keep-by-core removes every duplicate an overlap creates for objects smaller than overlap/2
(both tiles see the whole object; only the one whose core holds the centre keeps it). Larger
objects may be cut differently by two tiles, giving two boxes with different centres; the
cross-tile NMS at the end merges those.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from debrismap.detect.decode import Detections
from debrismap.detect.nms import nms


@dataclass
class TilePlacement:
    """Where one batch slot's tile sits in its raster's view: window offset, grid cell, valid mask."""

    raster: int
    row: int
    col: int
    col_off: int
    row_off: int
    valid: np.ndarray  # (S, S) bool, the tile's valid pixels


def place_and_keep_owned(dets: Detections, tiles: list[TilePlacement], grids: list) -> dict[str, np.ndarray]:
    """Shift tile-local boxes into view pixels; keep those whose centre is in this tile's core and valid."""
    n = len(dets)
    slot = dets.slot
    col_off = np.array([t.col_off for t in tiles], np.float64)[slot]
    row_off = np.array([t.row_off for t in tiles], np.float64)[slot]
    boxes = dets.boxes + np.stack([col_off, row_off, col_off, row_off], axis=1) if n else dets.boxes.reshape(0, 4)
    raster = np.array([t.raster for t in tiles], np.int32)[slot]
    row = np.array([t.row for t in tiles], np.int32)[slot]
    col = np.array([t.col for t in tiles], np.int32)[slot]
    keep = np.zeros(n, bool)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    for r in np.unique(raster):  # one call per raster present in the batch (usually one)
        sel = raster == r
        own_row, own_col = grids[r].core_owner(cx[sel], cy[sel])
        keep[sel] = (own_row == row[sel]) & (own_col == col[sel])
    if n:
        # Drop detections centred on masked pixels (nodata, alpha, padding beyond the raster),
        # and those centred outside their tile (only an edge tile could own them: outside the raster).
        size = tiles[0].valid.shape
        lx = np.floor(cx - col_off).astype(np.int64)
        ly = np.floor(cy - row_off).astype(np.int64)
        inside = (lx >= 0) & (lx < size[1]) & (ly >= 0) & (ly < size[0])
        valid = np.stack([t.valid for t in tiles])
        keep &= inside & valid[slot, np.clip(ly, 0, size[0] - 1), np.clip(lx, 0, size[1] - 1)]
    return {
        "boxes": boxes[keep],
        "scores": dets.scores[keep],
        "classes": dets.classes[keep],
        "raster": raster[keep],
        "tile_row": row[keep],
        "tile_col": col[keep],
    }


def merge_across_tiles(parts: dict[str, np.ndarray], nms_iou: float, num_classes: int) -> np.ndarray:
    """Indices of detections kept after class-aware NMS across tiles, in a canonical order.

    The order (raster, tile row, tile col, descending score, position) does not depend on the
    order shards were produced, so an interrupted-and-resumed run sorts exactly like an unbroken one.
    """
    boxes, scores = parts["boxes"], parts["scores"]
    if len(scores) == 0:
        return np.empty(0, np.intp)
    groups = parts["raster"].astype(np.int64) * num_classes + parts["classes"]
    keep = nms(boxes, scores, nms_iou, groups=groups)
    order = np.lexsort(
        (boxes[keep, 1], boxes[keep, 0], -scores[keep], parts["tile_col"][keep], parts["tile_row"][keep], parts["raster"][keep])
    )
    return keep[order]
