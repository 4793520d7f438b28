"""Write one analysis's tables and rasters to disk (GeoPackage, CSV, COG, JSON, text)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS

from debrismap import __version__
from debrismap.aggregate.cog import write_float_cog, write_rgba_cog
from debrismap.aggregate.colours import density_rgba, nice_ceiling
from debrismap.aggregate.density import DensityRaster
from debrismap.aggregate.figure import save
from debrismap.aggregate.grid import CountGrid
from debrismap.aggregate.sensitivity import sensitivity_figure, summary_text
from debrismap.atomic import write_csv, write_json, write_text
from debrismap.geometry.crs import crs_label, transform_points
from debrismap.vector_io import write_vector


def write_counts(grid: CountGrid, out: Path, stem: str = "counts",
                 extra_columns: dict[str, np.ndarray] | None = None) -> tuple[Path, Path]:
    cols = {**grid.columns(), **(extra_columns or {})}
    gpkg = write_vector(out / f"{stem}.gpkg", grid.polygons(), grid.crs, cols, layer=stem,
                        geometry_type="Polygon")
    csv = write_csv(out / f"{stem}.csv", with_lon_lat(cols, grid.crs))
    return gpkg, csv


def with_lon_lat(cols: dict, crs) -> dict:
    """Add WGS 84 `lon`/`lat` of the cell centres after centre_x/centre_y: charting tools
    (Datawrapper, Flourish, spreadsheets) want degrees, not UTM metres."""

    xy = np.column_stack([cols["centre_x"], cols["centre_y"]])
    lonlat = transform_points(xy, crs, CRS.from_epsg(4326)) if len(xy) else np.zeros((0, 2))
    out = {}
    for key, value in cols.items():
        out[key] = value
        if key == "centre_y":
            out["lon"] = np.round(lonlat[:, 0], 7)
            out["lat"] = np.round(lonlat[:, 1], 7)
    return out


def density_vmax(density: DensityRaster) -> float:
    """Top of the colour scale: the 99.5th percentile of non-zero density, rounded up.

    Not the maximum: one very dense block would otherwise wash out the rest of a city.
    Figures mark the colour bar's top as open-ended when the maximum is above it.
    """
    finite = density.values[np.isfinite(density.values)]
    positive = finite[finite > 1e-6 * max(float(finite.max()), 1e-12)] if finite.size else finite
    if positive.size == 0:
        return 1.0
    return nice_ceiling(float(np.percentile(positive, 99.5)))


def write_density(density: DensityRaster, out: Path, stem: str, what: str = "debris piles") -> tuple[Path, Path]:
    tif = write_float_cog(out / f"{stem}.tif", density.values, density.transform, density.crs,
                          description=f"{what} per km2 (Gaussian kernel, {density.bandwidth:g} m)")
    rgba = density_rgba(density.values, density_vmax(density))
    rgba_tif = write_rgba_cog(out / f"{stem}_rgba.tif", rgba, density.transform, density.crs)
    return tif, rgba_tif


def write_sensitivity(analysis, out: Path) -> tuple[Path, Path]:
    curve = analysis.curve
    notes = ["" for _ in curve.thresholds]
    if len(notes):
        notes[0] = ("run threshold: detections below it were not recorded, "
                    "so counts at lower thresholds are unknown") if analysis.run.candidate_scores is None else (
                    "candidate floor: boxes below it were not recorded, so counts at lower thresholds are unknown")
    csv = write_csv(out / "sensitivity.csv",
                    {"score_threshold": curve.thresholds, "count": curve.counts, "note": notes})
    png = save(sensitivity_figure(curve, analysis.run.operating_threshold, analysis.summary), out / "sensitivity.png")
    return csv, png


def summary_record(analysis, cell: float, bandwidth: float) -> dict:
    run = analysis.run
    return {
        "run": str(run.path),
        "software_version": __version__,
        "metric_crs": crs_label(analysis.metric_crs),
        "cell_m": cell,
        "bandwidth_m": bandwidth,
        "analysed_area_km2": round(analysis.valid_area_km2, 4),
        "detections_in_run": len(run.scores),
        "detections_outside_coverage": analysis.excluded_outside,
        "counted": analysis.count,
        "counted_at_threshold": run.operating_threshold,
        "acquisition_date": run.acquisition_date,
        "counts": analysis.summary,
    }


def write_summary(analysis, out: Path, cell: float, bandwidth: float,
                  extra_sections: dict[str, tuple[dict, str]] | None = None) -> tuple[Path, Path]:
    record = summary_record(analysis, cell, bandwidth)
    text = summary_text(analysis.summary, analysis.valid_area_km2)
    for name, (section, lines) in (extra_sections or {}).items():
        record[name] = section
        text += lines
    js = write_json(out / "summary.json", record)
    txt = write_text(out / "summary.txt", text)
    return js, txt


def write_zones(zones, out: Path) -> tuple[Path, Path]:
    cols = zones.columns()
    geoms = zones.geometries
    kinds = {g.geom_type for g in geoms}
    if len(kinds) > 1:  # one geometry type per layer: promote Polygons to MultiPolygons
        geoms = np.array([g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g])
                          for g in geoms], dtype=object)
    gpkg = write_vector(out / "zones.gpkg", geoms, zones.crs, cols, layer="zones")
    csv = write_csv(out / "zones.csv", cols)
    return gpkg, csv
