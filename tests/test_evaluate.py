"""Metric arithmetic of debrismap.evaluate on hand-made boxes (no files)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from debrismap.evaluate import EvaluationOptions, evaluate_boxes
from debrismap.evaluate.counting import bootstrap_ci, count_metrics
from debrismap.evaluate.matching import average_precision, greedy_match
from debrismap.geometry.boxes import iou_matrix, overlapping_pairs


def grid_boxes(n: int, side: float = 5.0, spacing: float = 20.0) -> np.ndarray:
    """n non-overlapping square boxes on a row-major grid."""
    i = np.arange(n)
    x, y = (i % 10) * spacing, (i // 10) * spacing
    return np.column_stack([x, y, x + side, y + side]).astype(float)


def run(dets, scores, truths, area=None, **kw):
    return evaluate_boxes(np.asarray(dets, float).reshape(-1, 4), np.asarray(scores, float),
                          np.asarray(truths, float).reshape(-1, 4), area, EvaluationOptions(**kw))


def test_perfect_detections_score_one_everywhere():
    truths = grid_boxes(30)
    area = shapely.box(0, 0, 200, 60)
    m = run(truths, np.linspace(0.9, 0.5, 30), truths, area, cell=50, resamples=200)
    op = m["operating_point"]
    assert op["precision"] == op["recall"] == op["f1"] == 1.0
    assert m["ap50"] == pytest.approx(1.0) and m["ap50_95"] == pytest.approx(1.0)
    c = m["counting"]
    assert c["mae"]["value"] == 0 and c["bias"]["value"] == 0 and c["total"]["error"] == 0
    assert c["mae"]["ci95"] == (0.0, 0.0)


def test_two_hits_and_one_false_positive():
    truths = grid_boxes(3)
    dets = np.vstack([truths[:2], [[500, 500, 505, 505]]])
    op = run(dets, [0.9, 0.8, 0.7], truths)["operating_point"]
    assert (op["tp"], op["fp"], op["fn"]) == (2, 1, 1)
    assert op["precision"] == pytest.approx(2 / 3) and op["recall"] == pytest.approx(2 / 3)
    assert op["f1"] == pytest.approx(2 / 3)


def test_iou_threshold_is_inclusive_and_respected():
    truth = [[0, 0, 10, 10]]
    det = [[0, 0, 10, 5]]  # IoU exactly 0.5
    assert run(det, [0.9], truth, iou=0.5)["operating_point"]["tp"] == 1
    assert run(det, [0.9], truth, iou=0.55)["operating_point"]["tp"] == 0
    m = run(det, [0.9], truth, iou=0.3)
    assert m["ap_per_iou"]["0.50"] == pytest.approx(1.0) and m["ap_per_iou"]["0.55"] == 0.0


def test_two_detections_on_one_truth_are_one_tp_and_one_fp():
    truth = [[0, 0, 10, 10]]
    dets = [[0, 0, 10, 10], [0.5, 0, 10.5, 10]]
    m = run(dets, [0.6, 0.9], truth)
    op = m["operating_point"]
    assert (op["tp"], op["fp"], op["fn"]) == (1, 1, 0)
    # The higher-scoring (slightly offset) box is the one that takes the truth.
    d, t, v = overlapping_pairs(np.array(dets, float), np.array(truth, float))
    assert greedy_match(np.array([0.6, 0.9]), 1, d, t, v, 0.5).tolist() == [-1, 0]


def test_detection_takes_the_best_overlapping_free_truth():
    truths = np.array([[0, 0, 10, 10], [2, 0, 12, 10]], float)
    dets = np.array([[2, 0, 12, 10]], float)
    d, t, v = overlapping_pairs(dets, truths)
    assert greedy_match(np.array([0.9]), 2, d, t, v, 0.5).tolist() == [1]


def test_score_threshold_filters_the_operating_point_not_the_ap():
    truths = grid_boxes(2)
    m = run(truths, [0.9, 0.2], truths, score=0.5)
    op = m["operating_point"]
    assert (op["tp"], op["fp"], op["fn"], op["detections"]) == (1, 0, 1, 1)
    assert m["ap50"] == pytest.approx(1.0)


def test_ap_matches_hand_computed_101_point_interpolation():
    # scores 0.9 TP, 0.8 FP, 0.7 TP with 2 truths: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1.
    # Interpolated precision is 1 for r <= 0.5 (51 points) and 2/3 above (50 points).
    ap = average_precision(np.array([0.9, 0.8, 0.7]), np.array([True, False, True]), 2)
    assert ap == pytest.approx((51 * 1.0 + 50 * (2 / 3)) / 101)
    assert average_precision(np.array([]), np.array([], bool), 3) == 0.0
    assert average_precision(np.array([0.5]), np.array([False]), 0) is None


def test_size_bins_split_recall_by_truth_side():
    # sides 2 m (small), 4 m (medium: lower edge inclusive), 10 m (large); only the 4 m one found.
    truths = np.array([[0, 0, 2, 2], [100, 0, 104, 4], [200, 0, 210, 10]], float)
    m = run(truths[1:2], [0.9], truths, unit_m=1.0)
    bins = {b["name"]: b for b in m["sizes"]["bins"]}
    assert [bins[n]["truths"] for n in ("small", "medium", "large")] == [1, 1, 1]
    assert (bins["small"]["recall"], bins["medium"]["recall"], bins["large"]["recall"]) == (0.0, 1.0, 0.0)
    assert bins["medium"]["precision"] == 1.0 and bins["small"]["precision"] is None
    # Half-metre pixels: the same boxes in a pixel frame are half the size in metres.
    halved = {b["name"]: b["truths"] for b in run(truths[1:2], [0.9], truths, unit_m=0.5)["sizes"]["bins"]}
    assert halved == {"small": 2, "medium": 1, "large": 0}


def test_counting_by_hand_on_two_cells():
    area = shapely.box(0, 0, 200, 100)  # two 100 m cells
    truths = np.array([[10, 10, 12, 12], [20, 20, 22, 22], [30, 30, 32, 32], [150, 50, 152, 52]], float)
    dets = np.array([[10, 10, 12, 12], [40, 40, 42, 42], [150, 50, 152, 52], [160, 60, 162, 62]], float)
    c = run(dets, np.full(4, 0.9), truths, area, cell=100, resamples=500)["counting"]
    assert c["cells"] == 2
    assert c["mae"]["value"] == 1.0 and c["bias"]["value"] == 0.0
    assert c["relative_error"]["value"] == pytest.approx(0.5)
    assert c["total"] == {"predicted": 4, "true": 4, "error": 0, "relative_error": 0.0}


def test_counting_ignores_cells_outside_the_evaluated_area():
    area = shapely.box(0, 0, 100, 100)
    c = count_metrics(np.array([[501.0, 501.0]]), np.empty((0, 2)), area, 100.0, resamples=10)
    assert c["cells"] == 1 and c["total"]["predicted"] == 0 and c["outside_area"]["predicted"] == 1


def test_bootstrap_interval_contains_estimate_and_is_deterministic():
    rng = np.random.default_rng(1)
    true = rng.poisson(5, 400)
    pred = true + rng.integers(-2, 3, 400)
    a = bootstrap_ci(pred, true, resamples=2000, seed=7)
    b = bootstrap_ci(pred, true, resamples=2000, seed=7)
    c = bootstrap_ci(pred, true, resamples=2000, seed=8)
    assert a == b and a != c
    mae, bias = np.abs(pred - true).mean(), (pred - true).mean()
    assert a["mae"][0] <= mae <= a["mae"][1] and a["mae"][0] < a["mae"][1]
    assert a["bias"][0] <= bias <= a["bias"][1]
    rel = np.abs(pred - true).sum() / true.sum()
    assert a["relative_error"][0] <= rel <= a["relative_error"][1]


def naive_match(dets, scores, truths, thr):
    """Reference: pycocotools' loop over a dense IoU matrix."""
    ious = iou_matrix(dets, truths)
    taken = np.zeros(len(truths), bool)
    out = np.full(len(dets), -1)
    for d in np.argsort(-scores, kind="stable"):
        best, best_iou = -1, thr - 1e-12
        for t in range(len(truths)):
            if (not taken[t] and ious[d, t] >= best_iou and ious[d, t] > 0
                    and (best == -1 or ious[d, t] > ious[d, best])):
                best, best_iou = t, ious[d, t]
        if best >= 0:
            taken[best] = True
            out[d] = best
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pair_matching_equals_dense_reference(seed):
    rng = np.random.default_rng(seed)
    truths = rng.uniform(0, 60, (40, 2))
    truths = np.column_stack([truths, truths + rng.uniform(3, 9, (40, 2))])
    dets = truths[rng.integers(0, 40, 60)] + rng.normal(0, 1.5, (60, 4))
    dets = np.column_stack([np.minimum(dets[:, 0], dets[:, 2]), np.minimum(dets[:, 1], dets[:, 3]),
                            np.maximum(dets[:, 0], dets[:, 2]), np.maximum(dets[:, 1], dets[:, 3])])
    scores = rng.uniform(0, 1, 60)
    d, t, v = overlapping_pairs(dets, truths)
    for thr in (0.3, 0.5, 0.75):
        assert greedy_match(scores, 40, d, t, v, thr).tolist() == naive_match(dets, scores, truths, thr).tolist()


def test_large_scene_is_fast_and_exact():
    # 40k x 40k boxes: an all-pairs matrix would be 1.6e9 entries; pruning keeps this quick.
    rng = np.random.default_rng(3)
    n = 40_000
    xy = rng.uniform(0, 20_000, (n, 2))
    truths = np.column_stack([xy, xy + 5])
    dets = truths + rng.normal(0, 0.3, (n, 4))
    m = run(dets, rng.uniform(0.3, 1, n), truths, shapely.box(0, 0, 20_000, 20_000), resamples=100)
    assert m["operating_point"]["recall"] > 0.99
    assert m["counting"]["cells"] == 200 * 200


def test_bootstrap_by_distinct_pairs_matches_resampling_cells():
    # The multinomial-over-distinct-(pred, true) shortcut must give the interval that
    # resampling whole cells gives (up to Monte-Carlo noise).
    rng = np.random.default_rng(5)
    true = rng.poisson(3, 300)
    pred = np.maximum(true + rng.integers(-2, 3, 300), 0)
    fast = bootstrap_ci(pred, true, resamples=4000, seed=1)
    idx = np.random.default_rng(2).integers(0, 300, (4000, 300))
    naive_mae = np.abs(pred - true)[idx].mean(axis=1)
    naive_bias = (pred - true)[idx].mean(axis=1)
    for (lo, hi), sample in ((fast["mae"], naive_mae), (fast["bias"], naive_bias)):
        assert lo == pytest.approx(np.percentile(sample, 2.5), abs=0.03)
        assert hi == pytest.approx(np.percentile(sample, 97.5), abs=0.03)


def test_no_detections_and_no_truths_are_defined_not_crashes():
    truths = grid_boxes(4)
    area = shapely.box(0, 0, 100, 100)
    m = run(np.empty((0, 4)), [], truths, area, resamples=50)
    op = m["operating_point"]
    assert (op["precision"], op["recall"], op["f1"], m["ap50"]) == (None, 0.0, 0.0, 0.0)
    assert m["counting"]["total"]["error"] == -4
    # A pre-event scene without piles: recall and AP are undefined, every detection is an FP.
    m = run(truths[:2], [0.9, 0.8], np.empty((0, 4)), area, resamples=50)
    op = m["operating_point"]
    assert (op["precision"], op["recall"], m["ap50"], m["ap50_95"]) == (0.0, None, None, None)
    assert m["counting"]["total"]["relative_error"] is None and m["counting"]["bias"]["value"] > 0
