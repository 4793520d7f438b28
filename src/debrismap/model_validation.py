"""How well an exported ONNX detector does on a chip dataset's val split, measured on the file itself.

`debrismap export` stores the result in the model (`debrismap.validation`), `detect` copies it
into run.json, and the heatmap's summary uses it for its precision-corrected count. Measuring
the ONNX file rather than trusting the training log means the numbers describe exactly the
model that users run, after fusion, export and any quantisation. numpy + onnxruntime only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from debrismap.errors import DatasetError
from debrismap.geometry.boxes import iou_matrix as box_iou  # (len(a), len(b)) IoU

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}


def read_yolo_boxes(label_path: Path, width: int, height: int) -> np.ndarray:
    """(N, 4) pixel corner boxes of a chip's normalised YOLO file (a missing file = no piles)."""
    from debrismap.labels.yolo import read_yolo

    if not label_path.exists():
        return np.empty((0, 4))
    return read_yolo(label_path, image_size=(width, height), fmt="normalised", allow_empty=True).xyxy


def count_matches(pred: np.ndarray, scores: np.ndarray, truth: np.ndarray, iou: float) -> int:
    """True positives under greedy one-to-one matching, best score first (as COCO and VOC do)."""
    if len(pred) == 0 or len(truth) == 0:
        return 0
    ious = box_iou(pred[np.argsort(-scores)], truth)
    taken = np.zeros(len(truth), bool)
    tp = 0
    for row in ious:
        row = np.where(taken, -1.0, row)
        j = int(row.argmax())
        if row[j] >= iou:
            taken[j] = True
            tp += 1
    return tp


def validate_onnx(model_path: str | Path, dataset_dir: str | Path, iou: float = 0.5,
                  batch_size: int = 16, max_images: int | None = None) -> dict:
    """Precision, recall and F1 at the model's own score threshold on `dataset_dir/images/val`."""
    return _scores_at(model_path, dataset_dir, None, iou, batch_size, max_images)[0]


def best_f1_threshold(model_path: str | Path, dataset_dir: str | Path, iou: float = 0.5,
                      candidates=tuple(round(0.05 * k, 2) for k in range(1, 15))) -> tuple[float, list[dict]]:
    """The score threshold with the best F1 on the val split, and the scores at every candidate.

    One pass at the lowest candidate serves all of them: greedy NMS never lets a lower score
    suppress a higher one, so NMS at a low threshold filtered to `t` equals NMS at `t`.
    """
    table = _scores_at(model_path, dataset_dir, tuple(sorted(candidates)), iou, 16, None)
    best = max(table, key=lambda row: (row["f1"], row["score_threshold"]))
    return float(best["score_threshold"]), table


def _scores_at(model_path, dataset_dir, thresholds, iou, batch_size, max_images) -> list[dict]:
    from PIL import Image

    from debrismap.detect.decode import decode_batch
    from debrismap.detect.preprocess import Preprocessor
    from debrismap.detect.session import ModelSession

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
    for start in range(0, len(images), batch_size):
        paths = images[start : start + batch_size]
        batch = np.zeros((len(paths), 3, size, size), np.float32)
        truths = []
        for i, path in enumerate(paths):
            pixels = np.asarray(Image.open(path).convert("RGB"))[:size, :size].transpose(2, 0, 1)  # band first
            h, w = pixels.shape[1:]
            prep(pixels, np.ones((h, w), bool), out=batch[i, :, :h, :w])
            truths.append(read_yolo_boxes(dataset_dir / "labels" / "val" / (path.stem + ".txt"), w, h))
        dets = decode_batch(session.run(batch), min(thresholds), meta.nms_iou, meta.head)
        for i, truth in enumerate(truths):
            n_true += len(truth)
            for k, t in enumerate(thresholds):
                mine = (dets.slot == i) & (dets.scores >= t)
                tp[k] += count_matches(dets.boxes[mine], dets.scores[mine], truth, iou)
                n_pred[k] += int(mine.sum())
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
