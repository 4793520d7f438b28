"""How well an exported ONNX detector does on a chip dataset's val split, measured on the file itself.

`debrismap export` stores the result in the model (`debrismap.validation`), `detect` copies it
into run.json, and the heatmap's summary uses it for its precision-corrected count. Measuring
the ONNX file rather than trusting the training log means the numbers describe exactly the
model that users run, after fusion, export and any quantisation. numpy + onnxruntime only; the
matching is evaluate's (greedy one-to-one, best score first, as COCO and VOC do).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from debrismap.detect.decode import decode_batch
from debrismap.detect.preprocess import Preprocessor
from debrismap.detect.session import ModelSession
from debrismap.errors import DatasetError
from debrismap.evaluate.matching import greedy_match
from debrismap.geometry.boxes import overlapping_pairs
from debrismap.labels.yolo import read_yolo

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}
F1_CANDIDATES = tuple(round(0.05 * k, 2) for k in range(1, 15))


def match_to_truth(pred: np.ndarray, scores: np.ndarray, truth: np.ndarray, iou: float) -> np.ndarray:
    """For each predicted box, the index of the truth box it matched, or -1 (a false positive)."""
    det_idx, truth_idx, pair_iou = overlapping_pairs(pred, truth)
    return greedy_match(scores, len(truth), det_idx, truth_idx, pair_iou, iou)


def validate_onnx(model_path: str | Path, dataset_dir: str | Path, iou: float = 0.5,
                  batch_size: int = 16, max_images: int | None = None) -> dict:
    """Precision, recall and F1 at the model's own score threshold on `dataset_dir/images/val`."""
    return _scores_at(model_path, dataset_dir, None, iou, batch_size, max_images)[0]


def best_f1_threshold(model_path: str | Path, dataset_dir: str | Path, iou: float = 0.5,
                      candidates=F1_CANDIDATES) -> tuple[float, list[dict]]:
    """The score threshold with the best F1 on the val split, and the scores at every candidate.

    One pass at the lowest candidate serves all of them: greedy NMS never lets a lower score
    suppress a higher one, so NMS at a low threshold filtered to `t` equals NMS at `t`; and
    greedy matching by score never lets a lower score take a higher one's truth either.
    """
    table = _scores_at(model_path, dataset_dir, tuple(sorted(candidates)), iou, 16, None)
    best = max(table, key=lambda row: (row["f1"], row["score_threshold"]))
    return float(best["score_threshold"]), table


def _truth_boxes(label_path: Path, width: int, height: int) -> np.ndarray:
    """(N, 4) pixel corner boxes of a chip's normalised YOLO file (a missing file = no piles)."""
    if not label_path.exists():
        return np.empty((0, 4))
    return read_yolo(label_path, image_size=(width, height), fmt="normalised", allow_empty=True).xyxy


def val_batches(images: list[Path], dataset_dir: Path, prep: Preprocessor, size: int, batch_size: int):
    """(batch (N, 3, size, size) float32, truth boxes per chip) for the val chips `images`:
    each chip preprocessed into the top-left of a zero tile, its labels as pixel corner boxes."""
    for start in range(0, len(images), batch_size):
        paths = images[start : start + batch_size]
        batch = np.zeros((len(paths), 3, size, size), np.float32)
        truths = []
        for i, path in enumerate(paths):
            pixels = np.asarray(Image.open(path).convert("RGB"))[:size, :size].transpose(2, 0, 1)  # band first
            h, w = pixels.shape[1:]
            prep(pixels, np.ones((h, w), bool), out=batch[i, :, :h, :w])
            truths.append(_truth_boxes(Path(dataset_dir) / "labels" / "val" / (path.stem + ".txt"), w, h))
        yield batch, truths


def _scores_at(model_path, dataset_dir, thresholds, iou, batch_size, max_images) -> list[dict]:
    dataset_dir = Path(dataset_dir)
    images = sorted(p for p in (dataset_dir / "images" / "val").glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if max_images:
        images = images[:max_images]
    if not images:
        raise DatasetError("has no val images (images/val/)", path=dataset_dir)
    session = ModelSession(model_path, device="cpu")
    meta, size = session.metadata, session.input_size
    thresholds = thresholds or (meta.score_threshold,)
    prep = Preprocessor(meta)
    tp = np.zeros(len(thresholds), int)
    n_pred = np.zeros(len(thresholds), int)
    n_true = 0
    for batch, truths in val_batches(images, dataset_dir, prep, size, batch_size):
        dets = decode_batch(session.run(batch), min(thresholds), meta.nms_iou, meta.head)
        for i, truth in enumerate(truths):
            n_true += len(truth)
            mine = dets.slot == i
            scores = dets.scores[mine]
            matched = match_to_truth(dets.boxes[mine], scores, truth, iou) >= 0
            for k, t in enumerate(thresholds):
                kept = scores >= t
                tp[k] += int((matched & kept).sum())
                n_pred[k] += int(kept.sum())
    rows = []
    for k, t in enumerate(thresholds):
        precision = tp[k] / n_pred[k] if n_pred[k] else 1.0
        recall = tp[k] / n_true if n_true else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({
            "split": "val", "dataset": str(dataset_dir), "images": len(images), "true_boxes": n_true,
            "detections": int(n_pred[k]), "iou": iou, "score_threshold": float(t),
            "precision": round(float(precision), 4), "recall": round(float(recall), 4), "f1": round(float(f1), 4),
        })
    return rows
