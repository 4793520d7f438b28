"""Validation of an exported model on a chip dataset: exact counts on a case built by hand."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from test_detect_oracle import K, S, build_oracle, draw_squares

from debrismap.errors import DatasetError
from debrismap.export.validation import match_to_truth, validate_onnx
from debrismap.geometry.boxes import iou_matrix


def _chip(root, name, squares, labels):
    (root / "images" / "val").mkdir(parents=True, exist_ok=True)
    (root / "labels" / "val").mkdir(parents=True, exist_ok=True)
    Image.fromarray(draw_squares(S, S, squares).transpose(1, 2, 0)).save(root / "images" / "val" / f"{name}.png")
    lines = [f"0 {(x + K / 2) / S} {(y + K / 2) / S} {K / S} {K / S}\n" for x, y in labels]
    (root / "labels" / "val" / f"{name}.txt").write_text("".join(lines))


def test_precision_and_recall_on_a_known_dataset(tmp_path):
    model = build_oracle(tmp_path / "oracle.onnx")
    data = tmp_path / "chips"
    _chip(data, "a", squares=[(8, 8), (40, 20)], labels=[(8, 8), (40, 20)])  # 2 TP
    _chip(data, "b", squares=[(30, 30)], labels=[])                          # 1 FP (unlabelled square)
    _chip(data, "c", squares=[], labels=[(10, 40)])                          # 1 FN (label, nothing there)
    result = validate_onnx(model, data, batch_size=2)
    assert (result["images"], result["true_boxes"], result["detections"]) == (3, 3, 3)
    assert result["precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert result["recall"] == pytest.approx(2 / 3, abs=1e-4)


def test_matching_is_one_to_one():
    truth = np.array([[0, 0, 10, 10]], float)
    preds = np.array([[0, 0, 10, 10], [0, 0, 10, 9.5]], float)
    assert (match_to_truth(preds, np.array([0.9, 0.8]), truth, 0.5) >= 0).sum() == 1
    assert iou_matrix(truth, truth)[0, 0] == pytest.approx(1.0)


def test_dataset_without_val_images_is_refused(tmp_path):
    model = build_oracle(tmp_path / "oracle.onnx")
    with pytest.raises(DatasetError, match="no val images"):
        validate_onnx(model, tmp_path)


def test_best_f1_threshold_is_the_argmax_of_its_table(tmp_path):
    from debrismap.export.validation import best_f1_threshold

    model = build_oracle(tmp_path / "oracle.onnx")
    data = tmp_path / "chips"
    _chip(data, "a", squares=[(8, 8), (40, 20)], labels=[(8, 8), (40, 20)])
    _chip(data, "b", squares=[(30, 30)], labels=[])
    threshold, table = best_f1_threshold(model, data, candidates=(0.3, 0.6, 0.95, 0.99))
    assert [row["score_threshold"] for row in table] == [0.3, 0.6, 0.95, 0.99]
    detections = [row["detections"] for row in table]
    assert detections == sorted(detections, reverse=True)  # stricter threshold, never more boxes
    best = max(table, key=lambda row: (row["f1"], row["score_threshold"]))
    assert threshold == best["score_threshold"] and best["f1"] > 0
