"""Hard-negative mining: where a detector fires on a real scene that holds no piles.

Every detection on a pre-event (pile-free) training background is a false alarm, and the spot
that raised it is exactly what the model has not yet learnt to leave alone: a car park, a roof's
clutter, a heap of building sand. `write_chips` centres a share of its empty chips on these
spots, so the next model is trained on the real things its predecessor confused with piles
(bootstrapping, as in Dalal & Triggs 2005 and Felzenszwalb et al. 2010). Mined only on training
backgrounds; the held-out scenes the benchmarks count false alarms on are never looked at.

Only onnxruntime is needed (the base install), so a dataset can be mined where detect runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

BATCH = 8


def mine_false_alarms(rgb: np.ndarray, valid: np.ndarray, model_path: str | Path, gsd: float,
                      score: float | None = None, threads: int = 1) -> np.ndarray:
    """(N, 3) float array of x, y (scene pixels) and score of every detection the model raises on
    `rgb` ((H, W, 3) DN 0-255 at `gsd`), highest score first, duplicates across tiles merged.

    score: the lowest score kept (default: the model's operating threshold, i.e. what it would
    report). The scene must be at the model's GSD: a model run at another scale fires elsewhere.
    """
    from debrismap.detect.decode import decode_batch
    from debrismap.detect.nms import nms
    from debrismap.detect.preprocess import Preprocessor
    from debrismap.detect.session import ModelSession
    from debrismap.errors import ModelError
    from debrismap.raster import TileGrid

    session = ModelSession(model_path, device="cpu", threads=threads)
    meta, size = session.metadata, session.input_size
    if meta.gsd_m and abs(meta.gsd_m - gsd) > 0.01 * gsd:
        raise ModelError(f"expects {meta.gsd_m} m pixels, the scene is at {gsd} m", path=Path(model_path))
    threshold = meta.score_threshold if score is None else score
    prep = Preprocessor(meta)
    pixels = np.clip(np.round(rgb), 0, 255).astype(np.uint8).transpose(2, 0, 1)  # as the chips are saved
    H, W = valid.shape
    overlap = size // 4  # a spot cut by one tile's edge is seen whole by its neighbour
    origins = [(int(t.window.col_off), int(t.window.row_off)) for t in TileGrid(W, H, size, overlap)]
    boxes, scores = [], []
    for start in range(0, len(origins), BATCH):
        part = origins[start:start + BATCH]
        batch = np.zeros((len(part), 3, size, size), np.float32)
        for i, (x, y) in enumerate(part):
            tile = pixels[:, y:y + size, x:x + size]
            h, w = tile.shape[1:]
            prep(tile, valid[y:y + size, x:x + size], out=batch[i, :, :h, :w])
        dets = decode_batch(session.run(batch), threshold, meta.nms_iou, meta.head)
        for i, (x, y) in enumerate(part):
            mine = dets.slot == i
            b = dets.boxes[mine]
            # a box cut by an inner tile edge is a partial view (shifted, smaller): the neighbour
            # tile, which overlaps by `overlap`, sees that spot whole
            whole = (((b[:, 0] > 0.5) | (x == 0)) & ((b[:, 1] > 0.5) | (y == 0))
                     & ((b[:, 2] < size - 0.5) | (x + size >= W)) & ((b[:, 3] < size - 0.5) | (y + size >= H)))
            boxes.append(b[whole] + np.array([x, y, x, y], np.float32))
            scores.append(dets.scores[mine][whole])
    if not boxes or not sum(len(b) for b in boxes):
        return np.zeros((0, 3))
    b, s = np.concatenate(boxes), np.concatenate(scores)
    keep = nms(b, s, 0.3)
    b, s = b[keep], s[keep]
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    inside = valid[np.clip(cy.astype(int), 0, H - 1), np.clip(cx.astype(int), 0, W - 1)]
    out = np.stack([cx, cy, s], 1)[inside]
    return out[np.argsort(-out[:, 2], kind="stable")]

