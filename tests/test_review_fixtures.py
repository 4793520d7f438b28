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
