"""A person's review as training labels: confirmed detections and clicked piles become boxes,
rejected detections hard negatives, and only reviewed ground is shown to the model.

Only what the person looked at is known: a counted cell is complete (every pile clicked), a
checked detection says something about its own box only. So the labels come with the
reviewed area (counted cells, checked boxes with a small margin, minus boxes marked unsure);
chips are cut where they touch it and pixels outside it are blanked, so no pile the person
never saw is taught as background.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from debrismap.aggregate.run_folder import load_run
from debrismap.errors import DatasetError
from debrismap.geometry.crs import transform_points
from debrismap.review.file import Review, load_review
from debrismap.vector_io import write_vector

# Margin of reviewed ground around a checked detection box, in box sides.
CHECKED_BOX_MARGIN = 0.5
# Typical pile size at a click: the median box side of this many nearest detections.
NEAREST_FOR_SIZE = 7


@dataclass
class ReviewedArea:
    """Where a review holds labels (run CRS): chips are cut only there, the rest blanked."""

    area: shapely.Geometry
    negatives: np.ndarray  # (K, 2) centres of rejected detections: hard-negative chips
    counts: dict[str, int]


def review_pair(review_path: str | Path, run_dir: str | Path) -> tuple[Path, Path, ReviewedArea]:
    """(raster, labels file written beside the review, reviewed area) for one review."""
    run = load_run(run_dir)
    review = load_review(review_path, run)
    raster = run.input_raster_path()
    if raster is None:
        raise DatasetError("the run's input raster cannot be found; it is where the chips come "
                           "from (copy it into the run folder)", path=run.path)
    boxes, area, negatives, counts = review_boxes(review)
    out = Path(review_path).with_suffix(".labels.gpkg")
    write_vector(out, boxes, run.crs, {"class_name": np.array(["debris"] * len(boxes), dtype=object)},
                 layer="labels", geometry_type="Polygon")
    return raster, out, ReviewedArea(area, negatives, counts)


def review_boxes(review: Review) -> tuple[np.ndarray, shapely.Geometry, np.ndarray, dict[str, int]]:
    """Label boxes, reviewed area and hard-negative centres, all in the run CRS."""
    pop = review.population
    run, design = pop.run, pop.design
    run_boxes = run.boxes
    labelled: set[int] = set()  # detection indices whose box is a label
    rejected: dict[int, np.ndarray] = {}
    drawn, areas, unsure = [], [], []
    for unit in design["detections"]["sample"]:
        decision = review.detections.get(unit["id"])
        box = run_boxes[unit["index"]]
        if decision == "yes":
            labelled.add(unit["index"])
        if decision == "no":
            rejected[unit["index"]] = np.asarray(shapely.centroid(box).coords[0])
        if decision in ("yes", "no"):
            x0, y0, x1, y1 = box.bounds
            pad = CHECKED_BOX_MARGIN * max(x1 - x0, y1 - y0)
            areas.append(shapely.box(x0 - pad, y0 - pad, x1 + pad, y1 + pad))
        elif decision == "unsure":
            unsure.append(box)
    sides = _box_sides(run_boxes)
    centres = run.box_centres()
    clicked = 0
    cell = design["cell_m"]
    for unit in design["cells"]["sample"]:
        decision = review.cells.get(unit["id"])
        if decision is None or decision["status"] != "counted":
            continue
        x0, y0 = unit["ix"] * cell, unit["iy"] * cell
        ring = np.array([[x0, y0], [x0 + cell, y0], [x0 + cell, y0 + cell], [x0, y0 + cell]])
        areas.append(shapely.Polygon(transform_points(ring, pop.analysis.metric_crs, run.crs)))
        for pile in decision["piles"]:
            clicked += 1
            hit = _detection_at(pile["x"], pile["y"], run_boxes, sides)
            if hit is not None:  # a click on a detection confirms that box: use it
                labelled.add(hit)
                rejected.pop(hit, None)
                continue
            h = _typical_side(np.array([pile["x"], pile["y"]]), centres, sides) / 2
            drawn.append(shapely.box(pile["x"] - h, pile["y"] - h, pile["x"] + h, pile["y"] + h))
    labels = [run_boxes[i] for i in sorted(labelled)] + drawn
    negatives = list(rejected.values())
    area = shapely.union_all(areas) if areas else shapely.Polygon()
    if unsure:
        area = shapely.difference(area, shapely.union_all(unsure))
    counts = {"labels": len(labels), "clicked": clicked, "rejected": len(negatives),
              "unsure": len(unsure)}
    if not labels and not negatives:
        raise DatasetError("the review holds no label yet: confirm or reject detections, or count "
                           "cells, then export review.json again", path=review.path)
    return (np.array(labels, dtype=object), area,
            np.array(negatives, dtype=float).reshape(-1, 2), counts)


def _box_sides(boxes: np.ndarray) -> np.ndarray:
    if len(boxes) == 0:
        return np.zeros(0)
    b = shapely.bounds(boxes)
    return np.sqrt((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))


def _typical_side(xy: np.ndarray, centres: np.ndarray, sides: np.ndarray) -> float:
    """Median side of the nearest detections: piles on one street look alike in size."""
    if len(sides) == 0:
        raise DatasetError("the run has no detection to size clicked piles by")
    nearest = np.argsort(np.hypot(*(centres - xy).T))[:NEAREST_FOR_SIZE]
    return float(np.median(sides[nearest]))


def _detection_at(x: float, y: float, boxes: np.ndarray, sides: np.ndarray) -> int | None:
    """The smallest detection box holding (x, y), if any."""
    if len(boxes) == 0:
        return None
    inside = np.flatnonzero(shapely.contains_xy(boxes, x, y))
    return int(inside[np.argmin(sides[inside])]) if len(inside) else None
