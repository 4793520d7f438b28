"""Detection and counting metrics for two sets of boxes already in one frame.

Pure numpy on arrays, no files: `evaluate_boxes` is what the CLI, the benchmarks and the tests
all call once inputs are loaded.

Definitions (also in docs/evaluate.md):
- precision / recall / F1 at the operating point: detections with score >= `score`, matched
  one-to-one to truths at IoU >= `iou` (greedy by score).
- AP50 and AP50-95: COCO 101-point interpolated AP over all loaded detections (detect already
  dropped those under its own threshold, so the curve ends there).
- size bins by box side sqrt(w * h) in metres: recall counts truths by *their* size, precision
  counts detections by *their* size; matching is done once on the whole scene.
- counting: see debrismap.evaluate.counting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from debrismap.evaluate.counting import count_metrics
from debrismap.evaluate.matching import (
    COCO_IOUS,
    average_precision,
    greedy_match,
    precision_recall,
    prf,
    sort_pairs,
)
from debrismap.geometry.boxes import box_area, overlapping_pairs

# Box side sqrt(w * h) in metres. Piles of household belongings are mostly 2-6 m across at
# 0.3-0.7 m GSD; rubble of a collapsed house reaches 10-20 m.
SIZE_BINS_M = (("small", 0.0, 4.0), ("medium", 4.0, 8.0), ("large", 8.0, float("inf")))


@dataclass
class EvaluationOptions:
    iou: float = 0.3
    score: float = 0.0
    cell: float = 100.0  # counting cell side in frame units (metres in a world frame)
    unit_m: float | None = 1.0  # metres per frame unit; None: size bins cannot be applied
    resamples: int = 2000
    seed: int = 0
    curve_points: int = 400  # PR curve points kept in the JSON


def evaluate_boxes(
    det_boxes: np.ndarray,
    det_scores: np.ndarray,
    truth_boxes: np.ndarray,
    area=None,
    options: EvaluationOptions | None = None,
) -> dict:
    """All metrics as a JSON-ready dict (see docs/evaluate.md for the layout)."""
    opt = options or EvaluationOptions()
    det_scores = np.asarray(det_scores, dtype=np.float64)
    n_truths = len(truth_boxes)
    d_idx, t_idx, ious = sort_pairs(det_scores, *overlapping_pairs(det_boxes, truth_boxes))

    # Operating point. Greedy matching visits detections by score, so matching all of them and
    # then keeping those >= score is identical to matching only those >= score.
    match_op = greedy_match(det_scores, n_truths, d_idx, t_idx, ious, opt.iou, presorted=True)
    kept = det_scores >= opt.score
    tp_det = kept & (match_op >= 0)
    operating = {"score": opt.score, "iou": opt.iou, "detections": int(kept.sum()), "truths": n_truths}
    operating.update(prf(int(tp_det.sum()), int(kept.sum()), n_truths))

    ap_per_iou = {}
    pr_curves = {}
    for thr in COCO_IOUS:
        is_tp = greedy_match(det_scores, n_truths, d_idx, t_idx, ious, float(thr), presorted=True) >= 0
        ap_per_iou[f"{thr:.2f}"] = average_precision(det_scores, is_tp, n_truths)
        if thr in (0.5,):
            pr_curves["0.50"] = _curve(det_scores, is_tp, n_truths, opt.curve_points)
    is_tp_op = match_op >= 0
    pr_curves[f"{opt.iou:.2f}"] = _curve(det_scores, is_tp_op, n_truths, opt.curve_points)
    aps = [v for v in ap_per_iou.values() if v is not None]

    truth_hit = np.zeros(n_truths, dtype=bool)
    truth_hit[match_op[tp_det]] = True
    sizes = _size_breakdown(det_boxes[kept], tp_det[kept], truth_boxes, truth_hit, opt.unit_m)

    counting = count_metrics(
        _centres(det_boxes[kept]),
        _centres(truth_boxes),
        area,
        opt.cell,
        resamples=opt.resamples,
        seed=opt.seed,
    )
    return {
        "operating_point": operating,
        "ap50": ap_per_iou["0.50"],
        "ap50_95": float(np.mean(aps)) if len(aps) == len(ap_per_iou) else None,
        "ap_per_iou": ap_per_iou,
        "sizes": sizes,
        "counting": counting,
        "pr_curves": pr_curves,
        "detections_loaded": len(det_scores),
    }


def _centres(boxes: np.ndarray) -> np.ndarray:
    return np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2])


def box_side_m(boxes: np.ndarray, unit_m: float) -> np.ndarray:
    return np.sqrt(np.clip(box_area(boxes), 0, None)) * unit_m


def _size_breakdown(
    det_boxes: np.ndarray,
    det_tp: np.ndarray,
    truth_boxes: np.ndarray,
    truth_hit: np.ndarray,
    unit_m: float | None,
) -> dict:
    if unit_m is None:
        return {"note": "frame units unknown (pixel coordinates without a GSD): no size bins", "bins": []}
    det_side = box_side_m(det_boxes, unit_m)
    truth_side = box_side_m(truth_boxes, unit_m)
    bins = []
    for name, lo, hi in SIZE_BINS_M:
        d_in = (det_side >= lo) & (det_side < hi)
        t_in = (truth_side >= lo) & (truth_side < hi)
        n_det, n_truth = int(d_in.sum()), int(t_in.sum())
        precision = float(det_tp[d_in].sum() / n_det) if n_det else None
        recall = float(truth_hit[t_in].sum() / n_truth) if n_truth else None
        f1 = (
            2 * precision * recall / (precision + recall)
            if precision is not None and recall is not None and precision + recall > 0
            else (0.0 if precision is not None and recall is not None else None)
        )
        bins.append(
            {
                "name": name,
                "min_side_m": lo,
                "max_side_m": None if np.isinf(hi) else hi,
                "truths": n_truth,
                "detections": n_det,
                "truths_found": int(truth_hit[t_in].sum()),
                "detections_correct": int(det_tp[d_in].sum()),
                "precision": precision,
                "recall": recall,
                "f1": f1,
            }
        )
    return {"side": "sqrt(width * height) in metres", "bins": bins}


def _curve(scores: np.ndarray, is_tp: np.ndarray, n_truths: int, points: int) -> dict:
    if n_truths == 0 or len(scores) == 0:
        return {"precision": [], "recall": [], "score": []}
    precision, recall, score = precision_recall(scores, is_tp, n_truths)
    keep = np.unique(np.linspace(0, len(score) - 1, min(points, len(score))).round().astype(int))
    return {
        "precision": [round(float(v), 5) for v in precision[keep]],
        "recall": [round(float(v), 5) for v in recall[keep]],
        "score": [round(float(v), 5) for v in score[keep]],
    }
