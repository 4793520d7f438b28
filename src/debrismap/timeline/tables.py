"""The timeline's tables: one row per pile, per date, and per grid cell and date.

Counts are made only where a date's image is: a date that did not image a cell has no
count there (an empty CSV field), never a zero.
"""

from __future__ import annotations

import numpy as np
import shapely

from debrismap.aggregate.grid import cell_index, covered_cells
from debrismap.aggregate.sensitivity import count_summary

# A date imaging less than this share of the series' ground is marked partial.
FULL_COVERAGE = 0.98
MONTH_DAYS = 31


def pile_columns(tracks, acquisitions) -> dict[str, np.ndarray]:
    """Per tracked pile: first_seen, last_absent, last_seen, n_seen, n_imaged, mean score, bracket."""
    dates = [a.date for a in acquisitions]
    first, last = tracks.first_seen, tracks.last_seen
    absent, after = tracks.last_absent(), tracks.appeared_after()

    def iso(indexes) -> np.ndarray:
        return np.array([dates[i].isoformat() if i >= 0 else None for i in indexes], dtype=object)

    bracket = np.array([(dates[f] - dates[a]).days if a >= 0 else np.nan for f, a in zip(first, after)])
    return {
        "pile_id": np.arange(1, len(tracks) + 1, dtype=np.int64),
        "first_seen": iso(first),
        "last_absent": iso(absent),
        "last_seen": iso(last),
        "n_seen": tracks.n_seen.astype(np.int64),
        "n_imaged": tracks.n_imaged.astype(np.int64),
        "mean_score": np.round(tracks.mean_score, 4),
        "appeared_after": iso(after),
        "bracket_days": bracket,
        "centre_x": tracks.position[:, 0] if len(tracks) else np.zeros(0),
        "centre_y": tracks.position[:, 1] if len(tracks) else np.zeros(0),
    }


def date_columns(tracks, acquisitions) -> dict[str, np.ndarray]:
    """Per date: imaged area, piles present (tracked), new, and the run's own count range there."""
    union = shapely.union_all([a.corrected_coverage for a in acquisitions])
    present = tracks.present.sum(axis=1) if len(tracks) else np.zeros(len(acquisitions), int)
    newly = new_mask(tracks)
    rows: dict[str, list] = {k: [] for k in ("date", "acquisition", "imaged_km2", "partial", "count", "new",
                                             "detected", "detected_low", "detected_high", "degraded")}
    for d, acq in enumerate(acquisitions):
        run = acq.run
        summary = count_summary(acq.all_scores, run.score_threshold, run.operating_threshold)
        area = acq.coverage.area
        rows["date"].append(acq.date.isoformat())
        rows["acquisition"].append(acq.name)
        rows["imaged_km2"].append(round(area / 1e6, 4))
        rows["partial"].append(int(area < FULL_COVERAGE * union.area))
        rows["count"].append(int(present[d]))
        rows["new"].append(int(np.count_nonzero(newly[d])))
        rows["detected"].append(summary["central"])
        rows["detected_low"].append(summary["low"])
        rows["detected_high"].append(summary["high"])
        rows["degraded"].append("; ".join(acq.quality.get("degraded") or []))
    return {k: np.asarray(v, dtype=object if k in ("date", "acquisition", "degraded") else None)
            for k, v in rows.items()}


def cell_columns(tracks, acquisitions, cell: float) -> dict[str, np.ndarray]:
    """Per grid cell and date: imaged fraction, piles present and new (empty where not imaged)."""
    union = shapely.make_valid(shapely.union_all([a.corrected_coverage for a in acquisitions]))
    ux, uy, _ = covered_cells(union, cell)
    keys = {(int(x), int(y)): i for i, (x, y) in enumerate(zip(ux, uy))}
    n_cells = len(ux)
    pix, piy = cell_index(tracks.position, cell)
    pile_cell = np.array([keys.get((int(x), int(y)), -1) for x, y in zip(pix, piy)], dtype=int)
    newly = new_mask(tracks)
    out: dict[str, list] = {k: [] for k in ("cell_id", "date", "centre_x", "centre_y", "imaged_fraction",
                                            "count", "new")}
    for d, acq in enumerate(acquisitions):
        fraction = np.zeros(n_cells)
        ix, iy, frac = covered_cells(shapely.make_valid(acq.corrected_coverage), cell)
        for x, y, f in zip(ix, iy, frac):
            i = keys.get((int(x), int(y)))
            if i is not None:
                fraction[i] = f
        ok = pile_cell >= 0
        count = np.bincount(pile_cell[ok & tracks.present[d]], minlength=n_cells).astype(float)
        new = np.bincount(pile_cell[ok & newly[d]], minlength=n_cells).astype(float)
        count[fraction == 0] = np.nan
        new[fraction == 0] = np.nan
        out["cell_id"] += [f"E{x}N{y}" for x, y in zip(ux, uy)]
        out["date"] += [acq.date.isoformat()] * n_cells
        out["centre_x"] += list((ux + 0.5) * cell)
        out["centre_y"] += list((uy + 0.5) * cell)
        out["imaged_fraction"] += list(np.round(fraction, 6))
        out["count"] += list(count)
        out["new"] += list(new)
    return {k: np.asarray(v, dtype=object if k in ("cell_id", "date") else float) for k, v in out.items()}


def new_mask(tracks) -> np.ndarray:
    """(D, N): first seen on that date after an imaged date without it. A pile first seen on
    the first date its ground was imaged was already there: it is not counted as new."""
    d = np.arange(tracks.n_dates)[:, None]
    return (d == tracks.first_seen[None, :]) & (tracks.last_absent() >= 0)[None, :]


def bracket_counts(pile_cols: dict) -> dict:
    days = pile_cols["bracket_days"]
    finite = np.isfinite(days)
    return {
        "piles": len(days),
        "bracket_within_a_month": int(np.count_nonzero(finite & (days <= MONTH_DAYS))),
        "bracket_longer": int(np.count_nonzero(finite & (days > MONTH_DAYS))),
        "open_bracket": int(np.count_nonzero(~finite)),
    }
