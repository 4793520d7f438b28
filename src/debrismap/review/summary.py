"""What a review says, for summary.json / summary.txt: the city total with its 95% interval,
precision by score, how much was reviewed, and what the interval does and does not cover."""

from __future__ import annotations

import html

import numpy as np

from debrismap.aggregate.calibrated import CellModel
from debrismap.aggregate.run_folder import load_run
from debrismap.errors import ConfigError
from debrismap.geometry.crs import transform_points
from debrismap.review.estimate import LEVEL, greg_total, stratified_precision
from debrismap.review.file import Review, load_review

METHOD = ("generalised regression (GREG) estimator on the detector's count per cell, cells "
          "stratified by that count; stratified-sampling residual variance (Särndal, Swensson & "
          "Wretman 1992, §6.5; Cochran 1977, §5), Student-t interval, Satterthwaite degrees of freedom")


def clicks_in_cells(review: Review) -> tuple[list[np.ndarray], np.ndarray, int]:
    """Per sampled cell (design order): the clicks inside it (run CRS, (k, 2)), whether the
    person counted it, and how many clicks fell outside their cell (ignored)."""
    design = review.population.design
    cell = design["cell_m"]
    run, metric = review.population.run, review.population.analysis.metric_crs
    clicks, judged, outside = [], [], 0
    for unit in design["cells"]["sample"]:
        decision = review.cells.get(unit["id"])
        judged.append(decision is not None and decision["status"] == "counted")
        piles = (decision or {}).get("piles") or []
        xy_run = np.array([[p["x"], p["y"]] for p in piles], dtype=float).reshape(-1, 2)
        xy = transform_points(xy_run, run.crs, metric)
        inside = ((np.floor(xy[:, 0] / cell) == unit["ix"]) & (np.floor(xy[:, 1] / cell) == unit["iy"]))
        clicks.append(xy_run[inside])
        outside += int((~inside).sum())
    return clicks, np.array(judged, dtype=bool), outside


def piles_in_cells(review: Review) -> tuple[np.ndarray, np.ndarray, int]:
    """(reviewed count, judged?) per sampled cell in design order; clicks outside their cell."""
    clicks, judged, outside = clicks_in_cells(review)
    return np.array([len(c) for c in clicks], dtype=float), judged, outside


def cell_design(review: Review) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(detector count, stratum) of each sampled cell in design order, and N_h per stratum."""
    cells = review.population.design["cells"]
    x_s = np.array([u["detector_count"] for u in cells["sample"]], dtype=float)
    h_s = np.array([u["stratum"] for u in cells["sample"]], dtype=np.int64)
    population = np.array([s["population"] for s in cells["strata"]], dtype=float)
    return x_s, h_s, population


def total_estimate(review: Review) -> dict | None:
    """The GREG estimate of the run's total (one replicate, unrounded), or None when fewer
    than 2 cells were counted."""
    y, judged, _ = piles_in_cells(review)
    if judged.sum() < 2:
        return None
    cells = review.population.design["cells"]
    x_s, h_s, population = cell_design(review)
    est = greg_total(cells["detector_total"], cells["population"], x_s, y, h_s, population, judged)
    return {k: float(v[0]) for k, v in est.items()}


def cell_model(review: Review) -> CellModel | None:
    """The review's fitted line per cell, for drawing the map from it (None: no estimate)."""
    est = total_estimate(review)
    if est is None:
        return None
    cells = review.population.design["cells"]
    return CellModel(est["intercept"], est["slope"], float(review.population.design["cell_m"]), est["total"],
                     est["low"], est["high"], int(est["judged"]), int(cells["population"]),
                     int(cells["detector_total"]), str(review.path))


def review_summary(review: Review) -> dict:
    """The review section of summary.json."""
    design = review.population.design
    cells, dets = design["cells"], design["detections"]
    y, judged, outside = piles_in_cells(review)
    values = list(review.detections.values())
    out: dict = {
        "file": str(review.path),
        "seed": design["seed"],
        "cell_m": design["cell_m"],
        "reviewed": {
            "detections_sampled": len(dets["sample"]),
            "detections_yes": values.count("yes"),
            "detections_no": values.count("no"),
            "detections_unsure": values.count("unsure"),
            "cells_sampled": len(cells["sample"]),
            "cells_counted": int(judged.sum()),
            "cells_impossible": sum(1 for d in review.cells.values() if d["status"] == "impossible"),
            "piles_clicked_in_cells": int(y[judged].sum()),
            "clicks_outside_their_cell_ignored": outside,
        },
    }
    est = total_estimate(review)
    if est is not None:
        out["total"] = {
            "estimate": round(est["total"], 1),
            "low": round(est["low"], 1),
            "high": round(est["high"], 1),
            "standard_error": round(est["se"], 2),
            "level": LEVEL,
            "degrees_of_freedom": round(est["df"], 1),
            "detector_total": cells["detector_total"],
            "cells_in_population": cells["population"],
            "fit": {"intercept": round(est["intercept"], 4), "slope": round(est["slope"], 4)},
            "method": METHOD,
        }
    out["precision"] = _precision(review)
    out["meaning"] = {
        "total": (
            f"piles in the analysed imagery estimated from {int(judged.sum())} grid cells of "
            f"{design['cell_m']:g} m in which a person counted every pile, drawn at random "
            f"(stratified by the detector's count) from all {cells['population']} cells; the "
            "detector's count in every cell carries the estimate to the whole area"
        ),
        "interval": (
            "a 95% interval for sampling error: it holds if the person's counts in the sampled "
            "cells are right. It does not cover piles the person also missed or misjudged, "
            "cells judged impossible if they differ from the rest of their stratum, or ground "
            "outside the analysed imagery"
        ),
        "precision": (
            "share of the detector's detections a person confirmed as piles, from a random "
            "sample per score band ('unsure' left out)"
        ),
    }
    return out


def _precision(review: Review) -> dict:
    dets = review.population.design["detections"]
    H = len(dets["strata"])
    yes, checked = np.zeros(H), np.zeros(H)
    for unit in dets["sample"]:
        value = review.detections.get(unit["id"])
        if value in ("yes", "no"):
            checked[unit["stratum"]] += 1
            yes[unit["stratum"]] += value == "yes"
    population = np.array([s["population"] for s in dets["strata"]], dtype=float)
    p = stratified_precision(yes, checked, population)
    rows = [
        {"scores": s["name"], "detections": s["population"], "checked": int(c), "confirmed": int(k),
         "precision": None if c == 0 else round(float(ph), 3),
         "low": None if c == 0 else round(float(lo), 3), "high": None if c == 0 else round(float(hi), 3)}
        for s, c, k, ph, lo, hi in zip(dets["strata"], checked, yes, p["per_stratum"],
                                        p["per_stratum_low"], p["per_stratum_high"])
    ]
    if checked.sum() == 0:
        return {"by_score": rows}
    return {"overall": round(p["overall"], 3), "low": round(p["overall_low"], 3),
            "high": round(p["overall_high"], 3), "detections_covered_share": round(p["covered_share"], 3),
            "by_score": rows}


def review_text(section: dict) -> str:
    """summary.txt lines for the review section."""
    r, m = section["reviewed"], section["meaning"]
    lines = ["", "From the person's review (" + section["file"] + "):"]
    if "total" in section:
        t = section["total"]
        lines.append(f"  estimated total: {t['estimate']:,.0f} piles, 95% interval "
                     f"{t['low']:,.0f} to {t['high']:,.0f} (the detector counted {t['detector_total']:,})")
        lines.append(f"  — {m['total']}.")
        lines.append(f"  The interval is {m['interval']}.")
    else:
        lines.append("  no estimated total: fewer than 2 cells were counted")
    prec = section["precision"]
    if "overall" in prec:
        lines.append(f"  precision: {prec['overall']:.0%} (95% interval {prec['low']:.0%} to "
                     f"{prec['high']:.0%}) — {m['precision']}")
        for row in prec["by_score"]:
            if row["checked"]:
                lines.append(f"    scores {row['scores']}: {row['confirmed']} of {row['checked']} confirmed "
                             f"({row['precision']:.0%}, {row['low']:.0%} to {row['high']:.0%})")
    lines.append(f"  reviewed: {r['detections_yes'] + r['detections_no'] + r['detections_unsure']} of "
                 f"{r['detections_sampled']} sampled detections ({r['detections_yes']} yes, "
                 f"{r['detections_no']} no, {r['detections_unsure']} unsure); {r['cells_counted']} of "
                 f"{r['cells_sampled']} sampled cells counted ({r['piles_clicked_in_cells']} piles), "
                 f"{r['cells_impossible']} impossible to judge")
    return "\n".join(lines) + "\n"


def review_section(review_path, run_dir) -> tuple[dict, str]:
    """(summary.json section, summary.txt lines) of a review file checked against its run."""
    section = review_summary(load_review(review_path, load_run(run_dir)))
    return section, review_text(section)


def review_section_and_model(review_path, run_dir) -> tuple[tuple[dict, str], CellModel | None]:
    """review_section, and the fitted line to draw the map from (None without an estimate)."""
    review = load_review(review_path, load_run(run_dir))
    section = review_summary(review)
    return (section, review_text(section)), cell_model(review)


def review_for_map(review_path, run_dir, draw: str = "detected") -> tuple[tuple[dict, str] | None,
                                                                         CellModel | None]:
    """`--review FILE --draw detected|reviewed` of `heatmap` and `report`, checked before
    anything is written: (review_section or None without a review, the line to draw the map
    from or None when the map shows the detector's counts)."""
    if draw == "reviewed" and not review_path:
        raise ConfigError("--draw reviewed needs --review FILE (the review the counts are calibrated on)")
    if not review_path:
        return None, None
    section, model = review_section_and_model(review_path, run_dir)
    if draw != "reviewed":
        return section, None
    if model is None:
        raise ConfigError(f"--draw reviewed: {review_path} has no estimate to draw (fewer than 2 cells counted)")
    return section, model


def review_html(lines: str) -> str:
    """The review paragraph as an HTML section for `debrismap report`."""
    return ('<h2>Checked by a person</h2>\n<pre class="note" id="review-estimate" '
            f'style="white-space: pre-wrap">{html.escape(lines.strip())}</pre>\n')
