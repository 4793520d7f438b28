"""Training's validation metrics: ultralytics' IoU-first matching, evaluate's precision/recall."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from debrismap.evaluate.matching import greedy_match
from debrismap.geometry.boxes import overlapping_pairs
from debrismap.train.metrics import DetectionStats, match_predictions, summarize


def test_matching_pairs_by_iou_where_evaluate_pairs_by_score():
    """Two predictions on one target: training credits the tighter box, evaluate the surer one."""
    truth = np.array([[0.0, 0.0, 10.0, 10.0]])
    pred = np.array([[0.0, 0.0, 10.0, 6.5], [0.0, 0.0, 10.0, 9.5]])  # IoU 0.65 (score 0.9), 0.95 (score 0.5)
    scores = np.array([0.9, 0.5])
    correct = match_predictions(torch.from_numpy(pred), torch.zeros(2), torch.from_numpy(truth), torch.zeros(1))
    assert correct[:, 0].tolist() == [False, True]
    assert greedy_match(scores, 1, *overlapping_pairs(pred, truth), 0.5).tolist() == [0, -1]


def test_precision_and_recall_at_the_operating_threshold():
    stats = DetectionStats()
    pred = torch.tensor([[0, 0, 10, 10, 0.9, 0], [20, 20, 30, 30, 0.8, 0], [40, 40, 50, 50, 0.1, 0]], dtype=torch.float32)
    truth = torch.tensor([[0, 0, 10, 10], [60, 60, 70, 70]], dtype=torch.float32)
    stats.add(pred, truth, torch.zeros(2))
    out = summarize(*stats.arrays(), score_threshold=0.5)
    assert out["precision"] == pytest.approx(0.5) and out["recall"] == pytest.approx(0.5)
    empty = summarize(np.zeros((0, 10), bool), np.zeros(0), np.zeros(0), np.zeros(0), 0.5)
    assert (empty["precision"], empty["recall"]) == (0.0, 0.0)  # undefined reads 0.0, as before
