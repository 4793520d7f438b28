"""`run_heatmap`: a run folder in, counts + density rasters + figures + summary out.

This module only orchestrates; each step lives in its own module (grid, density, zones,
sensitivity, figure). `analyse_run` does the arithmetic in memory so the HTML report can
reuse it without writing files; `run_heatmap` writes everything atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS

from debrismap.aggregate import writers
from debrismap.aggregate.calibrated import (
    CellModel,
    calibrated_density,
    cell_columns,
    check_grid,
    drawn_section,
)
from debrismap.aggregate.density import DensityRaster, density_raster, nice_pixel_size
from debrismap.aggregate.figure import save
from debrismap.aggregate.grid import CountGrid, count_grid
from debrismap.aggregate.heatmap_figure import heatmap_figure
from debrismap.aggregate.run_folder import RunFolder, load_run
from debrismap.aggregate.sensitivity import (
    Sensitivity,
    add_calibrated_estimate,
    count_summary,
    threshold_curve,
)
from debrismap.aggregate.zones import ZoneCounts, read_zones, zone_counts
from debrismap.atomic import ensure_dir
from debrismap.errors import ConfigError
from debrismap.geometry.crs import metric_crs_for, reproject, transform_points

FIGURE_FORMATS = ("png", "svg", "pdf")


@dataclass
class HeatmapAnalysis:
    """Counts and density of one run, in its metric CRS."""

    run: RunFolder
    metric_crs: CRS
    coverage: shapely.Geometry  # metric
    centres: np.ndarray  # (N, 2) metric: piles counted (inside coverage, >= operating threshold)
    scores_in_coverage: np.ndarray  # every recorded detection inside coverage (for sensitivity)
    excluded_outside: int  # detections whose centre lies outside the analysed coverage
    grid: CountGrid
    density: DensityRaster
    curve: Sensitivity
    summary: dict
    zones: ZoneCounts | None = None
    zone_outlines: list = field(default_factory=list)  # metric geometries for the map
    zone_labels: list = field(default_factory=list)  # (x, y, name) inside each zone's imaged part

    @property
    def count(self) -> int:
        return len(self.centres)

    @property
    def valid_area_km2(self) -> float:
        return float(self.coverage.area / 1e6)


@dataclass
class HeatmapOutputs:
    """Paths of everything `run_heatmap` wrote."""

    out_dir: Path
    counts_gpkg: Path
    counts_csv: Path
    density_tif: Path
    density_rgba_tif: Path
    figures: list[Path]
    sensitivity_csv: Path
    sensitivity_png: Path
    summary_json: Path
    summary_txt: Path
    zones_gpkg: Path | None = None
    zones_csv: Path | None = None

    @property
    def heatmap_png(self) -> Path:
        return next(p for p in self.figures if p.suffix == ".png")


def _check_sizes(cell: float, bandwidth: float) -> None:
    if not (cell > 0 and np.isfinite(cell)):
        raise ConfigError(f"--cell must be a positive number of metres, got {cell}")
    if not (bandwidth > 0 and np.isfinite(bandwidth)):
        raise ConfigError(f"--bandwidth must be a positive number of metres, got {bandwidth}")


def analyse_run(
    run: RunFolder | str | Path,
    cell: float = 100.0,
    bandwidth: float = 75.0,
    zones: str | Path | None = None,
    zone_field: str | None = None,
    metric_crs: CRS | None = None,
    edge_correction: bool = False,
) -> HeatmapAnalysis:
    _check_sizes(cell, bandwidth)
    if not isinstance(run, RunFolder):
        run = load_run(run)
    metric = metric_crs or metric_crs_for(run.crs, run.coverage)
    coverage = shapely.make_valid(reproject(run.coverage, run.crs, metric, densify=True))
    centres = transform_points(run.box_centres(), run.crs, metric)
    shapely.prepare(coverage)
    inside = shapely.intersects_xy(coverage, centres[:, 0], centres[:, 1]) if len(centres) else np.zeros(0, bool)
    scores = run.scores[inside]
    counted = inside & (run.scores >= run.operating_threshold - 1e-12)
    pts = centres[counted]
    grid = count_grid(pts, coverage, cell, metric)
    density = density_raster(pts, coverage, metric, bandwidth, nice_pixel_size(cell, coverage),
                             edge_correction=edge_correction)
    cand_scores = None
    if run.candidate_scores is not None:
        cand_centres = transform_points(run.box_centres(run.candidate_boxes), run.crs, metric)
        cand_inside = (shapely.intersects_xy(coverage, cand_centres[:, 0], cand_centres[:, 1])
                       if len(cand_centres) else np.zeros(0, bool))
        cand_scores = run.candidate_scores[cand_inside]
    curve = threshold_curve(scores if cand_scores is None else cand_scores, run.candidate_floor)
    validation = (run.manifest.get("model") or {}).get("validation")
    summary = count_summary(scores, run.score_threshold, run.operating_threshold, validation,
                            candidate_scores=cand_scores, candidate_floor=run.candidate_floor)
    add_calibrated_estimate(summary, run.calibration, scores if cand_scores is None else cand_scores,
                            run.candidate_floor, run.manifest.get("inputs") or [])
    analysis = HeatmapAnalysis(run, metric, coverage, pts, scores, int((~inside).sum()), grid,
                               density, curve, summary)
    if zones is not None:
        z = read_zones(zones, zone_field)
        analysis.zones = zone_counts(z, pts, coverage, metric)
        analysis.zone_outlines = list(reproject(z.geometries, z.crs, metric, densify=True))
        analysis.zone_labels = zone_labels(analysis.zone_outlines, z.names, coverage)
    return analysis


def draw_calibrated(analysis: HeatmapAnalysis, draw: CellModel, edge_correction: bool = False
                    ) -> tuple[dict[str, np.ndarray], tuple[dict, str]]:
    """Redraw the analysis's density from a review's fitted line (in place), for the heatmap
    and the HTML report alike. Returns the counts columns to add and the summary's "map"
    section. Refuses a grid that is not the review's."""
    check_grid(analysis.grid, draw)
    analysis.density = calibrated_density(analysis.centres, analysis.grid, analysis.coverage,
                                          analysis.density.bandwidth, analysis.density.pixel_size, draw,
                                          edge_correction)
    return cell_columns(analysis.grid, draw), drawn_section(analysis.grid, analysis.density, draw)


# More zones than this and names would cover the map: outlines only (names are in zones.csv).
MAX_ZONE_LABELS = 12


def zone_labels(outlines: list, names, coverage: shapely.Geometry) -> list:
    if len(outlines) > MAX_ZONE_LABELS:
        return []
    labels = []
    for geom, name in zip(outlines, names):
        seen = shapely.intersection(geom, coverage)
        if not seen.is_empty and seen.area > 0:
            p = shapely.point_on_surface(seen)
            labels.append((p.x, p.y, str(name)))
    return labels


def run_heatmap(
    run_dir: str | Path,
    cell: float = 100.0,
    bandwidth: float = 75.0,
    zones: str | Path | None = None,
    basemap: str | Path | None = None,
    title: str | None = None,
    credit: str | None = None,
    out_dir: str | Path | None = None,
    date: str | None = None,
    dots: bool = False,
    formats: tuple[str, ...] = ("png",),
    zone_field: str | None = None,
    edge_correction: bool = False,
    extra_sections: dict[str, tuple[dict, str]] | None = None,
    draw: CellModel | None = None,
) -> HeatmapOutputs:
    """Write counts, density COGs, the article figure, sensitivity and summary for one run.

    extra_sections: name -> (summary.json section, summary.txt lines) computed by the caller
    (e.g. the estimate from a person's review), added to the summary under that name.
    draw: a line fitted by a person's review; the density, its figure and a `calibrated`
    counts column then show the review-calibrated counts (see aggregate.calibrated).
    """

    bad = [f for f in formats if f not in FIGURE_FORMATS]
    if bad:
        raise ConfigError(f"unknown figure format {bad[0]!r} (choose from {', '.join(FIGURE_FORMATS)})")
    if "png" not in formats:
        formats = ("png", *formats)
    if basemap is not None and not Path(basemap).exists():  # fail before writing anything
        from debrismap.errors import RasterError

        raise RasterError("basemap raster not found", path=basemap)
    analysis = analyse_run(run_dir, cell, bandwidth, zones, zone_field, edge_correction=edge_correction)
    extra_columns = None
    if draw is not None:  # checked before anything is written
        extra_columns, map_section = draw_calibrated(analysis, draw, edge_correction)
        extra_sections = {**(extra_sections or {}), "map": map_section}
    out = ensure_dir(out_dir if out_dir is not None else analysis.run.path)

    counts_gpkg, counts_csv = writers.write_counts(analysis.grid, out, extra_columns=extra_columns)
    density_tif, rgba_tif = writers.write_density(
        analysis.density, out, "density", "review-calibrated debris piles" if draw else "debris piles")
    sens_csv, sens_png = writers.write_sensitivity(analysis, out)
    summary_json, summary_txt = writers.write_summary(analysis, out, cell, bandwidth, extra_sections)
    zones_gpkg = zones_csv = None
    if analysis.zones is not None:
        zones_gpkg, zones_csv = writers.write_zones(analysis.zones, out)
    fig = heatmap_figure(analysis, basemap=basemap, title=title, credit=credit, date=date, dots=dots, drawn=draw)
    figures = [save(fig, out / f"heatmap.{fmt}") for fmt in formats]
    return HeatmapOutputs(out, counts_gpkg, counts_csv, density_tif, rgba_tif, figures, sens_csv,
                          sens_png, summary_json, summary_txt, zones_gpkg, zones_csv)
