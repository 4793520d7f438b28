"""Counting metrics on a grid of cells: what a density map (and an article) depends on.

Cells are squares of `cell` frame units aligned on multiples of the cell size in the metric
frame, the way the heatmap aligns its grid, so an evaluation cell is a heatmap cell. Only cells
that overlap the evaluated area (the run's coverage, else the raster or truth extent) take
part. An object is counted in the cell that holds its box centre.

Intervals are percentile bootstrap intervals over cells (resampling cells with replacement),
with a fixed seed so that the same inputs always give the same interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely


@dataclass(frozen=True)
class CellGrid:
    """Square cells of side `cell` with origin (x0, y0) on a multiple of `cell`."""

    x0: float
    y0: float
    cell: float
    n_cols: int
    n_rows: int

    @classmethod
    def covering(cls, bounds: tuple[float, float, float, float], cell: float) -> CellGrid:
        minx, miny, maxx, maxy = bounds
        x0 = np.floor(minx / cell) * cell
        y0 = np.floor(miny / cell) * cell
        n_cols = max(1, int(np.ceil((maxx - x0) / cell - 1e-9)))
        n_rows = max(1, int(np.ceil((maxy - y0) / cell - 1e-9)))
        return cls(float(x0), float(y0), float(cell), n_cols, n_rows)

    def cell_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Flat cell index for each point, -1 outside the grid."""
        col = np.floor((np.asarray(x) - self.x0) / self.cell).astype(np.int64)
        row = np.floor((np.asarray(y) - self.y0) / self.cell).astype(np.int64)
        inside = (col >= 0) & (col < self.n_cols) & (row >= 0) & (row < self.n_rows)
        return np.where(inside, row * self.n_cols + col, -1)

    def polygons(self) -> np.ndarray:
        rows, cols = np.divmod(np.arange(self.n_rows * self.n_cols), self.n_cols)
        x = self.x0 + cols * self.cell
        y = self.y0 + rows * self.cell
        return shapely.box(x, y, x + self.cell, y + self.cell)


def area_fraction(grid: CellGrid, area) -> np.ndarray:
    """Fraction of each cell inside the evaluated area (a shapely geometry)."""
    if area.equals(area.envelope):  # a rectangle (raster or truth extent): exact, no geometry ops
        minx, miny, maxx, maxy = area.bounds
        cols = grid.x0 + np.arange(grid.n_cols) * grid.cell
        rows = grid.y0 + np.arange(grid.n_rows) * grid.cell
        fx = np.clip(np.minimum(cols + grid.cell, maxx) - np.maximum(cols, minx), 0, None) / grid.cell
        fy = np.clip(np.minimum(rows + grid.cell, maxy) - np.maximum(rows, miny), 0, None) / grid.cell
        return np.outer(fy, fx).ravel()
    cells = grid.polygons()
    shapely.prepare(area)
    fraction = np.zeros(len(cells))
    inside = shapely.contains_properly(area, cells)
    fraction[inside] = 1.0
    edge = ~inside & shapely.intersects(area, cells)
    fraction[edge] = shapely.area(shapely.intersection(cells[edge], area)) / grid.cell**2
    return fraction


def bootstrap_ci(
    predicted: np.ndarray,
    true: np.ndarray,
    resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float, float] | None]:
    """Percentile intervals of MAE, bias and relative error over resamples of cells.

    Every statistic is a sum over cells of a function of the cell's (predicted, true) pair,
    and counts take few distinct pairs. Drawing n cells with replacement is therefore the same
    as drawing multinomial counts of the K distinct pairs (probabilities = their frequencies):
    exact, and O(resamples x K) instead of O(resamples x n), so 2000 resamples of a 250 000
    cell city take milliseconds.
    """
    n = len(true)
    if n == 0 or resamples <= 0:
        return {"mae": None, "bias": None, "relative_error": None}
    rng = np.random.default_rng(seed)
    pairs, freq = np.unique(
        np.column_stack([np.asarray(predicted, np.int64), np.asarray(true, np.int64)]), axis=0, return_counts=True
    )
    diff = (pairs[:, 0] - pairs[:, 1]).astype(np.float64)
    values = np.column_stack([np.abs(diff), diff, pairs[:, 1].astype(np.float64)])
    weights = rng.multinomial(n, freq / n, size=resamples).astype(np.float64)
    sums = weights @ values
    with np.errstate(divide="ignore", invalid="ignore"):
        stats = {
            "mae": sums[:, 0] / n,
            "bias": sums[:, 1] / n,
            "relative_error": np.where(sums[:, 2] > 0, sums[:, 0] / sums[:, 2], np.nan),
        }
    tail = (1.0 - level) / 2 * 100
    out = {}
    for name, sample in stats.items():
        sample = sample[np.isfinite(sample)]
        out[name] = (
            (float(np.percentile(sample, tail)), float(np.percentile(sample, 100 - tail)))
            if len(sample)
            else None
        )
    return out


def count_metrics(
    pred_xy: np.ndarray,
    true_xy: np.ndarray,
    area,
    cell: float,
    resamples: int = 2000,
    seed: int = 0,
) -> dict:
    """Per-cell MAE / bias / relative error with bootstrap intervals, and the total count error.

    pred_xy, true_xy: (N, 2) box centres in the frame; area: shapely geometry of the evaluated
    region in the same frame (None: no counting possible).
    """
    if area is None or area.is_empty:
        return {"cells": 0, "note": "no evaluated area: counting metrics not computed"}
    grid = CellGrid.covering(area.bounds, cell)
    fraction = area_fraction(grid, area)
    in_area = fraction > 0
    n_cells_total = grid.n_rows * grid.n_cols
    pred_cell = grid.cell_of(pred_xy[:, 0], pred_xy[:, 1]) if len(pred_xy) else np.empty(0, np.int64)
    true_cell = grid.cell_of(true_xy[:, 0], true_xy[:, 1]) if len(true_xy) else np.empty(0, np.int64)
    pred_ok = (pred_cell >= 0) & in_area[np.maximum(pred_cell, 0)] if len(pred_cell) else pred_cell >= 0
    true_ok = (true_cell >= 0) & in_area[np.maximum(true_cell, 0)] if len(true_cell) else true_cell >= 0
    predicted = np.bincount(pred_cell[pred_ok], minlength=n_cells_total)[in_area]
    true = np.bincount(true_cell[true_ok], minlength=n_cells_total)[in_area]
    diff = predicted - true
    total_pred, total_true = int(predicted.sum()), int(true.sum())
    ci = bootstrap_ci(predicted, true, resamples=resamples, seed=seed)
    relative = float(np.abs(diff).sum() / total_true) if total_true else None
    return {
        "cell_size": cell,
        "cells": int(in_area.sum()),
        "cells_with_truth": int((true > 0).sum()),
        "cells_with_detections": int((predicted > 0).sum()),
        "mean_true_per_cell": float(true.mean()),
        "mae": {"value": float(np.abs(diff).mean()), "ci95": ci["mae"]},
        "bias": {"value": float(diff.mean()), "ci95": ci["bias"]},
        "relative_error": {"value": relative, "ci95": ci["relative_error"]},
        "rmse": float(np.sqrt((diff.astype(np.float64) ** 2).mean())),
        "total": {
            "predicted": total_pred,
            "true": total_true,
            "error": total_pred - total_true,
            "relative_error": (total_pred - total_true) / total_true if total_true else None,
        },
        "outside_area": {
            "predicted": int((~pred_ok).sum()),
            "true": int((~true_ok).sum()),
        },
        "bootstrap": {"resamples": resamples, "seed": seed, "level": 0.95, "unit": "cell"},
        "grid_origin": [grid.x0, grid.y0],
    }
