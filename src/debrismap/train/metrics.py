"""Detection metrics for validation: match predictions to targets, AP via ultralytics' ap_per_class.

The matching is ultralytics' validator's, not `debrismap.evaluate.matching.greedy_match`: it
pairs by IoU (highest first), not by score, so which prediction of two on one target counts
as the true positive can differ, and with it the AP that training reports and compares to
ultralytics. Precision and recall at the operating threshold are evaluate's `prf`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from ultralytics.utils.metrics import ap_per_class, box_iou

from debrismap.evaluate.matching import prf

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)


def match_predictions(
    pred_boxes: torch.Tensor,
    pred_cls: torch.Tensor,
    true_boxes: torch.Tensor,
    true_cls: torch.Tensor,
) -> np.ndarray:
    """(n_pred, 10) bool: is each prediction a true positive at IoU 0.5, 0.55, ... 0.95.

    Greedy by IoU, one target per prediction and vice versa (as ultralytics' validator does).
    """
    correct = np.zeros((len(pred_boxes), len(IOU_THRESHOLDS)), dtype=bool)
    if len(pred_boxes) == 0 or len(true_boxes) == 0:
        return correct
    iou = box_iou(true_boxes.float(), pred_boxes.float()).cpu().numpy()  # (n_true, n_pred)
    iou = iou * (true_cls.view(-1, 1) == pred_cls.view(1, -1)).cpu().numpy()
    for i, threshold in enumerate(IOU_THRESHOLDS):
        ti, pi = np.nonzero(iou >= threshold)
        if not len(ti):
            continue
        matches = np.stack([ti, pi], 1)
        order = np.argsort(-iou[ti, pi], kind="stable")
        matches = matches[order]
        matches = matches[np.unique(matches[:, 1], return_index=True)[1]]
        order = np.argsort(-iou[matches[:, 0], matches[:, 1]], kind="stable")
        matches = matches[order]
        matches = matches[np.unique(matches[:, 0], return_index=True)[1]]
        correct[matches[:, 1], i] = True
    return correct


@dataclass
class DetectionStats:
    """Accumulates per-image matches over a validation epoch."""

    correct: list = field(default_factory=list)
    conf: list = field(default_factory=list)
    pred_cls: list = field(default_factory=list)
    target_cls: list = field(default_factory=list)

    def add(self, pred: torch.Tensor, true_boxes: torch.Tensor, true_cls: torch.Tensor) -> None:
        """pred: (n, 6) x0 y0 x1 y1 score class from NMS; true boxes in the same pixel space."""
        self.correct.append(match_predictions(pred[:, :4], pred[:, 5], true_boxes, true_cls))
        self.conf.append(pred[:, 4].float().cpu().numpy())
        self.pred_cls.append(pred[:, 5].float().cpu().numpy())
        self.target_cls.append(true_cls.float().cpu().numpy().reshape(-1))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        def cat(xs, shape):
            return np.concatenate(xs) if xs else np.zeros(shape)

        return (
            cat(self.correct, (0, len(IOU_THRESHOLDS))).astype(bool),
            cat(self.conf, (0,)),
            cat(self.pred_cls, (0,)),
            cat(self.target_cls, (0,)),
        )


def summarize(
    correct: np.ndarray,
    conf: np.ndarray,
    pred_cls: np.ndarray,
    target_cls: np.ndarray,
    score_threshold: float,
) -> dict[str, float]:
    """mAP50, mAP50-95 (all scores) and precision/recall at IoU 0.5 at the operating threshold."""
    n_targets = len(target_cls)
    out = {"mAP50": 0.0, "mAP50-95": 0.0, "precision": 0.0, "recall": 0.0}
    if n_targets and len(conf):
        ap = ap_per_class(correct, conf, pred_cls, target_cls)[5]  # (n_classes, 10)
        if len(ap):
            out["mAP50"] = float(ap[:, 0].mean())
            out["mAP50-95"] = float(ap.mean())
    kept = conf >= score_threshold
    at_threshold = prf(int(correct[kept, 0].sum()) if len(conf) else 0, int(kept.sum()), n_targets)
    # undefined (no detections, or no targets) reads 0.0 in the training log
    out["precision"] = at_threshold["precision"] or 0.0
    out["recall"] = at_threshold["recall"] or 0.0
    return out
