"""The map drawn from review-calibrated counts (`heatmap --review FILE --draw reviewed`).

A person's review fits a line, true piles = a + b × detector count, to the cells they counted
(the GREG estimator's model; debrismap.review). Each cell's calibrated count is that line's
value for the cell, so the cells add up to the review's estimated total. The density surface
is the same line, smoothed like the raw map: every detection carries b piles under its kernel,
and every cell a further a piles spread evenly over it.

This module receives the fitted line (`CellModel`); it never reads a review itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from debrismap.aggregate.density import DensityRaster, density_raster
from debrismap.aggregate.grid import CountGrid
from debrismap.errors import ConfigError, DatasetError


@dataclass(frozen=True)
class CellModel:
    """Piles per cell = intercept + slope × the detector's count, fitted to a person's review."""

    intercept: float
    slope: float
    cell_m: float
    estimate: float  # the review's estimated total (= sum of the line over every cell)
    low: float
    high: float
    cells_counted: int
    population: int  # cells in the review's grid
    detector_total: int
    source: str  # the review file


def check_grid(grid: CountGrid, model: CellModel) -> None:
    """The heatmap's grid must be the one the review sampled, or its line means nothing here."""
    if abs(grid.cell - model.cell_m) > 1e-9:
        raise ConfigError(f"--draw reviewed: the review counted cells of {model.cell_m:g} m; draw with "
                          f"--cell {model.cell_m:g} (got {grid.cell:g})")
    if len(grid) != model.population or int(grid.count.sum()) != model.detector_total:
        raise DatasetError(f"--draw reviewed: the run's grid ({len(grid)} cells, {int(grid.count.sum())} "
                           f"detections) is not the review's ({model.population} cells, {model.detector_total})",
                           path=model.source)


def calibrated_counts(grid: CountGrid, model: CellModel) -> np.ndarray:
    """Each cell's fitted count, never below zero (a negative count cannot be drawn)."""
    return np.maximum(model.intercept + model.slope * grid.count.astype(float), 0.0)


def calibrated_density(centres: np.ndarray, grid: CountGrid, coverage, bandwidth: float, pixel_size: float,
                       model: CellModel, edge_correction: bool = False) -> DensityRaster:
    """b piles per detection under the Gaussian kernel, plus a piles per cell spread evenly over
    the imaged ground, in piles per km² (clipped at zero where a negative intercept would
    make it negative)."""
    piles = density_raster(centres, coverage, grid.crs, bandwidth, pixel_size,
                           weights=np.full(len(centres), model.slope), edge_correction=edge_correction)
    background = model.intercept / model.cell_m**2 * 1e6
    values = np.where(piles.valid, np.maximum(piles.values.astype(np.float64) + background, 0.0), np.nan)
    return DensityRaster(values.astype(np.float32), piles.transform, piles.crs, piles.pixel_size, bandwidth)


def cell_columns(grid: CountGrid, model: CellModel) -> dict[str, np.ndarray]:
    """counts.gpkg / counts.csv columns added beside the detector's `count`."""
    counts = calibrated_counts(grid, model)
    return {"calibrated": np.round(counts, 4), "calibrated_per_km2": counts / grid.valid_area_km2}


def drawn_section(grid: CountGrid, density: DensityRaster, model: CellModel) -> tuple[dict, str]:
    """(summary.json "map" section, summary.txt lines): what the map shows and what it adds up to."""
    counts = calibrated_counts(grid, model)
    fitted = model.intercept + model.slope * grid.count.astype(float)
    clipped = int((fitted < 0).sum())
    cells_sum = float(counts.sum())
    section = {
        "drawn": "review-calibrated counts",
        "per_cell": "intercept + slope x the detector's count in the cell, the line fitted to the person's "
                    "counts in the reviewed cells (counts.csv / counts.gpkg column `calibrated`)",
        "intercept": round(model.intercept, 4),
        "slope": round(model.slope, 4),
        "cells": len(grid),
        "cells_sum": round(cells_sum, 1),
        "estimate": round(model.estimate, 1),
        "cells_below_zero_drawn_as_zero": clipped,
        "density_holds": round(density.integral(), 1),
        "review": model.source,
    }
    lines = ["", "The map shows review-calibrated counts (--draw reviewed), not the detector's:",
             f"  each {model.cell_m:g} m cell holds {model.intercept:.3f} + {model.slope:.3f} × the detector's count "
             f"there (counts.csv column `calibrated`), the line fitted to the person's counts in "
             f"{model.cells_counted} randomly drawn cells of {model.source}."]
    if clipped:
        lines.append(f"  The cells add up to {cells_sum:,.1f}, not the estimated {model.estimate:,.1f}: in {clipped} "
                     "cells the line is below zero, and a negative count is drawn as 0.")
    else:
        lines.append(f"  The cells add up to {cells_sum:,.1f}, the estimated total (95% interval "
                     f"{model.low:,.0f} to {model.high:,.0f}); no single cell's value is precise: the "
                     "interval is for the total, not for any one cell.")
    lines.append(f"  The density surface spreads {model.slope:.3f} piles around each detection and "
                 f"{model.intercept:.3f} evenly over each cell; it holds {density.integral():,.1f} piles (part-imaged "
                 "edge cells show only their imaged share of a cell's intercept, and kernels spill past the edge). "
                 "Zones and sensitivity keep the detector's counts.")
    return section, "\n".join(lines) + "\n"
