"""Parity: does an ONNX file give the torch model's boxes? Checked before an export is kept.

Two views of the same batch: the boxes torch keeps after NMS, read at the same anchors of the
ONNX output (IoU and score of each twin), and both models through NMS independently at the
operating threshold, matched one to one with evaluate's greedy matcher (same class only).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from debrismap.errors import ModelError
from debrismap.evaluate.matching import greedy_match
from debrismap.geometry.boxes import iou_matrix, pair_iou
from debrismap.model.cpu_runner import run_on_cpu


@dataclass(frozen=True)
class Tolerance:
    """How close the ONNX model must be to the torch model."""

    raw_rel: float  # raw outputs: box rows max|diff| / max|box|, probability rows max|diff|
    box_iou: float  # every matched box after NMS at least this IoU
    score_abs: float  # and its score within this


FP32_TOLERANCE = Tolerance(raw_rel=1e-3, box_iou=0.99, score_abs=1e-3)
FP16_TOLERANCE = Tolerance(raw_rel=2e-2, box_iou=0.9, score_abs=2e-2)


def nms(raw: np.ndarray, conf: float, iou: float) -> list[np.ndarray]:
    """ultralytics' NMS of an (N, 4 + nc, A) output: per image (k, 6) x0 y0 x1 y1 score class."""
    import torch
    from ultralytics.utils.nms import non_max_suppression

    return [d.numpy() for d in non_max_suppression(torch.from_numpy(raw).float(), conf, iou, max_det=300)]


def match_detections(ref: list, test: list, iou_min: float = 0.5) -> dict:
    """Greedy one-to-one matching of two detectors' boxes per image (same class, by IoU).

    The most confident reference boxes pick first; each test box matches once.
    """
    matched = n_ref = n_test = 0
    ious, dscores = [], []
    for r, t in zip(ref, test):
        n_ref, n_test = n_ref + len(r), n_test + len(t)
        if not len(r) or not len(t):
            continue
        iou = iou_matrix(r[:, :4], t[:, :4]) * (r[:, None, 5] == t[None, :, 5])
        ri, ti = np.nonzero(iou > 0)
        twin = greedy_match(r[:, 4], len(t), ri, ti, iou[ri, ti], iou_min)
        hit = np.flatnonzero(twin >= 0)
        matched += len(hit)
        ious.extend(iou[hit, twin[hit]].tolist())
        dscores.extend(np.abs(r[hit, 4] - t[twin[hit], 4]).tolist())
    return {
        "ref_boxes": n_ref,
        "test_boxes": n_test,
        "matched": matched,
        "min_iou": float(min(ious)) if ious else 1.0,
        "max_score_diff": float(max(dscores)) if dscores else 0.0,
    }


def _xywh_to_xyxy(b: np.ndarray) -> np.ndarray:
    return np.concatenate([b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2], 1)


def _same_anchor_agreement(ref: np.ndarray, got: np.ndarray, conf: float, iou: float) -> tuple:
    """(min IoU, max |dscore|, count) between torch's NMS-kept boxes and ONNX at the same anchors."""
    import torch
    from ultralytics.utils.nms import non_max_suppression

    dets, keep = non_max_suppression(
        torch.from_numpy(ref).float(), conf, iou, max_det=300, return_idxs=True
    )
    ious, dscores, n = [1.0], [0.0], 0
    for i, (det, idx) in enumerate(zip(dets, keep)):
        idx = idx.long().numpy()
        if not len(idx):
            continue
        n += len(idx)
        twin = got[i][:, idx].T  # (k, 4 + nc)
        twin_boxes = _xywh_to_xyxy(twin[:, :4])
        twin_scores = twin[np.arange(len(idx)), 4 + det[:, 5].long().numpy()]
        ious.append(float(pair_iou(det[:, :4].numpy(), twin_boxes).min()))
        dscores.append(float(np.abs(det[:, 4].numpy() - twin_scores).max()))
    return min(ious), max(dscores), n


def check_parity(
    model, onnx_path: Path, batch: np.ndarray, hp, tol: Tolerance, source: str
) -> dict:
    """Compare the ONNX file with the torch model on a batch; ModelError if they disagree."""
    import torch

    with torch.no_grad():
        ref = model(torch.from_numpy(batch)).numpy()
    try:
        got = run_on_cpu(onnx_path, batch)[0]
    except Exception as exc:
        raise ModelError(
            f"onnxruntime cannot run the exported model ({str(exc).splitlines()[0]})",
            path=onnx_path,
        ) from exc
    if got.shape != ref.shape:
        raise ModelError(
            f"ONNX output shape {got.shape} differs from torch {ref.shape}", path=onnx_path
        )
    # boxes relative to their pixel magnitude, probabilities (already in [0, 1]) absolutely
    box_rel = np.abs(got[:, :4] - ref[:, :4]).max() / max(1.0, float(np.abs(ref[:, :4]).max()))
    max_rel = float(max(box_rel, np.abs(got[:, 4:] - ref[:, 4:]).max()))
    # compare at a low score floor so the check sees more than the few confident boxes (an
    # undertrained model may have none above 0.05): at most ~50 candidates per image
    best = ref[:, 4:, :].max(axis=1)
    k = min(50, best.shape[1])
    conf = float(np.clip(np.sort(best, axis=1)[:, -k].min(), 1e-4, min(0.05, hp.score_threshold)))
    # 1. the boxes torch keeps after NMS, read at the same anchors of the ONNX output
    anchor_iou, anchor_dscore, n_kept = _same_anchor_agreement(ref, got, conf, hp.nms_iou)
    # 2. both models through NMS independently at the operating threshold: the same detections?
    ref_det = nms(ref, hp.score_threshold, hp.nms_iou)
    got_det = nms(got, hp.score_threshold, hp.nms_iou)
    m = match_detections(ref_det, got_det, iou_min=0.5)
    result = {
        "source": source,
        "images": int(batch.shape[0]),
        "max_rel_diff": max_rel,
        "score_floor": conf,
        "kept_boxes": n_kept,
        "min_iou": anchor_iou,
        "max_score_diff": anchor_dscore,
        "torch_boxes": m["ref_boxes"],
        "onnx_boxes": m["test_boxes"],
        "matched": m["matched"],
        "tolerance": asdict(tol),
    }
    # a box whose score sits right at the threshold may fall on either side: one per image
    slack = batch.shape[0]
    problems = []
    if max_rel > tol.raw_rel:
        problems.append(f"raw outputs differ by {max_rel:.2e} (> {tol.raw_rel:g} relative)")
    if anchor_iou < tol.box_iou:
        problems.append(f"a kept box has IoU {anchor_iou:.4f} with its ONNX twin (< {tol.box_iou})")
    if anchor_dscore > tol.score_abs:
        problems.append(f"a kept box's score differs by {anchor_dscore:.2e} (> {tol.score_abs:g})")
    if m["matched"] + slack < max(m["ref_boxes"], m["test_boxes"]):
        problems.append(
            f"at score {hp.score_threshold} ONNX finds {m['test_boxes']} boxes, torch {m['ref_boxes']}, "
            f"only {m['matched']} match"
        )
    if problems:
        raise ModelError("parity check failed: " + "; ".join(problems), path=onnx_path)
    return result
