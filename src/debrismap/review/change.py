"""Reviewed totals on the ground two runs share, and the change between them (`compare`).

`compare` counts piles only on the ground both runs analysed, so a run's review is read
there too: the cells reaching the common ground are a domain of the review's population, and
its total ("piles on the common ground": the person's clicks there, the detector's count
there as auxiliary) is estimated by GREG conditional on the sample that fell in it
(debrismap.review.estimate.domain_greg_total). Where the two coverages are the same it is the
run's own reviewed total.

The change between dates adds the two estimates' variances (the two reviews are separate
random samples) and takes Welch–Satterthwaite degrees of freedom for the Student-t interval.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy import stats

from debrismap.geometry.crs import transform_points
from debrismap.review.estimate import LEVEL, domain_greg_total
from debrismap.review.file import Review
from debrismap.review.summary import clicks_in_cells, review_summary


def domain_total(review: Review, domain: shapely.Geometry, domain_crs) -> dict:
    """The reviewed total of piles inside `domain` (a polygon in `domain_crs`), unrounded,
    with how many sampled and counted cells reach into it."""
    pop = review.population
    analysis = pop.analysis
    grid = analysis.grid
    shapely.prepare(domain)
    centres = transform_points(analysis.centres, analysis.metric_crs, domain_crs)
    in_domain = (shapely.intersects_xy(domain, centres[:, 0], centres[:, 1]) if len(centres)
                 else np.zeros(0, bool))
    x_domain = grid.count_points(analysis.centres[in_domain]).astype(float)
    # A cell "reaches" the common ground if its square does.
    squares = shapely.transform(grid.polygons(), lambda c: transform_points(c, analysis.metric_crs, domain_crs))
    reaches_all = shapely.intersects(squares, domain) if len(grid) else np.zeros(0, bool)
    reaches = reaches_all[pop.cells.sample]
    clicks, judged, _ = clicks_in_cells(review)
    y_s = np.array([
        int(shapely.intersects_xy(domain, *transform_points(c, pop.run.crs, domain_crs).T).sum()) if len(c) else 0
        for c in clicks], dtype=float)
    out = {
        "detector_total": int(x_domain.sum()),
        "cells_sampled_on_common_ground": int(reaches.sum()),
        "cells_counted_on_common_ground": int((reaches & judged).sum()),
        "cells_on_common_ground": int(reaches_all.sum()),
    }
    est = domain_greg_total(x_domain, reaches_all, pop.cells.labels, pop.cells.sample, y_s, judged)
    if est is not None:
        out.update({k: float(v[0]) for k, v in est.items()})
    return out


def change_interval(before: dict, after: dict) -> dict:
    """after - before, its standard error (variances added) and a 95% Student-t interval
    with Welch–Satterthwaite degrees of freedom. Not clipped at zero: piles can go.

    before, after: "total", "se", "df" of each estimate (floats, or arrays of replicates)."""
    diff = np.asarray(after["total"], float) - np.asarray(before["total"], float)
    var_b, var_a = np.asarray(before["se"], float) ** 2, np.asarray(after["se"], float) ** 2
    var = var_b + var_a
    terms = var_b**2 / np.maximum(before["df"], 1.0) + var_a**2 / np.maximum(after["df"], 1.0)
    df = np.where(terms > 0, var**2 / np.where(terms > 0, terms, 1.0), 1.0)
    half = stats.t.ppf(0.5 + LEVEL / 2, np.maximum(df, 1.0)) * np.sqrt(var)
    return {"estimate": diff, "low": diff - half, "high": diff + half, "se": np.sqrt(var), "df": df}


def _rounded_change(before: dict, after: dict) -> dict:
    c = change_interval(before, after)
    return {"estimate": round(float(c["estimate"]), 1), "low": round(float(c["low"]), 1),
            "high": round(float(c["high"]), 1), "standard_error": round(float(c["se"]), 2),
            "degrees_of_freedom": round(float(c["df"]), 1), "level": LEVEL}


def _side(review: Review, domain, domain_crs) -> dict:
    section = review_summary(review)
    est = domain_total(review, domain, domain_crs)
    side: dict = {"file": str(review.path), "seed": section["seed"], "reviewed": section["reviewed"],
                  "detector_count_in_review_grid": est["detector_total"],
                  "cells_counted_on_common_ground": est["cells_counted_on_common_ground"],
                  "cells_sampled_on_common_ground": est["cells_sampled_on_common_ground"]}
    if "total" in est:
        side["total"] = {"estimate": round(est["total"], 1), "low": round(est["low"], 1),
                         "high": round(est["high"], 1), "standard_error": round(est["se"], 2),
                         "degrees_of_freedom": round(est["df"], 1), "level": LEVEL}
        side["_raw"] = est
    if "total" in section:
        side["whole_run_total"] = {k: section["total"][k] for k in ("estimate", "low", "high")}
    return side


def compare_review_section(reviews: dict[str, Review | None], domain, domain_crs, totals: dict,
                           common_km2: float) -> tuple[dict, str]:
    """(change_summary.json section, change_summary.txt lines) for the reviews given.

    reviews: {"before": Review or None, "after": Review or None}, at least one given.
    totals: compare's raw totals ("before", "after" detector counts on the common ground).
    """
    section: dict = {"common_area_km2": round(common_km2, 4),
                     "detector_counted": {w: int(totals[w]) for w in ("before", "after")}}
    for when in ("before", "after"):
        if reviews.get(when) is not None:
            section[when] = _side(reviews[when], domain, domain_crs)
        else:
            section[when] = None
    b, a = section["before"], section["after"]
    if b is not None and a is not None and "total" in b and "total" in a:
        section["change"] = _rounded_change(b.pop("_raw"), a.pop("_raw"))
        shared = _shared_cells(reviews["before"], reviews["after"])
        section["cells_sampled_in_both_reviews"] = shared
    else:
        for side in (b, a):
            if side is not None:
                side.pop("_raw", None)
        missing = [w for w in ("before", "after") if section[w] is None or "total" not in section[w]]
        section["change"] = None
        section["change_not_estimated"] = (
            f"no reviewed estimate for the {' and '.join(missing)} run"
            + (" on the common ground" if any(section[w] is not None for w in missing) else "")
            + ": the change between the dates is only the detector's (net "
            f"{int(totals['after']) - int(totals['before']):+,}), with the detector's own errors on both dates")
    section["meaning"] = {
        "estimate": ("piles on the ground both runs imaged, estimated from that run's review: a person "
                     "counted every pile in a random sample of grid cells (stratified by the detector's "
                     "count), and the detector's count on the common ground in every cell carries the "
                     "sample to the whole common ground"),
        "interval": ("a 95% interval for sampling error: it holds if the person's counts are right. It does "
                     "not cover piles the person also missed or misjudged, cells judged impossible if they "
                     "differ from the rest of their stratum, or ground outside the common ground"),
        "change": ("the reviewed total after minus before, its variance the sum of the two (the reviews are "
                   "separate random samples); like each estimate's, its interval covers sampling error only. "
                   "It is a change in the number of piles, not a count of new or gone piles, which remain "
                   "the detector's matching"),
    }
    return section, compare_review_text(section)


def _shared_cells(before: Review, after: Review) -> int:
    """Cells sampled in both reviews (same grid cell id in the same metric CRS)."""
    db, da = before.population.design, after.population.design
    if db["metric_crs"] != da["metric_crs"] or db["cell_m"] != da["cell_m"]:
        return 0
    ids = {u["cell_id"] for u in db["cells"]["sample"]}
    return sum(1 for u in da["cells"]["sample"] if u["cell_id"] in ids)


def _side_line(when: str, side: dict | None, detector_count: int) -> list[str]:
    if side is None:
        return [f"  {when}: not reviewed (the detector counted {detector_count:,}; give "
                f"--review-{when} to estimate it)"]
    r = side["reviewed"]
    if "total" not in side:
        return [f"  {when} ({side['file']}): no estimate on the common ground: too few of the counted "
                f"cells lie on it ({side['cells_counted_on_common_ground']}) to estimate the sampling error "
                f"(the detector counted {detector_count:,})"]
    t = side["total"]
    return [f"  {when}: estimated {t['estimate']:,.0f} piles, 95% interval {t['low']:,.0f} to {t['high']:,.0f} "
            f"(the detector counted {detector_count:,})",
            f"    from {side['file']}: {side['cells_counted_on_common_ground']} of the {r['cells_counted']} "
            f"cells the person counted lie on the common ground"]


def compare_review_text(section: dict) -> str:
    m = section["meaning"]
    lines = ["", f"From the person's review(s), on the {section['common_area_km2']:,.3f} km² both runs imaged:"]
    for when in ("before", "after"):
        lines += _side_line(when, section[when], section["detector_counted"][when])
    change = section.get("change")
    if change:
        lines.append(f"  change: {change['estimate']:+,.0f} piles, 95% interval {change['low']:+,.0f} to "
                     f"{change['high']:+,.0f}")
        if section.get("cells_sampled_in_both_reviews"):
            lines.append(f"    {section['cells_sampled_in_both_reviews']} cells were sampled in both reviews "
                         "(same seed): the samples are then not independent, and the interval, which "
                         "treats them as independent, is only approximate (review each date with its own "
                         "--seed)")
    else:
        lines.append(f"  change: not estimated — {section['change_not_estimated']}.")
    lines.append(f"  Each estimate is {m['estimate']}.")
    lines.append(f"  Each interval is {m['interval']}.")
    if change:
        lines.append(f"  The change is {m['change']}.")
    return "\n".join(lines) + "\n"
