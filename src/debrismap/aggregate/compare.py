"""`run_compare`: piles new, gone and persisting between two runs of the same place.

Both runs are brought into one metric CRS (the first run's, or its UTM zone) and
restricted to the ground both analysed — a pile "gone" from outside the later image is
not gone, just unseen. Piles are matched one-to-one within a distance (see matching).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from debrismap import __version__
from debrismap.aggregate.change_figure import change_figure
from debrismap.aggregate.cog import write_float_cog, write_rgba_cog
from debrismap.aggregate.colours import change_rgba, nice_ceiling
from debrismap.aggregate.density import density_raster, nice_pixel_size
from debrismap.aggregate.figure import save
from debrismap.aggregate.grid import CountGrid, count_grid
from debrismap.aggregate.matching import Matching, match_piles
from debrismap.aggregate.run_folder import RunFolder, load_run
from debrismap.aggregate.writers import with_lon_lat
from debrismap.atomic import ensure_dir, write_csv, write_json, write_text
from debrismap.errors import ConfigError, DatasetError
from debrismap.geometry.crs import crs_label, metric_crs_for, reproject, transform_points
from debrismap.vector_io import write_vector

STATUSES = ("persisting", "new", "gone")


@dataclass
class RunSide:
    """One date's piles inside the common coverage, in the shared metric CRS."""

    run: RunFolder
    centres: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray


@dataclass
class ChangeAnalysis:
    before: RunSide
    after: RunSide
    metric_crs: object
    coverage: shapely.Geometry  # intersection of both coverages, metric
    matching: Matching
    grid: CountGrid
    match_distance: float

    def cell_columns(self) -> dict[str, np.ndarray]:
        g = self.grid
        m = self.matching
        before = g.count_points(self.before.centres)
        after = g.count_points(self.after.centres)
        new = g.count_points(self.after.centres[m.new])
        gone = g.count_points(self.before.centres[m.gone])
        return {
            "cell_id": g.cell_id,
            "centre_x": g.centre_x,
            "centre_y": g.centre_y,
            "before": before,
            "after": after,
            "new": new,
            "gone": gone,
            "persisting": after - new,
            "net": after - before,
            "valid_fraction": np.round(g.valid_fraction, 6),
            "partial": g.partial.astype(np.int32),
        }

    def totals(self) -> dict:
        m = self.matching
        return {
            "before": int(m.n_before),
            "after": int(m.n_after),
            "persisting": len(m.before_index),
            "new": len(m.new),
            "gone": len(m.gone),
            "net": int(m.n_after - m.n_before),
        }


@dataclass
class CompareOutputs:
    out_dir: Path
    change_gpkg: Path
    change_counts_gpkg: Path
    change_counts_csv: Path
    change_density_tif: Path
    change_density_rgba_tif: Path
    change_png: Path
    change_summary_json: Path
    change_summary_txt: Path


def _side(run: RunFolder, metric, common: shapely.Geometry) -> RunSide:
    centres = transform_points(run.box_centres(), run.crs, metric)
    keep = run.scores >= run.operating_threshold - 1e-12
    if len(centres):
        keep &= shapely.intersects_xy(common, centres[:, 0], centres[:, 1])
    boxes = reproject(run.boxes[keep], run.crs, metric, densify=True)
    return RunSide(run, centres[keep], np.asarray(boxes, dtype=object), run.scores[keep])


def analyse_change(before: str | Path, after: str | Path, match_distance: float = 5.0,
                   cell: float = 100.0) -> ChangeAnalysis:
    if not (match_distance > 0 and np.isfinite(match_distance)):
        raise ConfigError(f"--match-distance must be a positive number of metres, got {match_distance}")
    if not (cell > 0 and np.isfinite(cell)):
        raise ConfigError(f"--cell must be a positive number of metres, got {cell}")
    run_b, run_a = load_run(before), load_run(after)
    metric = metric_crs_for(run_b.crs, run_b.coverage)
    cov_b = shapely.make_valid(reproject(run_b.coverage, run_b.crs, metric, densify=True))
    cov_a = shapely.make_valid(reproject(run_a.coverage, run_a.crs, metric, densify=True))
    common = shapely.make_valid(shapely.intersection(cov_b, cov_a))
    if common.is_empty or common.area <= 0:
        raise DatasetError("the two runs cover no common ground; nothing to compare", path=after)
    shapely.prepare(common)
    side_b, side_a = _side(run_b, metric, common), _side(run_a, metric, common)
    matching = match_piles(side_b.centres, side_a.centres, match_distance)
    everything = np.vstack([side_b.centres, side_a.centres])
    grid = count_grid(everything, common, cell, metric)
    return ChangeAnalysis(side_b, side_a, metric, common, matching, grid, match_distance)


def change_features(change: ChangeAnalysis) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One feature per pile: persisting (the later box), new (later), gone (earlier)."""
    m = change.matching
    b, a = change.before, change.after
    geoms = np.concatenate([a.boxes[m.after_index], a.boxes[m.new], b.boxes[m.gone]])
    n_p, n_n, n_g = len(m.after_index), len(m.new), len(m.gone)
    status = np.array(["persisting"] * n_p + ["new"] * n_n + ["gone"] * n_g, dtype=object)
    nan = np.full
    score_before = np.concatenate([b.scores[m.before_index], nan(n_n, np.nan), b.scores[m.gone]])
    score_after = np.concatenate([a.scores[m.after_index], a.scores[m.new], nan(n_g, np.nan)])
    distance = np.concatenate([m.distance, nan(n_n, np.nan), nan(n_g, np.nan)])
    centres = np.vstack([a.centres[m.after_index], a.centres[m.new], b.centres[m.gone]])
    fields = {"status": status, "score_before": score_before, "score_after": score_after,
              "distance_m": distance, "centre_x": centres[:, 0], "centre_y": centres[:, 1]}
    return geoms, fields


def run_compare(
    run_before: str | Path,
    run_after: str | Path,
    out_dir: str | Path,
    match_distance: float = 5.0,
    cell: float = 100.0,
    bandwidth: float = 75.0,
    title: str | None = None,
    credit: str | None = None,
) -> CompareOutputs:
    check_bandwidth(bandwidth)
    change = analyse_change(run_before, run_after, match_distance, cell)
    return write_compare(change, out_dir, bandwidth, title, credit)


def check_bandwidth(bandwidth: float) -> None:
    if not (bandwidth > 0 and np.isfinite(bandwidth)):
        raise ConfigError(f"--bandwidth must be a positive number of metres, got {bandwidth}")


def write_compare(
    change: ChangeAnalysis,
    out_dir: str | Path,
    bandwidth: float = 75.0,
    title: str | None = None,
    credit: str | None = None,
    extra_sections: dict[str, tuple[dict, str]] | None = None,
) -> CompareOutputs:
    """Write every output of one change analysis.

    extra_sections: name -> (change_summary.json section, change_summary.txt lines) computed
    by the caller (e.g. the estimates from people's reviews), added under that name.
    """
    check_bandwidth(bandwidth)
    out = ensure_dir(out_dir)
    geoms, fields = change_features(change)
    change_gpkg = write_vector(out / "change.gpkg", geoms, change.metric_crs, fields, layer="change",
                               geometry_type="Polygon")
    cols = change.cell_columns()
    counts_gpkg = write_vector(out / "change_counts.gpkg", change.grid.polygons(), change.metric_crs,
                               cols, layer="change_counts", geometry_type="Polygon")
    counts_csv = write_csv(out / "change_counts.csv", with_lon_lat(cols, change.metric_crs))

    m = change.matching
    pts = np.vstack([change.after.centres[m.new], change.before.centres[m.gone]])
    weights = np.concatenate([np.ones(len(m.new)), -np.ones(len(m.gone))])
    density = density_raster(pts, change.coverage, change.metric_crs, bandwidth,
                             nice_pixel_size(change.grid.cell, change.coverage), weights=weights)
    vlim = change_limit(density.values)
    tif = write_float_cog(out / "change_density.tif", density.values, density.transform,
                          density.crs, description="new minus gone debris piles per km2")
    rgba_tif = write_rgba_cog(out / "change_density_rgba.tif", change_rgba(density.values, vlim),
                              density.transform, density.crs)
    fig = change_figure(change, density, vlim, title=title, credit=credit)
    png = save(fig, out / "change.png")

    summary = change_summary(change)
    text = change_summary_text(summary)
    for name, (section, lines) in (extra_sections or {}).items():
        summary[name] = section
        text += lines
    summary_json = write_json(out / "change_summary.json", summary)
    summary_txt = write_text(out / "change_summary.txt", text)
    return CompareOutputs(out, change_gpkg, counts_gpkg, counts_csv, tif, rgba_tif, png, summary_json,
                          summary_txt)


def change_summary(change: ChangeAnalysis) -> dict:
    match_distance = change.match_distance
    return {
        "before_run": str(change.before.run.path),
        "after_run": str(change.after.run.path),
        "before_date": change.before.run.acquisition_date,
        "after_date": change.after.run.acquisition_date,
        "metric_crs": crs_label(change.metric_crs),
        "common_area_km2": round(change.coverage.area / 1e6, 4),
        "match_distance_m": match_distance,
        "thresholds": {"before": change.before.run.operating_threshold,
                       "after": change.after.run.operating_threshold},
        "totals": change.totals(),
        "meaning": "piles inside the ground both runs analysed; 'persisting' = a pile within "
        f"{match_distance:g} m of one on the other date (matched one-to-one); 'new' / 'gone' "
        "include detector misses on either date, so treat small changes with care",
        "software_version": __version__,
    }


def change_summary_text(summary: dict) -> str:
    """change_summary.txt: the detector's totals in words (the review's paragraph follows)."""
    t = summary["totals"]
    dates = [summary["before_date"] or "date unknown", summary["after_date"] or "date unknown"]
    return (f"On the {summary['common_area_km2']:,.3f} km² both runs analysed, the detector counted "
            f"{t['before']:,} piles before ({dates[0]}) and {t['after']:,} after ({dates[1]}), net "
            f"{t['net']:+,}: {t['persisting']:,} persisting, {t['new']:,} new, {t['gone']:,} gone.\n"
            f"  Counts are automated detections; {summary['meaning']}.\n")


def change_limit(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)])
    return nice_ceiling(float(finite.max()) if finite.size else 0.0)
