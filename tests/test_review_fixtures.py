"""Builders for the review tests: a review page's data, and a review.json an oracle would export.

Not tests themselves: test_review*.py import them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path


def page_data(page: Path) -> dict:
    """The data embedded in review.html (design, design hash, images)."""
    text = page.read_text(encoding="utf-8")
    return json.loads(re.search(r'id="review-data">(.*?)</script>', text, re.S).group(1).replace("<\\/", "</"))


def pile(image: dict, px: float, py: float) -> dict:
    """A click at image pixel (px, py) as the page records it (world = the image's transform)."""
    t = image["transform"]
    return {"px": px, "py": py, "x": t[0] * px + t[1] * py + t[2], "y": t[3] * px + t[4] * py + t[5]}


def review_doc(data: dict, detections: dict, cells: dict) -> dict:
    """The review.json the page exports for these decisions."""
    design = data["design"]
    return {"format": "debrismap-review", "version": 1, "run_key": design["run_key"],
            "design_sha256": data["design_sha256"], "design": design,
            "decisions": {"detections": detections, "cells": cells}}


def click_every_detection(data: dict) -> dict:
    """Cell decisions of a reviewer who clicks each detection box centre in every sampled cell."""
    cells = {}
    for unit in data["design"]["cells"]["sample"]:
        image = data["images"]["cells"][unit["id"]]
        cells[unit["id"]] = {"status": "counted", "piles": [
            pile(image, (b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in image["boxes"]]}
    return cells


def miscount(data: dict, extra_every: int = 2, miss_every: int = 3) -> dict:
    """Cell decisions of a reviewer who finds what the detector missed and rejects some of what
    it found: every `extra_every`-th sampled cell gets one more pile at its centre, every
    `miss_every`-th loses its first detection. Makes the estimate differ from the detector's
    count and its standard error non-zero."""
    from pyproj import Transformer

    design = data["design"]
    cell = design["cell_m"]
    to_run = Transformer.from_crs(design["metric_crs"], design["run_crs"], always_xy=True)
    cells = click_every_detection(data)
    for k, unit in enumerate(design["cells"]["sample"]):
        piles = cells[unit["id"]]["piles"]
        if k % miss_every == 0 and piles:
            piles.pop(0)
        if k % extra_every == 0:
            x, y = to_run.transform((unit["ix"] + 0.5) * cell, (unit["iy"] + 0.5) * cell)
            piles.append({"x": x, "y": y})
    return cells
