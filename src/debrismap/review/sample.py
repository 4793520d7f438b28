"""A run's review sample: the grid and detections of one run turned into a JSON design.

`review_design(run, ...)` is deterministic in (run, seed, sizes): the page embeds it, the
exported review.json carries it back, and `load_review` recomputes it to check the file.
`ReviewPopulation` keeps the arrays (every cell's detector count, every detection's score)
the estimators need beside the JSON.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from debrismap.aggregate.heatmap import HeatmapAnalysis, analyse_run
from debrismap.aggregate.run_folder import RunFolder
from debrismap.errors import ConfigError
from debrismap.geometry.crs import crs_text
from debrismap.review.design import (
    DEFAULT_CELL_M,
    DEFAULT_CELLS,
    DEFAULT_DETECTIONS,
    DESIGN_VERSION,
    Strata,
    cell_strata,
    detection_strata,
    run_key,
)


@dataclass
class ReviewPopulation:
    """Everything sampled from: the run's cells and detections, with their strata."""

    run: RunFolder
    analysis: HeatmapAnalysis
    cells: Strata
    detections: Strata
    design: dict

    @property
    def design_sha256(self) -> str:
        return design_hash(self.design)


def design_hash(design: dict) -> str:
    return hashlib.sha256(json.dumps(design, sort_keys=True).encode()).hexdigest()


def key_of_run(run: RunFolder) -> str:
    model = run.manifest.get("model") or {}
    return run_key(str(model.get("sha256", "")), str(run.manifest.get("started", "")), run.scores,
                   run.box_centres())


def _strata_rows(strata: Strata) -> list[dict]:
    return [{"name": name, "population": int(n_pop), "sample": int(n)}
            for name, n_pop, n in zip(strata.names, strata.population, strata.sample_size)]


def review_population(
    run: RunFolder,
    n_cells: int = DEFAULT_CELLS,
    n_detections: int = DEFAULT_DETECTIONS,
    seed: int = 0,
    cell_m: float = DEFAULT_CELL_M,
) -> ReviewPopulation:
    """Draw the review sample of a run (cells by detector count, detections by score)."""
    if n_cells < 0 or n_detections < 0:
        raise ConfigError("--cells and --detections must be zero or more")
    if n_cells + n_detections == 0:
        raise ConfigError("nothing to review: give --cells or --detections above zero")
    analysis = analyse_run(run, cell=cell_m)
    grid = analysis.grid
    cells = cell_strata(grid.count, n_cells, seed)
    dets = detection_strata(run.scores, run.score_threshold, n_detections, seed)
    bounds = np.asarray([g.bounds for g in run.boxes]).reshape(-1, 4)
    design = {
        "version": DESIGN_VERSION,
        "run_key": key_of_run(run),
        "seed": int(seed),
        "requested": {"cells": int(n_cells), "detections": int(n_detections)},
        "cell_m": float(cell_m),
        "metric_crs": crs_text(analysis.metric_crs),
        "run_crs": crs_text(run.crs),
        "run_threshold": float(run.score_threshold),
        "operating_threshold": float(run.operating_threshold),
        "cells": {
            "population": len(grid),
            "detector_total": int(grid.count.sum()),
            "strata": _strata_rows(cells),
            "sample": [
                {"id": f"c{k + 1:03d}", "cell_id": str(grid.cell_id[i]), "ix": int(grid.ix[i]),
                 "iy": int(grid.iy[i]), "stratum": int(cells.labels[i]),
                 "detector_count": int(grid.count[i]),
                 "valid_fraction": round(float(grid.valid_fraction[i]), 6),
                 "inclusion_probability": cells.inclusion_probability(i)}
                for k, i in enumerate(cells.sample)
            ],
        },
        "detections": {
            "population": len(run.scores),
            "strata": _strata_rows(dets),
            "sample": [
                {"id": f"d{k + 1:03d}", "index": int(i), "score": round(float(run.scores[i]), 6),
                 "stratum": int(dets.labels[i]), "inclusion_probability": dets.inclusion_probability(i),
                 "box": [round(float(v), 6) for v in bounds[i]]}
                for k, i in enumerate(dets.sample)
            ],
        },
    }
    return ReviewPopulation(run, analysis, cells, dets, json.loads(json.dumps(design)))
