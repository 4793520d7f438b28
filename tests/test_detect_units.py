"""Unit tests of detect's pure-numpy parts: NMS, decoding, coverage counts, preprocessing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from debrismap.detect.coverage import CELL, CoverageGrid, core_cell_counts
from debrismap.detect.decode import decode_batch
from debrismap.detect.nms import nms
from debrismap.detect.preprocess import FILL_VALUE, Preprocessor
from debrismap.model.metadata import ModelMetadata


def greedy_nms_reference(boxes, scores, iou, groups):
    """The textbook loop, as the specification the vectorised version must match."""
    order = np.lexsort((boxes[:, 1], boxes[:, 0], -scores))
    keep = []
    for i in order:
        ok = True
        for j in keep:
            if groups[i] != groups[j]:
                continue
            a, b = boxes[i], boxes[j]
            iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
            ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
            inter = iw * ih
            union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
            if union > 0 and inter / union > iou:
                ok = False
                break
        if ok:
            keep.append(i)
    return sorted(keep)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 40),
    seed=st.integers(0, 2**31 - 1),
    iou=st.sampled_from([0.1, 0.3, 0.5, 0.7]),
    ngroups=st.integers(1, 3),
)
def test_nms_matches_textbook_greedy(n, seed, iou, ngroups):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 50, (n, 2))
    wh = rng.uniform(2, 20, (n, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1)
    scores = rng.choice([0.3, 0.5, 0.9], n) if seed % 2 else rng.uniform(0, 1, n)  # ties too
    groups = rng.integers(0, ngroups, n)
    assert sorted(nms(boxes, scores, iou, groups).tolist()) == greedy_nms_reference(boxes, scores, iou, groups)


def test_nms_large_set_uses_tree_and_agrees():
    rng = np.random.default_rng(1)
    n = 2500  # above the dense limit: STR-tree pairs
    xy = rng.uniform(0, 2000, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 40, (n, 2))], axis=1)
    scores = rng.uniform(0, 1, n)
    groups = np.zeros(n, int)
    from debrismap.geometry import boxes as boxes_module

    tree = sorted(nms(boxes, scores, 0.4, groups).tolist())
    limit = boxes_module.DENSE_LIMIT
    boxes_module.DENSE_LIMIT = 10**6
    try:
        dense = sorted(nms(boxes, scores, 0.4, groups).tolist())
    finally:
        boxes_module.DENSE_LIMIT = limit
    assert tree == dense
    assert len(tree) < n


def test_decode_thresholds_converts_and_picks_class():
    out = np.zeros((2, 6, 4), np.float32)  # 2 tiles, 2 classes, 4 anchors
    out[:, 0:4, :] = np.array([10, 20, 4, 6], np.float32)[:, None]
    out[0, 4, 0] = 0.8  # tile 0 anchor 0: class 0
    out[1, 5, 2] = 0.6  # tile 1 anchor 2: class 1
    out[1, 4, 3] = 0.1  # below threshold
    dets = decode_batch(out, 0.25, 0.5)
    assert len(dets) == 2
    assert dets.slot.tolist() == [0, 1]
    assert dets.classes.tolist() == [0, 1]
    np.testing.assert_allclose(dets.boxes[0], [8, 17, 12, 23])
    np.testing.assert_allclose(dets.scores, [0.8, 0.6])


def test_decode_suppresses_within_a_tile_not_across():
    out = np.zeros((2, 5, 2), np.float32)
    out[:, 0:4, :] = np.array([10, 10, 8, 8], np.float32)[:, None]  # identical boxes everywhere
    out[:, 4, :] = [[0.9, 0.8], [0.7, 0.95]]
    dets = decode_batch(out, 0.25, 0.5)
    assert sorted((int(t), round(float(s), 2)) for t, s in zip(dets.slot, dets.scores)) == [(0, 0.9), (1, 0.95)]


@pytest.mark.parametrize("core", [(0, 0, 50, 37), (13, 7, 64, 64), (5, 30, 21, 31)])
def test_core_cell_counts_sum_to_valid_pixels(core):
    rng = np.random.default_rng(3)
    valid = rng.random((64, 64)) > 0.3
    iy0, ix0, counts = core_cell_counts(valid, (0, 0), core)
    x0, y0, x1, y1 = core
    assert counts.sum() == valid[y0:y1, x0:x1].sum()
    assert (iy0, ix0) == (y0 // CELL, x0 // CELL)
    # all valid (the shortcut without a pass over pixels) == the same mask counted cell by cell
    _, _, full = core_cell_counts(np.ones((64, 64), bool), (0, 0), core)
    _, _, almost = core_cell_counts(np.pad(np.ones((64, 64), bool)[1:], ((0, 1), (0, 0))), (0, 0), core)
    ones = np.ones((64, 64), np.int32)
    brute = np.array([[ones[max(y0, cy * CELL):min(y1, (cy + 1) * CELL), max(x0, cx * CELL):min(x1, (cx + 1) * CELL)].sum()
                       for cx in range(ix0, ix0 + full.shape[1])] for cy in range(iy0, iy0 + full.shape[0])])
    assert np.array_equal(full, brute) and full.sum() == (x1 - x0) * (y1 - y0)
    assert almost.sum() == (x1 - x0) * (min(y1, 63) - y0)  # last row invalid: the counting path


def test_coverage_grid_partition_and_polygon():
    from affine import Affine

    from debrismap.raster import TileGrid

    width, height = 150, 100
    valid = np.ones((height, width), bool)
    valid[:, 100:] = False
    grid = TileGrid(width, height, 64, 16)
    cov = CoverageGrid(width, height)
    for tile in grid:
        w = tile.window
        padded = np.zeros((64, 64), bool)
        r0, c0 = int(w.row_off), int(w.col_off)
        part = valid[r0 : r0 + 64, c0 : c0 + 64]
        padded[: part.shape[0], : part.shape[1]] = part
        cov.add(*core_cell_counts(padded, (c0, r0), tile.core_bounds))
    assert cov.counts.sum() == valid.sum()
    poly = cov.polygon(Affine(1, 0, 0, 0, -1, 0))
    assert poly.area == pytest.approx(valid.sum(), rel=0.05)


def test_preprocess_normalises_and_fills_masked_pixels():
    meta = ModelMetadata(classes=("debris",), input_size=4, gsd_m=0.5,
                         normalization={"type": "scale", "divisor": 255.0, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]})
    pixels = np.full((3, 4, 4), 255, np.uint8)  # band first, as detect reads tiles
    pixels[2] = 0  # blue stays blue: no band is mixed up with a row or column
    valid = np.ones((4, 4), bool)
    valid[0, 0] = False
    x = Preprocessor(meta)(pixels, valid)
    assert x.shape == (3, 4, 4) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 1, 1], [1.0, 1.0, -1.0], atol=1e-6)
    np.testing.assert_allclose(x[:, 0, 0], (FILL_VALUE / 255 - 0.5) / 0.5, atol=1e-6)


def test_band_first_read_is_the_transposed_tile(tmp_path):
    """detect reads tiles band first; the pixels and the padding beyond the raster must agree."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    from debrismap.raster import open_raster

    path = tmp_path / "r.tif"
    data = np.random.default_rng(0).integers(0, 255, (3, 40, 50), dtype=np.uint8)
    with rasterio.open(path, "w", driver="GTiff", width=50, height=40, count=3, dtype="uint8",
                       crs="EPSG:32633", transform=from_origin(500000, 4000000, 0.5, 0.5)) as dst:
        dst.write(data)
    with open_raster(path) as src:
        view = src.at_gsd(0.5)
        for window in (Window(5, 5, 16, 16), Window(40, 30, 16, 16)):  # inside; over the edge
            hwc = view.read(window)
            chw = view.read(window, band_first=True)
            np.testing.assert_array_equal(chw.pixels, hwc.pixels.transpose(2, 0, 1))
            np.testing.assert_array_equal(chw.valid, hwc.valid)
        assert not chw.valid.all()


def test_decode_caps_candidates_per_tile_by_score():
    from debrismap.detect import decode as decode_module

    rng = np.random.default_rng(5)
    a = 500
    out = np.zeros((2, 5, a), np.float32)
    out[:, 0] = rng.uniform(0, 600, a)  # scattered boxes: NMS removes few
    out[:, 1] = rng.uniform(0, 600, a)
    out[:, 2:4] = 4
    out[:, 4] = rng.uniform(0.5, 1.0, (2, a))
    old = decode_module.MAX_CANDIDATES_PER_TILE, decode_module.MAX_DETECTIONS_PER_TILE
    decode_module.MAX_CANDIDATES_PER_TILE, decode_module.MAX_DETECTIONS_PER_TILE = 100, 50
    try:
        dets = decode_batch(out, 0.25, 0.5)
    finally:
        decode_module.MAX_CANDIDATES_PER_TILE, decode_module.MAX_DETECTIONS_PER_TILE = old
    assert np.bincount(dets.slot).tolist() == [50, 50]
    for t in (0, 1):  # the best ones survive
        best = np.sort(out[t, 4])[::-1][:50]
        np.testing.assert_allclose(np.sort(dets.scores[dets.slot == t])[::-1], best)


@pytest.mark.parametrize("streams", [1, 2, 3])
def test_pipeline_hands_batches_on_in_plan_order_whatever_finishes_first(streams):
    import threading
    import time

    from debrismap.detect.pipeline import PreparedTile, run_pipeline

    batches = [[i, i + 1] for i in range(0, 20, 2)]
    running, peak, lock = [0], [0], threading.Lock()

    def prepare(i):
        return PreparedTile(i, np.full((1, 2, 2), i, np.float32), np.ones((2, 2), bool))

    def infer(x):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.03 if int(x[0, 0, 0, 0]) % 4 == 0 else 0.001)  # early batches finish last
        with lock:
            running[0] -= 1
        return x.reshape(len(x), -1)[:, :1].copy()

    seen = []

    def handle(batch_id, tiles, output):
        seen.append((batch_id, [t.index for t in tiles], output[:, 0].astype(int).tolist()))

    run_pipeline(batches, list(range(len(batches))), prepare, infer, handle, (1, 2, 2), 2, streams=streams)
    assert [s[0] for s in seen] == list(range(len(batches)))
    assert all(s[1] == s[2] == batches[s[0]] for s in seen)  # each output is its own batch's
    assert peak[0] <= streams and (peak[0] > 1) == (streams > 1)  # concurrent, never more than asked
