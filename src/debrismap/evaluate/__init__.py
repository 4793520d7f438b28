"""Detection and counting metrics: how well a run's boxes and counts agree with ground truth.

`evaluate_paths` loads a run folder (or a detections file) and a truth file, brings both into
one frame (metres of a projected CRS, or pixels), and returns every metric as a JSON-ready dict.
The pieces: `boxes` (IoU of candidate pairs), `matching` (greedy one-to-one, COCO AP),
`counting` (per-cell count errors with bootstrap intervals), `inputs` (files and frames),
`metrics` (the arithmetic), `report` (JSON, PR curve, table). No torch here: base install only.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from debrismap import __version__
from debrismap.errors import ConfigError
from debrismap.evaluate import inputs
from debrismap.evaluate.metrics import SIZE_BINS_M, EvaluationOptions, evaluate_boxes

__all__ = ["SIZE_BINS_M", "EvaluationOptions", "evaluate_boxes", "evaluate_paths"]


def evaluate_paths(
    detections: str | Path,
    truth: str | Path,
    *,
    raster: str | Path | None = None,
    truth_crs: str | None = None,
    iou: float = 0.3,
    cell_m: float = 100.0,
    score: float | None = None,
    resamples: int = 2000,
    seed: int = 0,
    pixel_gsd_m: float | None = None,
) -> dict:
    """Evaluate detections against truth; returns the content of evaluation.json."""

    if not 0 < iou <= 1:
        raise ConfigError(f"--iou must be in (0, 1], got {iou}")
    if cell_m <= 0:
        raise ConfigError(f"--cell must be positive, got {cell_m}")
    dets = inputs.load_detections(detections)
    raster_info = inputs.raster_info(raster) if raster else None
    truth_layer = inputs.load_truth(truth, raster_info, truth_crs)
    frame = inputs.choose_frame(dets, truth_layer, pixel_gsd_m)
    det_boxes = inputs.boxes_in(dets.layer, frame)
    truth_boxes = inputs.boxes_in(truth_layer, frame)
    area, area_source = inputs.evaluated_area(dets, truth_layer, raster_info, frame)
    # Only what lies in the evaluated area is scored: a pile under nodata, or outside the AOI,
    # could not have been found, and counting it as missed would be unfair.
    det_keep = inputs.centres_inside(det_boxes, area)
    truth_keep = inputs.centres_inside(truth_boxes, area)
    det_boxes, det_scores = det_boxes[det_keep], dets.layer.scores[det_keep]
    truth_boxes = truth_boxes[truth_keep]

    notes = list(truth_layer.notes)
    if (~truth_keep).any() or (~det_keep).any():
        notes.append(
            f"left out, centre outside the evaluated area ({area_source}): "
            f"{int((~truth_keep).sum())} truths, {int((~det_keep).sum())} detections"
        )
    operating_score = score if score is not None else (dets.run_score or 0.0)
    if score is not None and dets.run_score is not None and score < dets.run_score:
        notes.append(
            f"--score {score} is below the run's threshold {dets.run_score}: detect kept nothing below it"
        )
    # Cells are in metres; in a pixel frame they are converted with the GSD, or taken as pixels.
    cell = cell_m / frame.unit_m if frame.unit_m else cell_m
    if frame.unit_m is None:
        notes.append("pixel frame without a GSD: --cell is in pixels and size bins are skipped")
    options = EvaluationOptions(
        iou=iou, score=operating_score, cell=cell, unit_m=frame.unit_m, resamples=resamples, seed=seed
    )
    metrics = evaluate_boxes(det_boxes, det_scores, truth_boxes, area, options)
    if frame.unit_m:
        metrics["counting"]["cell_size"] = cell_m  # report in metres, as asked
    return {
        "format_version": 1,
        "software_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "inputs": {
            "detections": str(dets.layer.path),
            "run_folder": str(dets.run_dir) if dets.run_dir else None,
            "truth": str(Path(truth)),
            "raster": str(Path(raster)) if raster else None,
            "truth_crs": truth_crs,
        },
        "frame": {
            "kind": frame.kind,
            "crs": frame.crs.to_wkt() if frame.crs is not None else None,
            "crs_name": frame.crs.name if frame.crs is not None else None,
            "epsg": frame.crs.to_epsg() if frame.crs is not None else None,
            "unit_m": frame.unit_m,
        },
        "area": {
            "source": area_source,
            "area_km2": (area.area * frame.unit_m**2 / 1e6) if area is not None and frame.unit_m else None,
            "truths_outside": int((~truth_keep).sum()),
            "detections_outside": int((~det_keep).sum()),
        },
        "settings": {
            "iou": iou,
            "score": operating_score,
            "score_source": "--score" if score is not None else ("run.json" if dets.run_score is not None else "none"),
            "cell_m": cell_m,
            "size_bins_m": [[n, lo, None if hi == float("inf") else hi] for n, lo, hi in SIZE_BINS_M],
            "ap": "COCO 101-point interpolation, greedy one-to-one matching by score, IoU 0.50:0.05:0.95",
            "bootstrap": {"resamples": resamples, "seed": seed, "level": 0.95},
        },
        "notes": notes,
        "metrics": metrics,
    }
